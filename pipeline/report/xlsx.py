"""The auditor workbook: every reported total is a live formula over the activity ledger.

Sheets
  About             entity, period, run identifiers, how the workbook works, methodology notes
  E1-6 Emissions    Scope 1 / 2 (location- and market-based) / 3 by category and totals, tCO2e:
                    SUMIFS over the Ledger emissions columns / 1000; totals are sums of those cells
  E1-5 Energy       own-operations energy (total and by site), cloud value-chain energy, by energy basis, MWh
  Monthly by phase  location-based tCO2e per month x phase (SUMIFS) and a stacked bar chart
  Ledger            one row per activity-ledger row; factor = INDEX/MATCH into Factors by id,
                    emissions = energy x factor (live formulas)
  Factors           one row per emission factor used
  Decisions, Allocation, Inputs, Data quality   as in the Disclosure

Next to each E1-6 / E1-5 figure the workbook shows the same figure from summary.json (a constant) and the
difference (a formula), so a reviewer sees at once that the spreadsheet re-performs the pipeline's numbers.

The writer computes nothing new. Before writing it checks that the formulas will reproduce the ledger
(each row's factor id resolves in Factors to the factor the ledger used; emissions = energy x factor) and
raises ``ValueError`` otherwise: the XLSX, the PDF and summary.json must never disagree.

openpyxl cannot store formula results, so the file is flagged ``fullCalcOnLoad``: Excel and LibreOffice
compute every formula when the file is opened.

Safety: text from inputs is always written as text. A string beginning with ``=`` (or ``+ - @``, tab, CR)
is stored as a string cell with the quote-prefix style, so it is displayed exactly as given and is never
evaluated, even after the cell is edited.

Speed: the Ledger sheet's data rows are written as SpreadsheetML text and spliced into the sheet openpyxl writes
(see _ledger_rows); building them as openpyxl cells cost ~0.6 ms of CPU per ledger row.

Determinism: the same Disclosure gives a byte-identical file (document dates and zip entry dates are set
from the reporting period's end date, not the clock).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.writer.excel import ExcelWriter

from pipeline.report.summary import PHASE_KEYS

# --- layout constants ------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "activity_id", "month", "contract_id", "contract_kind", "provider", "account_id", "site_or_region", "grid_zone",
    "service", "instance_type", "phase", "phase_rule", "project", "scope", "category", "rule_id", "own_operations",
    "energy_kwh", "energy_basis", "defaults_used", "cost", "cost_currency", "instrument", "quantity", "quantity_unit",
    "factor_id_lb", "factor_id_mb", "source_file", "source_rows",
)
LEDGER_HEADERS = {"energy_kwh": "energy (kWh)", "cost": "cost (billing currency)",
                  "quantity": "quantity (kWh, or kg CO2e when provider-reported)"}
H_FACTOR_LB = "factor LB (kg CO2e per unit)"
H_FACTOR_MB = "factor MB (kg CO2e per unit)"
H_EM_LB = "emissions LB (kg CO2e)"
H_EM_MB = "emissions MB (kg CO2e)"

# (column in d.factors, header); value_kg_per_kwh is the value the ledger uses, value/unit are as published
FACTOR_COLUMNS = (
    ("factor_id", "factor_id"),
    ("zone", "zone"),
    ("basis", "basis"),
    ("value_kg_per_kwh", "value_kg_per_kwh (kg CO2e/kWh)"),
    ("unit", "unit (as published)"),
    ("boundary", "boundary"),
    ("source", "source"),
    ("edition", "edition"),
    ("data_year", "data_year"),
    ("licence", "licence"),
    ("url", "url"),
    ("value", "value (as published, in unit)"),
    ("zone_name", "zone_name"),
    ("retrieval_date", "retrieval_date"),
    ("note", "note"),
)

CATEGORY_LABELS = {
    "1": "Cat. 1 Purchased goods and services — cloud computing and data centre services",
    "2": "Cat. 2 Capital goods",
    "3": "Cat. 3 Fuel- and energy-related activities (upstream of Scope 2 electricity)",
    "8": "Cat. 8 Upstream leased assets",
}

S_EMISSIONS = "E1-6 Emissions"
S_ENERGY = "E1-5 Energy"
S_MONTHLY = "Monthly by phase"
S_LEDGER = "Ledger"
S_FACTORS = "Factors"

MAX_LEDGER_ROWS = 1_048_575   # Excel's row limit minus the header
FMT_KWH = "#,##0.000"
FMT_FACTOR = "0.000000"
FMT_KG = "#,##0.000"
FMT_T = "0.000"
FMT_MWH = "0.000"
FMT_INT = "#,##0"
FMT_MONEY = "#,##0.00"

MAX_WIDTH = 60
MIN_WIDTH = 8
FORMULA_WIDTH = 14
EXCEL_MAX_CELL_CHARS = 32767

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
TITLE_FONT = Font(bold=True, size=12)
WRAP = Alignment(wrap_text=True, vertical="top")

_HOSTILE_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_WILDCARDS = re.compile(r"[*?~]")


# --- cell helpers ----------------------------------------------------------------------------------

def _plain(value):
    """A value openpyxl can write: None for missing / non-finite, Python scalars, text for the rest."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):   # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return str(value)


def _text(value: str) -> str:
    # control characters are not allowed in XML; show them as \xNN instead of failing the write
    value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if len(value) > EXCEL_MAX_CELL_CHARS:
        suffix = f" … [truncated: {len(value)} characters in the source]"
        value = value[: EXCEL_MAX_CELL_CHARS - len(suffix)] + suffix
    return value


def _put(ws, row: int, col: int, value, fmt: str | None = None):
    """Write a value (never a formula): input text stays text, exactly as given."""
    value = _plain(value)
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        value = _text(value)
        cell.value = value
        cell.data_type = "s"                      # openpyxl would otherwise make "=..." a formula
        if value.startswith(_HOSTILE_PREFIXES):
            cell.quotePrefix = True               # stays text in Excel/LibreOffice even when edited
    else:
        cell.value = value
        if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
            cell.number_format = fmt
    return cell


