"""AWS Data Exports table ``CARBON_EMISSIONS`` (CSV, CSV.gz or Parquet) -> canonical provider-carbon frame.

Provider-reported carbon is primary data from the supplier (Scope 3 Category 1 for the company); this adapter
only reads it. Sources read (2026):
- AWS Data Exports user guide, "Carbon emissions columns"
  (docs.aws.amazon.com/cur/latest/userguide/carbon-emissions-columns.html, en_us mirror on docs.amazonaws.cn):
  ``last_refresh_timestamp`` (UTC, ``YYYY-MM-DD HH:mm:ssZ``, not null), ``location`` (human readable, "Global"
  for global services), ``model_version`` (e.g. ``v2.0.0``), ``payer_account_id``, ``product_code``,
  ``region_code``, ``total_lbm_emissions_unit`` / ``total_mbm_emissions_unit`` ("The unit we currently support is
  metric tons of carbon dioxide-equivalent (MTCO2e)", nullable), ``total_lbm_emissions_value`` /
  ``total_mbm_emissions_value`` (double, nullable), ``usage_account_id``, ``usage_period_start`` /
  ``usage_period_end`` (UTC). Earlier versions of that page said the totals "currently include Scope 1 and
  Scope 2, with Scope 3 included in the future".
- AWS Data Exports "Carbon emissions" table dictionary (table-dictionary-carbon-emissions.html): monthly delivery
  as CSV or Parquet, partitioned ``model_version=Y/usage_period=YYYY-MM/``; "after releasing a new model version,
  AWS delivers exports for both old and new models for three months".
- Newer exports add ``total_scope_1_emissions_*``, ``total_scope_2_{lbm,mbm}_emissions_*``,
  ``total_scope_3_{lbm,mbm}_emissions_*`` (seen in public Terraform / CDK export queries that select them, and in
  the AWS Sustainability API's emission types TOTAL_SCOPE_1/2/3_*; the model v3 blog post "Customer Carbon
  Footprint Tool Expands ... Scope 3"). They are kept in the raw frame but not used: the company's Scope 3
  Cat 1 figure is the provider's whole attributed footprint, i.e. the ``total_*`` columns.

Mapping:
    usage_account_id                    -> account_id
    product_code                        -> service
    region_code (else location, e.g. "Global") -> region
    usage_period_start (UTC)            -> month (YYYY-MM)
    total_lbm_emissions_value x unit    -> location_based_kg_co2e
    total_mbm_emissions_value x unit    -> market_based_kg_co2e
    model_version                       -> model_version
Units: MTCO2e (metric tonnes) x 1000 -> kg; kgCO2e x 1. A value whose unit cell is empty is read as MTCO2e, the
only unit AWS documents (counted in the notes); any other unit is not converted (``unit_known`` False ->
quarantined by the ``provider_carbon.rows`` suite).

Refreshes: the same account x product x region x month can appear more than once in one file (several refreshes,
or old and new model versions delivered side by side). Only the newest model version's latest
``last_refresh_timestamp`` is kept; the superseded rows are listed in ``Parsed.folded`` (read, accepted, not
counted twice) and named in the notes. Two rows of the same key and refresh with different figures are both
quarantined (which one AWS meant cannot be told); a repeat with identical figures is folded.

Helper columns added for the row suite (shared by the three provider-carbon adapters): ``has_figure`` (at least one
basis present), ``unit_known``, ``month_mid_utc`` (the 15th of the month, 00:00 UTC: a monthly figure belongs to the
reporting period that contains the middle of its month, whatever the entity's time zone) and ``source_rows``
(';'-joined source rows merged into the row: itself plus superseded / summed rows).

The reading helpers below (CSV / Parquet / JSON lines with nested fields flattened to dotted names) are shared with
``gcp_carbon`` and ``azure_carbon``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.canonical import PROVIDER_CARBON, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import (
    JsonLimitError,
    RawTable,
    json_limit_error,
    loads_json,
    nullify,
    read_delimited,
    read_text,
    to_number,
    to_utc,
)

KIND = "aws_carbon"
FAMILY = "provider_carbon"
REQUIRED = ["last_refresh_timestamp", "model_version", "usage_account_id", "product_code", "region_code",
            "usage_period_start", "total_lbm_emissions_unit", "total_lbm_emissions_value",
            "total_mbm_emissions_unit", "total_mbm_emissions_value"]
SOURCE_COLUMNS = {"month": "usage_period_start", "month_mid_utc": "usage_period_start",
                  "location_based_kg_co2e": "total_lbm_emissions_value",
                  "market_based_kg_co2e": "total_mbm_emissions_value",
                  "has_figure": "total_mbm_emissions_value", "unit_known": "total_mbm_emissions_unit"}
# every column AWS documents for the table (module docstring), newer scope columns included: a missing column is
# never told to be "renamed" from one of these (ingest_file.header_check), e.g. usage_period_end to usage_period_start
KNOWN_COLUMNS = REQUIRED + ["location", "payer_account_id", "usage_period_end"] + [
    f"total_scope_{scope}_emissions_{part}" for scope in ("1", "2_lbm", "2_mbm", "3_lbm", "3_mbm")
    for part in ("unit", "value")]
KG_PER_UNIT = {"mtco2e": 1000.0, "tco2e": 1000.0, "metric tons co2e": 1000.0, "kgco2e": 1.0, "kg co2e": 1.0}


# --- shared reading helpers (also used by gcp_carbon / azure_carbon) --------------------------------------------

def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _scalar_text(value: object) -> object:
    if value is None:
        return pd.NA
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return json.dumps(value)  # numbers and booleans as JSON writes them (0.123, 20240101, true)


def flatten_record(obj: dict, prefix: str = "") -> dict:
    """Nested JSON objects -> one level with dotted names (``project.id``, ``a.b.c``)."""
    out: dict = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_record(value, name + "."))
        else:
            out[name] = _scalar_text(value)
    return out


def _frame_from_records(path: Path, records: list[dict], lines: list[int], malformed: dict) -> RawTable:
    cols: dict[str, None] = {}
    for rec in records:
        cols.update(dict.fromkeys(rec))
    if not cols:
        raise InputError("contains no JSON records with fields", file=str(path),
                         fix="export the data again as JSON lines (one JSON object per line)")
    frame = pd.DataFrame([[rec.get(c, pd.NA) for c in cols] for rec in records], columns=list(cols),
                         dtype="string")
    frame["source_row"] = pd.Series(lines, dtype="int64")
    return RawTable(path=path, frame=frame, malformed=malformed)


def read_json_records(path: Path, *, what: str) -> RawTable:
    """JSON lines (BigQuery NEWLINE_DELIMITED_JSON), a JSON array of objects, or an OData response ``{"value": [...]}``.

    ``source_row`` is the line number for JSON lines and the 1-based record number otherwise. A line that is not
    a JSON object is kept as an empty row and reported as malformed (quarantined with the reason)."""
    text = read_text(path, what=what)
    if not text.strip():
        raise InputError(f"the file is empty; expected a {what}", file=str(path),
                         fix=f"export the {what} again, or remove the source from the config")
    whole = None
    try:
        whole = loads_json(text)
    except JsonLimitError as exc:
        # over a limit as one document: fine if it is JSON lines (each line is checked below), else refused
        first = next(line for line in text.splitlines() if line.strip())
        try:
            lines_format = isinstance(loads_json(first), dict)
        except ValueError:
            lines_format = False
        if not lines_format:
            raise json_limit_error(exc, file=str(path), what=what) from None
    except ValueError:
        pass
    if isinstance(whole, dict) and isinstance(whole.get("value"), list):
        whole = whole["value"]
    if isinstance(whole, list):
        records, malformed = [], {}
        for i, item in enumerate(whole):
            if isinstance(item, dict):
                records.append(flatten_record(item))
            else:
                records.append({})
                malformed[i] = "is not a JSON object"
        return _frame_from_records(path, records, list(range(1, len(records) + 1)), malformed)
    records, lines, malformed = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = loads_json(line)
        except JsonLimitError as exc:
            raise json_limit_error(exc, file=str(path), what=what, row=number) from None
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            if not records and not malformed and number == 1 and not line.lstrip().startswith("{"):
                raise InputError(f"cannot be read as {what}: line 1 is not a JSON object", file=str(path), row=1,
                                 fix="export the data as JSON lines (one JSON object per line), CSV or Parquet")
            malformed[len(records)] = "is not a complete JSON object (truncated line or broken quoting)"
            records.append({})
        else:
            records.append(flatten_record(obj))
        lines.append(number)
    return _frame_from_records(path, records, lines, malformed)


def read_parquet_flat(path: Path, *, what: str) -> RawTable:
    """Parquet with struct columns flattened to dotted names; every cell as text; source_row = record number."""
    try:
        table = pq.read_table(path)
        while any(pa.types.is_struct(f.type) for f in table.schema):
            table = table.flatten()
        frame = table.to_pandas().astype("string")
    except Exception as exc:  # pyarrow raises several types for broken files
        raise InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                         fix=f"export the {what} again as Parquet or CSV") from None
    frame["source_row"] = pd.Series(range(1, len(frame) + 1), dtype="int64")
    return RawTable(path=path, frame=frame)


def read_table(path: Path, *, what: str) -> RawTable:
    """By file name: ``.parquet``; ``.json`` / ``.jsonl`` / ``.ndjson`` (optionally ``.gz``); anything else is CSV."""
    suffix = _base_suffix(path)
    if suffix == ".parquet":
        return read_parquet_flat(path, what=what)
    if suffix in (".json", ".jsonl", ".ndjson"):
        return read_json_records(path, what=what)
    return read_delimited(path, what=what)


def column(f: pd.DataFrame, *names: str) -> pd.Series:
    """First of ``names`` present, NULL literals as missing; later names fill cells the earlier ones leave empty."""
    out = pd.Series(pd.NA, index=f.index, dtype="string")
    for name in names:
        if name in f.columns:
            out = out.fillna(nullify(f[name]))
    return out


def month_mid(month: pd.Series) -> pd.Series:
    """YYYY-MM -> the 15th of that month, 00:00 UTC (NaT where the month is missing)."""
    return pd.to_datetime(month.astype("string") + "-15", format="%Y-%m-%d", errors="coerce", utc=True) \
        .astype("datetime64[ns, UTC]")


def finish(out: pd.DataFrame) -> pd.DataFrame:
    """Add the row-suite helper columns and conform to PROVIDER_CARBON (helpers kept after the canonical columns)."""
    out["has_figure"] = (out["location_based_kg_co2e"].notna() | out["market_based_kg_co2e"].notna()).astype(bool)
    if "unit_known" not in out.columns:
        out["unit_known"] = True
    out["unit_known"] = out["unit_known"].astype(bool)
    out["month_mid_utc"] = month_mid(out["month"])
    if "source_rows" not in out.columns:
        out["source_rows"] = out["source_row"].astype("int64").astype("string")
    return conform(out, PROVIDER_CARBON)


# --- AWS ----------------------------------------------------------------------------------------------------------

_SEMVER = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def model_rank(version: object) -> tuple:
    m = _SEMVER.match(version.strip()) if isinstance(version, str) else None
    return tuple(int(g or 0) for g in m.groups()) if m else (-1, -1, -1)


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return {"usage_account_id", "usage_period_start"} <= cols and bool(
        {"total_lbm_emissions_value", "total_mbm_emissions_value"} & cols)


def read_raw(path: Path) -> RawTable:
    return read_table(path, what="AWS Data Exports CARBON_EMISSIONS file")


def _to_kg(f: pd.DataFrame, value_col: str, unit_col: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(kg CO2e, unit known, unit cell empty while a value is present)."""
    value = to_number(f[value_col]) if value_col in f.columns else pd.Series(float("nan"), index=f.index)
    unit = column(f, unit_col).str.strip().str.lower()
    factor = unit.map(KG_PER_UNIT).astype("float64")
    blank = unit.isna() & value.notna()
    factor = factor.mask(blank, KG_PER_UNIT["mtco2e"])
    known = (factor.notna() | value.isna()).astype(bool)
    return value * factor, known, blank.astype(bool)


