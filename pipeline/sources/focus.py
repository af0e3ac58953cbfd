"""FOCUS (FinOps Open Cost and Usage Specification) 1.0 - 1.3 billing exports, CSV (optionally gzip) or Parquet.

Mapping to the canonical usage frame:
    ChargePeriodStart/End -> usage_start_utc/usage_end_utc  (FOCUS times are UTC; a value without a zone is read as UTC)
    ConsumedQuantity/Unit -> quantity/unit                    (what was used, not what was priced)
    BilledCost            -> cost                             (invoice view; EffectiveCost is the amortised view)
    ProviderName (1.0-1.2) or ServiceProviderName (1.3) -> provider (normalised: aws, azure, gcp, oracle)
    SubAccountId -> account_id; BillingAccountId -> billing_account_id; RegionId -> region
    instance type: from x_UsageType / SkuMeter (``BoxUsage:p5.48xlarge``), SkuPriceDetails, ResourceType
    or ChargeDescription ("... per On Demand Linux g5.4xlarge Instance Hour"), for compute hour rows only.
Text ``NULL`` (as in the FinOps Foundation's own samples) is read as missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import USAGE, conform
from pipeline.sources import Parsed, aws_cur
from pipeline.sources._distinct import apply_distinct, map_distinct, map_distinct_tuple
from pipeline.sources._text import read_parquet_text, MAX_TAGS_CHARS, RawTable, normalise_tags, nullify, read_delimited, to_number, to_utc  # noqa: F401

KIND = "focus"
FAMILY = "usage"
WHAT = "FOCUS billing export"
PARQUET_WHAT = "FOCUS data"
DELIMITED = {"what": WHAT}            # CSV (or gzip CSV) exports are read in chunks too (sources/_chunks.py)
REQUIRED = ["ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ConsumedQuantity", "ConsumedUnit",
            "BilledCost", "BillingCurrency", "ServiceName", "RegionId", "BillingAccountId", "ProviderName"]
SOURCE_COLUMNS = {"provider": "ProviderName", "usage_start_utc": "ChargePeriodStart", "usage_end_utc": "ChargePeriodEnd",
                  "cost": "BilledCost", "charge_category": "ChargeCategory", "quantity": "ConsumedQuantity"}

_PROVIDERS = [
    (re.compile(r"\b(amazon|aws)\b", re.I), "aws"),
    (re.compile(r"\b(microsoft|azure)\b", re.I), "azure"),
    (re.compile(r"\b(google|gcp)\b", re.I), "gcp"),
    (re.compile(r"\b(oracle|oci)\b", re.I), "oracle"),
]
_AWS_TYPE = re.compile(
    r"\b([a-z][a-z0-9-]*\d[a-z0-9-]*\.(?:nano|micro|small|medium|large|xlarge|\d+xlarge|metal(?:-\d+xl)?))\b")
_AZURE_TYPE = re.compile(r"\b(Standard_[A-Za-z0-9_]+)\b")


def normalise_provider(name: object) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    for pattern, short in _PROVIDERS:
        if pattern.search(name):
            return short
    return name.strip().lower()


def extract_instance_type(*texts: object) -> str | None:
    for text in texts:
        if not isinstance(text, str) or not text:
            continue
        if ":" in text and _AWS_TYPE.fullmatch(text.rsplit(":", 1)[1]):
            return text.rsplit(":", 1)[1]
        m = _AWS_TYPE.search(text) or _AZURE_TYPE.search(text)
        if m:
            return m.group(1)
    return None


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return {"ChargePeriodStart", "BilledCost"} <= cols and bool({"ProviderName", "ServiceProviderName"} & cols)


_STORAGE_UNITS = {"gb-mo", "gb-month", "gb-months", "gb/month", "gib-mo", "gib-month", "gib-months"}
_NETWORK_UNITS = {"gb", "gib"}


def usage_kind(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(usage_kind, usage_amount) from unit, service category and instance type (see canonical.USAGE)."""
    unit = out["unit"].str.lower().str.strip()
    cat = out["service_category"].fillna("")
    kind = pd.Series("other", index=out.index, dtype="string")
    kind[out["instance_type"].notna() & unit.isin(["hours", "hour", "hrs", "h"]).fillna(False)] = "instance_hours"
    kind[(kind == "other") & unit.isin(_STORAGE_UNITS).fillna(False) & (cat == "Storage")] = "storage_gb_months"
    kind[(kind == "other") & unit.isin(_NETWORK_UNITS).fillna(False) & (cat == "Networking")] = "network_gb"
    amount = out["quantity"].where(kind != "other")
    return kind, amount.astype("float64")