def _formula(ws, row: int, col: int, formula: str, fmt: str | None = None):
    assert formula.startswith("=")
    cell = ws.cell(row=row, column=col)
    cell.value = formula
    if fmt:
        cell.number_format = fmt
    return cell


def _header(ws, row: int, headers, col: int = 1) -> None:
    for i, h in enumerate(headers):
        c = ws.cell(row=row, column=col + i, value=h)
        c.font = HEADER_FONT
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")


def _title(ws, row: int, col: int, text: str) -> None:
    c = ws.cell(row=row, column=col, value=text)
    c.font = TITLE_FONT


def _content_width(value, is_formula: bool = False) -> int:
    """Characters a cell needs: a formula FORMULA_WIDTH, a float as shown with 3 decimals, else its longest line."""
    if is_formula:
        return FORMULA_WIDTH
    if isinstance(value, float):
        return len(f"{value:,.3f}")
    return max((len(part) for part in str(value).split("\n")), default=0)


def _size_columns(ws, fixed: dict[int, int] | None = None, content: dict[int, int] | None = None) -> None:
    """Column widths from the cells' content; ``content``: widths (characters) of content written outside
    openpyxl (the Ledger rows), by column number."""
    widths: dict[int, int] = dict(content or {})
    for row in ws.iter_rows():
        for cell in row:
            v = cell.value
            if v is None:
                continue
            n = _content_width(v, cell.data_type == "f")
            widths[cell.column] = max(widths.get(cell.column, 0), n)
    for col, n in sorted(widths.items()):
        w = (fixed or {}).get(col) or min(max(n + 2, MIN_WIDTH), MAX_WIDTH)
        ws.column_dimensions[get_column_letter(col)].width = w


def _str(x: str) -> str:
    """An Excel string literal."""
    return '"' + x.replace('"', '""') + '"'


def _criterion(x: str) -> str:
    """A SUMIFS criterion that matches exactly the text x (no operators, no wildcards)."""
    return _str("=" + _WILDCARDS.sub(lambda m: "~" + m.group(), x))


def _q(sheet: str) -> str:
    """A sheet name as written in a reference (quoted only when needed)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sheet) and not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def _ref(sheet: str, col: int, first: int, last: int) -> str:
    c = get_column_letter(col)
    return f"{_q(sheet)}!${c}${first}:${c}${last}"


def _abs(sheet: str, col: int, row: int) -> str:
    return f"{_q(sheet)}!${get_column_letter(col)}${row}"


def _name(wb: Workbook, name: str, target: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=target)


def _dig(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def _dataframe_sheet(ws, df: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
    cols = list(df.columns)
    _header(ws, 1, cols)
    for r, rec in enumerate(df.itertuples(index=False, name=None), start=2):
        for c, (name, v) in enumerate(zip(cols, rec), start=1):
            _put(ws, r, c, v, (formats or {}).get(name) or _default_fmt(v))
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(len(df) + 1, 1)}"
    _size_columns(ws)


def _default_fmt(v) -> str | None:
    v = _plain(v)
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return FMT_INT
    if isinstance(v, float):
        return "#,##0.000"
    return None


# --- consistency checks ----------------------------------------------------------------------------

def _check_lookup(ledger: pd.DataFrame, factors: pd.DataFrame) -> None:
    """The formulas must reproduce the ledger: Excel's MATCH (first match, case-insensitive) on the factor id
    must find the factor the ledger used, and emissions must be energy x factor."""
    first: dict[str, float] = {}
    for fid, val in zip(factors["factor_id"], factors["value_kg_per_kwh"]):
        fid, val = _plain(fid), _plain(val)
        if isinstance(fid, str):
            first.setdefault(fid.casefold(), val)
    problems = []
    for basis in ("lb", "mb"):
        for aid, fid, fval, kwh, em in zip(ledger["activity_id"], ledger[f"factor_id_{basis}"],
                                           ledger[f"factor_{basis}_kg_per_kwh"], ledger["quantity"],
                                           ledger[f"emissions_{basis}_kg_co2e"]):
            fid, fval, kwh, em = _plain(fid), _plain(fval), _plain(kwh), _plain(em)
            if not isinstance(fid, str) or fid.casefold() not in first:
                problems.append(f"{aid}: factor_id_{basis} {fid!r} is not in the factor table")
                continue
            looked_up = first[fid.casefold()]
            if looked_up is None or fval is None or not math.isclose(looked_up, fval, rel_tol=1e-12, abs_tol=0.0):
                problems.append(f"{aid}: factor_id_{basis} {fid!r} resolves to {looked_up} in the factor table "
                                f"but the ledger used {fval}")
                continue
            if kwh is None or em is None or not math.isclose(kwh * fval, em, rel_tol=1e-9, abs_tol=1e-9):
                problems.append(f"{aid}: emissions_{basis} {em} != quantity {kwh} x factor {fval}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError("the XLSX formulas would not reproduce the ledger: " + "; ".join(problems[:10]) + more)


# --- sheets ----------------------------------------------------------------------------------------

def _factors_sheet(wb: Workbook, ws, factors: pd.DataFrame) -> None:
    cols = [(c, h) for c, h in FACTOR_COLUMNS if c in factors.columns]
    extra = [(c, c) for c in factors.columns if c not in dict(FACTOR_COLUMNS)]
    cols += extra
    _header(ws, 1, [h for _, h in cols])
    for r, (_, rec) in enumerate(factors.iterrows(), start=2):
        for c, (name, _) in enumerate(cols, start=1):
            fmt = FMT_FACTOR if name == "value_kg_per_kwh" else ("0" if name == "data_year" else _default_fmt(rec[name]))
            _put(ws, r, c, rec[name], fmt)
    last = max(len(factors) + 1, 2)
    names = [c for c, _ in cols]
    _name(wb, "FactorIds", _ref(S_FACTORS, names.index("factor_id") + 1, 2, last))
    _name(wb, "FactorValues", _ref(S_FACTORS, names.index("value_kg_per_kwh") + 1, 2, last))
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{last}"
    _size_columns(ws)


def _lookup(id_cell: str, id_value) -> str:
    key = id_cell
    if isinstance(id_value, str) and _WILDCARDS.search(id_value):
        # MATCH treats * ? ~ in the lookup value as wildcards: escape them so the id matches exactly
        key = f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE({id_cell},"~","~~"),"*","~*"),"?","~?")'
    return f"=INDEX(FactorValues,MATCH({key},FactorIds,0))"


# The Ledger is the one sheet that grows with the input: one row of 33 cells per activity-ledger row. Built as
# openpyxl cells it cost ~0.6 ms of CPU per row (cell objects, then openpyxl's pure-Python XML serialiser; its
# write-only mode goes through the same serialiser and measured no better). So openpyxl writes the sheet with its
# header row only, and the data rows are written here as SpreadsheetML text - the elements openpyxl writes for the
# same _put / _formula cells, in the same form - and spliced into that sheet when the archive is packed
# (_pack). tests/report/test_xlsx.py reads the rows back (openpyxl and LibreOffice) against hand-made values.

LEDGER_CHUNK_ROWS = 4096          # ledger rows converted at a time (bounds memory for very long ledgers)
LEDGER_SPOOL_BYTES = 64 << 20     # row XML kept in memory up to this size, then in a temporary file
_LEDGER_NUMBER_FORMATS = {"energy_kwh": FMT_KWH, "quantity": FMT_KWH, "cost": FMT_MONEY}


def _xml_text(text: str) -> str:
    """Text content escaped as openpyxl's serialiser escapes it (ElementTree: & < > only)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _style_id(ws, *, number_format: str | None = None, quote_prefix: bool = False) -> int:
    """The workbook's cell-format (xf) id for a cell with only this number format / quote prefix (registered
    with the workbook, so the stylesheet openpyxl writes contains it)."""
    cell = Cell(ws)                               # detached: never part of the sheet
    if number_format:
        cell.number_format = number_format
    if quote_prefix:
        cell.quotePrefix = True
    return cell.style_id


