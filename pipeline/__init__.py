"""carbon-disclosure: CSRD / GHG Protocol emissions disclosure for AI compute."""

__version__ = "0.1.0"
