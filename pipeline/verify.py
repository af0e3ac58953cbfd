"""Verify an evidence pack: is it complete, unaltered, and do its figures follow from its own ledger?

``verify_pack(pack) -> VerifyResult`` reads a pack written by ``pipeline.run.run`` and checks it from the
pack's own files alone: no config, no input files, no factor library and no LibreOffice are needed. It only
reads; nothing in the pack is written, touched or created. ``render(result)`` gives the report as text.

Each check is one row of ``VerifyResult.checks``: ``{"check", "target", "status": "ok" | "failed", "detail"}``,
where ``target`` names the file (path inside the pack) or the figure checked.

    1 manifest.read       manifest.json parses and has a "files" list
      manifest.file       per file listed: present, sha256 and byte size as listed
      manifest.coverage   every file in the pack (manifest.json excepted) is listed; one failure per extra file
    2 factors.ids         factors_used.csv: each factor id names one value (ids compared case-insensitively,
                          as the workbook's MATCH does)
      ledger.factors      per basis (LB, MB): each ledger.csv row's factor id is in factors_used.csv and the
                          factor on the row is that value
      ledger.reperform    per basis: quantity x factor (looked up by id in factors_used.csv) = the row's emissions
    3 totals              per summary.json figure: re-aggregated from ledger.csv (emissions_tco2e, energy_mwh
                          total / by site / cloud / by basis, by_phase_tco2e, by_phase_market_based_tco2e,
                          by_month_phase_tco2e)
    4 xlsx.ledger         Ledger sheet = ledger.csv row by row (ids, the columns the SUMIFS read, quantities,
                          factor ids) and its factor / emissions cells are the live formulas
      xlsx.factors        Factors sheet = factors_used.csv (factor id, value_kg_per_kwh), the values those
                          formulas look up
      xlsx.summary        per cell of the "summary.json (...)" column of E1-6 Emissions / E1-5 Energy: equals the
                          summary.json figure of its line
      xlsx.summary.missing  a summary.json figure those sheets should show but do not
    5 run.id              summary.json's run block = manifest.json (run id, code and factor-library versions,
                          config sha256); the workbook's About sheet and the PDF's subject name the same run
      config.sha256       the config copy in config/ hashes to that config_sha256
      pdf.attachment      summary.json and disclosure.xlsx embedded in the PDF are byte-identical to the pack's
                          files; the embedded inputs.csv lists manifest.json's inputs
      inputs              per input in summary.json: the same in manifest.json; rows read = accepted + quarantined
      quarantine          per quarantine file: referenced by an input and holding its rows_quarantined rows
      inputs.copy         when the pack copies its inputs (inputs/): each copy hashes to the input's sha256
      drilldown           per billing row map (drilldown/): one entry per accepted row of its input, none twice
    read                  a file a check needs cannot be read (missing, not its format, columns missing)

Tolerances (figures are floats; sums here use ``math.fsum``)
    REL_REPERFORM = 1e-9   emissions = quantity x factor on a ledger row (the XLSX writer's own check)
    REL_TOTALS    = 1e-9   summary.json figures re-aggregated from ledger.csv, plus ABS_TOTALS = 1e-9 in the
                           figure's unit (tCO2e or MWh) so that a figure of 0 may come out as -1e-17
    REL_COPY      = 1e-12  values copied, not computed: factor on a ledger row vs factors_used.csv, and the
                           workbook's cells vs ledger.csv / summary.json (openpyxl stores floats to 16
                           significant digits, so the copy is not always bit-identical)
Files (sha256, attachments, ids, run ids) are compared exactly.

Exit codes for ``carbon-disclosure verify PACK``: 0 verified, 1 not verified (``VerifyResult.ok`` false),
2 the path is not a pack (``InputError``: not a directory, or no manifest.json).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypedDict

from pipeline.errors import InputError

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
LEDGER = "ledger.csv"
FACTORS = "factors_used.csv"
XLSX = "disclosure.xlsx"
PDF = "disclosure.pdf"
CONFIG_DIR = "config"
QUARANTINE_DIR = "quarantine"
DRILLDOWN_DIR = "drilldown"
ROW_MAP_SUFFIX = ".usage_rows.parquet"
INPUTS_DIR = "inputs"          # copies of the input files (run --copy-inputs)

REL_REPERFORM = 1e-9
REL_TOTALS = 1e-9
ABS_TOTALS = 1e-9
REL_COPY = 1e-12

MAX_LISTED = 5          # rows named in one failure's detail; the rest are counted


class Check(TypedDict):
    check: str
    target: str
    status: Literal["ok", "failed"]
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checks: list[Check]
    pack: Path | None = None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c["status"] != "ok"]


@dataclass
class _Report:
    checks: list[Check] = field(default_factory=list)

    def ok(self, check: str, target: str, detail: str = "") -> None:
        self.checks.append(Check(check=check, target=target, status="ok", detail=detail))

    def fail(self, check: str, target: str, detail: str) -> None:
        self.checks.append(Check(check=check, target=target, status="failed", detail=detail))

    def expect(self, check: str, target: str, problems: list[str], ok_detail: str) -> None:
        """One check: ok when there are no problems, else failed naming the first few."""
        if problems:
            self.fail(check, target, _listing(problems))
        else:
            self.ok(check, target, ok_detail)


# --- entry points ----------------------------------------------------------------------------------

def verify_pack(pack: Path) -> VerifyResult:
    """Verify the evidence pack in directory ``pack`` (read-only). Raises ``InputError`` when ``pack`` is not
    a pack at all (not a directory, or no manifest.json); anything wrong inside a pack is a failed check."""
    pack = Path(pack)
    if not pack.is_dir():
        what = "does not exist" if not pack.exists() else "is not a directory"
        raise InputError(f"evidence pack {what}", file=str(pack),
                         fix="give the output directory of a run (the folder holding manifest.json)")
    if not (pack / MANIFEST).is_file():
        raise InputError("not an evidence pack: manifest.json is missing", file=str(pack / MANIFEST),
                         fix="give the output directory of a run (the folder holding manifest.json); a pack "
                             "without its manifest cannot be verified")
    rep = _Report()
    manifest = _check_manifest(pack, rep)
    summary = _read_json(pack, SUMMARY, rep)
    factors = _read_factors(pack, rep)
    ledger = _read_ledger(pack, rep)
    if factors is not None:
        _check_factor_ids(factors, rep)
    if ledger is not None and factors is not None:
        _check_ledger(ledger, factors, rep)
    if ledger is not None and isinstance(summary, dict):
        _check_totals(ledger, summary, rep)
    _check_xlsx(pack, ledger, factors, summary, manifest, rep)
    _check_run(pack, summary, manifest, rep)
    _check_pdf(pack, manifest, rep)
    _check_inputs(pack, summary, manifest, rep)
    return VerifyResult(ok=all(c["status"] == "ok" for c in rep.checks), checks=rep.checks, pack=pack)


def render(result: VerifyResult) -> str:
    """The report: one line per failed check (what was checked, which file or figure, what differs), then
    "pack verified: N checks passed" or "pack NOT verified: k of N checks failed"."""
    lines = []
    if result.pack is not None:
        lines.append(f"verifying {result.pack}")
    for c in result.failed:
        lines.append(f"FAILED {c['check']}: {c['target']}: {c['detail']}")
    n, k = len(result.checks), len(result.failed)
    lines.append(f"pack verified: {n} checks passed" if result.ok else f"pack NOT verified: {k} of {n} checks failed")
    return "\n".join(lines)


# --- small helpers ---------------------------------------------------------------------------------

def _listing(problems: list[str]) -> str:
    more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return "; ".join(problems[:MAX_LISTED]) + more


def _num(value: Any) -> float | None:
    """A finite float from a CSV / JSON / cell value; None when it is missing or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        x = float(value)
    else:
        try:
            x = float(str(value))
        except ValueError:
            return None
    return x if math.isfinite(x) else None