def _value_xml(value, number_style: int | None, quoted_style: int) -> tuple[str | None, int]:
    """What follows ``<c r="A2"`` for a value as _put writes it (None: no cell), and its content width."""
    if value is None:
        return None, 0
    if isinstance(value, str):
        value = _text(value)
        width = _content_width(value)
        if not value:
            return ' t="inlineStr" />', width
        style = f' s="{quoted_style}"' if value.startswith(_HOSTILE_PREFIXES) else ""
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        return f'{style} t="inlineStr"><is><t{space}>{_xml_text(value)}</t></is></c>', width
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>', _content_width(value)
    style = f' s="{number_style}"' if number_style is not None else ""
    return f'{style} t="n"><v>{value:.16g}</v></c>', _content_width(value)     # openpyxl: "%.16g" % value


def _ledger_rows(ws, ledger: pd.DataFrame, col: dict[str, int], out) -> dict[int, int]:
    """Write the Ledger's data rows (sheet rows 2 on) to the binary file ``out`` as ``<row>`` elements; return
    the content width of each column (for _size_columns)."""
    L = get_column_letter
    names = list(LEDGER_COLUMNS)
    letters = [L(i) for i in range(1, len(names) + 1)]
    quoted = _style_id(ws, quote_prefix=True)
    number_styles = [(_style_id(ws, number_format=_LEDGER_NUMBER_FORMATS[n]) if n in _LEDGER_NUMBER_FORMATS
                      else None) for n in names]
    s_factor, s_kg = _style_id(ws, number_format=FMT_FACTOR), _style_id(ws, number_format=FMT_KG)
    id_lb, id_mb, qty = L(col["factor_id_lb"]), L(col["factor_id_mb"]), L(col["quantity"])
    f_lb, f_mb, em_lb, em_mb = (L(col[k]) for k in ("f_lb", "f_mb", "em_lb", "em_mb"))
    own = names.index("own_operations")
    widths = [0] * len(names)

    def cells(values: list, j: int) -> list[str | None]:
        number_style, cache, result = number_styles[j], {}, []
        w = widths[j]
        for v in values:
            hit = cache.get(v) if type(v) is str else None     # text repeats (contract, zone, phase ...)
            if hit is None:
                pv = _plain(v)
                if j == own and pv is not None:
                    pv = bool(pv)
                hit = _value_xml(pv, number_style, quoted)
                if type(v) is str:
                    cache[v] = hit
            result.append(hit[0])
            w = max(w, hit[1])
        widths[j] = w
        return result

    for start in range(0, len(ledger), LEDGER_CHUNK_ROWS):
        part = ledger.iloc[start:start + LEDGER_CHUNK_ROWS]
        columns = [cells(part[name].tolist(), j) for j, name in enumerate(names)]
        ids = zip(part["factor_id_lb"].tolist(), part["factor_id_mb"].tolist())
        rows = []
        for r, row, (lb, mb) in zip(range(start + 2, start + 2 + len(part)), zip(*columns), ids):
            rows.append(f'<row r="{r}">')
            rows.extend(f'<c r="{letter}{r}"{xml}' for letter, xml in zip(letters, row) if xml is not None)
            rows.append(
                f'<c r="{f_lb}{r}" s="{s_factor}"><f>{_xml_text(_lookup(f"{id_lb}{r}", _plain(lb))[1:])}</f><v /></c>'
                f'<c r="{f_mb}{r}" s="{s_factor}"><f>{_xml_text(_lookup(f"{id_mb}{r}", _plain(mb))[1:])}</f><v /></c>'
                f'<c r="{em_lb}{r}" s="{s_kg}"><f>{qty}{r}*{f_lb}{r}</f><v /></c>'
                f'<c r="{em_mb}{r}" s="{s_kg}"><f>{qty}{r}*{f_mb}{r}</f><v /></c></row>')
        out.write("".join(rows).encode("utf-8"))
    content = {j: w for j, w in enumerate(widths, start=1)}
    if len(ledger):
        content.update({col[k]: FORMULA_WIDTH for k in ("f_lb", "f_mb", "em_lb", "em_mb")})
    return content


