"""Run events for people and orchestrators, on stderr (stdout stays for the command's result).

- ``--log-format json``: one JSON object per line (``ts``, ``level``, ``event`` and the event's fields), for
  Airflow / Dagster / cron log collectors.
- text (default): short progress lines, but only when stderr is a terminal - a scheduled run's log stays clean.
- ``--quiet``: nothing but errors.
The library emits events through ``log_event``; only the CLI configures where they go.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

_STATE: dict = {"format": "text", "quiet": False, "stream": None}


def configure(fmt: str = "text", quiet: bool = False, stream=None) -> None:
    _STATE.update(format=fmt, quiet=quiet, stream=stream)


def log_event(event: str, level: str = "info", **fields) -> None:
    if _STATE["quiet"] and level != "error":
        return
    stream = _STATE["stream"] or sys.stderr
    if _STATE["format"] == "json":
        record = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "level": level,
                  "event": event, **fields}
        stream.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
    elif level == "error" or (hasattr(stream, "isatty") and stream.isatty()):
        detail = ", ".join(f"{k}={v}" for k, v in fields.items())
        stream.write(f"[{event}] {detail}\n" if detail else f"[{event}]\n")
    stream.flush()
