"""Oracle Cloud Infrastructure (OCI) cost reports (``reports/cost-csv/*.csv``, optionally gzip), CSV.

Header names are ``category/field`` (``lineItem/referenceNo``, ``product/service``, ``cost/myCost``, ...) plus
one ``tags/<namespace>.<key>`` column per defined or free-form tag (names may contain any character, even a
backslash). A file holds one row per resource, SKU and hour.

Mapping to the canonical usage frame:
    lineItem/referenceNo        -> line_item_id (unique per line; a repeated one is a duplicate line)
    lineItem/tenantId           -> billing_account_id;  product/compartmentId -> account_id
    product/region              -> region (as exported, e.g. us-sanjose-1)
    product/service             -> service
    "cost/productSku / product/Description" -> sku (e.g. "B92911 / Oracle APEX Application Development")
    lineItem/intervalUsageStart -> usage_start_utc;  lineItem/intervalUsageEnd -> usage_end_utc
                                   ISO 8601 with a zone; OCI writes the start without seconds (``2023-11-13T10:00Z``)
                                   and the end with them (``2023-11-13T11:00:00Z``); both are read. A value without
                                   a zone is taken as UTC (the reports are UTC).
    usage/billedQuantity        -> quantity;  cost/skuUnitDescription (else cost/billingUnitReadable) -> unit
    cost/myCost -> cost;  cost/currencyCode -> currency
    tags/* columns              -> tags_json, key = the column name after "tags/" (empty cells are no tag)

charge_category: every line is Usage, except ``lineItem/isCorrection`` true: Adjustment, kept for cost but
excluded from energy (energy_exclusion "correction of an earlier line (lineItem/backreferenceNo)"), since the
line it corrects was already billed as usage.

usage_kind / usage_amount (Usage rows only). The structured unit ``cost/billingUnitReadable`` is used, because
``cost/skuUnitDescription`` is not reliable (outbound data transfer says "GB Months"). Its shape is
``<n> <size unit> <time unit> <measure>``, e.g. "1 GiB MONTHS STORAGE_SIZE", "1 TiB MONTHS STORAGE_SIZE",
"1 NONE HOURS OCPUS", "1 GiB NONE DATA_TRANSFERRED":
    <n> GiB|TiB MONTHS STORAGE_SIZE     -> storage_gb_months = quantity x n (TiB x 1024)
    <n> GiB|TiB <any> DATA_TRANSFERRED  -> network_gb = quantity x n (TiB x 1024)
    product/Description naming a GPU and a known model, time unit HOURS
                                        -> accelerator_hours = quantity x n, accelerator_model from GPU_MODELS
                                           (OCI bills GPU shapes, e.g. BM.GPU.H100.8, per GPU hour)
    anything else                       -> other
Compute OCPU hours, memory GB hours and GPU SKUs whose model is not in the hardware catalogue stay "other":
an OCPU is not a fixed number of vCPUs across shapes (2 vCPUs on x86, 1 on Arm), so OCPU / memory rows cannot be
mapped to the catalogue reliably. Storage billed per GB-hour (e.g. Streaming) is also "other".
Without a billingUnitReadable column, a skuUnitDescription of "GB Months" / "TB Months" on a service that is
not NETWORK is storage_gb_months.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import USAGE, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc

KIND = "oci_cost"
FAMILY = "usage"
REQUIRED = ["lineItem/intervalUsageStart", "lineItem/intervalUsageEnd", "product/service", "product/region",
            "usage/billedQuantity", "cost/myCost", "cost/currencyCode", "lineItem/tenantId"]
SOURCE_COLUMNS = {"usage_start_utc": "lineItem/intervalUsageStart", "usage_end_utc": "lineItem/intervalUsageEnd",
                  "cost": "cost/myCost", "quantity": "usage/billedQuantity", "charge_category": "lineItem/isCorrection",
                  "line_item_id": "lineItem/referenceNo"}
# the cost report's documented columns (besides tags/*): a missing column is never told to be "renamed" from one
# of these (ingest_file.header_check), e.g. cost/myCostOverage (the overage part) to cost/myCost
KNOWN_COLUMNS = [
    "lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart", "lineItem/intervalUsageEnd",
    "product/service", "product/compartmentId", "product/compartmentName", "product/region",
    "product/availabilityDomain", "product/resourceId", "usage/billedQuantity", "usage/billedQuantityOverage",
    "cost/subscriptionId", "cost/productSku", "product/Description", "cost/unitPrice", "cost/unitPriceOverage",
    "cost/myCost", "cost/myCostOverage", "cost/currencyCode", "cost/billingUnitReadable", "cost/skuUnitDescription",
    "cost/overageFlag", "lineItem/isCorrection", "lineItem/backreferenceNo",
]

CORRECTION_REASON = "correction of an earlier line (lineItem/backreferenceNo)"
TAG_PREFIX = "tags/"

# GPU SKU description -> hardware catalogue name (first match wins; only models the catalogue has)
GPU_MODELS = [
    (re.compile(r"\bB200\b", re.IGNORECASE), "B200"),
    (re.compile(r"\bH200\b", re.IGNORECASE), "H200-SXM"),
    (re.compile(r"\bH100\b", re.IGNORECASE), "H100-SXM"),
    (re.compile(r"\bA100\b.*(?:\b80\s?GB\b|\bv2\b)", re.IGNORECASE), "A100-SXM-80GB"),   # BM.GPU.A100-v2.8: 80 GB
    (re.compile(r"\bA100\b", re.IGNORECASE), "A100-SXM-40GB"),                           # BM.GPU4.8: 40 GB
    (re.compile(r"\bL40S\b", re.IGNORECASE), "L40S"),
    (re.compile(r"\bV100\b", re.IGNORECASE), "V100"),
    (re.compile(r"\bP100\b", re.IGNORECASE), "P100"),
]
_GPU = re.compile(r"\bGPUs?\b", re.IGNORECASE)
_BILLING_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_SIZE = {"gib": 1.0, "gb": 1.0, "tib": 1024.0, "tb": 1024.0}
_SKU_STORAGE = {"gb months": 1.0, "gb month": 1.0, "tb months": 1024.0, "tb month": 1024.0}


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return {"lineItem/tenantId", "cost/myCost"} <= cols


def read_raw(path: Path) -> RawTable:
    return read_delimited(path, what="OCI cost report")


def parse_billing_unit(unit: object) -> tuple[float, str, str, str]:
    """"1 GiB MONTHS STORAGE_SIZE" -> (1.0, "gib", "months", "storage_size"); unreadable -> (nan, "", "", "")."""
    if not isinstance(unit, str):
        return float("nan"), "", "", ""
    m = _BILLING_UNIT.match(unit)
    if not m:
        return float("nan"), "", "", ""
    return float(m.group(1)), m.group(2).lower(), m.group(3).lower(), m.group(4).lower()


def gpu_model(description: object) -> object:
    if not isinstance(description, str) or not _GPU.search(description):
        return pd.NA
    for pattern, model in GPU_MODELS:
        if pattern.search(description):
            return model
    return pd.NA


def _tags(frame: pd.DataFrame, tag_cols: list[str]) -> pd.Series:
    if not tag_cols:
        return pd.Series("{}", index=frame.index, dtype="string")
    keys = [c[len(TAG_PREFIX):].strip() for c in tag_cols]
    values = pd.DataFrame({k: nullify(frame[c]) for k, c in zip(keys, tag_cols)}, index=frame.index)
    return pd.Series([json.dumps({k: v for k, v in zip(keys, row) if not pd.isna(v)}, sort_keys=True,
                                 ensure_ascii=False) for row in values.itertuples(index=False, name=None)],
                     index=frame.index, dtype="string")


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["line_item_id"] = col("lineItem/referenceNo")
    out["provider"] = "oracle"
    out["billing_account_id"] = col("lineItem/tenantId")
    out["account_id"] = col("product/compartmentId")
    out["region"] = col("product/region")
    out["service"] = col("product/service")
    out["service_category"] = pd.Series(pd.NA, index=f.index, dtype="string")
    sku_id, desc = col("cost/productSku"), col("product/Description")
    out["sku"] = (sku_id.fillna("") + " / " + desc.fillna("")).str.strip(" /").replace("", pd.NA).astype("string")
    out["usage_start_utc"] = to_utc(f["lineItem/intervalUsageStart"], assume_zone="UTC")
    out["usage_end_utc"] = to_utc(f["lineItem/intervalUsageEnd"], assume_zone="UTC")
    out["quantity"] = to_number(f["usage/billedQuantity"])
    billing_unit = col("cost/billingUnitReadable")
    sku_unit = col("cost/skuUnitDescription")
    out["unit"] = sku_unit.fillna(billing_unit)
    out["cost"] = to_number(f["cost/myCost"])
    out["currency"] = col("cost/currencyCode")

    correction = (col("lineItem/isCorrection").str.lower() == "true").fillna(False).astype(bool)
    out["charge_category"] = pd.Series("Usage", index=f.index, dtype="string").mask(correction, "Adjustment")
    out["energy_exclusion"] = pd.Series(pd.NA, index=f.index, dtype="string").mask(correction, CORRECTION_REASON)

    # usage kind and amount, from the structured billing unit
    parts = billing_unit.map(parse_billing_unit)
    mult = parts.map(lambda p: p[0]).astype("float64")
    size = parts.map(lambda p: p[1])
    time = parts.map(lambda p: p[2])
    measure = parts.map(lambda p: p[3])
    size_factor = size.map(_SIZE).astype("float64")
    usage = ~correction
    kind = pd.Series("other", index=f.index, dtype="string")
    factor = pd.Series(float("nan"), index=f.index, dtype="float64")
    storage = usage & (measure == "storage_size") & (time == "months") & size_factor.notna()
    kind[storage], factor[storage] = "storage_gb_months", (mult * size_factor)[storage]
    # no structured unit: the SKU unit text, never on NETWORK (its data transfer says "GB Months")
    sku_storage = usage & billing_unit.isna() & (out["service"].str.upper() != "NETWORK").fillna(True) & \
        sku_unit.str.lower().str.strip().isin(list(_SKU_STORAGE)).fillna(False)
    kind[sku_storage] = "storage_gb_months"
    factor[sku_storage] = sku_unit[sku_storage].str.lower().str.strip().map(_SKU_STORAGE)
    network = usage & (measure == "data_transferred") & size_factor.notna()
    kind[network], factor[network] = "network_gb", (mult * size_factor)[network]
    model = desc.map(gpu_model).astype("string")
    gpu_hours = (time == "hours") | (billing_unit.isna() & sku_unit.str.contains(r"\bhours?\b", case=False,
                                                                                 regex=True, na=False))
    accel = usage & ~storage & ~sku_storage & ~network & model.notna() & gpu_hours
    kind[accel] = "accelerator_hours"
    factor[accel] = mult[accel].fillna(1.0)
    out["usage_kind"] = kind
    out["usage_amount"] = (out["quantity"] * factor).where(kind != "other")
    out["instance_type"] = pd.Series(pd.NA, index=f.index, dtype="string")
    out["accelerator_model"] = model.where(accel)

    tag_cols = [c for c in f.columns if c.startswith(TAG_PREFIX)]
    out["tags_json"] = _tags(f, tag_cols)
    out["contract_id"] = pd.Series(pd.NA, index=f.index, dtype="string")

    notes = []
    n_corr = int(correction.sum())
    if n_corr:
        notes.append(f"{n_corr} correction line(s) (lineItem/isCorrection) kept for cost, excluded from energy")
    gpu_other = int((usage & desc.str.contains(_GPU, na=False) & ~accel).sum())
    if gpu_other:
        notes.append(f"{gpu_other} GPU row(s) whose model is not in the hardware catalogue kept as 'other' "
                     "(not estimated)")
    ocpu = int((usage & measure.isin(["ocpus", "memory"])).sum())
    if ocpu:
        notes.append(f"{ocpu} OCPU / memory hour row(s) kept as 'other': OCI shapes cannot be mapped to the "
                     "hardware catalogue reliably (not estimated)")
    return Parsed(frame=conform(out, USAGE), quarantine={}, notes=notes)