def _ledger_sheet(ws, ledger: pd.DataFrame, rows_out) -> dict[str, int]:
    """Write the ledger: the header and sheet settings with openpyxl, the data rows to ``rows_out`` (see
    _ledger_rows); return column numbers by name (ACTIVITY names + 'f_lb', 'f_mb', 'em_lb', 'em_mb')."""
    headers = [LEDGER_HEADERS.get(c, c) for c in LEDGER_COLUMNS] + [H_FACTOR_LB, H_FACTOR_MB, H_EM_LB, H_EM_MB]
    col = {c: i for i, c in enumerate(LEDGER_COLUMNS, start=1)}
    n = len(LEDGER_COLUMNS)
    col.update(f_lb=n + 1, f_mb=n + 2, em_lb=n + 3, em_mb=n + 4)
    _header(ws, 1, headers)
    content = _ledger_rows(ws, ledger, col, rows_out)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(len(ledger) + 1, 2)}"
    _size_columns(ws, content=content)
    return col


class _Ledger:
    """Range references into the Ledger sheet."""

    def __init__(self, col: dict[str, int], n_rows: int):
        self.col, self.last = col, max(n_rows + 1, 2)

    def __call__(self, name: str) -> str:
        return _ref(S_LEDGER, self.col[name], 2, self.last)

    def sumifs(self, sum_col: str, *criteria: tuple[str, str]) -> str:
        parts = [self(sum_col)] + [x for c, crit in criteria for x in (self(c), crit)]
        return f"SUMIFS({','.join(parts)})"


def _figure_table(wb: Workbook, ws, rows: list[dict], unit: str, fmt: str,
                  meta: tuple[str, ...] = ("scope", "category", "basis")) -> str:
    """Rows of {key, label, <meta>..., formula, summary, name?, bold?}; sets row["_row"] and returns the
    letter of the value column. ``formula`` may be a callable taking the rows (for totals)."""
    v = len(meta) + 2
    V, S = get_column_letter(v), get_column_letter(v + 1)
    _header(ws, 1, ["line item", *meta, unit, f"summary.json ({unit})", f"difference ({unit})"])
    for r, row in enumerate(rows, start=2):
        row["_row"] = r
    for row in rows:
        r = row["_row"]
        _put(ws, r, 1, row["label"])
        for j, m in enumerate(meta, start=2):
            _put(ws, r, j, row.get(m))
        formula = row["formula"](rows) if callable(row["formula"]) else row["formula"]
        _formula(ws, r, v, formula, fmt)
        if row.get("summary") is not None:
            _put(ws, r, v + 1, row["summary"], fmt)
            _formula(ws, r, v + 2, f"={V}{r}-{S}{r}", fmt)
        if row.get("bold"):
            ws.cell(row=r, column=1).font = HEADER_FONT
            ws.cell(row=r, column=v).font = HEADER_FONT
        if row.get("name"):
            _name(wb, row["name"], _abs(ws.title, v, r))
    ws.freeze_panes = "B2"
    _print_landscape(ws)
    return V


def _print_landscape(ws) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _cat_sort(c: str):
    return (0, int(c), c) if c.isdigit() else (1, 0, c)


def _emissions_sheet(wb: Workbook, ws, d, lg: _Ledger) -> None:
    s = d.summary.get("emissions_tco2e", {}) if isinstance(d.summary, dict) else {}
    ledger = d.ledger
    s3 = ledger[ledger["scope"].astype("string").eq("3").fillna(False).astype(bool)]
    cats = sorted({str(c) for c in s3["category"].dropna()}, key=_cat_sort)
    by_cat = s.get("scope3_by_category", {}) if isinstance(s, dict) else {}

    def t(kg_formula: str) -> str:
        return f"={kg_formula}/1000"

    rows: list[dict] = [
        {"key": "s1", "label": "Scope 1 gross GHG emissions", "scope": "1",
         "formula": t(lg.sumifs("em_lb", ("scope", '"1"'))), "summary": _dig(s, "scope1"), "name": "Scope1"},
        {"key": "s2lb", "label": "Scope 2 gross location-based GHG emissions", "scope": "2", "basis": "location",
         "formula": t(lg.sumifs("em_lb", ("scope", '"2"'))), "summary": _dig(s, "scope2_location_based"),
         "name": "Scope2_LB"},
        {"key": "s2mb", "label": "Scope 2 gross market-based GHG emissions", "scope": "2", "basis": "market",
         "formula": t(lg.sumifs("em_mb", ("scope", '"2"'))), "summary": _dig(s, "scope2_market_based"),
         "name": "Scope2_MB"},
    ]
    for c in cats:
        rows.append({"key": f"s3-{c}", "label": CATEGORY_LABELS.get(c, f"Cat. {c}"), "scope": "3", "category": c,
                     "basis": "location",
                     "formula": t(lg.sumifs("em_lb", ("scope", '"3"'), ("category", _criterion(c)))),
                     "summary": _dig(by_cat, c)})

    def cell(rows, key):
        return "E" + str(next(r["_row"] for r in rows if r["key"] == key))

    def s3_total(rows):
        cat_cells = [f"E{r['_row']}" for r in rows if r["key"].startswith("s3-")]
        return "=" + ("+".join(cat_cells) if cat_cells else "0")

    rows += [
        {"key": "s3", "label": "Scope 3 gross GHG emissions (total)", "scope": "3", "basis": "location",
         "formula": s3_total, "summary": _dig(s, "scope3_total"), "name": "Scope3_Total", "bold": True},
        {"key": "tlb", "label": "Total GHG emissions (location-based)", "basis": "location",
         "formula": lambda rows: f"={cell(rows, 's1')}+{cell(rows, 's2lb')}+{cell(rows, 's3')}",
         "summary": _dig(s, "total_location_based"), "name": "Total_LB", "bold": True},
        {"key": "tmb", "label": "Total GHG emissions (market-based)", "basis": "market",
         "formula": lambda rows: f"={cell(rows, 's1')}+{cell(rows, 's2mb')}+{cell(rows, 's3')}",
         "summary": _dig(s, "total_market_based"), "name": "Total_MB", "bold": True},
    ]
    _figure_table(wb, ws, rows, "tCO2e", FMT_T)

    r = len(rows) + 3
    _title(ws, r, 1, "Checks")
    _put(ws, r + 1, 1, "All Ledger emissions, location-based (tCO2e)")
    _formula(ws, r + 1, 5, f"=SUM({lg('em_lb')})/1000", FMT_T)
    _put(ws, r + 2, 1, "Ledger emissions not in any line above (tCO2e; should be 0)")
    _formula(ws, r + 2, 5, f"=E{r + 1}-{cell(rows, 'tlb')}", FMT_T)
    notes = [
        "Every figure in column E is a live formula: SUMIFS over the Ledger sheet's emissions columns "
        "(kg CO2e = quantity x factor, the factor looked up in Factors by id; the quantity is energy in kWh, or the "
        "provider-reported kg CO2e with a factor of 1.0 for primary data), divided by 1000.",
        "Scope 3 carries one figure (location-based estimates, or the provider-reported figure where there is one); "
        "the market-based total is Scope 1 + Scope 2 market-based + Scope 3.",
        "Column F is the same figure as written to summary.json by the pipeline; column G is the difference.",
    ]
    for i, text in enumerate(notes, start=r + 4):
        _put(ws, i, 1, text)
    _size_columns(ws, fixed={1: 62})


