"""``nvidia-smi --query-gpu=... --format=csv[,nounits] [-l N]`` logs -> canonical POWER frame.

Accepted files:
- a plain log: a header such as ``timestamp, index, uuid, name, power.draw [W], utilization.gpu [%]``
  (a space after each comma, units in brackets), then one row per GPU per sample;
- a full nvidia_gpu_exporter-style capture (``key: value`` header, ``#####``-fenced sections, one per
  command): every section whose command line is ``# $ nvidia-smi --query-gpu=...`` is read as a CSV table.
  Each section's first line is that section's header (not a row). ANSI escapes are stripped everywhere.
Gzip-compressed files are read transparently. ``source_row`` is always the line number in the original file.

Raw columns are the query field names with the unit suffix removed (``power.draw [W]`` -> ``power.draw``);
values may carry the unit (``631.95 W``, ``100 %``) or not (``nounits``): both parse to the same number.
A value with another unit than the field's is not a number (missing).

Rules:
- Missing values: ``[N/A]``, ``[Not Supported]``, ``[Requested functionality has been deprecated]`` and any other
  ``[...]`` text are missing (NaN), never zero. A row is kept when it has a timestamp, a device (``uuid`` or
  ``index``) and at least one of power or utilisation; a row with neither is quarantined (``no_measurement``).
- Power: per row, the first present of ``power.draw.instant``, ``power.draw``, ``power.draw.average``
  (the field used is recorded in ``labels_json.power_field``). Note: on recent drivers (the 590.x / 595.x
  captures) ``power.draw`` equals ``power.draw.average`` (1 s average); ``power.draw.instant`` is the sample.
- Timestamps ``YYYY/MM/DD HH:MM:SS[.fff]`` are the host's LOCAL time without zone: converted to UTC with the
  site's time zone. Ambiguous / non-existent local times (DST changes) are quarantined, never guessed.
  For captures, the header's ``collected_at`` (UTC) is compared with the converted samples: a difference of
  more than 15 minutes adds a note (wrong ``sites[].timezone``?), nothing is changed.
- Repeated header lines inside a plain log (nvidia-smi restarted, e.g. after a reboot or a log rotation with
  ``>>``) are rows of the file but not samples: they are quarantined (``repeated_header``) so the row accounting
  shows them; a note counts the restarts. Rows after a repeated header are read with *that* header (the field
  list may change on restart); the raw columns are the union of all headers.
- A second row for the same host, device and timestamp is folded into the first when its values are equal
  (duplicate line) and quarantined (``conflicting_duplicate``) when they differ.
- host: the ``hostname`` column when the log has it and it is not ``[N/A]``, else the file name stem
  (config-free default; captures report ``hostname`` as ``[N/A]``).
- MIG: ``--query-gpu`` reports one row per *physical* GPU, also when MIG is enabled (MIG devices appear only in
  ``nvidia-smi -L``); in the H100 / H200 MIG captures ``utilization.gpu`` is ``[N/A]`` while power is reported
  for the whole GPU. ``mig.mode.current`` is kept in ``labels_json.mig_mode`` when queried.
- nvidia-smi reports no energy counter in ``--query-gpu``: ``energy_counter_j`` is NaN.
"""

from __future__ import annotations

import csv
from collections import Counter
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.canonical import POWER, conform
from pipeline.errors import InputError, ValidationFailed
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, to_utc, read_text

KIND = "nvidia_smi"
FAMILY = "power"
REQUIRED = ["timestamp"]
# canonical column -> raw column (for quarantine messages); power_w comes from the first present power field
SOURCE_COLUMNS = {"ts_utc": "timestamp", "device_uuid": "uuid", "gpu_index": "index", "gpu_model": "name",
                  "power_w": "power.draw", "utilisation_pct": "utilization.gpu", "host": "hostname"}
