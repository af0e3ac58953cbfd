"""Google Cloud Billing export (BigQuery standard usage cost table), as CSV, JSON lines or Parquet.

The file's shape is read from its content (not its name; gzip is accepted for CSV and JSON lines):
    Parquet     ``PAR1`` magic; nested structs / lists as BigQuery writes them
    JSON lines  first non-blank character ``{``; one record per line with nested objects (BigQuery JSON export)
    CSV         anything else; flattened dotted headers (``service.description``, ``usage.amount``); the
                underscore spelling (``service_description``) is also accepted; ``labels``, ``system_labels``
                and ``credits`` as JSON text
Nested records are flattened to the same dotted names (``location.region``); repeated fields (``labels``,
``system_labels``, ``credits``, ``project.labels``, ...) become JSON text. So the three shapes give the same raw
columns and the same canonical frame. ``source_row``: CSV line number (header = 1); JSON line number; Parquet
row number from 1. A JSON line that is not a JSON object is kept and quarantined (``invalid_json_line``).

Mapping to the canonical usage frame:
    billing_account_id -> billing_account_id;  project.id -> account_id
    location.region (else location.location) -> region;  service.description -> service;  sku.description -> sku
    usage_start_time / usage_end_time -> usage_start_utc / usage_end_utc (UTC; "... UTC" suffix accepted; a
                         time without a zone is UTC, as BigQuery TIMESTAMPs are)
    usage.amount / usage.unit -> quantity / unit;  cost -> cost;  currency -> currency
    labels -> tags_json (list of {key, value} or a JSON object; sorted keys)
    system_labels ``compute.googleapis.com/machine_spec`` -> instance_type (any row that carries it; the
                         usage_kind stays the component's: vCPU / RAM / GPU rows of one VM keep their kinds)
    line_item_id left empty (the export has no line id); records identical in every field to an earlier one are
                         read as separate charges and counted in a note (``identical_rows_note``).
    cost is the cost before credits: ``credits`` are never netted into cost; their total per currency is given in
    the notes.

cost_type -> charge_category (no cost_type column: every row is regular):
    regular -> Usage;  tax -> Tax;  adjustment -> Adjustment;
    rounding_error -> Adjustment with energy_exclusion "rounding error row";
    any other or an empty value -> quarantined (``unknown_cost_type``).

usage_kind (regular rows only; other rows are "other" with no amount; SKUs starting "Commitment" (committed-use
fees: the resources are billed on their own usage rows) and "Licensing Fee" are "other", commitments also carry
energy_exclusion):
    sku with "GPU", unit seconds               -> accelerator_hours = seconds / 3600, accelerator_model from GPU_MODELS
    service "Cloud TPU" or sku with "TPU", unit seconds (or hours) -> accelerator_hours, model from TPU_MODELS
    sku with "Core" / "vCPU" / "CPU", unit seconds -> vcpu_hours = seconds / 3600
    sku with "RAM" / "Memory", unit byte-seconds -> memory_gb_hours = byte-seconds / 1024^3 / 3600
    other byte-seconds rows (storage)          -> storage_gb_months = usage.amount_in_pricing_units when the
                                                  pricing unit is "gibibyte month", else byte-seconds / 1024^3 /
                                                  (730 x 3600)
    unit bytes on a network SKU (egress, ingress, network, data transfer, internet, interconnect, inter-region,
    inter-zone, download)                      -> network_gb = bytes / 1024^3
    anything else                              -> other
A GPU / TPU SKU whose model is not in the tables keeps accelerator_hours with no accelerator_model (noted; the
energy step reports it as not estimated).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.canonical import USAGE, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import (
    JsonLimitError,
    RawTable,
    _open_text,
    identical_rows_note,
    loads_json,
    loads_json_cell,
    nullify,
    read_delimited,
    to_number,
    to_utc,
)

KIND = "gcp_billing"
FAMILY = "usage"
REQUIRED = ["service.description", "sku.description", "usage_start_time", "usage_end_time", "cost", "currency",
            "usage.amount", "usage.unit"]
SOURCE_COLUMNS = {"usage_start_utc": "usage_start_time", "usage_end_utc": "usage_end_time", "cost": "cost",
                  "quantity": "usage.amount", "charge_category": "cost_type"}

# sub-fields of the export's records: a record present in a JSON line (even null) gives all its columns
KNOWN_STRUCTS = {
    "service": ["id", "description"], "sku": ["id", "description"],
    "project": ["id", "number", "name", "labels", "ancestry_numbers", "ancestors"],
    "location": ["location", "country", "region", "zone"],
    "usage": ["amount", "unit", "amount_in_pricing_units", "pricing_unit"],
    "invoice": ["month", "publisher_type"], "resource": ["name", "global_name"],
    "adjustment_info": ["id", "description", "mode", "type"],
}
# the export's documented columns (flattened names): a missing column is never told to be "renamed" from one of
# these (ingest_file.header_check), e.g. usage.amount_in_pricing_units to usage.amount
KNOWN_COLUMNS = [f"{top}.{sub}" for top, subs in KNOWN_STRUCTS.items() for sub in subs] + [
    "billing_account_id", "usage_start_time", "usage_end_time", "labels", "system_labels", "tags", "cost", "currency",
    "currency_conversion_rate", "credits", "cost_type", "export_time", "cost_at_list", "transaction_type",
    "seller_name"]
_UNDERSCORE_ALIASES = {f"{top}_{sub}": f"{top}.{sub}" for top, subs in KNOWN_STRUCTS.items() for sub in subs}

COST_TYPES = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}
ROUNDING_REASON = "rounding error row"
COMMITMENT_REASON = "committed-use fee: the resources are billed on their own usage rows"

# GPU SKU text -> hardware catalogue name (first match wins; checked in this order)
GPU_MODELS = [
    (re.compile(r"\bB200\b", re.IGNORECASE), "B200"),
    (re.compile(r"\bH200\b", re.IGNORECASE), "H200-SXM"),
    (re.compile(r"\bH100\b", re.IGNORECASE), "H100-SXM"),
    (re.compile(r"\bA100\b.*\b80\s?GB\b", re.IGNORECASE), "A100-SXM-80GB"),
    (re.compile(r"\bA100\b", re.IGNORECASE), "A100-SXM-40GB"),
    (re.compile(r"\bL4\b", re.IGNORECASE), "L4"),
    (re.compile(r"\bT4\b", re.IGNORECASE), "T4"),
    (re.compile(r"\bV100\b", re.IGNORECASE), "V100"),
    (re.compile(r"\bP100\b", re.IGNORECASE), "P100"),
    (re.compile(r"\bP4\b", re.IGNORECASE), "P4"),
    (re.compile(r"\bK80\b", re.IGNORECASE), "K80"),
]
TPU_MODELS = [
    (re.compile(r"\bv6e\b|trillium", re.IGNORECASE), "TPU-v6e"),
    (re.compile(r"\bv5p\b", re.IGNORECASE), "TPU-v5p"),
    (re.compile(r"\bv5e\b|\bv5\s*lite|v5litepod", re.IGNORECASE), "TPU-v5e"),
    (re.compile(r"\bv4\b", re.IGNORECASE), "TPU-v4"),
    (re.compile(r"\bv3\b", re.IGNORECASE), "TPU-v3"),
    (re.compile(r"\bv2\b", re.IGNORECASE), "TPU-v2"),
]
_GPU = re.compile(r"\bGPUs?\b", re.IGNORECASE)
_TPU = re.compile(r"\bTPUs?\b", re.IGNORECASE)
_CPU = re.compile(r"\b(?:v?CPUs?|cores?)\b", re.IGNORECASE)
_RAM = re.compile(r"\b(?:RAM|memory)\b", re.IGNORECASE)
_NETWORK = re.compile(r"egress|ingress|network|data transfer|internet|interconnect|inter-?region|inter-?zone|download",
                      re.IGNORECASE)
_COMMITMENT = re.compile(r"^\s*commitment\b", re.IGNORECASE)
_LICENCE = re.compile(r"^\s*licen[cs]ing fee\b", re.IGNORECASE)
GIB = 1024.0 ** 3
HOURS_PER_MONTH = 730.0


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return {"usage_start_time", "cost"} <= cols and bool({"sku.description", "service.description"} & cols)


# --- reading -----------------------------------------------------------------------------------------------

def _text(value: object) -> object:
    """One cell as text (nested values as compact JSON); None -> missing."""
    if value is None:
        return pd.NA
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return pd.NA if math.isnan(value) else repr(value)
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def flatten(record: dict) -> dict:
    """Nested record -> {dotted name: text}. Lists stay whole (as JSON text)."""
    flat: dict = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
            if prefix in KNOWN_STRUCTS:
                for sub in KNOWN_STRUCTS[prefix]:
                    flat.setdefault(f"{prefix}.{sub}", pd.NA)
        elif value is None and prefix in KNOWN_STRUCTS:
            for sub in KNOWN_STRUCTS[prefix]:
                flat.setdefault(f"{prefix}.{sub}", pd.NA)
        else:
            flat[prefix] = _text(value)

    walk("", record)
    return flat


def _frame(records: list[dict], rows: list[int]) -> pd.DataFrame:
    columns: dict = {}
    for r in records:
        for k in r:
            columns.setdefault(k, None)
    frame = pd.DataFrame({c: pd.Series([r.get(c, pd.NA) for r in records], dtype="string") for c in columns})
    frame["source_row"] = pd.Series(rows, dtype="int64")
    return frame


def _read_jsonl(path: Path) -> RawTable:
    records, rows = [], []
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = loads_json(line)       # size and depth limits: a too-deep line is quarantined
                except JsonLimitError as exc:
                    obj = ValueError(f"JSON {exc}")
                except ValueError as exc:
                    obj = exc
                if isinstance(obj, dict):
                    records.append(flatten(obj))
                else:
                    why = f"not valid JSON ({obj})" if isinstance(obj, Exception) else "not a JSON object"
                    records.append({"_parse_error": f"line {n} is {why}: {line.strip()[:500]}"})
                rows.append(n)
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path),
                         fix="export the billing data again as UTF-8 JSON lines") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read as JSON lines: {exc}", file=str(path),
                         fix="check that the file is a complete (optionally gzip-compressed) JSON lines export") from None
    return RawTable(path=path, frame=_frame(records, rows))


def _read_parquet(path: Path) -> RawTable:
    try:
        records = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for broken files
        raise InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                         fix="export the billing table again as Parquet, JSON lines or CSV") from None
    return RawTable(path=path, frame=_frame([flatten(r) for r in records], list(range(1, len(records) + 1))))


def _first_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    with open(path, "rb") as fh:
        return fh.read(4)


def read_raw(path: Path) -> RawTable:
    head = _first_bytes(path)
    if head == b"PAR1":
        return _read_parquet(path)
    try:
        with _open_text(path) as fh:
            start = fh.read(4096).lstrip()
    except (OSError, EOFError, UnicodeDecodeError):
        start = ""
    if start.startswith("{"):
        return _read_jsonl(path)
    raw = read_delimited(path, what="Google Cloud billing export")
    renames = {c: _UNDERSCORE_ALIASES[c] for c in raw.frame.columns
               if c in _UNDERSCORE_ALIASES and _UNDERSCORE_ALIASES[c] not in raw.frame.columns}
    raw.frame = raw.frame.rename(columns=renames)
    return raw


# --- parsing helpers ---------------------------------------------------------------------------------------

def key_values(text: object) -> tuple[dict | None, bool]:
    """labels / system_labels JSON text (list of {key, value}, or an object) -> (dict, readable)."""
    if not isinstance(text, str) or not text.strip():
        return {}, True
    try:
        obj = loads_json_cell(text)
    except ValueError:
        return None, False
    if isinstance(obj, dict):
        return {str(k).strip(): ("" if v is None else str(v)) for k, v in obj.items()}, True
    if isinstance(obj, list) and all(isinstance(x, dict) and "key" in x for x in obj):
        return {str(x["key"]).strip(): ("" if x.get("value") is None else str(x.get("value"))) for x in obj}, True
    return None, False


def credits_total(text: object) -> float:
    if not isinstance(text, str) or not text.strip():
        return 0.0
    try:
        obj = loads_json_cell(text)
    except ValueError:
        return float("nan")
    if not isinstance(obj, list):
        return float("nan")
    total = 0.0
    for c in obj:
        try:
            total += float(c.get("amount") or 0.0) if isinstance(c, dict) else float("nan")
        except (TypeError, ValueError):
            return float("nan")
    return total


def _model(text: object, table) -> object:
    if not isinstance(text, str):
        return pd.NA
    for pattern, name in table:
        if pattern.search(text):
            return name
    return pd.NA


def _timestamps(s: pd.Series) -> pd.Series:
    s = nullify(s).str.replace(r"\s*UTC$", "+00:00", regex=True)
    return to_utc(s, assume_zone="UTC")


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["line_item_id"] = pd.Series(pd.NA, index=f.index, dtype="string")
    out["provider"] = "gcp"
    out["billing_account_id"] = col("billing_account_id")
    out["account_id"] = col("project.id")
    out["region"] = col("location.region").fillna(col("location.location"))
    out["service"] = col("service.description")
    out["service_category"] = pd.Series(pd.NA, index=f.index, dtype="string")
    sku = col("sku.description")
    out["sku"] = sku
    out["usage_start_utc"] = _timestamps(col("usage_start_time"))
    out["usage_end_utc"] = _timestamps(col("usage_end_time"))
    out["quantity"] = to_number(col("usage.amount"))
    out["unit"] = col("usage.unit")
    out["cost"] = to_number(col("cost"))
    out["currency"] = col("currency")

    quarantine: dict = {}
    if "_parse_error" in f.columns:
        for i in f.index[f["_parse_error"].notna()]:
            quarantine[i] = [("invalid_json_line", str(f.at[i, "_parse_error"])[:200])]
    if "cost_type" in f.columns:
        ct = col("cost_type").str.lower()
        out["charge_category"] = ct.map(COST_TYPES).astype("string")
        for i in out.index[out["charge_category"].isna()]:
            if i in quarantine:
                continue
            shown = "" if pd.isna(f.at[i, "cost_type"]) else str(f.at[i, "cost_type"])[:80]
            reason = f"cost_type '{shown}' is not one of regular, tax, adjustment, rounding_error"
            quarantine[i] = [("unknown_cost_type", reason)]
        rounding = ct.eq("rounding_error").fillna(False)
    else:
        out["charge_category"] = pd.Series("Usage", index=f.index, dtype="string")
        rounding = pd.Series(False, index=f.index)
    commitment = sku.str.contains(_COMMITMENT, na=False)
    exclusion = pd.Series(pd.NA, index=f.index, dtype="string")
    exclusion[commitment] = COMMITMENT_REASON
    exclusion[rounding] = ROUNDING_REASON
    out["energy_exclusion"] = exclusion

    # usage kind and amount
    unit = out["unit"].str.lower().str.strip().fillna("")
    qty = out["quantity"]
    regular = (out["charge_category"] == "Usage").fillna(False) & ~commitment & ~sku.str.contains(_LICENCE, na=False)
    service = out["service"].fillna("")
    seconds, hours = unit.isin(["seconds", "second", "s"]), unit.isin(["hour", "hours", "h"])
    byte_s, nbytes = unit.isin(["byte-seconds", "byte-second"]), unit.isin(["bytes", "byte"])
    kind = pd.Series("other", index=f.index, dtype="string")
    amount = pd.Series(float("nan"), index=f.index, dtype="float64")
    model = pd.Series(pd.NA, index=f.index, dtype="string")

    tpu = regular & (sku.str.contains(_TPU, na=False) | service.str.lower().eq("cloud tpu")) & (seconds | hours)
    gpu = regular & ~tpu & sku.str.contains(_GPU, na=False) & (seconds | hours)
    accel = tpu | gpu
    kind[accel] = "accelerator_hours"
    amount[accel] = qty[accel].where(hours[accel], qty[accel] / 3600.0)
    model[gpu] = sku[gpu].map(lambda t: _model(t, GPU_MODELS))
    model[tpu] = sku[tpu].map(lambda t: _model(t, TPU_MODELS))
    cpu = regular & ~accel & sku.str.contains(_CPU, na=False) & seconds
    kind[cpu], amount[cpu] = "vcpu_hours", qty[cpu] / 3600.0
    ram = regular & ~accel & ~cpu & sku.str.contains(_RAM, na=False) & byte_s
    kind[ram], amount[ram] = "memory_gb_hours", qty[ram] / GIB / 3600.0
    storage = regular & ~accel & ~cpu & ~ram & byte_s
    in_pricing = to_number(col("usage.amount_in_pricing_units"))
    gib_month = col("usage.pricing_unit").str.lower().str.strip().isin(["gibibyte month", "gibibyte-month"])
    kind[storage] = "storage_gb_months"
    amount[storage] = in_pricing[storage].where(gib_month[storage] & in_pricing[storage].notna(),
                                                qty[storage] / GIB / (HOURS_PER_MONTH * 3600.0))
    network = regular & nbytes & sku.str.contains(_NETWORK, na=False)
    kind[network], amount[network] = "network_gb", qty[network] / GIB
    out["usage_kind"] = kind
    out["usage_amount"] = amount
    out["accelerator_model"] = model

    system = col("system_labels").map(key_values)
    out["instance_type"] = system.map(
        lambda kv: (kv[0] or {}).get("compute.googleapis.com/machine_spec") or pd.NA).astype("string")
    labels = col("labels").map(key_values)
    out["tags_json"] = labels.map(
        lambda kv: json.dumps(kv[0] or {}, sort_keys=True, ensure_ascii=False)).astype("string")
    out["contract_id"] = pd.Series(pd.NA, index=f.index, dtype="string")

    notes = []
    repeated = identical_rows_note(raw)
    if repeated:
        notes.append(repeated)
    unreadable = int((~labels.map(lambda kv: kv[1]).astype(bool)).sum())
    if unreadable:
        notes.append(f"{unreadable} row(s) with unreadable labels JSON kept with no tags (phase: unallocated)")
    unknown = int((accel & model.isna()).sum())
    if unknown:
        notes.append(f"{unknown} GPU/TPU row(s) whose accelerator model is not recognised from sku.description")
    if int(rounding.sum()):
        notes.append(f"{int(rounding.sum())} rounding_error row(s) kept for cost, excluded from energy")
    if "credits" in f.columns:
        cr = col("credits").map(credits_total)
        cur = out["currency"].fillna("?")
        has = cr.ne(0) & cr.notna()
        for c in sorted(set(cur[has])):
            total = float(cr[has & (cur == c)].sum())
            notes.append(f"credits total {total:.6g} {c} on {int((has & (cur == c)).sum())} row(s) "
                         "(not netted into cost; cost is before credits)")
        if int(cr.isna().sum()):
            notes.append(f"{int(cr.isna().sum())} row(s) with unreadable credits JSON (credits not totalled)")
    return Parsed(frame=conform(out, USAGE), quarantine=quarantine, notes=notes)