def _energy_sheet(wb: Workbook, ws, d, lg: _Ledger) -> None:
    s = d.summary.get("energy_mwh", {}) if isinstance(d.summary, dict) else {}
    ledger = d.ledger
    own = ledger[ledger["own_operations"].fillna(False).astype(bool)]
    sites = sorted({str(x) for x in own["site_or_region"].dropna()})
    bases = sorted({str(x) for x in ledger["energy_basis"].dropna()})
    own_crit = ("own_operations", "TRUE")

    def mwh(kwh_formula: str) -> str:
        return f"={kwh_formula}/1000"

    rows: list[dict] = [
        {"key": "own", "label": "Total energy consumption, own operations", "formula": mwh(lg.sumifs("energy_kwh", own_crit)),
         "summary": _dig(s, "total_own_operations"), "name": "Energy_OwnOps_MWh", "bold": True},
    ]
    for site in sites:
        rows.append({"key": f"site-{site}", "label": f"  site: {site}",
                     "formula": mwh(lg.sumifs("energy_kwh", own_crit, ("site_or_region", _criterion(site)))),
                     "summary": _dig(s, "by_site", site)})
    rows.append({"key": "cloud", "label": "Cloud computing (value chain, estimated; not own operations)",
                 "formula": mwh(lg.sumifs("energy_kwh", ("contract_kind", '"cloud"'))),
                 "summary": _dig(s, "cloud_estimated_value_chain"), "name": "Energy_Cloud_MWh"})
    for b in bases:
        rows.append({"key": f"basis-{b}", "label": f"All Ledger energy, basis: {b}",
                     "formula": mwh(lg.sumifs("energy_kwh", ("energy_basis", _criterion(b)))),
                     "summary": _dig(s, "by_basis", b)})
    rows += _instrument_rows(d, lg) + _mix_rows(d, lg, own_crit)
    V = _figure_table(wb, ws, rows, "MWh", FMT_MWH, meta=())
    r = len(rows) + 3
    _title(ws, r, 1, "Checks")
    site_cells = [f"{V}{x['_row']}" for x in rows if x["key"].startswith("site-")]
    _put(ws, r + 1, 1, "Sites minus own-operations total (MWh; should be 0)")
    _formula(ws, r + 1, 2, "=" + ("+".join(site_cells) if site_cells else "0") + f"-{V}{rows[0]['_row']}", FMT_MWH)
    notes = [
        "Own operations: Ledger rows with own_operations = TRUE (sites the entity controls; ESRS E1-5). "
        "Cloud energy is an estimate in the value chain and is not part of E1-5 own energy consumption.",
        "Energy is counted once per activity slice: market-based instrument splits do not duplicate energy.",
    ]
    for i, text in enumerate(notes, start=r + 3):
        _put(ws, i, 1, text)
    _size_columns(ws, fixed={1: 62})


def _instrument_rows(d, lg: _Ledger) -> list[dict]:
    """Scope 2 consumption per site by what covers it (instrument type, residual mix, grid fallback): live
    SUMIFS over the ledger's instrument column, beside summary.json's contractual_instruments."""
    from pipeline.emissions.instruments import NON_CERTIFICATE

    certs = {c.id: c for contract in d.config.contracts for c in contract.certificates}
    s2 = d.ledger[d.ledger["scope"] == "2"]
    summary = {x["site"]: x for x in (d.summary.get("contractual_instruments") or [])} if isinstance(d.summary, dict) else {}
    rows = []
    for site, g in s2.groupby("site_or_region", sort=True):
        labels: dict[str, list[str]] = {}
        for label in sorted(set(g["instrument"].fillna(""))):
            kind = certs[label].type if label in certs else NON_CERTIFICATE.get(label, label)
            labels.setdefault(kind, []).append(label)
        by_type = {i["type"]: i["mwh"] for i in summary.get(str(site), {}).get("instruments", [])}
        for kind, labs in sorted(labels.items()):
            parts = [lg.sumifs("energy_kwh", ("scope", '"2"'), ("site_or_region", _criterion(str(site))),
                               ("instrument", _criterion(lab))) for lab in labs]
            rows.append({"key": f"inst-{site}-{kind}", "label": f"Scope 2 at {site} covered by: {kind} ({', '.join(labs)})",
                         "formula": "=(" + "+".join(parts) + ")/1000", "summary": by_type.get(kind)})
    return rows