POWER_FIELDS = ("power.draw.instant", "power.draw", "power.draw.average")   # preference order
DEVICE_FIELDS = ("uuid", "index")
UTIL_FIELD = "utilization.gpu"
CAPTURE_DRIFT = pd.Timedelta(minutes=15)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_COMMAND = re.compile(r"^#\s*\$\s*nvidia-smi\b.*--query-gpu=")
_FENCE = re.compile(r"^#{20,}\s*$")
_META = re.compile(r"^([A-Za-z_][\w.-]*):\s+(.*\S)\s*$")
_TS = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$")
_UNIT = re.compile(r"^(.*?)\s*\[([^\]]*)\]\s*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


@dataclass
class NvidiaSmiTable(RawTable):
    """RawTable plus the capture's ``key: value`` header (empty for plain logs)."""

    capture_header: dict = field(default_factory=dict)


def field_name(header_cell: str) -> str:
    """``power.draw [W]`` -> ``power.draw`` (the query field name)."""
    cell = header_cell.strip()
    m = _UNIT.match(cell)
    return m.group(1).strip() if m else cell


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return ("timestamp" in cols and bool(cols & set(DEVICE_FIELDS))
            and bool(cols & (set(POWER_FIELDS) | {UTIL_FIELD})))


def _read_lines(path: Path) -> list[str]:
    text = read_text(path, what="nvidia-smi output")
    if "\x00" in text:
        raise InputError("is not a text file (contains NUL bytes)", file=str(path),
                         fix="point the source at the nvidia-smi --query-gpu CSV log")
    # str.splitlines would also split on \x0b, \x1c..., which csv keeps inside fields: split on line ends only
    return [_ANSI.sub("", line) for line in re.split(r"\r\n|\r|\n", text)]


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line], skipinitialspace=True))
    except (csv.Error, StopIteration):
        return [line]


def _capture_sections(lines: list[str]) -> list[tuple[int, int]]:
    """(header line index, end index) of every ``--query-gpu`` CSV section of a capture."""
    sections = []
    i = 0
    while i < len(lines):
        if _COMMAND.match(lines[i]) and "--format=csv" in lines[i]:
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]) and lines[j].startswith("#"):
                j += 1
            if j < len(lines) and _FENCE.match(lines[j]):
                start = j + 1
                end = start
                while end < len(lines) and lines[end].strip() and not _FENCE.match(lines[end]):
                    end += 1
                if start < end:
                    sections.append((start, end))
                i = end
                continue
        i += 1
    return sections


