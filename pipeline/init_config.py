"""First run: recognise the input files in a folder and write a draft ``disclosure.yaml`` with questions.

    found = scan(Path("exports"))                 # one Found per file: kind (or why not) and cheap hints
    print(summary_text(found))
    write_config(Path("exports"), found, Path("disclosure.yaml"))

What the files tell (each source's ``kind`` and ``path``, the cloud providers and billing accounts, the meter
ids, the time spans) is filled in. What they cannot tell - the entity, its consolidation approach, currency
and time zone, the period, how each site's electricity is contracted, its PUE and grid zone, what the meters
measure - is written as a ``# QUESTION:`` line whose placeholder the config loader rejects, so a draft never
runs on a guessed reporting boundary:

- ``ANSWER-ME`` where the key has a fixed set of values, a pattern, a zone, a date or a number;
- ``[ANSWER-ME]`` (a list, so "any text" keys reject it too) for free text: entity name, grid zone, facility
  operator, PUE source.

``load_config`` on a draft therefore fails, naming every key still open (``unanswered`` lists them from the
parsed YAML). Source paths are relative to the draft's folder; a draft written outside the scanned folder
(``--out`` elsewhere) sets ``allow_paths_outside_config: true``, with a comment saying why and how to do without,
since a config otherwise reads only files in its own folder.

Files are recognised with ``pipeline.ingest.sniff``; a file that cannot be read is reported with the reason,
never fatal to the scan. Files over ``sample_above_bytes`` are recognised from their first
``sample_rows`` rows (hints then cover those rows only, and say so).
"""

from __future__ import annotations

import codecs
import datetime as dt
import glob
import gzip
import json
import math
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline import ingest
from pipeline.config import ANSWER_ME, BILLING_KINDS, CARBON_KINDS, SITE_KINDS, unanswered_keys
from pipeline.errors import DisclosureError, InputError, OutputError

PLACEHOLDER = ANSWER_ME
TEXT_PLACEHOLDER = [PLACEHOLDER]          # free-text keys: a list, which a text field rejects
SAMPLE_ABOVE_BYTES = 16 * 1024 * 1024      # larger files are recognised from their first rows
SAMPLE_ROWS = 5000
DEFAULT_MAX_GAP_S = 120.0                  # Source.max_gap_s default
SITE_ID = "site-1"

_MAX_LISTED = 12                           # ids shown in a comment before "... and N more"


@dataclass(frozen=True)
class Hints:
    """What a recognised file says about the config, read cheaply from its rows (or its first rows)."""

    accounts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # provider -> billing / account ids
    currencies: tuple[str, ...] = ()
    meters: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    gpu_models: tuple[str, ...] = ()        # GPU names as the file gives them (Slurm typed GRES, DCGM model)
    zones: tuple[str, ...] = ()             # grid zones of an hourly intensity file
    instruments: tuple[str, ...] = ()       # instrument ids of hourly certificate / PPA generation
    asset_sites: tuple[str, ...] = ()       # sites named in an asset register
    first: str | None = None                # first day (YYYY-MM-DD, UTC) or month (YYYY-MM) of the data
    last: str | None = None                 # last day / month, inclusive
    interval_minutes: int | None = None     # meters: the most common spacing of each meter's timestamps
    looks_cumulative: bool | None = None    # meters: every meter's readings only rise (register readings)
    sample_step_s: float | None = None      # telemetry: the most common spacing of a device's samples
    needs_boundary: bool = False            # plain hourly intensity without a 'boundary' column
    needs_scraped_at: bool = False          # Kepler text without sample timestamps
    rows: int = 0                           # rows read for these hints
    sampled: bool = False                   # True: only the first ``rows`` rows of the file were read
    notes: tuple[str, ...] = ()             # e.g. why no hints could be read; naive times read as UTC


@dataclass(frozen=True)
class Found:
    path: str                               # relative to the scanned folder, '/' separators
    kind: str | None                        # the adapter's KIND; None = not recognised
    reason: str | None = None               # why it was not recognised
    hints: Hints = field(default_factory=Hints)

    @property
    def family(self) -> str | None:
        adapter = ingest.ADAPTERS.get(self.kind or "")
        return adapter.FAMILY if adapter is not None else None


# --- scan ---------------------------------------------------------------------------------------------