def _mix_rows(d, lg: _Ledger, own_crit) -> list[dict]:
    """E1-5 fossil / nuclear / renewable: renewable instruments' energy, plus each zone's non-instrument
    own-operations energy x its grid-mix shares (written in the formula, mix id in the label)."""
    from pipeline.energy.mix import RENEWABLE_INSTRUMENTS, _mix_row
    from pipeline.evidence import load_library

    mix = (d.summary.get("energy_mwh", {}) or {}).get("mix") if isinstance(d.summary, dict) else None
    if not mix:
        return []
    renew_ids = sorted(c.id for contract in d.config.contracts for c in contract.certificates
                       if c.type in RENEWABLE_INSTRUMENTS and c.factor_kg_per_kwh == 0)
    own = d.ledger[d.ledger["own_operations"].fillna(False).astype(bool) & (d.ledger["scope"] == "2")]
    lib_mix = load_library().grid_mix
    year = d.config.period.end.year
    inst = "+".join(lg.sumifs("energy_kwh", own_crit, ("instrument", _criterion(c))) for c in renew_ids) or "0"
    parts = {"fossil": [], "nuclear": [], "renewable": []}
    ids = []
    for zone in sorted(set(own["grid_zone"].dropna().astype(str))):
        row = _mix_row(zone, year, lib_mix)
        if row is None:
            continue
        ids.append(f"{zone}: {row['mix_id']}")
        zc = ("grid_zone", _criterion(zone))
        rest = "(" + lg.sumifs("energy_kwh", own_crit, zc) + "".join(
            "-" + lg.sumifs("energy_kwh", own_crit, zc, ("instrument", _criterion(c))) for c in renew_ids) + ")"
        f = float(row["fossil_share"]) + float(row["other_share"] or 0.0)
        n, rn = float(row["nuclear_share"]), float(row["renewable_share"])
        norm = f + n + rn
        parts["fossil"].append(f"{rest}*{f / norm!r}")
        parts["nuclear"].append(f"{rest}*{n / norm!r}")
        parts["renewable"].append(f"{rest}*{rn / norm!r}")
    src = "; ".join(ids)
    return [
        {"key": "mix-fossil", "label": f"E1-5 fossil sources (grid mix {src})",
         "formula": "=(" + ("+".join(parts["fossil"]) or "0") + ")/1000", "summary": mix.get("fossil_mwh"),
         "name": "Energy_Fossil_MWh"},
        {"key": "mix-nuclear", "label": f"E1-5 nuclear sources (grid mix {src})",
         "formula": "=(" + ("+".join(parts["nuclear"]) or "0") + ")/1000", "summary": mix.get("nuclear_mwh"),
         "name": "Energy_Nuclear_MWh"},
        {"key": "mix-renewable", "label": f"E1-5 renewable sources (instruments {', '.join(renew_ids) or 'none'} + grid mix)",
         "formula": "=(" + inst + ("+" + "+".join(parts["renewable"]) if parts["renewable"] else "") + ")/1000",
         "summary": mix.get("renewable_mwh"), "name": "Energy_Renewable_MWh"},
    ]


def _projections_sheet(ws, models: list[dict]) -> None:
    """Scenario projections, re-performable: per scenario Wh per task x PUE x factor = kg per task (formula),
    tasks per month = R0 x (1 + g)^k (formula), cumulative kg (formula) and break-even tasks = extra up-front kg /
    saving per task (formula), each beside the value in summary.json. PROJECTIONS: not part of the inventory."""
    from openpyxl.utils import get_column_letter as L

    r = 1
    _title(ws, r, 1, "PROJECTIONS - expected reductions (ESRS E1-3 / E1-4); never netted from the E1-6 inventory")
    r += 2
    for m in models:
        scen = m.get("scenarios") or []
        _title(ws, r, 1, f"{m.get('model')}: scenarios ({m.get('emissions_basis')}-based)")
        r += 1
        _header(ws, r, ["scenario", "kind", "Wh per successful task", "PUE", "grid factor (kg CO2e/kWh)",
                        "kg CO2e per task", "up-front kg CO2e (measured training / one-off)",
                        "summary.json kg per task", "energy source"])
        rows = {}
        for s in scen:
            r += 1
            rows[s["scenario_id"]] = r
            _put(ws, r, 1, s["scenario_id"])
            _put(ws, r, 2, s.get("kind"))
            _put(ws, r, 3, s.get("wh_per_task"), FMT_FACTOR)
            _put(ws, r, 4, s.get("pue"), FMT_FACTOR)
            _put(ws, r, 5, s.get("grid_factor_kg_per_kwh"), FMT_FACTOR)
            _formula(ws, r, 6, f"=C{r}*D{r}*E{r}/1000", "0.000000000")
            _put(ws, r, 7, s.get("upfront_kg_co2e"), FMT_KG)
            _put(ws, r, 8, s.get("kg_co2e_per_task"), "0.000000000")
            _put(ws, r, 9, s.get("energy_source"))
        r += 2
        r0_row, g_row = r, r + 1
        _put(ws, r0_row, 1, "successful tasks in month 1 (R0)")
        _put(ws, r0_row, 3, m.get("requests_per_month"), FMT_INT)
        _put(ws, g_row, 1, "monthly growth (g)")
        _put(ws, g_row, 3, m.get("monthly_growth"), FMT_FACTOR)
        r = g_row + 2
        _header(ws, r, ["month", "tasks"] + [f"cumulative kg CO2e: {s['scenario_id']}" for s in scen]
                + [f"summary.json: {s['scenario_id']}" for s in scen])
        first = r + 1
        horizon = max((len(s.get("cumulative_kg_co2e") or []) for s in scen), default=0)
        labels = (scen[0].get("months") if scen else None) or [f"M{i + 1}" for i in range(horizon)]
        for k in range(horizon):
            row = first + k
            _put(ws, row, 1, labels[k] if k < len(labels) else f"M{k + 1}")
            _formula(ws, row, 2, f"=$C${r0_row}*(1+$C${g_row})^{k}", FMT_INT)
            for j, s in enumerate(scen):
                c = 3 + j
                sr = rows[s["scenario_id"]]
                prev = f"$G${sr}" if k == 0 else f"{L(c)}{row - 1}"
                _formula(ws, row, c, f"={prev}+B{row}*$F${sr}", FMT_KG)
                vals = s.get("cumulative_kg_co2e") or []
                _put(ws, row, c + len(scen), vals[k] if k < len(vals) else None, FMT_KG)
        r = first + horizon + 1
        _header(ws, r, ["break-even of the fine-tuned model against", "extra up-front kg", "saving kg per task",
                        "break-even tasks", "summary.json break-even tasks", "break-even month / reason"])
        ft = next((s for s in scen if s.get("kind") == "fine_tuned"), None)
        for c in m.get("comparisons") or []:
            r += 1
            a, b = rows.get(ft["scenario_id"]) if ft else None, rows.get(c.get("comparator_id"))
            _put(ws, r, 1, c.get("comparator_id"))
            if a and b:
                _formula(ws, r, 2, f"=G{a}-G{b}", FMT_KG)
                _formula(ws, r, 3, f"=F{b}-F{a}", "0.000000000")
                _formula(ws, r, 4, f'=IF(C{r}>0,B{r}/C{r},"no saving")', FMT_INT)
            _put(ws, r, 5, c.get("break_even_requests"), FMT_INT)
            _put(ws, r, 6, c.get("break_even_month") or c.get("reason") or
                 (f"month {c['break_even_month_index'] + 1}" if c.get("break_even_month_index") is not None else ""))
        r += 3
    _size_columns(ws, fixed={1: 34})