def read_raw(path: Path) -> NvidiaSmiTable:
    lines = _read_lines(path)
    capture = any(_COMMAND.match(line) for line in lines)
    meta: dict = {}
    if capture:
        for line in lines:
            if line.startswith("#####") and meta:
                break
            m = _META.match(line)
            if m and not line.startswith("#"):
                meta[m.group(1)] = m.group(2)
        segments = [(start, end, True) for start, end in _capture_sections(lines)]
        if not segments:
            raise InputError("is an nvidia-smi capture without a --query-gpu CSV section", file=str(path),
                             fix="capture with nvidia-smi --query-gpu=timestamp,uuid,power.draw,... --format=csv")
    else:
        first = next((k for k, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise InputError("the file is empty; expected nvidia-smi --query-gpu CSV output with a header",
                             file=str(path), fix="log with nvidia-smi --query-gpu=... --format=csv -l N")
        if _TS.match(_cells(lines[first])[0].strip()):
            raise InputError("has no header line (written with --format=csv,noheader?)", file=str(path),
                             row=first + 1, fix="log with --format=csv (or csv,nounits), which writes the header")
        segments = [(first, len(lines), False)]

    columns: list[str] = []
    records: list[dict] = []
    line_numbers: list[int] = []
    malformed: dict = {}
    for start, end, _ in segments:
        cells = _cells(lines[start])
        header = [field_name(c) for c in cells]
        for cell, name in zip(cells, header):
            m = _UNIT.match(cell.strip())
            want = "W" if name in POWER_FIELDS else "%" if name == UTIL_FIELD else None
            if m and want and m.group(2).strip() != want:
                raise InputError(f"column '{cell.strip()}' states the unit '{m.group(2).strip()}', but nvidia-smi writes "
                                 f"{name} in [{want}]: the file was converted or edited", file=str(path), row=start + 1,
                                 fix=f"re-export with nvidia-smi, or convert the column back to {want}")
        dup = sorted(h for h, n in Counter(header).items() if n > 1)
        if dup:
            raise InputError(f"repeats column(s) {', '.join(dup)} in its header", file=str(path), row=start + 1,
                             fix="query each field once")
        seen = set(columns)
        for h in header:
            if h not in seen:
                columns.append(h)
                seen.add(h)
        for k in range(start + 1, end):
            line = lines[k]
            if not line.strip():
                continue
            cells = _cells(line)
            names = [field_name(c) for c in cells]
            if not capture and "timestamp" in names:
                # a repeated header (restart): from here rows are read with this header; the line itself is a row
                header = names
                for h in header:
                    if h not in columns:
                        columns.append(h)
                records.append({h: h for h in header})
                line_numbers.append(k + 1)
                continue
            if len(cells) != len(header):
                malformed[len(records)] = (f"has {len(cells)} fields where the header has {len(header)} "
                                           "(truncated line or broken quoting)")
                cells = (cells + [""] * len(header))[:len(header)] if len(cells) < len(header) else \
                    cells[:len(header) - 1] + [",".join(cells[len(header) - 1:])]
            records.append(dict(zip(header, cells)))
            line_numbers.append(k + 1)
    if records:
        frame = pd.DataFrame.from_records(records, columns=columns).astype("string")
    else:
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    frame["source_row"] = pd.Series(line_numbers, dtype="int64")
    return NvidiaSmiTable(path=path, frame=frame, malformed=malformed, capture_header=meta)


def _missing(s: pd.Series) -> pd.Series:
    s = nullify(s)
    return s.mask(s.str.match(r"^\[.*\]$", na=False))


def parse_quantity(s: pd.Series, unit: str) -> pd.Series:
    """``'631.95 W'`` or ``'631.95'`` -> 631.95; ``[N/A]`` / ``[Not Supported]`` / other text -> NaN."""
    s = _missing(s)
    num = s.str.extract(rf"^({_NUMBER})\s*(?:{re.escape(unit)})?$", expand=False)
    values = pd.to_numeric(num, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))      # 'inf' is not a reading


def _col(f: pd.DataFrame, name: str) -> pd.Series:
    return f[name] if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")


def _host_default(path: Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".csv", ".txt", ".log"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "unknown-host"


def to_canonical(raw: RawTable, *, source_label: str, site_zone: str) -> Parsed:
    f = raw.frame
    cols = set(raw.columns)
    problems = []
    if not cols & set(DEVICE_FIELDS):
        problems.append("required column 'uuid' is missing (or 'index')")
    if not cols & (set(POWER_FIELDS) | {UTIL_FIELD}):
        problems.append("required column 'power.draw' is missing (or 'power.draw.instant', "
                        "'power.draw.average', 'utilization.gpu')")
    if problems:
        raise ValidationFailed(f"{len(problems)} required column(s) missing; this file cannot be read as {KIND}",
                               file=source_label, problems=problems + [f"columns found: {', '.join(raw.columns[:40])}"],
                               fix="log with nvidia-smi --query-gpu=timestamp,index,uuid,name,power.draw,"
                                   "utilization.gpu --format=csv -l N")

    quarantine: dict = {}

    def reject(i, code, reason):
        quarantine.setdefault(i, []).append((code, reason))

    ts_text = _missing(_col(f, "timestamp"))
    header_rows = ts_text == "timestamp"
    for i in f.index[header_rows.fillna(False)]:
        reject(i, "repeated_header", "repeated header line (nvidia-smi was restarted here): not a sample, "
                                     "nothing lost")
    for i, reason in (raw.malformed or {}).items():
        if i not in quarantine:
            reject(i, "row_has_wrong_field_count", reason)

    m = ts_text.str.extract(_TS.pattern)
    iso = (m[0] + "-" + m[1] + "-" + m[2] + "T" + m[3]).astype("string")
    ts = to_utc(iso, assume_zone=site_zone)
    local = pd.to_datetime(iso, errors="coerce", format="ISO8601")
    naive_ok = (local >= pd.Timestamp("1900-01-01")) & (local < pd.Timestamp("2200-01-01"))

    powers = {p: parse_quantity(f[p], "W") for p in POWER_FIELDS if p in f.columns}
    power = pd.Series(float("nan"), index=f.index, dtype="float64")
    power_field = pd.Series(pd.NA, index=f.index, dtype="string")
    for name, values in powers.items():
        use = power.isna() & values.notna()
        power[use] = values[use]
        power_field[use] = name
    util = parse_quantity(f[UTIL_FIELD], "%") if UTIL_FIELD in f.columns else \
        pd.Series(float("nan"), index=f.index, dtype="float64")
    uuid = _missing(_col(f, "uuid"))
    index = _missing(_col(f, "index"))
    host = _missing(_col(f, "hostname")).fillna(_host_default(raw.path))

    live = ~f.index.isin(list(quarantine))
    checks = [
        (ts_text.isna(), "timestamp_missing", lambda i: "no timestamp"),
        (ts_text.notna() & ~naive_ok, "timestamp_unparseable",
         lambda i: f"timestamp '{ts_text[i]}' is not YYYY/MM/DD HH:MM:SS.fff"),
        (naive_ok & ts.isna(), "timestamp_ambiguous_local_time",
         lambda i: f"local time '{ts_text[i]}' is ambiguous or does not exist in {site_zone} (DST change): not guessed"),
        (uuid.isna() & index.isna(), "no_device",
         lambda i: "neither uuid nor index is set: the sample cannot be attributed to a GPU"),
        (power.isna() & util.isna(), "no_measurement",
         lambda i: "power and utilisation are both missing ([N/A] / [Not Supported])"),
    ]
    # a value that is there but is not a reading ('1e999 W', 'abc') is an error; '[N/A]' is "not measured"
    for name in list(powers) + ([UTIL_FIELD] if UTIL_FIELD in f.columns else []):
        given = _missing(f[name])
        parsed = powers.get(name, util)
        bad = given.notna() & parsed.isna()
        checks.append((bad, f"{name}_not_a_number",
                       (lambda col, g: lambda i: f"{col} is not a finite number ({col} = '{g[i]}')")(name, given)))
    for mask, code, reason in checks:
        for i in f.index[mask.fillna(False).to_numpy(dtype=bool) & live]:
            reject(i, code, reason(i))

    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["host"] = host
    out["device_uuid"] = uuid
    out["gpu_index"] = index
    out["gpu_model"] = _missing(_col(f, "name"))
    out["ts_utc"] = ts
    out["power_w"] = power
    out["energy_counter_j"] = float("nan")
    out["utilisation_pct"] = util
    out["job_id"] = pd.Series(pd.NA, index=f.index, dtype="string")
    mig = _missing(_col(f, "mig.mode.current"))
    combo = pd.DataFrame({"mig_mode": mig, "power_field": power_field})
    key = combo["mig_mode"].fillna("\x00") + "\x01" + combo["power_field"].fillna("\x00")
    as_json = {}
    for k, row in zip(key, combo.astype(object).where(combo.notna(), None).itertuples(index=False)):
        if k not in as_json:
            as_json[k] = json.dumps({c: v for c, v in zip(combo.columns, row) if isinstance(v, str)}, sort_keys=True)
    out["labels_json"] = key.map(as_json).astype("string")

    # duplicates: same host, device and time -> folded when equal, quarantined when different
    folded: dict = {}
    ok = out.drop(index=list(quarantine))
    device = ok["device_uuid"].fillna("index:" + ok["gpu_index"].fillna(""))
    keys = pd.DataFrame({"host": ok["host"], "device": device, "ts": ok["ts_utc"]})
    dup = keys.duplicated(keep=False)
    if dup.any():
        first_of: dict = {}
        for i in ok.index[dup]:
            k = tuple(keys.loc[i])
            if k not in first_of:
                first_of[k] = i
                continue
            target = first_of[k]
            same = all(_same(ok.at[i, c], ok.at[target, c]) for c in ("power_w", "utilisation_pct", "gpu_model"))
            if same:
                folded[i] = (target, f"repeats the sample of line {int(ok.at[target, 'source_row'])} "
                                     "(same GPU, time and values)")
            else:
                reject(i, "conflicting_duplicate",
                       f"same GPU and time as line {int(ok.at[target, 'source_row'])} with different values (first kept)")

    frame = conform(out.drop(index=list(quarantine) + list(folded)), POWER)
    notes = []
    restarts = int(header_rows.fillna(False).sum())
    if restarts:
        notes.append(f"{restarts} repeated header line(s): nvidia-smi restarted; quarantined as non-samples")
    if folded:
        notes.append(f"{len(folded)} duplicate sample line(s) folded into the first occurrence")
    if UTIL_FIELD in f.columns and frame["utilisation_pct"].isna().all() and len(frame) and \
            (_missing(_col(f, "mig.mode.current")) == "Enabled").any():
        notes.append("MIG is enabled: utilization.gpu is [N/A]; power is for the whole physical GPU")
    collected = getattr(raw, "capture_header", {}).get("collected_at")
    if collected and len(frame):
        ref = to_utc(pd.Series([collected], dtype="string"), assume_zone=None)[0]
        first = frame["ts_utc"].min()
        if pd.notna(ref) and pd.notna(first) and abs(first - ref) > CAPTURE_DRIFT:
            hours = (first - ref).total_seconds() / 3600
            notes.append(f"first sample converted with {site_zone} is {hours:+.1f} h from the capture's "
                         f"collected_at {collected}: check the site's timezone")
    return Parsed(frame=frame, quarantine=quarantine, folded=folded, notes=notes)


def _same(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return a == b