def energy_exclusions(out: pd.DataFrame, usage_type: pd.Series, service_code: pd.Series,
                      commitment_status: pd.Series) -> pd.Series:
    """AWS rows in FOCUS carry the CUR usage type (x_UsageType): the CUR double-counting traps apply."""
    is_aws = (out["provider"] == "aws").fillna(False)
    reasons = pd.Series(pd.NA, index=out.index, dtype="string")
    if is_aws.any():
        reasons[is_aws] = apply_distinct(lambda code, ut: aws_cur.energy_exclusion(None, code, ut),
                                         service_code[is_aws], usage_type[is_aws])
    unused = commitment_status.str.lower().eq("unused").fillna(False)
    reasons[unused & reasons.isna()] = "unused commitment: no resource ran"
    return reasons


def normalise_raw(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """FOCUS 1.3 renamed ProviderName -> ServiceProviderName: the older name is what the mapping reads."""
    if "ProviderName" not in frame.columns and "ServiceProviderName" in frame.columns:
        frame["ProviderName"] = frame["ServiceProviderName"]
    return frame


def read_raw(path: Path) -> RawTable:
    if path.suffix.lower() == ".parquet":
        raw = read_parquet_text(path, what=PARQUET_WHAT)
    else:
        raw = read_delimited(path, **DELIMITED)
    raw.frame = normalise_raw(raw.frame, path)
    return raw


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    """Map raw FOCUS columns to the canonical usage frame."""
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["line_item_id"] = col("Id") if "Id" in f.columns else col("x_LineItemId")
    out["provider"] = map_distinct(normalise_provider, col("ProviderName"))
    out["billing_account_id"] = col("BillingAccountId")
    out["account_id"] = col("SubAccountId")
    out["region"] = col("RegionId")
    out["service"] = col("ServiceName")
    out["service_category"] = col("ServiceCategory")
    out["charge_category"] = col("ChargeCategory")
    out["sku"] = col("SkuId")
    out["usage_start_utc"] = to_utc(f["ChargePeriodStart"], assume_zone="UTC")
    out["usage_end_utc"] = to_utc(f["ChargePeriodEnd"], assume_zone="UTC")
    out["quantity"] = to_number(f["ConsumedQuantity"])
    out["unit"] = col("ConsumedUnit")
    out["cost"] = to_number(f["BilledCost"])
    out["currency"] = col("BillingCurrency")

    is_hours = out["unit"].str.lower().isin(["hours", "hour", "hrs", "h"]).fillna(False)
    compute = is_hours & (out["service_category"].fillna("Compute") == "Compute")
    texts = [col(c) for c in ("x_UsageType", "SkuMeter", "SkuPriceDetails", "ResourceType", "ChargeDescription")]
    itype = pd.Series(pd.NA, index=f.index, dtype="string")
    if compute.any():
        itype[compute] = apply_distinct(extract_instance_type, *(t[compute] for t in texts))
    out["instance_type"] = itype
    out["usage_kind"], out["usage_amount"] = usage_kind(out)
    out["accelerator_model"] = pd.Series(pd.NA, index=f.index, dtype="string")
    out["energy_exclusion"] = energy_exclusions(out, col("x_UsageType"), col("x_ServiceCode"),
                                                col("CommitmentDiscountStatus"))
    tags_json, readable = map_distinct_tuple(normalise_tags, col("Tags"))
    out["tags_json"] = pd.Series(tags_json, index=f.index, dtype="string")
    unreadable = int((~readable.astype(bool)).sum())
    out["contract_id"] = pd.Series(pd.NA, index=f.index, dtype="string")
    notes = [f"{unreadable} row(s) with unreadable Tags JSON kept with no tags (phase: unallocated)"] if unreadable else []
    return Parsed(frame=conform(out, USAGE), notes=notes)
