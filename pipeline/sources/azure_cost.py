"""Azure Cost Management cost details exports (EA and MCA; actual or amortised cost), CSV (optionally gzip) or
Parquet.

Headers: EA files use PascalCase (``Date``, ``MeterCategory``, ``CostInBillingCurrency`` or ``Cost``); MCA files
use camelCase (``date``, ``meterCategory``, ``costInBillingCurrency``). Header names are matched
case-insensitively and renamed to the EA PascalCase spelling in ``read_raw`` (so the quarantine file shows the
EA names). Aliases filled in ``read_raw`` when the preferred column is absent (copies, the original stays):
``CostInBillingCurrency`` <- ``Cost``, ``BillingCurrency`` <- ``BillingCurrencyCode`` / ``Currency``.

Mapping to the canonical usage frame:
    Date              -> usage_start_utc; usage_end_utc = Date + 1 day (a row is one UTC day).
                         ``M/D/YYYY`` (EA, always read month first, never day first) or ISO ``YYYY-MM-DD`` with an
                         optional midnight time (MCA). Anything else is unparseable (row quarantined).
    BillingAccountId  -> billing_account_id;  SubscriptionId -> account_id
    ResourceLocation  -> region, as the lowercase ARM name without spaces ("UK South", "uksouth" -> uksouth)
    MeterCategory     -> service;  ServiceFamily -> service_category
    "MeterSubCategory / MeterName" -> sku
    Quantity / UnitOfMeasure -> quantity / unit (as exported); CostInBillingCurrency (else Cost) -> cost
    BillingCurrency   -> currency
    Tags              -> tags_json (also the EA form without braces: ``"k": "v","k2": "v2"``)
    line_item_id      left empty: Azure cost details carry no line-item id (the docs say records are not
                      uniquely identified), so the duplicate-line check does not apply. Rows identical in every
                      cell to an earlier row are read as separate charges and counted in a note
                      (``identical_rows_note``: a file delivered twice shows there).

ChargeType -> charge_category (no ChargeType column: every row is Usage):
    Usage -> Usage;  Purchase -> Purchase;  Refund -> Credit;  Credit -> Credit;  Tax -> Tax;
    RoundingAdjustment -> Adjustment;  Adjustment -> Adjustment;
    UnusedReservation, UnusedSavingsPlan -> Usage with energy_exclusion "unused commitment: no resource ran".
    Any other or an empty value -> the row is quarantined (``unknown_charge_type``).
Amortised exports: reservation / savings-plan covered usage rows (PricingModel Reservation / SavingsPlan) keep
ChargeType Usage and are usage; reservation purchases (ChargeType Purchase) are never usage.

usage_kind / usage_amount (Usage rows only; every other charge category is "other" with no amount).
The number in front of the unit is applied: 3 x "10 Hours" = 30 hours; "10K" operations are not converted.
    MeterCategory "Virtual Machines" and an hour unit    -> instance_hours (hours), instance_type = VM size
    unit GB/Month (also GiB/Month, TB/Month)             -> storage_gb_months
    unit GB (also GiB, TB) on a network meter            -> network_gb
        (MeterCategory Bandwidth / Virtual Network / Networking / Content Delivery Network, or a MeterName
         naming data transfer, egress, ingress or data processed)
    anything else (operations, disk-months "1/Month", vCore hours of PaaS services, ...) -> other
    TB is taken as 1024 GB (Azure's GB meters are binary).

VM size (instance_type) for instance-hour rows:
    1. AdditionalInfo JSON ``ServiceType`` when it looks like an ARM size (``Standard_...`` / ``Basic_...``),
       else ``VMSize`` / ``vmSize``;
    2. else derived from MeterName: drop " Spot" / " Low Priority", take the first name before "/", spaces ->
       "_", prefix "Standard_" ("D2 v3/D2s v3" -> Standard_D2_v3, "NC24ads A100 v4" -> Standard_NC24ads_A100_v4,
       "ND96asr A100 v4" -> Standard_ND96asr_v4 by the alias table below, since that ARM name has no "A100").
       MeterName with no digit (not a size) -> no instance type. The derived name can miss a premium-storage
       "s" (D2 v3 vs D2s v3): the price meter is shared by both sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import USAGE, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import (
    RawTable,
    identical_rows_note,
    loads_json_cell,
    read_parquet_text,
    normalise_tags,
    nullify,
    read_delimited,
    to_number,
)

KIND = "azure_cost"
FAMILY = "usage"
REQUIRED = ["Date", "SubscriptionId", "MeterCategory", "Quantity", "UnitOfMeasure", "CostInBillingCurrency",
            "BillingCurrency", "ResourceLocation"]
SOURCE_COLUMNS = {"usage_start_utc": "Date", "usage_end_utc": "Date", "cost": "CostInBillingCurrency",
                  "quantity": "Quantity", "charge_category": "ChargeType"}

# EA PascalCase spelling of every column used here (and common others); MCA camelCase is matched case-insensitively
KNOWN_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate", "BillingProfileId",
    "BillingProfileName", "AccountOwnerId", "AccountName", "SubscriptionId", "SubscriptionName", "Date", "Product",
    "ProductName", "PartNumber", "MeterId", "ServiceFamily", "MeterCategory", "MeterSubCategory", "MeterRegion",
    "MeterName", "Quantity", "EffectivePrice", "Cost", "CostInBillingCurrency", "CostInPricingCurrency", "CostInUsd",
    "UnitPrice", "BillingCurrency", "BillingCurrencyCode", "Currency", "PricingCurrency", "ResourceLocation",
    "Location", "AvailabilityZone", "ConsumedService", "ResourceId", "ResourceName", "ServiceInfo1", "ServiceInfo2",
    "AdditionalInfo", "Tags", "InvoiceSectionId", "InvoiceSection", "InvoiceSectionName", "CostCenter",
    "UnitOfMeasure", "ResourceGroup", "ResourceGroupName", "ReservationId", "ReservationName", "ProductOrderId",
    "ProductOrderName", "OfferId", "IsAzureCreditEligible", "Term", "PublisherName", "PlanName", "ChargeType",
    "Frequency", "PublisherType", "PayGPrice", "PricingModel", "CostAllocationRuleName", "BenefitId", "BenefitName",
    "InvoiceId", "PreviousInvoiceId",
]
_CANON_NAME = {c.lower(): c for c in KNOWN_COLUMNS}

CHARGE_TYPES = {
    "usage": "Usage", "purchase": "Purchase", "refund": "Credit", "credit": "Credit", "tax": "Tax",
    "roundingadjustment": "Adjustment", "adjustment": "Adjustment",
    "unusedreservation": "Usage", "unusedsavingsplan": "Usage",
}
UNUSED_COMMITMENT = {"unusedreservation", "unusedsavingsplan"}
UNUSED_REASON = "unused commitment: no resource ran"

# derived-from-MeterName VM sizes whose ARM name differs from the meter's wording
SIZE_ALIASES = {"Standard_ND96asr_A100_v4": "Standard_ND96asr_v4"}

_NETWORK_CATEGORIES = {"bandwidth", "virtual network", "networking", "content delivery network"}
_NETWORK_METER = re.compile(r"data transfer|egress|ingress|data processed", re.IGNORECASE)
_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([KkMm](?![A-Za-z]))?\s*(.*?)\s*$")
_ARM_SIZE = re.compile(r"^(?:Standard|Basic)_[A-Za-z0-9_]+$")
_SLASH_DATE = re.compile(r"^(\d{1,2}/\d{1,2}/\d{4})(?:[ T]0?0:00(?::00(?:\.0+)?)?(?:\s*AM)?)?$")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$")


def sniff(columns: list[str]) -> bool:
    cols = {c.lower() for c in columns}
    return ({"metercategory", "quantity", "unitofmeasure", "date"} <= cols
            and bool({"costinbillingcurrency", "cost"} & cols))


def _normalise_header(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    present = set(frame.columns)
    renames = {}
    for c in frame.columns:
        if c == "source_row":
            continue
        target = _CANON_NAME.get(c.lower())
        if target and target != c and target not in present and target not in renames.values():
            renames[c] = target
    frame = frame.rename(columns=renames)
    lowered = [c.lower() for c in frame.columns]
    dup = sorted({c for c in frame.columns if lowered.count(c.lower()) > 1})
    if dup:
        raise InputError(f"repeats column(s) {', '.join(dup)} in its header (names differ only in case)",
                         file=str(path), row=1, fix="remove the duplicated columns")
    if "CostInBillingCurrency" not in frame.columns and "Cost" in frame.columns:
        frame["CostInBillingCurrency"] = frame["Cost"]
    if "BillingCurrency" not in frame.columns:
        for alt in ("BillingCurrencyCode", "Currency"):
            if alt in frame.columns:
                frame["BillingCurrency"] = frame[alt]
                break
    return frame


def read_raw(path: Path) -> RawTable:
    if path.suffix.lower() == ".parquet":
        raw = read_parquet_text(path, what="Azure cost details")
    else:
        raw = read_delimited(path, what="Azure cost details export")
    raw.frame = _normalise_header(raw.frame, path)
    return raw


# --- parsing helpers ---------------------------------------------------------------------------------------

def _slash_order(slash: pd.Series, path: str | None) -> str:
    """The file's slash-date order: month first as Azure writes it, unless the file itself proves day first (a
    first number above 12, as a spreadsheet re-save in a day-first locale writes). Both in one file: refused."""
    parts = slash.dropna().str.split("/", expand=True)
    if parts.empty:
        return "%m/%d/%Y"
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        raise InputError("the Date column mixes day-first and month-first dates (e.g. "
                         f"'{slash[first.index[first > 12][0]]}' and '{slash[second.index[second > 12][0]]}')",
                         file=path or "Azure cost file",
                         fix="re-export the cost details from Azure without opening them in a spreadsheet")
    return "%d/%m/%Y" if day_first else "%m/%d/%Y"


def _date_order(f: pd.DataFrame, path: str) -> str:
    """Order of the slash dates across every date column of the file (Date and the billing period dates): a
    spreadsheet re-save converts them all alike, so the columns are judged together."""
    cols = [c for c in ("Date", "BillingPeriodStartDate", "BillingPeriodEndDate", "ServicePeriodStartDate",
                        "ServicePeriodEndDate") if c in f.columns]
    values = pd.concat([nullify(f[c]) for c in cols], ignore_index=True) if cols else pd.Series([], dtype="string")
    return _slash_order(values.str.extract(_SLASH_DATE, expand=False), path)


def parse_dates(s: pd.Series, order: str = "%m/%d/%Y") -> pd.Series:
    """Azure ``Date`` -> midnight UTC. ``M/D/YYYY`` is month first (US order, as Azure writes it) unless the file
    proves day first (see ``_slash_order``); ISO dates are accepted for MCA files. Nothing else is guessed."""
    s = nullify(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    slash = s.str.extract(_SLASH_DATE, expand=False)
    iso = s.str.extract(_ISO_DATE, expand=False)
    for part, fmt in ((slash, order), (iso, "%Y-%m-%d")):
        ok = part.notna()
        if ok.any():
            parsed = pd.to_datetime(part[ok], format=fmt, errors="coerce")
            parsed = parsed.where((parsed >= pd.Timestamp("1900-01-01")) & (parsed < pd.Timestamp("2200-01-01")))
            out[ok] = parsed.dt.tz_localize("UTC").dt.as_unit("ns")
    return out


def normalise_region(value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        return pd.NA
    return re.sub(r"\s+", "", value.strip().lower())


def parse_unit(unit: object) -> tuple[float, str]:
    """UnitOfMeasure -> (multiplier, base unit in lowercase): "10 Hours" -> (10, "hours"), "1 GB/Month" ->
    (1, "gb/month"), "10K" -> (10000, ""), "1/Month" -> (1, "/month")."""
    if not isinstance(unit, str):
        return float("nan"), ""
    m = _UNIT.match(unit)
    if not m:
        return float("nan"), unit.strip().lower()
    mult = float(m.group(1)) if m.group(1) else 1.0
    if m.group(2):
        mult *= 1000.0 if m.group(2).lower() == "k" else 1_000_000.0
    return mult, re.sub(r"\s+", " ", m.group(3).lower())


_HOURS = {"hour", "hours", "hr", "hrs"}
_STORAGE = {"gb/month": 1.0, "gib/month": 1.0, "tb/month": 1024.0, "gb-month": 1.0, "gb month": 1.0}
_DATA = {"gb": 1.0, "gib": 1.0, "tb": 1024.0}


def normalise_brace_tags(text: object) -> tuple[str, bool]:
    """Tags JSON; EA writes it without the surrounding braces (``"k": "v","k2": "v2"``)."""
    if isinstance(text, str) and text.strip() and not text.strip().startswith("{"):
        text = "{" + text.strip() + "}"
    return normalise_tags(text)


def vm_size(additional_info: object, meter_name: object) -> object:
    if isinstance(additional_info, str) and additional_info.strip().startswith("{"):
        try:
            info = loads_json_cell(additional_info)
        except ValueError:
            info = None
        if isinstance(info, dict):
            st = info.get("ServiceType")
            if isinstance(st, str) and _ARM_SIZE.match(st.strip()):
                return st.strip()
            for key in ("VMSize", "vmSize", "VmSize"):
                v = info.get(key)
                if isinstance(v, str) and v.strip():
                    v = v.strip()
                    return v if v.lower().startswith(("standard_", "basic_")) else f"Standard_{v}"
    if isinstance(meter_name, str) and re.search(r"\d", meter_name):
        name = re.sub(r"\s+(spot|low priority)\s*$", "", meter_name.strip(), flags=re.IGNORECASE)
        name = name.split("/")[0].strip()
        if name and re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", name) and re.match(r"[A-Za-z]+\d", name):
            size = "Standard_" + re.sub(r"\s+", "_", name)
            return SIZE_ALIASES.get(size, size)
    return pd.NA


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["line_item_id"] = pd.Series(pd.NA, index=f.index, dtype="string")
    out["provider"] = "azure"
    out["billing_account_id"] = col("BillingAccountId")
    out["account_id"] = col("SubscriptionId")
    out["region"] = col("ResourceLocation").map(normalise_region).astype("string")
    out["service"] = col("MeterCategory")
    out["service_category"] = col("ServiceFamily")
    sub, meter = col("MeterSubCategory"), col("MeterName")
    out["sku"] = (sub.fillna("") + " / " + meter.fillna("")).str.strip(" /").replace("", pd.NA).astype("string")
    order = _date_order(f, source_label)
    start = parse_dates(f["Date"], order)
    out["usage_start_utc"] = start
    out["usage_end_utc"] = start + pd.Timedelta(days=1)
    out["quantity"] = to_number(f["Quantity"])
    out["unit"] = col("UnitOfMeasure")
    out["cost"] = to_number(f["CostInBillingCurrency"])
    out["currency"] = col("BillingCurrency")

    quarantine: dict = {}
    if "ChargeType" in f.columns:
        ct = col("ChargeType")
        key = ct.str.lower().str.replace(r"\s+", "", regex=True)
        out["charge_category"] = key.map(CHARGE_TYPES).astype("string")
        for i in out.index[out["charge_category"].isna()]:
            shown = "" if pd.isna(f.at[i, "ChargeType"]) else str(f.at[i, "ChargeType"])[:80]
            reason = (f"ChargeType '{shown}' is not an Azure charge type this adapter knows "
                      "(Usage, Purchase, Refund, Credit, Tax, Adjustment, RoundingAdjustment, "
                      "UnusedReservation, UnusedSavingsPlan)")
            quarantine[i] = [("unknown_charge_type", reason)]
        unused = key.isin(UNUSED_COMMITMENT).fillna(False)
    else:
        out["charge_category"] = pd.Series("Usage", index=f.index, dtype="string")
        unused = pd.Series(False, index=f.index)
    out["energy_exclusion"] = pd.Series(pd.NA, index=f.index, dtype="string").mask(unused, UNUSED_REASON)

    # usage kind and amount
    units = out["unit"].map(parse_unit)
    mult = units.map(lambda u: u[0]).astype("float64")
    base = units.map(lambda u: u[1])
    usage = (out["charge_category"] == "Usage").fillna(False) & ~unused
    category = out["service"].str.lower().fillna("")
    kind = pd.Series("other", index=f.index, dtype="string")
    factor = pd.Series(float("nan"), index=f.index, dtype="float64")
    vm = usage & (category == "virtual machines") & base.isin(_HOURS)
    kind[vm], factor[vm] = "instance_hours", 1.0
    storage = usage & ~vm & base.isin(list(_STORAGE))
    kind[storage], factor[storage] = "storage_gb_months", base[storage].map(_STORAGE)
    network = usage & ~vm & base.isin(list(_DATA)) & (
        category.isin(_NETWORK_CATEGORIES) | meter.str.contains(_NETWORK_METER, na=False))
    kind[network], factor[network] = "network_gb", base[network].map(_DATA)
    out["usage_kind"] = kind
    out["usage_amount"] = (out["quantity"] * mult * factor).where(kind != "other")

    itype = pd.Series(pd.NA, index=f.index, dtype="string")
    if vm.any():
        info = col("AdditionalInfo")
        itype[vm] = [vm_size(info.at[i], meter.at[i]) for i in vm[vm].index]
    out["instance_type"] = itype
    out["accelerator_model"] = pd.Series(pd.NA, index=f.index, dtype="string")

    tags = col("Tags").map(normalise_brace_tags)
    out["tags_json"] = tags.map(lambda t: t[0]).astype("string")
    unreadable = int((~tags.map(lambda t: t[1]).astype(bool)).sum())
    out["contract_id"] = pd.Series(pd.NA, index=f.index, dtype="string")
    notes = []
    repeated = identical_rows_note(raw)
    if repeated:
        notes.append(repeated)
    if _date_order(f, source_label) == "%d/%m/%Y":
        notes.append("the Date column is day first (a value such as DD/MM/YYYY with a day above 12: the file was re-saved "
                     "in a day-first locale): every slash date of the file was read day first")
    if unreadable:
        notes.append(f"{unreadable} row(s) with unreadable Tags JSON kept with no tags (phase: unallocated)")
    no_size = int((vm & out["instance_type"].isna()).sum())
    if no_size:
        notes.append(f"{no_size} Virtual Machines hour row(s) with no recognisable VM size (not estimated)")
    if int(unused.sum()):
        notes.append(f"{int(unused.sum())} unused reservation / savings plan row(s) kept for cost, excluded from energy")
    return Parsed(frame=conform(out, USAGE), quarantine=quarantine, notes=notes)