def _same(a: float, b: float) -> bool:
    return (pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and abs(a - b) <= 1e-9 * max(1.0, abs(a)))


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["provider"] = "aws"
    out["account_id"] = column(f, "usage_account_id")
    out["region"] = column(f, "region_code", "location")
    out["service"] = column(f, "product_code")
    start = to_utc(column(f, "usage_period_start"), assume_zone="UTC")
    out["month"] = start.dt.strftime("%Y-%m").astype("string")
    lbm, lbm_known, lbm_blank = _to_kg(f, "total_lbm_emissions_value", "total_lbm_emissions_unit")
    mbm, mbm_known, mbm_blank = _to_kg(f, "total_mbm_emissions_value", "total_mbm_emissions_unit")
    out["location_based_kg_co2e"] = lbm
    out["market_based_kg_co2e"] = mbm
    out["unit_known"] = lbm_known & mbm_known
    out["model_version"] = column(f, "model_version")
    out["payer_account_id"] = column(f, "payer_account_id")
    out["billing_account_id"] = out["payer_account_id"]
    refresh = to_utc(column(f, "last_refresh_timestamp"), assume_zone="UTC")
    out["last_refresh_utc"] = refresh

    folded, quarantine = {}, {}
    merged: dict = {}                      # kept index -> [source rows folded into it]
    keyed = out[out["month"].notna()]
    key_cols = ["payer_account_id", "account_id", "service", "region", "month"]
    groups = keyed[key_cols].fillna("\x00").groupby(key_cols, sort=False).groups
    for idx in groups.values():
        if len(idx) < 2:
            continue
        members = list(idx)
        no_ts = [i for i in members if pd.isna(refresh[i])]
        dated = [i for i in members if not pd.isna(refresh[i])]
        for i in no_ts:
            quarantine[i] = [("refresh_not_ordered",
                              "repeats the account/service/region/month of row(s) "
                              f"{', '.join(str(int(f.at[j, 'source_row'])) for j in members if j != i)} but its "
                              "last_refresh_timestamp is missing or unreadable, so the latest refresh cannot be told")]
        if not dated:
            continue
        best = max((model_rank(out.at[i, "model_version"]), refresh[i]) for i in dated)
        top = [i for i in dated if (model_rank(out.at[i, "model_version"]), refresh[i]) == best]
        winner = top[0]
        ts = refresh[winner].strftime("%Y-%m-%d %H:%M:%SZ")
        wrow = int(f.at[winner, "source_row"])
        conflict = any(not (_same(lbm[i], lbm[winner]) and _same(mbm[i], mbm[winner])) for i in top[1:])
        if conflict:
            rows = ", ".join(str(int(f.at[i, "source_row"])) for i in top)
            for i in top:
                quarantine.setdefault(i, []).append((
                    "conflicting_refresh", f"rows {rows} give different figures for the same account/service/"
                    f"region/month in the same refresh ({ts}); which one AWS meant cannot be told"))
        else:
            for i in top[1:]:
                folded[i] = (winner, f"repeats row {wrow} (same refresh of {ts}, same figures)")
                merged.setdefault(winner, []).append(int(f.at[i, "source_row"]))
        for i in dated:
            if i in top:
                continue
            model_note = ""
            if model_rank(out.at[i, "model_version"]) != best[0]:
                model_note = f" under model {out.at[winner, 'model_version']}"
            folded[i] = (winner, f"superseded by the refresh of {ts}{model_note} (row {wrow})")
            if not conflict:
                merged.setdefault(winner, []).append(int(f.at[i, "source_row"]))

    kept = out.drop(index=list(folded))
    rows_text = kept["source_row"].astype("int64").astype(str)
    for i, extra in merged.items():
        rows_text[i] = ";".join(str(r) for r in sorted([int(f.at[i, "source_row"]), *extra]))
    kept["source_rows"] = rows_text.astype("string")

    notes = []
    superseded = sum(1 for _, note in folded.values() if note.startswith("superseded"))
    repeats = len(folded) - superseded
    if superseded:
        notes.append(f"{superseded} row(s) superseded by a later refresh (last_refresh_timestamp) or newer "
                     "model_version of the same account/service/region/month: folded, only the latest counted")
    if repeats:
        notes.append(f"{repeats} exact repeat row(s) (same key, refresh and figures) folded")
    blanks = int((lbm_blank | mbm_blank).sum())
    if blanks:
        notes.append(f"{blanks} row(s) with a figure but an empty unit read as MTCO2e (the only unit AWS documents)")
    old = sum(1 for v in kept["model_version"] if 0 <= model_rank(v)[0] < 3)
    if old:
        notes.append(f"{old} row(s) from model_version < v3: earlier AWS column docs described the totals as "
                     "Scope 1 + 2 only (Scope 3 arrived with the v3 methodology); check before comparing months")
    return Parsed(frame=finish(kept), quarantine=quarantine, folded=folded, notes=notes)