def scan(folder: Path, *, sample_above_bytes: int = SAMPLE_ABOVE_BYTES, sample_rows: int = SAMPLE_ROWS
         ) -> list[Found]:
    """Every non-hidden file under ``folder`` (recursively, sorted by path), recognised or not."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a folder", file=str(folder),
                         fix="pass the folder holding your billing exports, job logs and meter readings")
    return [_scan_file(folder / rel, rel, sample_above_bytes, sample_rows) for rel in _walk(folder)]


def _walk(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(root).relative_to(folder)
        out += [(base / name).as_posix() for name in files if not name.startswith(".")]
    return sorted(out)


def _scan_file(path: Path, rel: str, sample_above_bytes: int, sample_rows: int) -> Found:
    if not path.is_file():
        return Found(rel, None, "not a regular file (broken link, device or socket)")
    if path.stat().st_size == 0:
        return Found(rel, None, "the file is empty")
    try:
        not_text = _not_text(path)
    except OSError as exc:
        return Found(rel, None, f"cannot be read: {exc.strerror or exc}")
    if not_text:
        return Found(rel, None, not_text)
    with tempfile.TemporaryDirectory(prefix="carbon-init-") as tmp:
        try:
            read, sampled = _sample(path, Path(tmp), sample_above_bytes, sample_rows)
        except OSError as exc:
            return Found(rel, None, f"cannot be read: {exc.strerror or exc}")
        try:
            kind = ingest.sniff(read, rel)
        except DisclosureError as exc:
            return Found(rel, None, _one_line(exc.message) + _also(path))
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the scan; the reason is shown
            return Found(rel, None, f"reading it failed unexpectedly ({type(exc).__name__}: {_one_line(str(exc))}); "
                                    "please report this with the file")
        return Found(rel, kind, None, _hints(kind, read, rel, sampled))


def _not_text(path: Path) -> str | None:
    """Why a file is none of the formats the adapters read (text, gzip, Parquet), from its first 8 KiB."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PAR1":
        return None
    if head[:4] == b"PK\x03\x04":
        return "is a ZIP archive (an Excel workbook?): unzip it, or save the sheet as CSV"
    if b"\x00" in head:
        return "is a binary file, not text, gzip or Parquet"
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start} cannot be decoded): save it as UTF-8"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _also(path: Path) -> str:
    """A word on files that are inputs, but not sources (request counts for projections)."""
    from pipeline.scenarios.requests import REQUIRED as REQUEST_COLUMNS

    try:
        with open(path, encoding="utf-8-sig") as fh:
            header = {c.strip() for c in fh.readline().split(",")}
    except (OSError, UnicodeDecodeError):
        return ""
    if set(REQUEST_COLUMNS) <= header:
        return " - it looks like request counts per model and month: give it as projections.request_counts"
    return ""


def _sample(path: Path, tmp: Path, limit: int, rows: int) -> tuple[Path, bool]:
    """The file itself, or (when larger than ``limit``) its first ``rows`` rows in ``tmp``.

    Parquet: the first row batch. Gzip / text: the first lines, decompressed. A single JSON document
    (a Prometheus query response) cannot be cut and is read whole."""
    if path.stat().st_size <= limit:
        return path, False
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        except Exception:  # noqa: BLE001 - broken Parquet: let the adapters say why
            return path, False
        if batch is None:
            return path, False
        target = tmp / path.name
        pq.write_table(pa.Table.from_batches([batch]), target)
        return target, True
    opener = gzip.open if head[:2] == b"\x1f\x8b" else open
    name = path.name[:-3] if head[:2] == b"\x1f\x8b" and path.name.lower().endswith(".gz") else path.name
    lines: list[bytes] = []
    with opener(path, "rb") as fh:  # type: ignore[operator]
        for line in fh:
            lines.append(line)
            if len(lines) > rows:
                break
    if len(lines) <= rows:
        return path, False                    # fewer rows than the sample: read the whole file
    first = lines[0].strip()
    if first[:1] in (b"{", b"[") and not _is_json(first):
        return path, False                    # one JSON document spread over lines
    target = tmp / name
    target.write_bytes(b"".join(lines))
    return target, True


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


# --- hints --------------------------------------------------------------------------------------------