def _monthly_sheet(ws, d, lg: _Ledger) -> None:
    months = list(d.config.period.months())
    phases = list(PHASE_KEYS)
    _header(ws, 1, ["month"] + phases + ["total (tCO2e)"])
    for i, m in enumerate(months, start=2):
        _put(ws, i, 1, m)
        for j, p in enumerate(phases, start=2):
            crit_m = _criterion(m)
            f = lg.sumifs("em_lb", ("month", crit_m), ("phase", _criterion(p)))
            _formula(ws, i, j, f"={f}/1000", FMT_T)
        _formula(ws, i, len(phases) + 2, f"=SUM(B{i}:{get_column_letter(len(phases) + 1)}{i})", FMT_T)
    tr = len(months) + 2
    _put(ws, tr, 1, "total")
    ws.cell(row=tr, column=1).font = HEADER_FONT
    for j in range(2, len(phases) + 3):
        L = get_column_letter(j)
        _formula(ws, tr, j, f"=SUM({L}2:{L}{tr - 1})" if months else "=0", FMT_T).font = HEADER_FONT
    _put(ws, tr + 2, 1, "Location-based tCO2e (Scope 2 location-based + Scope 3), by UTC month of the activity "
                        "and workload phase: SUMIFS over Ledger, divided by 1000.")
    ws.freeze_panes = "B2"
    _print_landscape(ws)
    _size_columns(ws, fixed={1: 12})

    if months:
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "stacked"
        chart.overlap = 100
        chart.title = "Location-based emissions by month and phase"
        chart.y_axis.title = "tCO2e"
        chart.x_axis.title = "month"
        chart.y_axis.numFmt = "0.000"
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        data = Reference(ws, min_col=2, max_col=len(phases) + 1, min_row=1, max_row=len(months) + 1)
        cats = Reference(ws, min_col=1, min_row=2, max_row=len(months) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        chart.width, chart.height = 18, 9
        ws.add_chart(chart, f"A{tr + 4}")


def _inputs_sheet(ws, d) -> None:
    headers = ["source", "kind", "path", "sha256", "rows read", "rows accepted", "rows quarantined",
               "quarantine file", "check: rows read = accepted + quarantined", "failed expectations", "notes"]
    _header(ws, 1, headers)
    for r, i in enumerate(d.inputs, start=2):
        failed = "; ".join(
            f"{f.expectation}({f.column or ''}): {f.unexpected_count} row(s)" + (" [stopped the run]" if f.stops_run else "")
            for f in i.failed_expectations)
        vals = [i.source_id, i.kind, i.path, i.sha256, i.rows_read, i.rows_accepted, i.rows_quarantined,
                i.quarantine_file]
        for c, v in enumerate(vals, start=1):
            _put(ws, r, c, v, FMT_INT if isinstance(v, int) else None)
        _formula(ws, r, 9, f"=E{r}=F{r}+G{r}")
        _put(ws, r, 10, failed)
        _put(ws, r, 11, "; ".join(i.notes))
    ws.freeze_panes = "B2"
    _size_columns(ws)


def _data_quality_sheet(ws, dq: dict) -> None:
    r = 1
    if not dq:
        _put(ws, r, 1, "No data-quality findings.")
    for key in (dq or {}):
        value = dq[key]
        _title(ws, r, 1, str(key))
        r += 1
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            cols: list[str] = []
            for rec in value:
                cols += [str(k) for k in rec if str(k) not in cols]
            _header(ws, r, cols)
            r += 1
            for rec in value:
                byname = {str(k): v for k, v in rec.items()}
                for c, name in enumerate(cols, start=1):
                    v = byname.get(name)
                    _put(ws, r, c, v, _default_fmt(v))
                r += 1
        elif isinstance(value, list) and not value:
            _put(ws, r, 1, "(none)")
            r += 1
        else:
            _put(ws, r, 1, value, _default_fmt(value))
            r += 1
        r += 1
    _size_columns(ws)


def _about_sheet(ws, d) -> None:
    cfg = d.config
    _title(ws, 1, 1, "Emissions disclosure for AI compute — auditor workbook")
    fields = [
        ("entity", cfg.entity.name),
        ("consolidation approach", cfg.entity.consolidation_approach),
        ("reporting currency", cfg.entity.currency),
        ("period", cfg.period.label),
        ("period start", cfg.period.start.isoformat()),
        ("period end (inclusive)", cfg.period.end.isoformat()),
        ("time zone", cfg.entity.timezone),
        ("run id", d.run_id),
        ("code version", d.code_version),
        ("factor library version", d.factor_library_version),
        ("config sha256", d.config_sha256),
    ]
    _header(ws, 3, ["field", "value"])
    r = 4
    for k, v in fields:
        _put(ws, r, 1, k)
        _put(ws, r, 2, v)
        r += 1
    r += 1
    _title(ws, r, 1, "How this workbook works")
    r += 1
    notes = [
        "Totals are live formulas over the Ledger sheet, not typed-in numbers. Each Ledger row looks its "
        "location-based (LB) and market-based (MB) factor up in the Factors sheet by factor id (INDEX/MATCH) and "
        "computes emissions = energy (kWh) x factor (kg CO2e/kWh). The E1-6 Emissions, E1-5 Energy and Monthly by "
        "phase sheets add the Ledger up with SUMIFS. Change a factor in Factors and every total follows.",
        "The workbook is recalculated when it is opened (Excel and LibreOffice). The E1-6 and E1-5 sheets show "
        "the pipeline's summary.json figure next to each formula and the difference, which should be 0.",
        "Defined names: Scope1, Scope2_LB, Scope2_MB, Scope3_Total, Total_LB, Total_MB, Energy_OwnOps_MWh, "
        "Energy_Cloud_MWh, FactorIds, FactorValues.",
        "Every Ledger row keeps source_file and source_rows (1-based line numbers, header = line 1) so each "
        "figure can be traced back to the input rows; input files are identified by sha256 in the Inputs sheet.",
        "Text from input files is shown exactly as given and is never evaluated as a formula.",
    ]
    for text in notes:
        c = _put(ws, r, 1, text)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
        c.alignment = WRAP
        ws.row_dimensions[r].height = 15 * (1 + len(text) // 110)
        r += 1
    if d.methodology:
        r += 1
        _title(ws, r, 1, "Methodology")
        r += 1
        for heading, para in d.methodology:
            _put(ws, r, 1, heading).font = HEADER_FONT
            c = _put(ws, r, 2, para)
            c.alignment = WRAP
            ws.row_dimensions[r].height = 15 * (1 + len(str(para)) // 90)
            r += 1
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 100


# --- entry point -----------------------------------------------------------------------------------

def _fixed_time(d) -> dt.datetime:
    end = d.config.period.end
    return dt.datetime(end.year, end.month, end.day)


def _pack(data: bytes, when: dt.datetime, out, ledger_entry: str, ledger_rows, ledger_dimension: str) -> None:
    """Re-pack openpyxl's archive into ``out`` with fixed entry dates (zipfile stamps entries with the current
    time), splicing the Ledger's data rows (a binary file, see _ledger_rows) into its sheet ``ledger_entry``,
    which openpyxl wrote with the header row only."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            if info.filename != ledger_entry:
                dst.writestr(zi, src.read(info.filename))
                continue
            xml = src.read(info.filename)
            head, end, tail = xml.partition(b"</sheetData>")
            head, found = re.subn(rb'<dimension ref="[^"]*" />', f'<dimension ref="{ledger_dimension}" />'.encode(),
                                  head, count=1)
            if not end or not found or b"</sheetData>" in tail:
                raise RuntimeError(f"unexpected layout of the Ledger sheet written by openpyxl ({ledger_entry})")
            zi.file_size = len(head) + ledger_rows.seek(0, os.SEEK_END) + len(end) + len(tail)   # zip64 if needed
            ledger_rows.seek(0)
            with dst.open(zi, "w") as entry:
                entry.write(head)
                shutil.copyfileobj(ledger_rows, entry, 1 << 20)
                entry.write(end + tail)


def write_xlsx(d, path: Path) -> None:  # d: pipeline.result.Disclosure
    """Write the auditor workbook for ``d`` to ``path`` (byte-identical for the same Disclosure)."""
    ledger = d.ledger
    missing = [c for c in LEDGER_COLUMNS if c not in ledger.columns]
    if missing:
        raise ValueError(f"ledger lacks columns {missing}")
    _check_lookup(ledger, d.factors)
    if len(ledger) > MAX_LEDGER_ROWS:
        from pipeline.errors import OutputError

        raise OutputError(f"the activity ledger has {len(ledger):,} rows, more than a worksheet holds "
                          f"({MAX_LEDGER_ROWS:,})", file=str(path),
                          fix="the full ledger is in ledger.csv; drop the project split (project_rule: none) or "
                              "report a shorter period to aggregate the workbook's ledger")

    wb = Workbook()
    about = wb.active
    about.title = "About"
    ws_em = wb.create_sheet(S_EMISSIONS)
    ws_en = wb.create_sheet(S_ENERGY)
    ws_mo = wb.create_sheet(S_MONTHLY)
    ws_le = wb.create_sheet(S_LEDGER)
    ws_fa = wb.create_sheet(S_FACTORS)
    ws_de = wb.create_sheet("Decisions")
    ws_al = wb.create_sheet("Allocation")
    ws_in = wb.create_sheet("Inputs")
    ws_dq = wb.create_sheet("Data quality")
    models = ((d.summary.get("projections") or {}).get("models") or []) if isinstance(d.summary, dict) else []
    if models:
        _projections_sheet(wb.create_sheet("Projections"), models)

    with tempfile.SpooledTemporaryFile(max_size=LEDGER_SPOOL_BYTES) as ledger_rows:
        _factors_sheet(wb, ws_fa, d.factors)
        col = _ledger_sheet(ws_le, ledger, ledger_rows)
        lg = _Ledger(col, len(ledger))
        _emissions_sheet(wb, ws_em, d, lg)
        _energy_sheet(wb, ws_en, d, lg)
        _monthly_sheet(ws_mo, d, lg)
        _dataframe_sheet(ws_de, d.decisions)
        _dataframe_sheet(ws_al, d.allocation, {c: FMT_KWH for c in d.allocation.columns if str(c).endswith("_kwh")})
        _inputs_sheet(ws_in, d)
        _data_quality_sheet(ws_dq, d.data_quality)
        _about_sheet(about, d)

        when = _fixed_time(d)
        wb.properties.created = when
        wb.properties.modified = when
        wb.properties.creator = "carbon-disclosure"
        wb.properties.lastModifiedBy = None
        wb.properties.title = _text(f"{d.config.entity.name} — emissions disclosure {d.config.period.label}")
        wb.properties.identifier = _text(str(d.run_id))
        wb.calculation.fullCalcOnLoad = True
        wb.calculation.calcMode = "auto"

        buf = io.BytesIO()
        # stored, not compressed: _pack compresses every entry once, when it re-packs the archive
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).save()          # not wb.save(): that stamps properties.modified with now()

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as out:
                _pack(buf.getvalue(), when, out, ws_le.path.lstrip("/"), ledger_rows,
                      f"A1:{get_column_letter(len(col))}{len(ledger) + 1}")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, path)