def _dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _list(x: Any) -> list:
    return x if isinstance(x, list) else []


def _close(a: float | None, b: float | None, rel: float, abs_tol: float = 0.0) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def _g(x: Any) -> str:
    return f"{x:.15g}" if isinstance(x, float) else repr(x)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _read_json(pack: Path, name: str, rep: _Report) -> Any:
    try:
        return json.loads((pack / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        rep.fail("read", name, "missing from the pack")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        rep.fail("read", name, f"cannot be read as JSON: {exc}")
    return None


def _read_csv(pack: Path, name: str, rep: _Report, required: tuple[str, ...]) -> list[dict[str, str]] | None:
    """Rows as dicts of text (missing cells are ""), or None after reporting why the file cannot be used."""
    try:
        with (pack / name).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            raw = list(reader)
            header = list(reader.fieldnames or [])
    except FileNotFoundError:
        rep.fail("read", name, "missing from the pack")
        return None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        rep.fail("read", name, f"cannot be read as CSV: {exc}")
        return None
    missing = [c for c in required if c not in header]
    if missing:
        rep.fail("read", name, f"columns missing: {', '.join(missing)}")
        return None
    return [{k: (v if isinstance(v, str) else "") for k, v in r.items() if isinstance(k, str)} for r in raw]


# --- 1 manifest ------------------------------------------------------------------------------------

def _safe_rel(path: Any) -> str | None:
    """The listed path when it names a file inside the pack (relative, no '..'), else None."""
    if not isinstance(path, str) or not path or "\\" in path:
        return None
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or p.as_posix() != path:
        return None
    return path


def _pack_files(pack: Path) -> tuple[list[str], list[str]]:
    """(files, symbolic links) under ``pack`` as POSIX paths relative to it; links are not followed."""
    files, links = [], []
    for root, dirs, names in os.walk(pack, followlinks=False):
        base = Path(root)
        for d in list(dirs):
            if (base / d).is_symlink():
                links.append((base / d).relative_to(pack).as_posix())
        for n in names:
            p = base / n
            rel = p.relative_to(pack).as_posix()
            (links if p.is_symlink() else files).append(rel)
    return sorted(files), sorted(links)


def _check_manifest(pack: Path, rep: _Report) -> dict | None:
    try:
        manifest = json.loads((pack / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        rep.fail("manifest.read", MANIFEST, f"cannot be read as JSON ({exc}): no file of the pack can be checked "
                                            "against it")
        return None
    entries = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        rep.fail("manifest.read", MANIFEST, 'has no "files" list: the files of the pack cannot be checked')
        return manifest if isinstance(manifest, dict) else None
    rep.ok("manifest.read", MANIFEST, f"{len(entries)} files listed")
    files, links = _pack_files(pack)
    listed: set[str] = set()
    for i, e in enumerate(entries):
        path = _safe_rel(e.get("path")) if isinstance(e, dict) else None
        if path is None or path == MANIFEST:
            rep.fail("manifest.file", f"{MANIFEST} files[{i}]",
                     f"entry {e!r} does not name a file of the pack (a relative path, no '..', not {MANIFEST})")
            continue
        if path in listed:
            rep.fail("manifest.file", path, f"listed twice in {MANIFEST}")
            continue
        listed.add(path)
        sha, size = e.get("sha256"), e.get("bytes")
        f = pack / path
        if f.is_symlink():
            rep.fail("manifest.file", path, "is a symbolic link; a pack holds regular files only")
        elif not f.is_file():
            rep.fail("manifest.file", path, f"listed in {MANIFEST} but missing from the pack")
        else:
            actual_sha, actual_size = _sha256(f), f.stat().st_size
            problems = []
            if actual_sha != sha:
                problems.append(f"sha256 is {actual_sha}, {MANIFEST} lists {sha}")
            if actual_size != size or isinstance(size, bool):
                problems.append(f"size is {actual_size} bytes, {MANIFEST} lists {size!r}")
            rep.expect("manifest.file", path, problems, f"sha256 and size ({actual_size} bytes) as listed")
    extra = [p for p in files if p != MANIFEST and p not in listed]
    for p in extra:
        rep.fail("manifest.coverage", p, f"in the pack but not listed in {MANIFEST} (a file added after the run?)")
    for p in links:
        if p not in listed:
            rep.fail("manifest.coverage", p, f"a symbolic link in the pack, not listed in {MANIFEST}")
    if not extra and not [p for p in links if p not in listed]:
        rep.ok("manifest.coverage", "pack", f"every file in the pack is listed in {MANIFEST}")
    return manifest


# --- 2 ledger re-performance -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Factors:
    values: dict[str, float | None]       # factor id -> value_kg_per_kwh (first row of the id)
    rows: list[dict[str, str]]


def _read_factors(pack: Path, rep: _Report) -> _Factors | None:
    rows = _read_csv(pack, FACTORS, rep, ("factor_id", "value_kg_per_kwh"))
    if rows is None:
        return None
    values: dict[str, float | None] = {}
    for r in rows:
        values.setdefault(r["factor_id"], _num(r["value_kg_per_kwh"]))
    return _Factors(values=values, rows=rows)


def _check_factor_ids(factors: _Factors, rep: _Report) -> None:
    problems = []
    seen: dict[str, tuple[str, float | None]] = {}
    for r in factors.rows:
        fid, val = r["factor_id"], _num(r["value_kg_per_kwh"])
        if not fid:
            problems.append("a row has no factor_id")
            continue
        if val is None:
            problems.append(f"{fid}: value_kg_per_kwh {r['value_kg_per_kwh']!r} is not a number")
        key = fid.casefold()
        if key in seen:
            first_id, first_val = seen[key]
            if not _close(first_val, val, REL_COPY):
                problems.append(f"factor id {fid!r} is listed twice (or as {first_id!r}) with different values "
                                f"{_g(first_val)} and {_g(val)}")
        else:
            seen[key] = (fid, val)
    rep.expect("factors.ids", FACTORS, problems, f"{len(seen)} factor ids, one value each")


# the ledger.csv columns read here (pipeline.canonical.ACTIVITY names)
_LEDGER_REQUIRED = ("activity_id", "month", "contract_kind", "site_or_region", "grid_zone", "phase", "scope",
                    "category", "own_operations", "energy_kwh", "energy_basis", "instrument", "quantity",
                    "factor_id_lb", "factor_lb_kg_per_kwh", "factor_id_mb", "factor_mb_kg_per_kwh",
                    "emissions_lb_kg_co2e", "emissions_mb_kg_co2e")


def _read_ledger(pack: Path, rep: _Report) -> list[dict[str, str]] | None:
    return _read_csv(pack, LEDGER, rep, _LEDGER_REQUIRED)


def _row_name(r: dict[str, str], i: int) -> str:
    return r.get("activity_id") or f"data row {i}"


def _check_ledger(ledger: list[dict[str, str]], factors: _Factors, rep: _Report) -> None:
    for basis, label in (("lb", "location-based"), ("mb", "market-based")):
        id_col, f_col, em_col = f"factor_id_{basis}", f"factor_{basis}_kg_per_kwh", f"emissions_{basis}_kg_co2e"
        wrong_factor, wrong_em = [], []
        for i, r in enumerate(ledger, start=1):
            name, fid = _row_name(r, i), r[id_col]
            if fid not in factors.values:
                wrong_factor.append(f"{name}: {id_col} {fid!r} is not in {FACTORS}")
                wrong_em.append(f"{name}: cannot re-perform, {id_col} {fid!r} is not in {FACTORS}")
                continue
            table, on_row = factors.values[fid], _num(r[f_col])
            if not _close(table, on_row, REL_COPY):
                wrong_factor.append(f"{name}: {f_col} is {r[f_col]!r}, {FACTORS} has {_g(table)} for {fid!r}")
            q, em = _num(r["quantity"]), _num(r[em_col])
            if q is None or em is None or table is None:
                wrong_em.append(f"{name}: quantity {r['quantity']!r} or {em_col} {r[em_col]!r} is not a number")
            elif not math.isclose(q * table, em, rel_tol=REL_REPERFORM, abs_tol=0.0):
                wrong_em.append(f"{name}: {em_col} is {_g(em)}, quantity {_g(q)} x factor {_g(table)} "
                                f"({fid}) = {_g(q * table)}")
        n = len(ledger)
        rep.expect("ledger.factors", f"{LEDGER} {f_col}", wrong_factor,
                   f"{n} rows: each {label} factor is {FACTORS}'s value for its id")
        rep.expect("ledger.reperform", f"{LEDGER} {em_col}", wrong_em,
                   f"{n} rows: quantity x factor = emissions (rel {REL_REPERFORM:g})")


# --- 3 totals --------------------------------------------------------------------------------------

def _true(value: str) -> bool:
    return value.strip() == "True"          # pandas writes booleans as True / False


def _sum(rows: list[dict[str, str]], col: str) -> float:
    # like pandas' sum: a missing value counts as nothing (re-performance reports the row itself)
    return math.fsum(x for x in (_num(r[col]) for r in rows) if x is not None)


def _group(rows: list[dict[str, str]], key: str, col: str, scale: float) -> dict[str, float]:
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    return {k: _sum(g, col) / scale for k, g in groups.items()}


def _recomputed_figures(ledger: list[dict[str, str]]) -> dict[tuple[str, ...], float]:
    """summary.json's ledger figures recomputed from ledger.csv rows, keyed by their path in summary.json
    (kg -> tCO2e and kWh -> MWh as in ``pipeline.report.summary``)."""
    lb, mb, kwh = "emissions_lb_kg_co2e", "emissions_mb_kg_co2e", "energy_kwh"
    s1 = [r for r in ledger if r["scope"] == "1"]
    s2 = [r for r in ledger if r["scope"] == "2"]
    s3 = [r for r in ledger if r["scope"] == "3"]
    own = [r for r in ledger if _true(r["own_operations"])]
    e = ("emissions_tco2e",)
    scope1, s2_lb, s2_mb, s3_total = (_sum(s1, lb) / 1000, _sum(s2, lb) / 1000, _sum(s2, mb) / 1000,
                                      _sum(s3, lb) / 1000)
    out: dict[tuple[str, ...], float] = {
        e + ("scope1",): scope1,
        e + ("scope2_location_based",): s2_lb,
        e + ("scope2_market_based",): s2_mb,
        e + ("scope3_total",): s3_total,
        e + ("total_location_based",): scope1 + s2_lb + s3_total,
        e + ("total_market_based",): scope1 + s2_mb + s3_total,
        ("energy_mwh", "total_own_operations"): _sum(own, kwh) / 1000,
        ("energy_mwh", "cloud_estimated_value_chain"): _sum([r for r in ledger if r["contract_kind"] == "cloud"],
                                                           kwh) / 1000,
    }
    for cat, v in _group([r for r in s3 if r["category"]], "category", lb, 1000).items():
        out[e + ("scope3_by_category", cat)] = v
    for site, v in _group(own, "site_or_region", kwh, 1000).items():
        out[("energy_mwh", "by_site", site)] = v
    for b, v in _group(ledger, "energy_basis", kwh, 1000).items():
        out[("energy_mwh", "by_basis", b)] = v
    for p, v in _group(ledger, "phase", lb, 1000).items():
        out[("by_phase_tco2e", p)] = v
    for p, v in _group(ledger, "phase", mb, 1000).items():
        out[("by_phase_market_based_tco2e", p)] = v
    months: dict[str, list[dict[str, str]]] = {}
    for r in ledger:
        months.setdefault(r["month"], []).append(r)
    for m, rows in months.items():
        for p, v in _group(rows, "phase", lb, 1000).items():
            out[("by_month_phase_tco2e", m, p)] = v
    return out


# summary.json blocks re-aggregated: (path, depth of the keyed levels below it)
_SUMMARY_GROUPS = ((("emissions_tco2e", "scope3_by_category"), 1), (("energy_mwh", "by_site"), 1),
                   (("energy_mwh", "by_basis"), 1), (("by_phase_tco2e",), 1), (("by_phase_market_based_tco2e",), 1),
                   (("by_month_phase_tco2e",), 2))


_MISSING = object()


def _dig(d: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return _MISSING
        d = d[k]
    return d


def _leaves(d: Any, path: tuple[str, ...], depth: int) -> list[tuple[str, ...]]:
    if depth == 0:
        return [path]
    if not isinstance(d, dict):
        return []
    return [p for k, v in d.items() for p in _leaves(v, path + (str(k),), depth - 1)]


def _check_totals(ledger: list[dict[str, str]], summary: dict, rep: _Report) -> None:
    mine = _recomputed_figures(ledger)
    paths = list(mine)
    for group, depth in _SUMMARY_GROUPS:
        block = _dig(summary, group)
        if block is _MISSING or not isinstance(block, dict):
            rep.fail("totals", f"{SUMMARY} {'.'.join(group)}", "missing (or not an object)")
            paths = [p for p in paths if p[:len(group)] != group]
            continue
        paths += [p for p in _leaves(block, group, depth) if p not in mine]
    for path in paths:
        target = f"{SUMMARY} {'.'.join(path)}"
        listed = _dig(summary, path)
        expected = mine.get(path, 0.0)
        unit = "MWh" if path[0] == "energy_mwh" else "tCO2e"
        if listed is _MISSING:
            rep.fail("totals", target, f"not in {SUMMARY}; {LEDGER} gives {_g(expected)} {unit}")
        elif not _close(_num(listed), expected, REL_TOTALS, ABS_TOTALS):
            rep.fail("totals", target, f"{SUMMARY} has {_g(listed)} {unit}, {LEDGER} re-aggregated gives "
                                       f"{_g(expected)} {unit}")
        else:
            rep.ok("totals", target, f"{_g(expected)} {unit} re-aggregated from {LEDGER}")


# --- 4 workbook ------------------------------------------------------------------------------------

# columns of the Ledger sheet compared with ledger.csv: the row's identity, every column a SUMIFS of the
# E1-6 / E1-5 / Monthly sheets reads, the quantity and the factor ids the formulas look up
_XLSX_LEDGER_TEXT = ("activity_id", "month", "contract_kind", "site_or_region", "grid_zone", "phase", "scope",
                     "category", "energy_basis", "instrument", "factor_id_lb", "factor_id_mb")
_XLSX_LEDGER_NUM = ("energy_kwh", "quantity")


def _cell_text(v: Any) -> str:
    return "" if v is None else str(v)


def _load_sheets(pack: Path, names: tuple[str, ...], rep: _Report) -> dict[str, list[tuple] | None] | None:
    """The cell values (formulas as text) of the named sheets; None after reporting why the workbook cannot
    be read. A missing sheet is reported and given as None."""
    import openpyxl

    path = pack / XLSX
    if not path.is_file():
        rep.fail("read", XLSX, "missing from the pack")
        return None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            present = set(wb.sheetnames)
            sheets = {n: [tuple(r) for r in wb[n].iter_rows(values_only=True)] if n in present else None
                      for n in names}
        finally:
            wb.close()
    except Exception as exc:  # noqa: BLE001 - any parser failure on a damaged file is a failed check, reported
        rep.fail("read", XLSX, f"cannot be read as a workbook: {type(exc).__name__}: {exc}")
        return None
    for n, rows in sheets.items():
        if rows is None:
            rep.fail("read", f"{XLSX} sheet '{n}'", "the sheet is missing")
    return sheets


def _check_xlsx(pack: Path, ledger: list[dict[str, str]] | None, factors: _Factors | None, summary: Any,
                manifest: dict | None, rep: _Report) -> None:
    from pipeline.report import xlsx as layout

    sheets = _load_sheets(pack, (layout.S_LEDGER, layout.S_FACTORS, layout.S_EMISSIONS, layout.S_ENERGY, "About"),
                          rep)
    if sheets is None:
        return
    if sheets[layout.S_LEDGER] is not None and ledger is not None:
        _check_xlsx_ledger(sheets[layout.S_LEDGER], ledger, layout, rep)
    if sheets[layout.S_FACTORS] is not None and factors is not None:
        _check_xlsx_factors(sheets[layout.S_FACTORS], factors, rep)
    if isinstance(summary, dict):
        if sheets[layout.S_EMISSIONS] is not None:
            _check_figure_sheet(layout.S_EMISSIONS, sheets[layout.S_EMISSIONS], summary, _emissions_figure,
                                _emissions_expected(summary), rep)
        if sheets[layout.S_ENERGY] is not None:
            _check_figure_sheet(layout.S_ENERGY, sheets[layout.S_ENERGY], summary, _energy_figure,
                                _energy_expected(summary), rep)
    about = sheets["About"]
    run_id = manifest.get("run_id") if isinstance(manifest, dict) else None
    if about is not None and run_id is not None:
        shown = next((r[1] for r in about if len(r) > 1 and r[0] == "run id"), None)
        rep.expect("run.id", f"{XLSX} sheet 'About' run id",
                   [] if shown == run_id else [f"the About sheet shows run id {shown!r}, {MANIFEST} has {run_id!r}"],
                   f"run {run_id}")


def _check_xlsx_ledger(rows: list[tuple], ledger: list[dict[str, str]], layout: Any, rep: _Report) -> None:
    from openpyxl.utils import get_column_letter as L

    target = f"{XLSX} sheet '{layout.S_LEDGER}'"
    header = [_cell_text(v) for v in rows[0]] if rows else []
    want = {c: layout.LEDGER_HEADERS.get(c, c) for c in _XLSX_LEDGER_TEXT + _XLSX_LEDGER_NUM}
    want.update(f_lb=layout.H_FACTOR_LB, f_mb=layout.H_FACTOR_MB, em_lb=layout.H_EM_LB, em_mb=layout.H_EM_MB)
    missing = [h for h in want.values() if h not in header]
    if missing:
        rep.fail("xlsx.ledger", target, f"header lacks columns: {', '.join(missing)}")
        return
    col = {k: header.index(h) for k, h in want.items()}
    body = [r for r in rows[1:] if any(v is not None for v in r)]
    problems = []
    if len(body) != len(ledger):
        problems.append(f"{len(body)} rows in the sheet, {len(ledger)} in {LEDGER}")
    for i, (cells, r) in enumerate(zip(body, ledger), start=2):
        name = _row_name(r, i - 1)

        def get(key: str, cells: tuple = cells) -> Any:
            return cells[col[key]] if col[key] < len(cells) else None

        for c in _XLSX_LEDGER_TEXT:
            if _cell_text(get(c)) != r[c]:
                problems.append(f"row {i} ({name}): {c} is {get(c)!r} in the sheet, {r[c]!r} in {LEDGER}")
        for c in _XLSX_LEDGER_NUM:
            if not (_close(_num(get(c)), _num(r[c]), REL_COPY) or (get(c) is None and _num(r[c]) is None)):
                problems.append(f"row {i} ({name}): {c} is {_g(get(c))} in the sheet, {r[c]} in {LEDGER}")
        q = f"{L(col['quantity'] + 1)}{i}"
        for basis in ("lb", "mb"):
            fid_cell, f_cell = f"{L(col[f'factor_id_{basis}'] + 1)}{i}", f"{L(col[f'f_{basis}'] + 1)}{i}"
            lookup = _cell_text(get(f"f_{basis}"))
            if not (lookup.startswith("=INDEX(FactorValues,MATCH(") and fid_cell in lookup
                    and lookup.endswith(",FactorIds,0))")):
                problems.append(f"row {i} ({name}): factor {basis.upper()} is {lookup!r}, not the live look-up "
                                f"of {fid_cell} in Factors")
            em = _cell_text(get(f"em_{basis}"))
            if em != f"={q}*{f_cell}":
                problems.append(f"row {i} ({name}): emissions {basis.upper()} is {em!r}, not ={q}*{f_cell}")
    rep.expect("xlsx.ledger", target, problems,
               f"{len(ledger)} rows equal {LEDGER} (ids, SUMIFS keys, quantities, factor ids); emissions are "
               "live formulas quantity x looked-up factor")


def _check_xlsx_factors(rows: list[tuple], factors: _Factors, rep: _Report) -> None:
    target = f"{XLSX} sheet 'Factors'"
    header = [_cell_text(v) for v in rows[0]] if rows else []
    value_h = next((h for h in header if h.startswith("value_kg_per_kwh")), None)
    if "factor_id" not in header or value_h is None:
        rep.fail("xlsx.factors", target, "header lacks factor_id or value_kg_per_kwh")
        return
    ci, cv = header.index("factor_id"), header.index(value_h)
    body = [r for r in rows[1:] if any(v is not None for v in r)]
    problems = []
    if len(body) != len(factors.rows):
        problems.append(f"{len(body)} factors in the sheet, {len(factors.rows)} in {FACTORS}")
    for i, (cells, r) in enumerate(zip(body, factors.rows), start=2):
        fid = _cell_text(cells[ci] if ci < len(cells) else None)
        val = cells[cv] if cv < len(cells) else None
        if fid != r["factor_id"]:
            problems.append(f"row {i}: factor_id is {fid!r} in the sheet, {r['factor_id']!r} in {FACTORS}")
        elif not _close(_num(val), _num(r["value_kg_per_kwh"]), REL_COPY):
            problems.append(f"row {i} ({fid}): value is {_g(val)} in the sheet, {r['value_kg_per_kwh']} in {FACTORS}")
    rep.expect("xlsx.factors", target, problems, f"{len(factors.rows)} factors equal {FACTORS}")


def _emissions_figure(label: str, meta: dict[str, str], summary: dict) -> tuple[str, ...] | None:
    """The summary.json path of an E1-6 line, from its scope / category / basis columns."""
    e = ("emissions_tco2e",)
    scope, cat, basis = meta.get("scope", ""), meta.get("category", ""), meta.get("basis", "")
    if scope == "1":
        return e + ("scope1",)
    if scope == "2":
        return e + ({"location": "scope2_location_based", "market": "scope2_market_based"}.get(basis, "?"),)
    if scope == "3":
        return e + (("scope3_by_category", cat) if cat else ("scope3_total",))
    if scope == "" and basis in ("location", "market"):
        return e + (f"total_{basis}_based",)
    return None


def _emissions_expected(summary: dict) -> dict[tuple[str, ...], Any]:
    e = summary.get("emissions_tco2e")
    if not isinstance(e, dict):
        return {}
    keys = ["scope1", "scope2_location_based", "scope2_market_based", "scope3_total", "total_location_based",
            "total_market_based"]
    out = {("emissions_tco2e", k): e.get(k) for k in keys}
    for c, v in _dict(e.get("scope3_by_category")).items():
        out[("emissions_tco2e", "scope3_by_category", str(c))] = v
    return out


# E1-5 lines (pipeline.report.xlsx _energy_sheet, _instrument_rows, _mix_rows): label -> summary.json path
_ENERGY_FIXED = {
    "Total energy consumption, own operations": ("energy_mwh", "total_own_operations"),
    "Cloud computing (value chain, estimated; not own operations)": ("energy_mwh", "cloud_estimated_value_chain"),
}
_MIX_PREFIX = {"E1-5 fossil sources (": "fossil_mwh", "E1-5 nuclear sources (": "nuclear_mwh",
               "E1-5 renewable sources (": "renewable_mwh"}


def _instrument_index(summary: dict) -> dict[tuple[str, str], int]:
    out = {}
    for i, s in enumerate(_list(summary.get("contractual_instruments"))):
        if isinstance(s, dict):
            for inst in _list(s.get("instruments")):
                if isinstance(inst, dict):
                    out[(str(s.get("site")), str(inst.get("type")))] = i
    return out


def _energy_figure(label: str, meta: dict[str, str], summary: dict) -> tuple[str, ...] | None:
    if label in _ENERGY_FIXED:
        return _ENERGY_FIXED[label]
    if label.startswith("  site: "):
        return ("energy_mwh", "by_site", label[len("  site: "):])
    if label.startswith("All Ledger energy, basis: "):
        return ("energy_mwh", "by_basis", label[len("All Ledger energy, basis: "):])
    for prefix, key in _MIX_PREFIX.items():
        if label.startswith(prefix):
            return ("energy_mwh", "mix", key)
    if label.startswith("Scope 2 at "):
        # "Scope 2 at {site} covered by: {type} ({instrument ids})": the longest (site, type) that fits
        fits = [(site, kind) for site, kind in _instrument_index(summary)
                if label.startswith(f"Scope 2 at {site} covered by: {kind} (")]
        if fits:
            site, kind = max(fits, key=lambda sk: len(sk[0]) + len(sk[1]))
            return ("contractual_instruments", site, kind)
    return None


def _energy_expected(summary: dict) -> dict[tuple[str, ...], Any]:
    en = summary.get("energy_mwh")
    if not isinstance(en, dict):
        return {}
    out: dict[tuple[str, ...], Any] = {("energy_mwh", "total_own_operations"): en.get("total_own_operations"),
                                       ("energy_mwh", "cloud_estimated_value_chain"):
                                           en.get("cloud_estimated_value_chain")}
    for group in ("by_site", "by_basis"):
        for k, v in _dict(en.get(group)).items():
            out[("energy_mwh", group, str(k))] = v
    mix = en.get("mix")
    if isinstance(mix, dict) and mix:
        for key in _MIX_PREFIX.values():
            out[("energy_mwh", "mix", key)] = mix.get(key)
    for s in _list(summary.get("contractual_instruments")):
        if isinstance(s, dict):
            for inst in _list(s.get("instruments")):
                if isinstance(inst, dict):
                    out[("contractual_instruments", str(s.get("site")), str(inst.get("type")))] = inst.get("mwh")
    return out


def _summary_value(summary: dict, path: tuple[str, ...]) -> Any:
    if path[0] == "contractual_instruments":
        _, site, kind = path
        for s in _list(summary.get("contractual_instruments")):
            if isinstance(s, dict) and str(s.get("site")) == site:
                for inst in _list(s.get("instruments")):
                    if isinstance(inst, dict) and str(inst.get("type")) == kind:
                        return inst.get("mwh")
        return _MISSING
    return _dig(summary, path)


def _path_name(path: tuple[str, ...]) -> str:
    if path[0] == "contractual_instruments":
        return f"contractual_instruments[site={path[1]}].instruments[type={path[2]}].mwh"
    return ".".join(path)


_Figure = Callable[[str, dict[str, str], dict], "tuple[str, ...] | None"]


def _check_figure_sheet(sheet: str, rows: list[tuple], summary: dict, figure: _Figure,
                        expected: dict[tuple[str, ...], Any], rep: _Report) -> None:
    """Every cell of the sheet's "summary.json (...)" column equals summary.json's figure for its line, and
    every figure the sheet should show is there."""
    from openpyxl.utils import get_column_letter as L

    header = [_cell_text(v) for v in rows[0]] if rows else []
    s_col = next((i for i, h in enumerate(header) if h.startswith("summary.json (")), None)
    if s_col is None:
        rep.fail("xlsx.summary", f"{XLSX} sheet '{sheet}'", 'has no "summary.json (...)" column')
        return
    meta_cols = {h: i for i, h in enumerate(header) if h in ("scope", "category", "basis")}
    shown: set[tuple[str, ...]] = set()
    for r, cells in enumerate(rows[1:], start=2):
        value = cells[s_col] if s_col < len(cells) else None
        if value is None:
            continue
        label = _cell_text(cells[0])
        meta = {h: _cell_text(cells[i]) for h, i in meta_cols.items() if i < len(cells)}
        path = figure(label, meta, summary)
        ref = f"{XLSX} '{sheet}'!{L(s_col + 1)}{r}"
        if path is None:
            rep.fail("xlsx.summary", ref, f"line {label!r} holds {_g(value)} but names no {SUMMARY} figure")
            continue
        shown.add(path)
        listed = _summary_value(summary, path)
        target = f"{ref} ({SUMMARY} {_path_name(path)})"
        if listed is _MISSING:
            rep.fail("xlsx.summary", target, f"the sheet shows {_g(value)}; {SUMMARY} has no such figure")
        elif not _close(_num(value), _num(listed), REL_COPY):
            rep.fail("xlsx.summary", target, f"the sheet shows {_g(value)}, {SUMMARY} has {_g(listed)}")
        else:
            rep.ok("xlsx.summary", target, f"{_g(value)} as in {SUMMARY}")
    for path, value in expected.items():
        if path not in shown and _num(value) is not None:
            rep.fail("xlsx.summary.missing", f"{XLSX} '{sheet}' ({SUMMARY} {_path_name(path)})",
                     f"{SUMMARY} has {_g(value)} but the sheet has no line showing it")


# --- 5 run identity, PDF attachments, inputs -------------------------------------------------------

_RUN_FIELDS = (("id", "run_id"), ("code_version", "code_version"),
               ("factor_library_version", "factor_library_version"), ("config_sha256", "config_sha256"))


def _check_run(pack: Path, summary: Any, manifest: dict | None, rep: _Report) -> None:
    if not isinstance(manifest, dict):
        rep.fail("run.id", f"{SUMMARY} run.id", f"{MANIFEST} could not be read: the run cannot be identified")
        return
    run = summary.get("run") if isinstance(summary, dict) else None
    if isinstance(summary, dict):
        for s_key, m_key in _RUN_FIELDS:
            a = run.get(s_key, _MISSING) if isinstance(run, dict) else _MISSING
            b = manifest.get(m_key, _MISSING)
            shown_a = "nothing" if a is _MISSING else repr(a)
            shown_b = "nothing" if b is _MISSING else repr(b)
            differs = f"{SUMMARY} has {shown_a}, {MANIFEST} {m_key} has {shown_b}"
            problems = [] if a == b and a is not _MISSING else [differs]
            rep.expect("run.id", f"{SUMMARY} run.{s_key}", problems, f"{b!r} as in {MANIFEST}")
    config_sha = manifest.get("config_sha256")
    cdir = pack / CONFIG_DIR
    copies = sorted(p for p in cdir.iterdir() if p.is_file()) if cdir.is_dir() else []
    if len(copies) > 1:
        rep.fail("config.sha256", f"{CONFIG_DIR}/", f"{len(copies)} files; a pack holds one config copy")
    for p in copies[:1]:
        rel = p.relative_to(pack).as_posix()
        sha = _sha256(p)
        differs = (f"sha256 is {sha}, the run's config_sha256 in {MANIFEST} is {config_sha!r}: this is not the "
                   "config the run used")
        rep.expect("config.sha256", rel, [] if sha == config_sha else [differs],
                   f"hashes to the run's config_sha256 {sha[:16]}...")


def _check_pdf(pack: Path, manifest: dict | None, rep: _Report) -> None:
    path = pack / PDF
    if not path.is_file():
        rep.fail("read", PDF, "missing from the pack")
        return
    try:
        from pypdf import PdfReader
    except ImportError:
        rep.fail("pdf.attachment", PDF, "cannot read the PDF's attachments: pypdf is not installed "
                                        "(pip install pypdf)")
        return
    try:
        reader = PdfReader(path)
        attachments = {str(k): [bytes(b) for b in v] for k, v in reader.attachments.items()}
        subject = str((reader.metadata or {}).get("/Subject") or "")
    except Exception as exc:  # noqa: BLE001 - any parser failure on a damaged file is a failed check, reported
        rep.fail("read", PDF, f"cannot be read as a PDF: {type(exc).__name__}: {exc}")
        return
    for name in (SUMMARY, XLSX):
        target = f"{PDF} attachment {name}"
        got = attachments.get(name)
        if not got:
            rep.fail("pdf.attachment", target, f"the PDF does not embed {name}")
            continue
        own = pack / name
        data = own.read_bytes() if own.is_file() else None
        if data is None:
            rep.fail("pdf.attachment", target, f"the pack has no {name} to compare with")
        elif len(got) != 1 or got[0] != data:
            rep.fail("pdf.attachment", target,
                     f"embedded {name} (sha256 {hashlib.sha256(got[0]).hexdigest()[:16]}..., {len(got[0])} bytes) "
                     f"differs from the pack's {name} (sha256 {hashlib.sha256(data).hexdigest()[:16]}..., "
                     f"{len(data)} bytes)")
        else:
            rep.ok("pdf.attachment", target, f"byte-identical to the pack's {name}")
    if not isinstance(manifest, dict):
        return
    run_id = manifest.get("run_id")
    rep.expect("run.id", f"{PDF} subject", [] if f"run {run_id}" in subject else
               [f"the PDF's subject {subject!r} does not name run {run_id!r} of {MANIFEST}"], f"names run {run_id}")
    listed = attachments.get("inputs.csv")
    if listed and isinstance(manifest.get("inputs"), list):
        try:
            rows = list(csv.DictReader(listed[0].decode("utf-8").splitlines()))
        except (UnicodeDecodeError, csv.Error) as exc:
            rep.fail("pdf.attachment", f"{PDF} attachment inputs.csv", f"cannot be read as CSV: {exc}")
            return
        keys = ("source", "sha256", "rows_read", "rows_accepted", "rows_quarantined")
        embedded = [tuple(str(r.get(k, "")) for k in keys) for r in rows]
        expected = [tuple(str(i.get(k, "")) for k in keys) for i in manifest["inputs"] if isinstance(i, dict)]
        differs = (f"{', '.join(keys)} of the {len(embedded)} embedded inputs differ from the {len(expected)} "
                   f"inputs of {MANIFEST}: {sorted(set(embedded) ^ set(expected))[:2]}")
        problems = [] if embedded == expected else [differs]
        rep.expect("pdf.attachment", f"{PDF} attachment inputs.csv", problems,
                   f"{len(expected)} inputs with sha256 and row counts as in {MANIFEST}")


def _count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.DictReader(fh))


def _check_inputs(pack: Path, summary: Any, manifest: dict | None, rep: _Report) -> None:
    inputs = summary.get("inputs") if isinstance(summary, dict) else None
    if not isinstance(inputs, list):
        if isinstance(summary, dict):
            rep.fail("inputs", f"{SUMMARY} inputs", "missing (or not a list)")
        return
    m_inputs = manifest.get("inputs") if isinstance(manifest, dict) else None
    by_source = {str(i.get("source")): i for i in _list(m_inputs) if isinstance(i, dict)}
    referenced: set[str] = set()
    for n, i in enumerate(inputs):
        if not isinstance(i, dict):
            rep.fail("inputs", f"{SUMMARY} inputs[{n}]", "not an object")
            continue
        src = str(i.get("source"))
        problems = []
        m = by_source.get(src)
        if m is None:
            problems.append(f"not among the inputs of {MANIFEST}")
        else:
            for k in ("kind", "path", "sha256", "rows_read", "rows_accepted", "rows_quarantined"):
                if m.get(k) != i.get(k):
                    problems.append(f"{k} is {i.get(k)!r}, {MANIFEST} has {m.get(k)!r}")
        read, acc, quar = i.get("rows_read"), i.get("rows_accepted"), i.get("rows_quarantined")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (read, acc, quar)) or read != acc + quar:
            problems.append(f"rows read {read!r} != accepted {acc!r} + quarantined {quar!r}")
        qfile = i.get("quarantine_file")
        if quar and not qfile:
            problems.append(f"{quar} rows quarantined but no quarantine file named")
        rep.expect("inputs", f"{SUMMARY} inputs '{src}'", problems, "as in manifest.json; rows read = accepted + "
                                                                    "quarantined")
        if qfile:
            rel = _safe_rel(qfile)
            if rel is None:
                rep.fail("quarantine", str(qfile), f"named by input '{src}' but not a path inside the pack")
                continue
            referenced.add(rel)
            path = pack / rel
            if not path.is_file():
                rep.fail("quarantine", rel, f"named by input '{src}' of {SUMMARY} but missing from the pack")
                continue
            try:
                count = _count_rows(path)
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                rep.fail("quarantine", rel, f"cannot be read as CSV: {exc}")
                continue
            rep.expect("quarantine", rel, [] if count == quar else
                       [f"holds {count} row(s), input '{src}' of {SUMMARY} quarantined {quar!r}"],
                       f"{count} row(s), as quarantined from input '{src}'")
    qdir = pack / QUARANTINE_DIR
    if qdir.is_dir():
        for p in sorted(qdir.rglob("*")):
            rel = p.relative_to(pack).as_posix()
            if p.is_file() and rel not in referenced:
                rep.fail("quarantine", rel, f"no input of {SUMMARY} names this quarantine file")
    if (pack / INPUTS_DIR).is_dir():
        _check_input_copies(pack, inputs, rep)
    if (pack / DRILLDOWN_DIR).is_dir():
        _check_drilldown(pack, inputs, rep)


def _check_drilldown(pack: Path, inputs: list, rep: _Report) -> None:
    """drilldown/<source>.usage_rows.parquet: one entry per accepted row of its billing input (no row twice,
    none outside the file), and no row map without an input."""
    import pyarrow.parquet as pq

    from pipeline.validate.quarantine import safe_name

    by_name = {f"{safe_name(str(i.get('source')))}{ROW_MAP_SUFFIX}": i for i in inputs if isinstance(i, dict)}
    for p in sorted((pack / DRILLDOWN_DIR).rglob("*")):
        rel = p.relative_to(pack).as_posix()
        if not p.is_file() or p.name.endswith(".crc"):
            continue
        i = by_name.get(p.name) or (by_name.get(p.parent.name) if p.parent != pack / DRILLDOWN_DIR else None)
        if i is None:
            rep.fail("drilldown", rel, f"no input of {SUMMARY} has this row map")
            continue
        if p.parent != pack / DRILLDOWN_DIR:      # a Spark row map is a folder of parts: checked as a whole below
            continue
        try:
            rows = pq.read_table(p, columns=["source_row"]).column("source_row").to_numpy()
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a failed check
            rep.fail("drilldown", rel, f"cannot be read as a row map: {exc}")
            continue
        problems = []
        if len(rows) != i.get("rows_accepted"):
            problems.append(f"maps {len(rows):,} rows, input '{i.get('source')}' accepted {i.get('rows_accepted')!r}")
        if len(rows) and len(set(rows.tolist())) != len(rows):
            problems.append("a source row is mapped twice")
        if len(rows) and rows.min() < 1:
            problems.append("a source row number below 1")
        rep.expect("drilldown", rel, problems, f"one entry per accepted row of input '{i.get('source')}'")


def _check_input_copies(pack: Path, inputs: list, rep: _Report) -> None:
    """inputs/ (run --copy-inputs): each input's copy hashes to the sha256 the run recorded for it. The copy
    is inputs/<path as in the config> (inputs/<file name> when that path is absolute or leaves its folder)."""
    copied: set[str] = set()
    for i in inputs:
        if not isinstance(i, dict) or not isinstance(i.get("path"), str):
            continue
        path, src = i["path"], str(i.get("source"))
        p = PurePosixPath(path)
        rel = f"{INPUTS_DIR}/{p.as_posix() if not p.is_absolute() and '..' not in p.parts else p.name}"
        copied.add(rel)
        f = pack / rel
        if not f.is_file():
            rep.fail("inputs.copy", rel, f"the pack copies its inputs but input '{src}' ({path}) is not there")
            continue
        sha = _sha256(f)
        rep.expect("inputs.copy", rel, [] if sha == i.get("sha256") else
                   [f"sha256 is {sha}, the run read input '{src}' with sha256 {i.get('sha256')!r}"],
                   f"the file the run read as input '{src}' (sha256 as recorded)")
    for p in sorted((pack / INPUTS_DIR).rglob("*")):
        rel = p.relative_to(pack).as_posix()
        if p.is_file() and rel not in copied:
            rep.fail("inputs.copy", rel, f"in {INPUTS_DIR}/ but not an input of {SUMMARY}")

