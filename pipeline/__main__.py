import sys

from pipeline.cli import main

if __name__ == "__main__":      # a worker process (spawn) imports this module without running the CLI
    sys.exit(main())