def _hints(kind: str, path: Path, label: str, sampled: bool) -> Hints:
    adapter = ingest.ADAPTERS[kind]
    try:
        raw = adapter.read_raw(path)
        parsed = _canonical(adapter, raw, label)
    except DisclosureError as exc:
        return Hints(sampled=sampled, notes=(f"no hints: {_one_line(exc.message)}",))
    except Exception as exc:  # noqa: BLE001 - hints are optional; the failure is shown, not hidden
        return Hints(sampled=sampled, notes=(f"no hints ({type(exc).__name__}: {_one_line(str(exc))})",))
    f = parsed.frame
    family = adapter.FAMILY
    out: dict[str, Any] = {"rows": len(raw.frame), "sampled": sampled}
    notes: list[str] = []
    if family in ("usage", "provider_carbon"):
        out["accounts"] = _accounts(f)
        if "currency" in f:
            out["currencies"] = _distinct(f["currency"])
    if family == "usage":
        out["first"], out["last"] = _span(f["usage_start_utc"], f["usage_end_utc"], end_exclusive=True)
    elif family == "provider_carbon":
        months = f["month"].dropna()
        out["first"], out["last"] = (str(months.min()), str(months.max())) if len(months) else (None, None)
    elif family == "job":
        out["gpu_models"] = _distinct(f["gpu_model"])
        out["first"], out["last"] = _span(f["start_utc"], f["end_utc"])
        notes.append("times without a zone were read as UTC for these dates")
    elif family == "meter":
        out["meters"] = _distinct(f["meter_id"])
        out["first"], out["last"] = _span(f["interval_start_utc"], f["interval_start_utc"])
        out["interval_minutes"], out["looks_cumulative"] = _meter_shape(f)
    elif family == "power":
        out["hosts"] = _distinct(f["host"])
        out["gpu_models"] = _distinct(f["gpu_model"])
        out["first"], out["last"] = _span(f["ts_utc"], f["ts_utc"])
        out["sample_step_s"] = _step_s(f, "ts_utc", ["host", "device_uuid", "gpu_index"])
        stamps = raw.frame["timestamp"] if "timestamp" in raw.frame else pd.Series(dtype="string")
        out["needs_scraped_at"] = (kind == "kepler" and len(stamps) > 0
                                   and bool(stamps.fillna("").astype(str).str.strip().eq("").all()))
    elif family == "grid_intensity":
        out["zones"] = _distinct(f["zone"])
        out["first"], out["last"] = _span(f["hour_start_utc"], f["hour_start_utc"])
        from pipeline.sources.grid_intensity_hourly import PLAIN_VALUE

        out["needs_boundary"] = PLAIN_VALUE in raw.columns and "boundary" not in raw.columns
    elif family == "instrument_hourly":
        out["instruments"] = _distinct(f["instrument_id"])
        out["first"], out["last"] = _span(f["hour_start_utc"], f["hour_start_utc"])
    elif family == "asset":
        out["asset_sites"] = _distinct(f["site_id"])
        out["first"], out["last"] = _span(f["acquisition_date"], f["acquisition_date"])
    if sampled:
        notes.append(f"hints from the first {len(raw.frame):,} rows only (large file)")
    return Hints(notes=tuple(notes), **out)


def _canonical(adapter: Any, raw: Any, label: str) -> Any:
    """The adapter's canonical frame, with neutral settings where it needs config (hints only)."""
    family = adapter.FAMILY
    if family == "job":
        return adapter.to_canonical(raw, source_label=label, site_id=SITE_ID, site_zone="UTC",
                                    default_gpu_model=None, gres_gpu_types={})
    if family == "meter":
        return adapter.to_canonical(raw, source_label=label, meter_sites={}, interval_minutes=60)
    if family == "power":
        return adapter.to_canonical(raw, source_label=label, site_zone="UTC")
    if family == "grid_intensity":
        return adapter.to_canonical(raw, source_label=label, default_boundary="direct")
    return adapter.to_canonical(raw, source_label=label)


def _distinct(s: pd.Series) -> tuple[str, ...]:
    return tuple(sorted({str(v).strip() for v in s.dropna() if str(v).strip()}))


