"""Writing a pack safely: one writer at a time, all or nothing, and no work when nothing changed.

- **Lock**: ``.<out>.lock`` next to the output directory, held (``fcntl.flock``) for the whole run; a second
  run for the same output stops at once with an OutputError instead of interleaving files.
- **Staging**: outputs are written into ``.<out>.staging-*`` beside the output directory and moved into place
  with ``os.replace`` only when complete; a killed run leaves only that hidden staging directory (removed by
  the next run), never a half pack at ``out``.
- **Idempotent reruns**: the run id is a hash of the config file, the code and factor-library versions and
  every input file's SHA-256. If ``out`` already holds a pack with the same run id, the run is a no-op
  (``unchanged``) unless ``force``; a pack from other inputs is replaced only with ``force``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.errors import OutputError


@contextlib.contextmanager
def output_lock(out_dir: Path):
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError("another run is writing this output directory", file=str(out_dir),
                              fix="wait for it to finish, or write to another --out") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def existing_run_id(out_dir: Path) -> str | None:
    try:
        return json.loads((out_dir / "manifest.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError):
        return None


def check_target(out_dir: Path, run_id: str, force: bool) -> bool:
    """True when ``out_dir`` already holds this very run (nothing to do). Raises when it holds something
    else and ``force`` is not given."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("output path exists and is not a directory", file=str(out_dir), fix="choose another --out")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return False
    if force:
        return False
    if existing_run_id(out_dir) == run_id:
        return True
    raise OutputError("output directory is not empty (it holds another run or other files)", file=str(out_dir),
                      fix="choose an empty directory, or pass --force to replace its contents")


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Staging directories left by killed runs of this output (safe: we hold the lock)."""
    removed = []
    for p in out_dir.parent.glob(f".{out_dir.name}.staging-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    for p in out_dir.parent.glob(f".{out_dir.name}.old-*"):
        shutil.rmtree(p, ignore_errors=True)
    return removed


def new_stage(out_dir: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))


def publish(stage: Path, out_dir: Path) -> None:
    """Move a complete staging directory into place (the previous pack, if any, is replaced)."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, old / "previous")
        os.replace(stage, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, out_dir)
