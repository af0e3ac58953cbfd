"""Shared reading helpers for the adapters: raw text tables, NULL literals, numbers and timestamps.

Adapters read every cell as text first (nothing is guessed by a CSV sniffer), then parse the columns
they need. A value that cannot be parsed becomes missing in the canonical frame, and the raw text stays
in the raw frame so the quarantine file can show exactly what was in the input.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError

NULL_LITERALS = {"", "NULL", "null", "None", "N/A", "NA", "n/a", "[N/A]", "nan", "NaN"}


@dataclass
class RawTable:
    """All cells as strings; ``source_row`` is the 1-based line number of each data row (header = 1)."""

    path: Path
    frame: pd.DataFrame
    malformed: dict = None   # frame index -> reason, for rows whose field count differs from the header

    def __post_init__(self) -> None:
        if self.malformed is None:
            self.malformed = {}

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != "source_row"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open_text(path: Path) -> io.TextIOBase:
    raw = open(path, "rb")
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def read_text(path: Path, *, what: str) -> str:
    """A whole text file (UTF-8, optionally gzip) with the same clear errors as every adapter."""
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    try:
        with _open_text(path) as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path),
                         fix=f"save the {what} as UTF-8 text") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read as {what}: {exc}", file=str(path),
                         fix="check that the file is a complete, uncompressed or gzip-compressed export") from None


def read_parquet_text(path: Path, *, what: str) -> RawTable:
    """A flat Parquet file with every cell as text; source_row = 1-based row number in the file."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for broken files
        raise InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                         fix=f"export the {what} again as Parquet or CSV") from None
    frame = table.to_pandas().astype("string")
    frame["source_row"] = pd.Series(range(1, len(frame) + 1), dtype="int64")
    return RawTable(path=path, frame=frame)


def read_delimited(path: Path, *, delimiter: str = ",", what: str) -> RawTable:
    """Read a delimited text file into strings, keeping line numbers. Short / long rows are errors."""
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(f"the file is empty; expected a {what} with a header row", file=str(path),
                                 fix=f"export the {what} again, or remove the source from the config") from None
            header = [h.strip() for h in header]
            rows, lines, malformed = [], [], {}
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    # kept (quarantined with the reason), never dropped: pad / fold into the header's width
                    malformed[len(rows)] = (f"has {len(row)} fields where the header has {len(header)} "
                                            "(truncated line or broken quoting)")
                    row = (row + [""] * len(header))[:len(header)] if len(row) < len(header) else \
                        row[:len(header) - 1] + [delimiter.join(row[len(header) - 1:])]
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path),
                         fix="re-export the file as UTF-8 (CSV UTF-8 in spreadsheet tools)") from None
    except (OSError, EOFError, csv.Error) as exc:
        raise InputError(f"cannot be read as {what}: {exc}", file=str(path),
                         fix="check that the file is a complete, uncompressed or gzip-compressed text export") from None
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"repeats column(s) {', '.join(dup)} in its header", file=str(path), row=1,
                         fix="remove the duplicated columns")
    frame = pd.DataFrame(rows, columns=header, dtype="string") if rows else pd.DataFrame(
        {h: pd.Series(dtype="string") for h in header})
    frame["source_row"] = pd.Series(lines, dtype="int64")
    return RawTable(path=path, frame=frame, malformed=malformed)


def nullify(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s.isin(NULL_LITERALS))


def to_number(s: pd.Series) -> pd.Series:
    """Parse decimal numbers (accepts exponents like 1.2E+05); anything else becomes NaN."""
    return pd.to_numeric(nullify(s), errors="coerce").astype("float64")


_HAS_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_EARLIEST, _LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01")


def _in_range(ts: pd.Series) -> pd.Series:
    """Parsed timestamps outside 1900..2200 are errors in the input, not dates: make them NaT
    (they would also overflow nanosecond precision)."""
    naive = ts.dt.tz_localize(None) if ts.dt.tz is not None else ts
    ok = (naive >= _EARLIEST) & (naive < _LATEST)
    return ts.where(ok).dt.as_unit("ns")


def to_utc(s: pd.Series, *, assume_zone: str | None, fmt: str | None = None) -> pd.Series:
    """Parse timestamps to UTC.

    Values carrying a zone (``Z`` or ``+01:00``) are converted. Values without one take ``assume_zone``
    (e.g. FOCUS times are UTC by specification; Slurm times are in the site's zone). With
    ``assume_zone=None`` a value without a zone is unparseable (NaT) - the caller quarantines it.
    Ambiguous / non-existent local times (DST changes) become NaT rather than guessed.
    """
    s = nullify(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    if s.isna().all():
        return out
    zoned = s.str.contains(_HAS_ZONE, na=False)
    if zoned.any():
        out[zoned] = _in_range(pd.to_datetime(s[zoned], utc=True, errors="coerce", format=fmt or "ISO8601"))
    naive = ~zoned & s.notna()
    if naive.any() and assume_zone is not None:
        local = _in_range(pd.to_datetime(s[naive], errors="coerce", format=fmt or "ISO8601"))
        if assume_zone.upper() == "UTC":
            out[naive] = local.dt.tz_localize("UTC")
        else:
            out[naive] = local.dt.tz_localize(assume_zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return out


MAX_TAGS_CHARS = 65_536


def normalise_tags(text: object) -> tuple[str, bool]:
    """Tags as a JSON object string with sorted keys; returns (json, readable)."""
    if not isinstance(text, str) or not text.strip():
        return "{}", True
    if len(text) > MAX_TAGS_CHARS:
        return "{}", False
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return "{}", False
    if not isinstance(obj, dict):
        return "{}", False
    flat = {str(k).strip(): ("" if v is None else str(v)) for k, v in obj.items()}
    return json.dumps(flat, sort_keys=True, ensure_ascii=False), True
