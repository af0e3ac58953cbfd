"""AWS Cost and Usage Reports: legacy CUR (CSV, CSV.gz or Parquet) and CUR 2.0 (AWS Data Exports, Parquet or CSV).

One adapter, one header suite. Legacy CUR CSV names columns ``category/Name`` (``lineItem/UsageStartDate``);
legacy Parquet and CUR 2.0 use snake_case (``line_item_usage_start_date``). ``read_raw`` renames the
snake_case columns this adapter reads to their legacy names (``_SNAKE_TO_LEGACY``), so ``REQUIRED``,
``SOURCE_COLUMNS`` and the ``aws_cur.header`` suite name one set of columns for every variant, and the
quarantine file shows the legacy names. Other columns keep their names. Nested Parquet columns (CUR 2.0
``resource_tags``, ``product``, ``cost_category``, ``discount``: map / struct types) become JSON object text;
``product['product_name']`` and ``product['region']`` are lifted to ``product/ProductName`` / ``product/region``.

Mapping to the canonical usage frame:
    provider "aws"; billing_account_id = bill/PayerAccountId; account_id = lineItem/UsageAccountId
    region   = product/regionCode, else product/region, else the region of lineItem/AvailabilityZone
    service  = product/ProductName, else lineItem/ProductCode; sku = product/sku
    usage_start_utc / usage_end_utc = lineItem/UsageStartDate / UsageEndDate (UTC; a value without a zone is UTC)
    quantity = lineItem/UsageAmount; unit = pricing/unit; cost = lineItem/UnblendedCost (invoice view);
    currency = lineItem/CurrencyCode
    line_item_id = identity/LineItemId + "|" + identity/TimeInterval (the same line item recurs once per
        hour / day; the pair is unique, so a re-delivered or duplicated line is caught as a duplicate)
    tags_json: legacy ``resourceTags/user:<key>`` columns -> ``<key>``; CUR 2.0 ``resource_tags`` map keys
        ``user_<key>`` -> ``<key>``. AWS-generated tags keep their prefix (``aws:createdBy``, ``aws_created_by``).
        An empty tag cell means the tag is not set on that line, so it is left out. Keys sorted.

charge_category from lineItem/LineItemType (FOCUS ChargeCategory values; AWS data dictionary, "Line item details"):
    Usage, DiscountedUsage (RI-covered), SavingsPlanCoveredUsage   -> Usage
    Tax                                                            -> Tax
    Credit, Refund                                                 -> Credit
    Fee (upfront RI fee), RIFee, SavingsPlanUpfrontFee,
        SavingsPlanRecurringFee                                    -> Purchase (commitment purchases, not usage)
    SavingsPlanNegation, BundledDiscount, Discount, EdpDiscount,
        PrivateRateDiscount, SppDiscount, DistributorDiscount      -> Adjustment (price changes on usage counted elsewhere)
    empty                                                          -> quarantined by this adapter
    anything else                                                  -> passed through; the usage.rows suite
                                                                      quarantines it with the raw value quoted

usage_kind / usage_amount (what the row measures, whatever its charge category):
    instance_hours     usage type contains BoxUsage / SpotUsage / DedicatedUsage, unit Hrs, and an instance
                       type is known (product/instanceType, else the part after ':' in lineItem/UsageType)
    storage_gb_months  ``EBS:VolumeUsage*`` in GB-Mo
    network_gb         ``DataTransfer-*`` in GB
    other              everything else (S3 / EFS storage, requests, inter-region AWS-In/Out-Bytes, ...)
service_category: Compute / Storage / Networking for those kinds, else from product/productFamily, else from
lineItem/ProductCode (FOCUS ServiceCategory names); unknown -> empty.

energy_exclusion (the row is kept and counted as accepted, but never becomes energy): see ``_TRAPS``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.canonical import USAGE, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import (
    RawTable,
    arrow_column_to_text,
    loads_json_cell,
    nullify,
    read_delimited,
    to_number,
    to_utc,
)

KIND = "aws_cur"
FAMILY = "usage"
PARQUET_WHAT = "Cost and Usage Report"
PARQUET_FIX = "download the Cost and Usage Report file again (Parquet or CSV)"
DELIMITED = {"what": "AWS Cost and Usage Report"}     # CSV / gzip CSV read in chunks too (sources/_chunks.py)
REQUIRED = ["identity/LineItemId", "identity/TimeInterval", "bill/PayerAccountId", "lineItem/UsageAccountId",
            "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
            "lineItem/UsageType", "lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedCost"]
SOURCE_COLUMNS = {"usage_start_utc": "lineItem/UsageStartDate", "usage_end_utc": "lineItem/UsageEndDate",
                  "cost": "lineItem/UnblendedCost", "charge_category": "lineItem/LineItemType",
                  "quantity": "lineItem/UsageAmount", "line_item_id": "identity/LineItemId"}

# snake_case (legacy Parquet / Athena and CUR 2.0) -> legacy CSV names, for the columns this adapter reads
_SNAKE_TO_LEGACY = {
    "identity_line_item_id": "identity/LineItemId",
    "identity_time_interval": "identity/TimeInterval",
    "bill_payer_account_id": "bill/PayerAccountId",
    "bill_bill_type": "bill/BillType",
    "bill_billing_period_start_date": "bill/BillingPeriodStartDate",
    "bill_billing_period_end_date": "bill/BillingPeriodEndDate",
    "line_item_usage_account_id": "lineItem/UsageAccountId",
    "line_item_line_item_type": "lineItem/LineItemType",
    "line_item_usage_start_date": "lineItem/UsageStartDate",
    "line_item_usage_end_date": "lineItem/UsageEndDate",
    "line_item_product_code": "lineItem/ProductCode",
    "line_item_usage_type": "lineItem/UsageType",
    "line_item_operation": "lineItem/Operation",
    "line_item_availability_zone": "lineItem/AvailabilityZone",
    "line_item_resource_id": "lineItem/ResourceId",
    "line_item_usage_amount": "lineItem/UsageAmount",
    "line_item_currency_code": "lineItem/CurrencyCode",
    "line_item_unblended_rate": "lineItem/UnblendedRate",
    "line_item_unblended_cost": "lineItem/UnblendedCost",
    "line_item_line_item_description": "lineItem/LineItemDescription",
    "product_product_name": "product/ProductName",        # legacy Parquet (CUR 2.0: product['product_name'])
    "product_region": "product/region",                   # legacy Parquet (CUR 2.0: product['region'])
    "product_region_code": "product/regionCode",
    "product_instance_type": "product/instanceType",
    "product_product_family": "product/productFamily",
    "product_servicecode": "product/servicecode",
    "product_sku": "product/sku",
    "product_usagetype": "product/usagetype",
    "pricing_unit": "pricing/unit",
    "pricing_term": "pricing/term",
}
_PRODUCT_MAP_KEYS = {"product_name": "product/ProductName", "region": "product/region"}
_LEGACY_TAG_PREFIX = "resourceTags/"
_SNAKE_TAG_PREFIX = "resource_tags_"   # legacy Parquet: resource_tags_user_project

_CHARGE_CATEGORY = {
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "Tax": "Tax",
    "Credit": "Credit", "Refund": "Credit",
    "Fee": "Purchase", "RIFee": "Purchase", "SavingsPlanUpfrontFee": "Purchase", "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanNegation": "Adjustment", "BundledDiscount": "Adjustment", "Discount": "Adjustment",
    "EdpDiscount": "Adjustment", "PrivateRateDiscount": "Adjustment", "SppDiscount": "Adjustment",
    "DistributorDiscount": "Adjustment",
}

# Double-counting traps: (line item type or None, product code or None, usage-type pattern or None, reason).
# First match wins; EMR-EKS-EC2 is tested before EKS-EC2.
_REGION_PREFIX = r"^(?:[A-Z]{2,4}\d?(?:-[A-Z]{2,4}\d?)?-)?"
_TRAPS = [
    ("SavingsPlanNegation", None, None,
     "negation: cancels the on-demand cost of a SavingsPlanCoveredUsage row; the usage itself is counted on that row"),
    (None, None, re.compile(r"HostBoxUsage"),
     "double counted: instance running on a Dedicated Host; the host is billed separately (HostUsage rows), "
     "so these instance hours would count the same hardware twice"),
    (None, None, re.compile(_REGION_PREFIX + r"ECS-EC2-"),
     "double counted: ECS task share of an EC2 instance (split cost allocation); the instance is billed as its own "
     "EC2 row"),
    (None, None, re.compile(_REGION_PREFIX + r"EMR-EKS-EC2-"),
     "double counted: EMR on EKS charge for pods on EC2 nodes; the EC2 instances are billed as their own rows"),
    (None, None, re.compile(_REGION_PREFIX + r"EKS-EC2-"),
     "double counted: EKS pod share of an EC2 instance (split cost allocation); the instance is billed as its own "
     "EC2 row"),
    (None, "ElasticMapReduce", re.compile(r"BoxUsage"),
     "double counted: EMR service fee per instance hour; the EC2 instance is billed separately under AmazonEC2"),
]

_INSTANCE_USAGE = re.compile(r"(?:BoxUsage|SpotUsage|DedicatedUsage)")
_EBS_VOLUME = re.compile(_REGION_PREFIX + r"EBS:VolumeUsage")
_DATA_TRANSFER = re.compile(_REGION_PREFIX + r"DataTransfer-")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_AZ_REGION = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)")
_HOUR_UNITS = {"hrs", "hours", "hour", "hr", "h"}
_STORAGE_UNITS = {"gb-mo", "gb-month", "gb-months"}
_NETWORK_UNITS = {"gb"}

_FAMILY_CATEGORY = {
    "Compute Instance": "Compute", "Compute Instance (bare metal)": "Compute", "Dedicated Host": "Compute",
    "Storage": "Storage", "Storage Snapshot": "Storage", "System Operation": "Storage",
    "Provisioned Throughput": "Storage",
    "Data Transfer": "Networking", "NAT Gateway": "Networking", "Load Balancer": "Networking",
    "Load Balancer-Application": "Networking", "Load Balancer-Network": "Networking", "IP Address": "Networking",
}
_PRODUCT_CATEGORY = {
    "AmazonEC2": "Compute", "AWSLambda": "Compute", "AmazonECS": "Compute", "AmazonEKS": "Compute",
    "AmazonLightsail": "Compute", "AmazonECR": "Compute",
    "AmazonSageMaker": "AI and Machine Learning", "AmazonBedrock": "AI and Machine Learning",
    "AmazonS3": "Storage", "AmazonEFS": "Storage", "AmazonFSx": "Storage", "AmazonGlacier": "Storage",
    "AWSBackup": "Storage", "AmazonEBS": "Storage",
    "AWSDataTransfer": "Networking", "AmazonCloudFront": "Networking", "AmazonVPC": "Networking",
    "AWSELB": "Networking", "AmazonRoute53": "Networking", "AWSDirectConnect": "Networking",
    "AmazonApiGateway": "Networking",
    "AmazonRDS": "Databases", "AmazonDynamoDB": "Databases", "AmazonRedshift": "Databases",
    "AmazonElastiCache": "Databases", "AmazonDocDB": "Databases",
    "AWSGlue": "Analytics", "AmazonAthena": "Analytics", "ElasticMapReduce": "Analytics",
    "AmazonKinesis": "Analytics", "AmazonES": "Analytics", "AmazonQuickSight": "Analytics",
    "AWSQueueService": "Integration", "AmazonSNS": "Integration", "AmazonStates": "Integration",
    "AmazonMQ": "Integration",
    "AmazonCloudWatch": "Management and Governance", "AWSCloudTrail": "Management and Governance",
    "AWSConfig": "Management and Governance", "AWSSystemsManager": "Management and Governance",
    "AWSCloudFormation": "Management and Governance",
    "awskms": "Security", "AWSSecretsManager": "Security", "AmazonGuardDuty": "Security", "awswaf": "Security",
    "AWSIoT": "Internet of Things",
}


# --- header -----------------------------------------------------------------------------------------

def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return ({"lineItem/UsageStartDate", "lineItem/UnblendedCost"} <= cols
            or {"line_item_usage_start_date", "line_item_unblended_cost"} <= cols)


# --- reading ----------------------------------------------------------------------------------------

def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() == ".parquet":
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _legacy_tag_name(snake: str) -> str:
    """resource_tags_user_project -> resourceTags/user:project (legacy Parquet / Athena names)."""
    rest = snake[len(_SNAKE_TAG_PREFIX):]
    for prefix in ("user_", "aws_"):
        if rest.startswith(prefix):
            return f"{_LEGACY_TAG_PREFIX}{prefix[:-1]}:{rest[len(prefix):]}"
    return _LEGACY_TAG_PREFIX + rest


def _to_legacy_names(frame: pd.DataFrame) -> pd.DataFrame:
    present = set(frame.columns)
    renames = {}
    for c in frame.columns:
        target = _SNAKE_TO_LEGACY.get(c)
        if target is None and c.startswith(_SNAKE_TAG_PREFIX):
            target = _legacy_tag_name(c)
        if target is not None and target not in present and target not in renames.values():
            renames[c] = target
    frame = frame.rename(columns=renames)
    if "product" in frame.columns:   # CUR 2.0 product map: lift the attributes this adapter reads
        parsed = frame["product"].map(_parse_json_object)
        for key, target in _PRODUCT_MAP_KEYS.items():
            if target not in frame.columns:
                frame[target] = parsed.map(lambda d: None if d.get(key) is None else str(d[key])).astype("string")
    return frame


def read_raw(path: Path) -> RawTable:
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    if _is_parquet(path):
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for broken files
            raise InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                             fix="download the Cost and Usage Report file again (Parquet or CSV)") from None
        names = table.column_names
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise InputError(f"repeats column(s) {', '.join(dup)}", file=str(path), fix="remove the duplicated columns")
        frame = pd.DataFrame({name: arrow_column_to_text(column)
                              for name, column in zip(table.column_names, table.columns)},
                             index=pd.RangeIndex(table.num_rows))
        frame["source_row"] = pd.Series(range(1, len(frame) + 1), dtype="int64")
        raw = RawTable(path=path, frame=frame)
    else:
        raw = read_delimited(path, **DELIMITED)
    raw.frame = _to_legacy_names(raw.frame)
    return raw


def normalise_raw(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """CUR 2.0 / Parquet snake_case names -> the legacy names the mapping reads (chunked reading)."""
    return _to_legacy_names(frame)


# --- mapping ----------------------------------------------------------------------------------------

def _parse_json_object(text: object) -> dict:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        obj = loads_json_cell(text)     # size and depth limits (pipeline/sources/_text.py)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _tag_key(key: str) -> str:
    for prefix in ("user:", "user_"):
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):]
    return key


def _tags(f: pd.DataFrame) -> tuple[pd.Series, int]:
    """(tags_json per row, rows whose CUR 2.0 resource_tags text could not be read)."""
    tag_cols = [c for c in f.columns if c.startswith(_LEGACY_TAG_PREFIX)]
    legacy = {c: nullify(f[c]) for c in tag_cols}
    cur2 = nullify(f["resource_tags"]) if "resource_tags" in f.columns else None
    out, unreadable = [], 0
    for i in f.index:
        tags: dict[str, str] = {}
        for c, s in legacy.items():
            v = s.at[i]
            if not pd.isna(v):
                tags[_tag_key(c[len(_LEGACY_TAG_PREFIX):])] = str(v)
        if cur2 is not None and not pd.isna(cur2.at[i]):
            obj = _parse_json_object(cur2.at[i])
            if not obj and cur2.at[i].strip() not in ("{}", ""):
                unreadable += 1
            for k, v in obj.items():
                if v is not None and str(v).strip() != "":
                    tags.setdefault(_tag_key(str(k).strip()), str(v))
        out.append(json.dumps(tags, sort_keys=True, ensure_ascii=False))
    return pd.Series(out, index=f.index, dtype="string"), unreadable


def normalise_charge_category(line_item_type: object) -> str | None:
    if not isinstance(line_item_type, str) or not line_item_type.strip():
        return None
    t = line_item_type.strip()
    return _CHARGE_CATEGORY.get(t, t)


def energy_exclusion(line_item_type: object, product_code: object, usage_type: object) -> str | None:
    """Why a valid row must never become energy (double counted / negation), or None."""
    line_item_type, product_code, usage_type = (v if isinstance(v, str) else None
                                                for v in (line_item_type, product_code, usage_type))
    for want_type, want_code, pattern, reason in _TRAPS:
        if want_type is not None and line_item_type != want_type:
            continue
        if want_code is not None and product_code != want_code:
            continue
        if pattern is not None and not (usage_type is not None and pattern.search(usage_type)):
            continue
        return reason
    return None


def instance_type_of(usage_type: object, product_instance_type: object) -> str | None:
    if isinstance(product_instance_type, str) and product_instance_type.strip():
        return product_instance_type.strip()
    if isinstance(usage_type, str) and ":" in usage_type:
        candidate = usage_type.rsplit(":", 1)[1].strip()
        if _INSTANCE_TYPE.match(candidate):
            return candidate
    return None


def _region(f: pd.DataFrame, col) -> pd.Series:
    az_region = col("lineItem/AvailabilityZone").str.extract(_AZ_REGION, expand=False).astype("string")
    return col("product/regionCode").fillna(col("product/region")).fillna(az_region)


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    """Map raw CUR columns (legacy names; see read_raw) to the canonical usage frame."""
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    lid, interval = col("identity/LineItemId"), col("identity/TimeInterval")
    out["line_item_id"] = (lid + "|" + interval.fillna("")).astype("string")
    out["provider"] = "aws"
    out["billing_account_id"] = col("bill/PayerAccountId")
    out["account_id"] = col("lineItem/UsageAccountId")
    out["region"] = _region(f, col)
    code = col("lineItem/ProductCode")
    out["service"] = col("product/ProductName").fillna(code)
    line_type = col("lineItem/LineItemType")
    out["charge_category"] = line_type.map(normalise_charge_category).astype("string")
    out["sku"] = col("product/sku")
    out["usage_start_utc"] = to_utc(col("lineItem/UsageStartDate"), assume_zone="UTC")
    out["usage_end_utc"] = to_utc(col("lineItem/UsageEndDate"), assume_zone="UTC")
    out["quantity"] = to_number(col("lineItem/UsageAmount"))
    out["unit"] = col("pricing/unit")
    out["cost"] = to_number(col("lineItem/UnblendedCost"))
    out["currency"] = col("lineItem/CurrencyCode")

    usage_type = col("lineItem/UsageType")
    unit = out["unit"].str.lower().str.strip()
    itype = pd.Series([instance_type_of(u, p) for u, p in zip(usage_type, col("product/instanceType"))],
                      index=f.index, dtype="string")
    is_instance = (usage_type.str.contains(_INSTANCE_USAGE, na=False) & unit.isin(_HOUR_UNITS).fillna(False)
                   & itype.notna())
    kind = pd.Series("other", index=f.index, dtype="string")
    kind[is_instance] = "instance_hours"
    kind[~is_instance & usage_type.str.contains(_EBS_VOLUME, na=False) & unit.isin(_STORAGE_UNITS).fillna(False)] = \
        "storage_gb_months"
    kind[~is_instance & usage_type.str.contains(_DATA_TRANSFER, na=False) & unit.isin(_NETWORK_UNITS).fillna(False)] = \
        "network_gb"
    out["usage_kind"] = kind
    out["usage_amount"] = out["quantity"].where(kind != "other").astype("float64")
    out["instance_type"] = itype.where(is_instance)
    out["accelerator_model"] = pd.Series(pd.NA, index=f.index, dtype="string")

    by_kind = kind.map({"instance_hours": "Compute", "storage_gb_months": "Storage", "network_gb": "Networking"})
    category = by_kind.astype("string").fillna(col("product/productFamily").map(_FAMILY_CATEGORY).astype("string"))
    out["service_category"] = category.fillna(code.map(_PRODUCT_CATEGORY).astype("string"))

    out["energy_exclusion"] = pd.Series(
        [energy_exclusion(t, c, u) for t, c, u in zip(line_type, code, usage_type)], index=f.index, dtype="string")
    out["tags_json"], unreadable = _tags(f)
    out["contract_id"] = pd.Series(pd.NA, index=f.index, dtype="string")

    quarantine = {i: [("line_item_type_missing", "line item type is empty (lineItem/LineItemType = '')")]
                  for i in f.index[line_type.isna()]}
    notes = []
    if unreadable:
        notes.append(f"{unreadable} row(s) with unreadable resource_tags kept with no tags (phase: unallocated)")
    excluded = out["energy_exclusion"].notna()
    if excluded.any():
        notes.append(f"{int(excluded.sum())} row(s) kept but excluded from energy (double-counting traps, "
                     "Savings Plan negation); reason in energy_exclusion")
    return Parsed(frame=conform(out, USAGE), quarantine=quarantine, notes=notes)