def _accounts(f: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Provider -> the ids a contract's billing_accounts must list to cover every row: the billing account,
    or the sub-account where a row has no billing account (contracts match on either)."""
    out: dict[str, set[str]] = {}
    if "provider" not in f:
        return {}
    billing = f["billing_account_id"] if "billing_account_id" in f else pd.Series(pd.NA, index=f.index)
    account = f["account_id"] if "account_id" in f else pd.Series(pd.NA, index=f.index)
    for prov, bill, acct in zip(f["provider"], billing, account):
        if pd.isna(prov) or not str(prov).strip():
            continue
        ids = out.setdefault(str(prov).strip(), set())
        value = bill if not pd.isna(bill) and str(bill).strip() else acct
        if not pd.isna(value) and str(value).strip():
            ids.add(str(value).strip())
    return {p: tuple(sorted(ids)) for p, ids in sorted(out.items())}


def _span(start: pd.Series, end: pd.Series, *, end_exclusive: bool = False) -> tuple[str | None, str | None]:
    s, e = start.dropna(), end.dropna()
    if s.empty or e.empty:
        return None, None
    last = e.max() - pd.Timedelta(microseconds=1) if end_exclusive else e.max()
    return s.min().date().isoformat(), max(last, s.min()).date().isoformat()


def _step_s(f: pd.DataFrame, ts: str, keys: list[str]) -> float | None:
    """Most common spacing (s) between consecutive timestamps of one series (meter / device)."""
    cols = [k for k in keys if k in f.columns]
    frame = f[cols + [ts]].dropna(subset=[ts]).copy()
    if frame.empty:
        return None
    group = frame[cols].astype("string").fillna("").agg("|".join, axis=1) if cols else pd.Series("", index=frame.index)
    frame = frame.assign(_g=group).drop_duplicates(["_g", ts]).sort_values(["_g", ts], kind="stable")
    steps = frame.groupby("_g", sort=False)[ts].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return None
    return float(steps.mode().min() / pd.Timedelta(seconds=1))


def _meter_shape(f: pd.DataFrame) -> tuple[int | None, bool | None]:
    step = _step_s(f, "interval_start_utc", ["meter_id"])
    minutes = round(step / 60) if step and 0 < step / 60 <= 1440 else None
    ok = f.dropna(subset=["meter_id", "interval_start_utc", "energy_kwh"]).sort_values(
        ["meter_id", "interval_start_utc"], kind="stable")
    rises = []
    for _, grp in ok.groupby("meter_id", sort=True):
        if len(grp) >= 3:
            rises.append(bool((grp["energy_kwh"].diff().dropna() >= 0).all()))
    return minutes, (all(rises) if rises else None)


# --- summary ------------------------------------------------------------------------------------------

def summary_text(found: list[Found]) -> str:
    """One line per file: its kind and the main hints, or 'not recognised: reason'."""
    if not found:
        return "no files found (hidden files are skipped)"
    width = min(max(len(f.path) for f in found), 60)
    lines = []
    for f in found:
        if f.kind is None:
            lines.append(f"{f.path:<{width}}  not recognised: {f.reason}")
            continue
        extra = _hint_words(f.hints)
        lines.append(f"{f.path:<{width}}  {f.kind}" + (f" ({extra})" if extra else ""))
    n = sum(f.kind is not None for f in found)
    lines.append(f"{len(found)} file(s): {n} recognised, {len(found) - n} not recognised")
    return "\n".join(lines)


def _hint_words(h: Hints) -> str:
    parts = []
    for prov, ids in h.accounts.items():
        parts.append(f"{prov} {_listing(ids, 3)}" if ids else prov)
    for label, values in (("meters", h.meters), ("hosts", h.hosts), ("GPUs", h.gpu_models), ("zones", h.zones),
                          ("instruments", h.instruments), ("sites", h.asset_sites)):
        if values:
            parts.append(f"{label} {_listing(values, 3)}")
    if h.first:
        parts.append(f"{h.first} .. {h.last}")
    if h.sampled:
        parts.append(f"first {h.rows:,} rows")
    parts += [n for n in h.notes if n.startswith("no hints")]
    return "; ".join(parts)


def _listing(values: tuple[str, ...] | list[str], limit: int = _MAX_LISTED) -> str:
    values = list(values)
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


# --- unanswered questions -----------------------------------------------------------------------------

def unanswered(data: object) -> list[str]:
    """Key paths (``entity.name``, ``contracts[2].kind``) whose value is still a placeholder."""
    return unanswered_keys(data)


# --- write ----------------------------------------------------------------------------------------------

def write_config(folder: Path, found: list[Found], out: Path, *, force: bool = False) -> Path:
    """Write the draft config to ``out`` (source paths relative to ``out``'s folder); returns ``out``.

    An existing file is replaced only with ``force``."""
    folder, out = Path(folder), Path(out)
    if out.is_dir():
        raise OutputError("is a folder, not a file", file=str(out), fix="give the path of the YAML file to write")
    if out.exists() and not force:
        raise OutputError("already exists; it was not changed", file=str(out),
                          fix="write the draft elsewhere (--out), or pass --force to replace the file")
    out_dir = out.parent.resolve()
    found = [f for f in found if (folder / f.path).resolve() != out.resolve()]   # a previous draft in the folder
    text = render(folder, found, out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if force:
            tmp = out.with_name(f".{out.name}.tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, out)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            with open(out, "x", encoding="utf-8") as fh:     # never replaces a file written meanwhile
                fh.write(text)
    except FileExistsError:
        raise OutputError("already exists; it was not changed", file=str(out),
                          fix="write the draft elsewhere (--out), or pass --force to replace the file") from None
    except OSError as exc:
        raise OutputError(f"cannot be written: {exc.strerror or exc}", file=str(out),
                          fix="check the folder exists and is writable") from None
    return out


def render(folder: Path, found: list[Found], out_dir: Path) -> str:
    """The draft's YAML text (``out_dir``: the folder the config will sit in, for relative paths)."""
    folder = Path(folder)
    shown = {f.path: _config_path(folder, f.path, out_dir) for f in found}
    known = [f for f in found if f.kind is not None]
    unknown = [f for f in found if f.kind is None]
    providers = _providers(known)
    site_files = [f for f in known if f.kind in SITE_KINDS]
    w = _Writer()

    shown_folder = _rel(folder.resolve(), out_dir) or "."
    w.line(f"# disclosure.yaml - DRAFT written by `carbon-disclosure init` from the files in {shown_folder}/")
    w.line(f"# ({len(found)} file(s): {len(known)} recognised, {len(unknown)} not recognised).")
    w.line("#")
    w.line("# BEFORE YOU RUN: answer every line marked '# QUESTION:'. Its placeholder - ANSWER-ME, or [ANSWER-ME]")
    w.line("# where any text is allowed - is rejected by the config loader, so the disclosure never runs on a guessed")
    w.line("# reporting boundary. `carbon-disclosure validate <this file>` lists the keys still open.")
    w.line("#")
    w.line("# Filled in from the files (check it): each source's kind and path, one cloud contract per provider")
    w.line("# with the billing accounts found, the meters found. Other keys keep their documented defaults.")
    w.line("# Rules of the file:")
    w.line("#   - Unknown keys are errors; every key, with its description: schemas/disclosure.schema.json.")
    w.line("#   - Relative paths are relative to the folder of THIS file.")
    w.line("#   - examples/demo/disclosure.yaml is a complete, commented example (certificates, phase rules, ...).")
    w.blank()

    w.section("Who reports")
    w.line("entity:")
    w.kv(1, "name", TEXT_PLACEHOLDER, "QUESTION: legal name of the reporting undertaking")
    w.kv(1, "consolidation_approach", PLACEHOLDER,
         "QUESTION: operational_control or financial_control (GHG Protocol boundary);",
         "it decides whether colocation electricity is Scope 2 or Scope 3 Cat 8")
    currencies = sorted({c for f in known if f.family == "usage" for c in f.hints.currencies})
    w.kv(1, "currency", PLACEHOLDER, "QUESTION: ISO 4217 reporting currency, e.g. EUR"
         + (f" (the billing files are in {', '.join(currencies)})" if currencies else ""))
    w.kv(1, "timezone", PLACEHOLDER, "QUESTION: IANA zone in which the period's days are counted,",
         "e.g. Europe/Berlin or UTC")
    w.blank()

    w.section("Which period")
    for note in _period_notes(known):
        w.line(f"# {note}")
    w.line("# The end date is INCLUSIVE: 2026-Q3 means 2026-07-01 .. 2026-09-30 in the entity's time zone.")
    w.kv(0, "period", PLACEHOLDER, "QUESTION: e.g. 2026-Q3, or {start: 2026-01-01, end: 2026-12-31}")
    w.blank()

    w.section("Contracts: how the company buys compute")
    if not providers and not site_files:
        w.line("contracts: []   # no billing or site files were recognised; see examples/demo/disclosure.yaml")
    else:
        w.line("contracts:")
    for prov, (ids, files) in providers.items():
        w.line(f"  # {prov}: found in {_listing([shown[f.path] for f in files], 4)}")
        if any(f.hints.sampled for f in files):
            w.line("  # (large files were read from their first rows only: more billing accounts may follow)")
        w.kv(1, "id", _contract_id(prov), "your name for the contract (used in the report)", item=True)
        w.kv(2, "kind", "cloud", "public cloud: reported as Scope 3 Cat 1 under either approach")
        w.kv(2, "provider", prov)
        w.kv(2, "billing_accounts", list(ids), "found in the files; drop any outside your reporting boundary",
             "(an empty list [] means every row of this provider)")
        w.kv(2, "electricity_purchaser", "provider", "the cloud provider buys the electricity, bundled in the price")
        w.kv(2, "lease", "none")
    instruments = sorted({i for f in known for i in f.hints.instruments})
    if site_files:
        w.line(f"  # The facility of site {SITE_ID}, where the job, meter and telemetry files below come from.")
        w.kv(1, "id", f"{SITE_ID}-facility", item=True)
        w.kv(2, "kind", PLACEHOLDER, "QUESTION: colocation (your racks in an operator's data centre)",
             "or owned (your own facility / servers on your premises)")
        w.kv(2, "provider", TEXT_PLACEHOLDER, "QUESTION: the facility operator (owned: your company)")
        w.kv(2, "site", SITE_ID)
        w.kv(2, "electricity_purchaser", PLACEHOLDER,
             "QUESTION: company (you contract / are metered for the electricity)",
             "or provider (the operator buys it and bundles it in the fee)")
        w.kv(2, "lease", PLACEHOLDER, "QUESTION: operating, finance or none: the lease of the space / racks",
             "(it matters under financial_control)")
        w.line("    # supplier_factor_kg_per_kwh / supplier_factor_source: your supplier's emission rate, if you have one")
        w.line("    # certificates: GOs / RECs / PPAs retired for this site (see examples/demo/disclosure.yaml)")
    if instruments:
        w.line(f"  # Hourly generation found for instrument(s) {_listing(instruments)}: list each as a certificate")
        w.line("  # (id = the instrument id, hourly: true) under the contract of the site it supplies.")
    w.blank()

    if site_files:
        _write_site(w, known, site_files, shown)

    w.section("Sources: the files to read")
    outside = [f for f in known if not _inside(folder / f.path, out_dir)]
    if outside:
        _write_allow_outside(w, len(outside), _rel(folder.resolve(), out_dir) or folder.resolve().as_posix())
    if not known:
        w.line("sources: []   # no file was recognised; add sources by hand (see examples/demo/disclosure.yaml)")
    else:
        w.line("sources:")
    ids: set[str] = set()
    for f in known:
        _write_source(w, f, shown[f.path], ids)
    w.blank()

    if unknown:
        w.section("Files not recognised (not read)")
        w.line("# Add any that is an input by hand, with its kind (see schemas/disclosure.schema.json).")
        for f in unknown:
            w.line(f"#   {shown[f.path]}")
            for part in textwrap.wrap(f.reason or "", 96):
                w.line(f"#     {part}")
        w.blank()

    w.section("Phase and project rules (optional)")
    w.line("# Without phase_rules, all usage is reported as 'unallocated' to a lifecycle phase; see the demo config.")
    w.line("# project_rule: {tag: project, slurm: account}   # the default")
    return w.text()


def _inside(path: Path, out_dir: Path) -> bool:
    """Whether a source file, symlinks followed, is in the config's folder: the test ``Config.check_inside``
    makes when the config is run."""
    return path.resolve().is_relative_to(Path(out_dir).resolve())


def _write_allow_outside(w: _Writer, n: int, data_folder: str) -> None:
    """The key a draft written outside the data folder needs, since its source paths leave the config's folder."""
    w.line(f"# {n} source file(s) below are outside the folder of this file (they are in {data_folder}/). A config")
    w.line("# reads only files in its own folder and its subfolders unless it sets the key below: a guard against a")
    w.line("# config that makes a run read - and copy into the evidence pack - files it should not. The draft was")
    w.line("# written outside the data folder, so init set the key. To keep the guard instead, write the draft inside")
    w.line("# the data folder (carbon-disclosure init DIR --out DIR/disclosure.yaml) and leave the key out.")
    w.kv(0, "allow_paths_outside_config", True)
    w.blank()


def _write_site(w: _Writer, known: list[Found], site_files: list[Found], shown: dict[str, str]) -> None:
    w.section("Sites: where owned / colocated hardware runs")
    w.line("sites:")
    w.kv(1, "id", SITE_ID, "your name for the site; if you rename it, rename it everywhere below",
         item=True)
    w.line("    # If the files come from several sites, add one site (and one contract) per site and set each")
    w.line("    # source's 'site'.")
    named = sorted({n for f in known for n in f.hints.asset_sites})
    if named:
        w.line(f"    # (the asset register names the site(s) {_listing(named)})")
    zones = sorted({z for f in known for z in f.hints.zones})
    w.kv(2, "grid_zone", TEXT_PLACEHOLDER, "QUESTION: grid zone for location-based factors, e.g. GB, DE, US-SRVC",
         f"(the hourly intensity file covers {_listing(zones)})" if zones else None)
    w.kv(2, "timezone", PLACEHOLDER, "QUESTION: IANA zone of the site's clocks (Slurm writes times without",
         "a zone), e.g. Europe/London")
    w.kv(2, "pue", PLACEHOLDER, "QUESTION: the facility's power usage effectiveness (1.0 - 3.0), e.g. 1.35;",
         "applied to it_load meters")
    w.kv(2, "pue_source", TEXT_PLACEHOLDER, "QUESTION: where the PUE comes from, e.g. \"Operator's 2025 PUE statement\"")
    hosts = sorted({h for f in site_files for h in f.hints.hosts})
    if hosts:
        w.line(f"    # hosts in the telemetry: {_listing(hosts)}")
    gpus = sorted({g for f in site_files if f.family == "job" for g in f.hints.gpu_models})
    if gpus:
        w.line(f"    # GPU types named by the job files: {_listing(gpus)}. Map names that are not hardware catalogue")
        w.line("    # models (evidence/hardware/) with gres_gpu_types, e.g. gres_gpu_types: {h100: H100-SXM}; jobs")
        w.line("    # whose GPUs have no type take gpu_model, e.g. gpu_model: H100-SXM")
    else:
        w.line("    # gpu_model: H100-SXM            # accelerator model of jobs whose AllocTRES names no GPU type")
    meters: dict[str, list[str]] = {}
    for f in site_files:
        for m in f.hints.meters:
            meters.setdefault(m, []).append(shown[f.path])
    if meters:
        w.line("    meters:")
        for m, files in sorted(meters.items()):
            w.kv(3, "id", m, f"found in {_listing(files, 2)}", item=True)
            w.kv(4, "measures", PLACEHOLDER, "QUESTION: it_load (IT equipment only: the PUE is applied)",
                 "or facility (the reading already includes cooling and losses)")
    w.blank()


def _write_source(w: _Writer, f: Found, path: str, ids: set[str]) -> None:
    h = f.hints
    adapter = ingest.ADAPTERS[f.kind or ""]
    detail = _hint_words(h)
    w.line(f"  # {_first_line(adapter.__doc__) or f.kind}")
    if detail:
        w.line(f"  # found: {detail}")
    for note in h.notes:
        if not note.startswith(("no hints", "hints from")):
            w.line(f"  # ({note})")
    w.kv(1, "id", _unique_id(Path(f.path).name, ids), item=True)
    w.kv(2, "kind", f.kind)
    w.kv(2, "path", glob.escape(path) if any(ch in path for ch in "*?[") else path)
    if f.kind in BILLING_KINDS + CARBON_KINDS:
        contracts = [_contract_id(p) for p in h.accounts] or [PLACEHOLDER]
        w.kv(2, "contracts", contracts, None if h.accounts else
             "QUESTION: the cloud contract(s) whose rows this file holds (no provider was found in it)")
    if f.kind in SITE_KINDS:
        w.kv(2, "site", SITE_ID)
    if f.kind == "meter_readings":
        if h.interval_minutes:
            w.kv(2, "interval_minutes", h.interval_minutes, "the most common spacing of each meter's timestamps")
        else:
            w.kv(2, "interval_minutes", PLACEHOLDER, "QUESTION: length of one reading's interval in minutes")
        look = ("" if h.looks_cumulative is None else
                "each meter's values only rise: they look like cumulative readings" if h.looks_cumulative else
                "the values go up and down: they look like energy per interval")
        w.kv(2, "reading_kind", PLACEHOLDER, "QUESTION: interval (energy per interval) or cumulative (register",
             "readings)" + (f"; {look}" if look else ""))
    if f.family == "power" and h.sample_step_s and h.sample_step_s >= DEFAULT_MAX_GAP_S:
        gap = int(math.ceil(h.sample_step_s * 1.5 / 60) * 60)
        w.kv(2, "max_gap_s", gap, f"1.5 x the samples' most common spacing ({h.sample_step_s:g} s): with the default",
             f"({DEFAULT_MAX_GAP_S:g} s) every interval would be a gap. Longer intervals are gaps, never filled")
    if h.needs_scraped_at:
        w.kv(2, "scraped_at", PLACEHOLDER, "QUESTION: when the scrape was taken (the samples carry no timestamp),",
             "ISO 8601 with offset, e.g. 2026-07-01T00:00:00+00:00")
    if h.needs_boundary:
        w.kv(2, "boundary", PLACEHOLDER, "QUESTION: direct (generation only; usable for Scope 2) or lifecycle",
             "(never used for Scope 2): the file has no 'boundary' column")


def _providers(known: list[Found]) -> dict[str, tuple[list[str], list[Found]]]:
    """Provider -> (billing_accounts, files) over billing and provider-carbon files."""
    out: dict[str, tuple[set[str], list[Found]]] = {}
    for f in known:
        if f.kind not in BILLING_KINDS + CARBON_KINDS:
            continue
        for prov, ids in f.hints.accounts.items():
            acc, files = out.setdefault(prov, (set(), []))
            acc.update(ids)
            files.append(f)
    return {p: (sorted(acc), files) for p, (acc, files) in sorted(out.items())}


def _period_notes(known: list[Found]) -> list[str]:
    notes = []
    billing = [f for f in known if f.family == "usage" and f.hints.first]
    if billing:
        first = min(f.hints.first or "" for f in billing)
        last = max(f.hints.last or "" for f in billing)
        quarter = _quarter(first, last)
        notes.append(f"The billing files cover {first} .. {last} (UTC days)" + (f", i.e. {quarter}." if quarter else "."))
    dated = [f for f in known if f.hints.first and f.family not in ("asset",)]
    if dated:
        first = min(f.hints.first or "" for f in dated)
        last = max(f.hints.last or "" for f in dated)
        notes.append(f"All dated files together: {first} .. {last}"
                     + (" (some from their first rows only)." if any(f.hints.sampled for f in dated) else "."))
    return notes


def _quarter(first: str, last: str) -> str | None:
    try:
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        return None
    q = (start.month - 1) // 3 + 1
    if start.day != 1 or (start.month - 1) % 3:
        return None
    nxt = dt.date(start.year + (q == 4), 1 if q == 4 else q * 3 + 1, 1)
    return f"{start.year}-Q{q}" if end == nxt - dt.timedelta(days=1) else None


def _contract_id(provider: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", provider).strip("-").lower() + "-main"


def _unique_id(name: str, taken: set[str]) -> str:
    base = name
    for suffix in (".gz", ".parquet", ".csv", ".tsv", ".txt", ".json", ".jsonl", ".log", ".prom"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    base = base or "source"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _config_path(folder: Path, rel: str, out_dir: Path) -> str:
    """A scanned file's path as the config gives it: relative to the config's folder (absolute if impossible)."""
    path = (folder / rel).resolve()
    return _rel(path, out_dir) or path.as_posix()


def _rel(path: Path, start: Path) -> str | None:
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:                        # another drive (Windows): no relative path
        return None


def _first_line(doc: str | None) -> str:
    """An adapter's docstring up to its first ' -> ' or sentence end: what the format is."""
    text = " ".join((doc or "").strip().split("\n\n")[0].split()).replace("``", "")
    text = re.split(r" -> |\.\s|:\s", text + " ")[0]
    return text.strip().rstrip(".")


class _Writer:
    """YAML text with aligned trailing comments; values are dumped by PyYAML, so quoting is always right."""

    COMMENT_COLUMN = 40

    def __init__(self) -> None:
        self._lines: list[str] = []

    def line(self, text: str) -> None:
        self._lines.append(text)

    def blank(self) -> None:
        if self._lines and self._lines[-1] != "":
            self._lines.append("")

    def section(self, title: str) -> None:
        self._lines.append(f"# --- {title} " + "-" * max(3, 100 - len(title) - 7))

    def kv(self, depth: int, key: str, value: Any, *comment: str | None, item: bool = False) -> None:
        indent = "  " * depth
        lead = indent + "- " if item else indent
        code = f"{lead}{key}: {_scalar(value)}"
        notes = [c for c in comment if c]
        if not notes:
            self._lines.append(code)
            return
        pad = max(self.COMMENT_COLUMN, len(code) + 1)
        self._lines.append(f"{code:<{pad}}# {notes[0]}")
        for more in notes[1:]:
            self._lines.append(f"{'':<{pad}}# {more}")

    def text(self) -> str:
        while self._lines and self._lines[-1] == "":
            self._lines.pop()
        return "\n".join(self._lines) + "\n"


def _scalar(value: Any) -> str:
    """One YAML flow value (strings quoted when YAML would read them otherwise, e.g. account ids)."""
    dumped = yaml.safe_dump([value], default_flow_style=True, width=10 ** 6, allow_unicode=True).strip()
    return dumped[1:-1]
