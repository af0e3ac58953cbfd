"""Writes the bad-input billing corpus in this folder (run it again to regenerate; the files are committed).

    .venv/bin/python tests/corpus/billing/_make_corpus.py

Every data row here is synthetic (made up for the test). The headers are the real vendor headers, as in the
samples under /work/shared/data (FOCUS 1.0 sample, AWS CUR legacy sample, Azure EA export, OCI cost report) or
as documented by the vendor; no row of a shared sample file is copied. What each file tests and the outcome
it must give are in ``expected.yaml``; ``tests/corpus/test_corpus_billing.py`` runs them.

All billing rows fall in the reporting quarter 2026-Q3 (UTC) unless the file is about the period.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

# --- real headers ---------------------------------------------------------------------------------------------

FOCUS_HEADER = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "Id", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId",
    "SubAccountName", "Tags"]

CUR_HEADER = [
    "identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/InvoicingEntity", "bill/BillingEntity",
    "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone",
    "lineItem/UsageAmount", "lineItem/NormalizationFactor", "lineItem/NormalizedUsageAmount", "lineItem/CurrencyCode",
    "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/BlendedRate", "lineItem/BlendedCost",
    "lineItem/LineItemDescription", "lineItem/TaxType", "lineItem/LegalEntity", "product/ProductName",
    "product/availability", "product/durability", "product/eventType", "product/feeCode", "product/feeDescription",
    "product/fromLocation", "product/fromLocationType", "product/fromRegionCode", "product/group",
    "product/groupDescription", "product/location", "product/locationType", "product/messageDeliveryFrequency",
    "product/messageDeliveryOrder", "product/operation", "product/overhead", "product/productFamily",
    "product/productType", "product/queueType", "product/region", "product/regionCode", "product/servicecode",
    "product/servicename", "product/sku", "product/storageClass", "product/storageMedia", "product/toLocation",
    "product/toLocationType", "product/toRegionCode", "product/transferType", "product/usagetype", "product/version",
    "product/volumeType", "pricing/RateCode", "pricing/RateId", "pricing/currency", "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate", "pricing/term", "pricing/unit", "reservation/AmortizedUpfrontCostForUsage",
    "reservation/AmortizedUpfrontFeeForBillingPeriod", "reservation/EffectiveCost", "reservation/EndTime",
    "reservation/ModificationStatus", "reservation/NormalizedUnitsPerReservation", "reservation/NumberOfReservations",
    "reservation/RecurringFeeForUsage", "reservation/StartTime", "reservation/SubscriptionId",
    "reservation/TotalReservedNormalizedUnits", "reservation/TotalReservedUnits", "reservation/UnitsPerReservation",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedNormalizedUnitQuantity",
    "reservation/UnusedQuantity", "reservation/UnusedRecurringFee", "reservation/UpfrontValue",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanRate",
    "savingsPlan/UsedCommitment", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod", "savingsPlan/RecurringCommitmentForBillingPeriod"]

# CUR 2.0 (AWS Data Exports) snake_case names of the columns used here; product / resource_tags are maps
CUR2_COLUMNS = [
    "identity_line_item_id", "identity_time_interval", "bill_payer_account_id", "line_item_usage_account_id",
    "line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code",
    "line_item_usage_type", "line_item_usage_amount", "line_item_currency_code", "line_item_unblended_cost",
    "pricing_unit", "product_instance_type", "product_region_code", "resource_tags"]

AZURE_EA_HEADER = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate", "BillingProfileId",
    "BillingProfileName", "AccountOwnerId", "AccountName", "SubscriptionId", "SubscriptionName", "Date", "Product",
    "PartNumber", "MeterId", "ServiceFamily", "MeterCategory", "MeterSubCategory", "MeterRegion", "MeterName",
    "Quantity", "EffectivePrice", "Cost", "UnitPrice", "BillingCurrency", "ResourceLocation", "AvailabilityZone",
    "ConsumedService", "ResourceId", "ResourceName", "ServiceInfo1", "ServiceInfo2", "AdditionalInfo", "Tags",
    "InvoiceSectionId", "InvoiceSection", "CostCenter", "UnitOfMeasure", "ResourceGroup", "ReservationId",
    "ReservationName", "ProductOrderId", "ProductOrderName", "OfferId", "IsAzureCreditEligible", "Term",
    "PublisherName", "PlanName", "ChargeType", "Frequency", "PublisherType", "PayGPrice", "PricingModel",
    "CostAllocationRuleName", "benefitId", "benefitName"]

GCP_HEADER = [
    "billing_account_id", "service.id", "service.description", "sku.id", "sku.description", "usage_start_time",
    "usage_end_time", "project.id", "project.number", "project.name", "labels", "system_labels", "location.location",
    "location.country", "location.region", "location.zone", "cost", "currency", "usage.amount", "usage.unit",
    "usage.amount_in_pricing_units", "usage.pricing_unit", "credits", "cost_type"]

# OCI: the real structural columns; the tag columns are made up (one with a backslash, as in the real sample)
OCI_HEADER = [
    "lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart", "lineItem/intervalUsageEnd",
    "product/service", "product/compartmentId", "product/compartmentName", "product/region",
    "product/availabilityDomain", "product/resourceId", "usage/billedQuantity", "usage/billedQuantityOverage",
    "cost/subscriptionId", "cost/productSku", "product/Description", "cost/unitPrice", "cost/unitPriceOverage",
    "cost/myCost", "cost/myCostOverage", "cost/currencyCode", "cost/billingUnitReadable", "cost/skuUnitDescription",
    "cost/overageFlag", "lineItem/isCorrection", "lineItem/backreferenceNo", "tags/Finance.CostCenter",
    "tags/Dev\\ml-platform.release"]

AWS_CARBON_HEADER = [
    "last_refresh_timestamp", "location", "model_version", "payer_account_id", "product_code", "region_code",
    "total_lbm_emissions_unit", "total_lbm_emissions_value", "total_mbm_emissions_unit", "total_mbm_emissions_value",
    "usage_account_id", "usage_period_end", "usage_period_start"]

GCP_CARBON_HEADER = [
    "usage_month", "billing_account_id", "project.id", "project.number", "service.id", "service.description",
    "location.location", "location.region", "carbon_model_version", "carbon_footprint_total_kgCO2e.after_offsets",
    "carbon_footprint_total_kgCO2e.market_based", "carbon_footprint_total_kgCO2e.location_based",
    "carbon_footprint_kgCO2e.scope1", "carbon_footprint_kgCO2e.scope2.location_based",
    "carbon_footprint_kgCO2e.scope2.market_based", "carbon_footprint_kgCO2e.scope3"]

AZURE_CARBON_HEADER = [
    "dateKey", "enrollmentId", "orgName", "subscriptionId", "subscriptionName", "azureServiceName", "subService",
    "azureRegionName", "scope", "scopeId", "totalEmissions"]


# --- writing helpers ----------------------------------------------------------------------------------------------

def csv_text(header: list[str], rows: list[dict | list], *, eol: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=eol)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return buf.getvalue()


def put(name: str, data: str | bytes, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def put_parquet(name: str, table: pa.Table) -> None:
    pq.write_table(table, HERE / name)


# --- FOCUS -------------------------------------------------------------------------------------------------------

def focus_row(n: int, **kw) -> dict:
    """A FOCUS 1.0 AWS g5.4xlarge usage row of 8 hours on 2026-07-0n (UTC)."""
    day = f"2026-07-{n:02d}"
    row = {
        "AvailabilityZone": "eu-west-1a", "BilledCost": "12.984", "BillingAccountId": "123456789012",
        "BillingAccountName": "Corpus Payer", "BillingCurrency": "USD", "BillingPeriodEnd": "2026-08-01T00:00:00Z",
        "BillingPeriodStart": "2026-07-01T00:00:00Z", "ChargeCategory": "Usage", "ChargeClass": "",
        "ChargeDescription": "$1.623 per On Demand Linux g5.4xlarge Instance Hour", "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": f"{day}T08:00:00Z", "ChargePeriodStart": f"{day}T00:00:00Z",
        "CommitmentDiscountCategory": "", "CommitmentDiscountId": "", "CommitmentDiscountName": "",
        "CommitmentDiscountStatus": "", "CommitmentDiscountType": "", "ConsumedQuantity": "8",
        "ConsumedUnit": "Hours", "ContractedCost": "12.984", "ContractedUnitPrice": "1.623", "EffectiveCost": "12.984",
        "InvoiceIssuerName": "Amazon Web Services, Inc.", "ListCost": "12.984", "ListUnitPrice": "1.623",
        "PricingCategory": "Standard", "PricingQuantity": "8", "PricingUnit": "Hours", "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.", "RegionId": "eu-west-1", "RegionName": "Europe (Ireland)",
        "ResourceId": f"i-0c0ffee0000{n:05d}", "ResourceName": "", "ResourceType": "Instance",
        "ServiceCategory": "Compute", "Id": f"focus-line-{n:04d}", "ServiceName": "Amazon Elastic Compute Cloud",
        "SkuId": "SKUG54XL", "SkuPriceId": "SKUG54XL.JRTCKXETXF", "SubAccountId": "210987654321",
        "SubAccountName": "ml-team", "Tags": '{"project": "llm", "phase": "training"}'}
    row.update(kw)
    return row


FOCUS_CREDIT = {"ChargeCategory": "Credit", "ChargeDescription": "Promotional credit", "ConsumedQuantity": "NULL",
                "ConsumedUnit": "NULL", "BilledCost": "-5", "ResourceId": "NULL", "PricingQuantity": "NULL",
                "PricingUnit": "NULL", "SkuId": "NULL", "SkuPriceId": "NULL"}


def make_focus() -> None:
    h = FOCUS_HEADER
    rows3 = [focus_row(1), focus_row(2), focus_row(3)]
    put("focus_baseline.csv", csv_text(h, rows3))
    # required column removed / renamed / extra columns
    put("focus_missing_column.csv", csv_text([c for c in h if c != "ConsumedQuantity"], rows3))
    put("focus_renamed_column.csv",
        csv_text([c if c != "BilledCost" else "BilledCosts" for c in h],
                 [{("BilledCosts" if k == "BilledCost" else k): v for k, v in r.items()} for r in rows3]))
    put("focus_extra_columns.csv",
        csv_text(h + ["x_UsageType", "x_Department", "x_Comment"],
                 [dict(r, x_UsageType="EU-BoxUsage:g5.4xlarge", x_Department="R&D", x_Comment="ok, checked")
                  for r in rows3]))
    put("focus_duplicate_header.csv",
        csv_text(h + ["BilledCost"], [[focus_row(1)[c] for c in h] + ["12.984"]]))
    # spreadsheet artefacts in the header: two empty trailing columns; saved with ';' as the delimiter
    put("focus_trailing_empty_columns.csv", csv_text(h + ["", ""], [[r[c] for c in h] + ["", ""] for r in rows3]))
    semi = io.StringIO()
    sw = csv.writer(semi, delimiter=";", lineterminator="\r\n")
    sw.writerow(h)
    sw.writerows([[r[c] for c in h] for r in rows3])
    put("focus_semicolon.csv", semi.getvalue())
    # a quoted cell with a line break (multi-line ChargeDescription) before a bad row
    put("focus_multiline_field.csv", csv_text(h, [
        focus_row(1, ChargeDescription="g5.4xlarge hours\nsecond line of the description"),
        focus_row(2, ConsumedQuantity="-8"), focus_row(3)]))
    # empty, header only, encodings, line endings
    put("focus_empty.csv", b"")
    put("focus_header_only.csv", csv_text(h, []))
    put("focus_bom.csv", b"\xef\xbb\xbf" + csv_text(h, rows3).encode("utf-8"))
    put("focus_utf16.csv", csv_text(h, rows3, eol="\r\n"), encoding="utf-16")  # as Excel "Unicode text" saves
    put("focus_latin1.csv",
        csv_text(h, [focus_row(1), focus_row(2, SubAccountName="équipe-ml", RegionName="Europe (Zürich)"),
                     focus_row(3)]), encoding="latin-1")
    mixed = csv_text(h, [focus_row(n) for n in (1, 2, 3, 4)], eol="\r\n").split("\r\n")
    put("focus_crlf_lf_mix.csv", mixed[0] + "\r\n" + mixed[1] + "\n" + mixed[2] + "\r\n" + mixed[3] + "\n"
        + mixed[4] + "\r\n")
    # spreadsheet artefacts
    put("focus_spreadsheet_exponent.csv", csv_text(h, [
        focus_row(1, ConsumedQuantity="1.2E+05", BilledCost="1.9476E+05", ConsumedUnit="Requests",
                  ServiceCategory="Integration", ServiceName="Amazon Simple Queue Service"),
        focus_row(2, ConsumedQuantity="8.00E+00", BilledCost="1.30E+01"),
        focus_row(3, ConsumedQuantity="2,5", BilledCost="4,06")]))        # decimal comma: not a number
    put("focus_spreadsheet_dates.csv", csv_text(h, [
        focus_row(1),
        focus_row(2, ChargePeriodStart="31/08/2026 00:00", ChargePeriodEnd="31/08/2026 08:00"),
        focus_row(3, ChargePeriodStart="08/07/2026 00:00", ChargePeriodEnd="08/07/2026 08:00"),
        focus_row(4, ChargePeriodStart="2026-07-04T00:00:00Z", ChargePeriodEnd="04.07.2026 08:00")]))
    # text NULL / N/A, negative and non-numeric quantities
    put("focus_null_literals.csv", csv_text(h, [
        focus_row(1, ConsumedQuantity="NULL"),
        focus_row(2, ConsumedQuantity="N/A"),
        focus_row(3, **FOCUS_CREDIT),
        focus_row(4, BilledCost="NULL"),
        focus_row(5, RegionId="NULL", Tags="NULL")]))
    put("focus_negative_quantity.csv", csv_text(h, [
        focus_row(1, ConsumedQuantity="-8", BilledCost="-12.984"),
        focus_row(2, ChargeCategory="Adjustment", ConsumedQuantity="-8", BilledCost="-12.984"),
        focus_row(3)]))
    put("focus_nonnumeric.csv", csv_text(h, [
        focus_row(1, ConsumedQuantity="eight"),
        focus_row(2, ConsumedQuantity="8 hrs"),
        focus_row(3, BilledCost="$12.98"),
        focus_row(4)]))
    put("focus_infinite_values.csv", csv_text(h, [
        focus_row(1, ConsumedQuantity="inf"), focus_row(2, BilledCost="Infinity"), focus_row(3)]))
    put("focus_unknown_unit.csv", csv_text(h, [
        focus_row(1, ConsumedUnit="Furlongs"), focus_row(2, ProviderName="NULL"), focus_row(3)]))
    put("focus_unknown_currency.csv", csv_text(h, [
        focus_row(1, BillingCurrency="XYZ"), focus_row(2, BillingCurrency="NULL"), focus_row(3)]))
    # time zones
    put("focus_timestamp_no_zone.csv", csv_text(h, [
        focus_row(1, ChargePeriodStart="2026-07-01 00:00:00", ChargePeriodEnd="2026-07-01 08:00:00"),
        focus_row(2, ChargePeriodStart="2026-06-30 23:00:00", ChargePeriodEnd="2026-07-01 07:00:00")]))
    put("focus_two_zones.csv", csv_text(h, [
        focus_row(1, ChargePeriodStart="2026-07-01T01:00:00+02:00", ChargePeriodEnd="2026-07-01T09:00:00+02:00"),
        focus_row(2, ChargePeriodStart="2026-09-30T22:00:00-04:00", ChargePeriodEnd="2026-10-01T06:00:00-04:00"),
        focus_row(3, ChargePeriodStart="2026-07-03T00:00:00Z", ChargePeriodEnd="2026-07-03T10:00:00+02:00")]))
    put("focus_outside_period.csv", csv_text(h, [
        focus_row(1, ChargePeriodStart="2026-06-30T23:59:59Z", ChargePeriodEnd="2026-07-01T07:59:59Z"),
        focus_row(2),
        focus_row(3, ChargePeriodStart="2026-10-01T00:00:00Z", ChargePeriodEnd="2026-10-01T08:00:00Z"),
        focus_row(4, ChargePeriodStart="2025-07-01T00:00:00Z", ChargePeriodEnd="2025-07-01T08:00:00Z")]))
    # duplicated line items, re-delivered file
    put("focus_duplicate_line_items.csv", csv_text(h, [
        focus_row(1), focus_row(2), focus_row(1), focus_row(3, Id="focus-line-0002")]))
    put("focus_redelivered.csv", csv_text(h, rows3 + rows3))
    # truncated last line (export cut mid-row, inside a quoted field)
    text = csv_text(h, rows3)
    put("focus_truncated_last_line.csv", text[: text.rindex('"llm"') + 3])
    # gzip / Parquet that are not
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("focus.csv", date_time=(2026, 10, 2, 0, 0, 0)), csv_text(h, rows3))
    put("focus_not_gzip.csv.gz", zbuf.getvalue())        # a .zip renamed .gz
    put("focus_not_parquet.parquet", csv_text(h, rows3))  # CSV text saved with a .parquet name
    make_focus_parquet()


def focus_table(rows: list[dict], *, types: dict | None = None, drop: tuple = ()) -> pa.Table:
    """Parquet as a FOCUS export writes it: typed numbers and timestamps."""
    types = types or {}
    data = {}
    for c in FOCUS_HEADER:
        if c in drop:
            continue
        vals = [r[c] for r in rows]
        conv = types.get(c)
        data[c] = pa.array([conv(v) for v in vals]) if conv else pa.array([v or None for v in vals], pa.string())
    return pa.table(data)


def _num(v: str):
    return None if v in ("", "NULL") else float(v)


def make_focus_parquet() -> None:
    import datetime as dt

    def ts(v: str):
        return dt.datetime.fromisoformat(v)

    typed = {"BilledCost": _num, "ConsumedQuantity": _num, "EffectiveCost": _num, "ListCost": _num}
    rows = [focus_row(1), focus_row(2, ConsumedQuantity="-8"), focus_row(3, ConsumedQuantity="NULL"),
            focus_row(4, **FOCUS_CREDIT), focus_row(5, ChargePeriodStart="2026-10-02T00:00:00Z",
                                                    ChargePeriodEnd="2026-10-02T08:00:00Z")]
    put_parquet("focus_parquet_typed.parquet", focus_table(rows, types=typed))
    # timestamps as timestamp columns: one naive (no zone), the end column zoned
    t = focus_table([focus_row(1), focus_row(2)], types=typed)
    t = t.set_column(FOCUS_HEADER.index("ChargePeriodStart"), "ChargePeriodStart",
                     pa.array([dt.datetime(2026, 7, 1), dt.datetime(2026, 6, 30, 23)], pa.timestamp("us")))
    t = t.set_column(FOCUS_HEADER.index("ChargePeriodEnd"), "ChargePeriodEnd",
                     pa.array([ts("2026-07-01T08:00:00Z"), ts("2026-07-01T07:00:00Z")], pa.timestamp("us", tz="UTC")))
    put_parquet("focus_parquet_timestamps.parquet", t)
    put_parquet("focus_parquet_missing_column.parquet",
                focus_table([focus_row(1)], types=typed, drop=("ChargePeriodEnd",)))
    put_parquet("focus_parquet_no_rows.parquet", focus_table([], types=typed))
    full = io.BytesIO()
    pq.write_table(focus_table([focus_row(n) for n in range(1, 4)], types=typed), full)
    put("focus_parquet_truncated.parquet", full.getvalue()[: len(full.getvalue()) // 2])
    # Tags as a Parquet map column (how typed FOCUS Parquet exports write key-value columns)
    tagged = focus_table([focus_row(1), focus_row(2)], types=typed).drop(["Tags"])
    put_parquet("focus_parquet_tags_map.parquet", tagged.append_column(
        "Tags", pa.array([[("project", "llm"), ("phase", "training")]] * 2, pa.map_(pa.string(), pa.string()))))
    # the same column twice
    t = focus_table([focus_row(1)], types=typed)
    put_parquet("focus_parquet_duplicate_column.parquet",
                pa.Table.from_arrays(t.columns + [t.column("BilledCost")], names=t.column_names + ["BilledCost"]))
    # the same rows twice (re-delivered partition file), Parquet
    put_parquet("focus_parquet_redelivered.parquet",
                focus_table([focus_row(1), focus_row(2), focus_row(1), focus_row(2)], types=typed))


# --- AWS CUR (legacy CSV and CUR 2.0) ----------------------------------------------------------------------------

def cur_row(n: int, **kw) -> dict:
    """A legacy CUR Usage row: g5.4xlarge in eu-west-1, 1 hour on 2026-07-0n 0n:00Z."""
    start = f"2026-07-{n:02d}T{n:02d}:00:00Z"
    end = f"2026-07-{n:02d}T{n + 1:02d}:00:00Z"
    row = {
        "identity/LineItemId": f"cur{n:04d}abcdabcdabcdabcdabcdabcdabcdabcdabcdabcd",
        "identity/TimeInterval": f"{start}/{end}", "bill/InvoicingEntity": "Amazon Web Services EMEA SARL",
        "bill/BillingEntity": "AWS", "bill/BillType": "Anniversary", "bill/PayerAccountId": "123456789012",
        "bill/BillingPeriodStartDate": "2026-07-01T00:00:00Z", "bill/BillingPeriodEndDate": "2026-08-01T00:00:00Z",
        "lineItem/UsageAccountId": "210987654321", "lineItem/LineItemType": "Usage",
        "lineItem/UsageStartDate": start, "lineItem/UsageEndDate": end, "lineItem/ProductCode": "AmazonEC2",
        "lineItem/UsageType": "EU-BoxUsage:g5.4xlarge", "lineItem/Operation": "RunInstances",
        "lineItem/AvailabilityZone": "eu-west-1a", "lineItem/UsageAmount": "1.0", "lineItem/CurrencyCode": "USD",
        "lineItem/UnblendedRate": "1.623", "lineItem/UnblendedCost": "1.623", "lineItem/BlendedRate": "1.623",
        "lineItem/BlendedCost": "1.623",
        "lineItem/LineItemDescription": "$1.623 per On Demand Linux g5.4xlarge Instance Hour",
        "product/ProductName": "Amazon Elastic Compute Cloud", "product/location": "EU (Ireland)",
        "product/productFamily": "Compute Instance", "product/region": "eu-west-1", "product/regionCode": "eu-west-1",
        "product/servicecode": "AmazonEC2", "product/sku": "SKUG54XL", "product/usagetype": "EU-BoxUsage:g5.4xlarge",
        "pricing/currency": "USD", "pricing/term": "OnDemand", "pricing/unit": "Hrs"}
    row.update(kw)
    return row


CUR_TAX = {"lineItem/LineItemType": "Tax", "lineItem/UsageType": "", "lineItem/Operation": "",
           "lineItem/UsageAmount": "1.0", "lineItem/UnblendedCost": "0.32", "pricing/unit": "",
           "lineItem/LineItemDescription": "Tax for product code AmazonEC2", "lineItem/TaxType": "VAT"}


def make_aws_cur() -> None:
    h = CUR_HEADER
    rows = [cur_row(1), cur_row(2), cur_row(3, **CUR_TAX)]
    put("aws_cur_baseline.csv", csv_text(h, rows))
    put("aws_cur_missing_column.csv", csv_text([c for c in h if c != "lineItem/UsageAmount"], rows))
    renamed = [c if c != "lineItem/UnblendedCost" else "lineItem/UnBlendedCost" for c in h]
    put("aws_cur_renamed_column.csv",
        csv_text(renamed, [{("lineItem/UnBlendedCost" if k == "lineItem/UnblendedCost" else k): v
                            for k, v in r.items()} for r in rows]))
    put("aws_cur_bom_crlf.csv", b"\xef\xbb\xbf" + csv_text(h, rows, eol="\r\n").encode("utf-8"))
    put("aws_cur_latin1.csv",
        csv_text(h, [cur_row(1), cur_row(2, **{"bill/InvoicingEntity": "Amazon Web Services EMEA SARL, Zürich"})]),
        encoding="latin-1")
    put("aws_cur_header_only.csv", csv_text(h, [], eol="\r\n"))
    put("aws_cur_empty.csv", b"\n\n")                     # only blank lines
    put("aws_cur_line_item_types.csv", csv_text(h, [
        cur_row(1), cur_row(2, **{"lineItem/LineItemType": ""}),
        cur_row(3, **{"lineItem/LineItemType": "MarketplaceFee"}),
        cur_row(4, **{"lineItem/LineItemType": "NULL"})]))
    put("aws_cur_spreadsheet.csv", csv_text(h, [
        cur_row(1, **{"lineItem/UsageAmount": "1.2E+01", "lineItem/UnblendedCost": "1.9476E+01"}),
        cur_row(2, **{"lineItem/UsageStartDate": "02/07/2026 02:00", "lineItem/UsageEndDate": "02/07/2026 03:00"}),
        cur_row(3, **{"lineItem/UsageStartDate": "31/07/2026 00:00", "lineItem/UsageEndDate": "31/07/2026 01:00"})]))
    put("aws_cur_quantities.csv", csv_text(h, [
        cur_row(1, **{"lineItem/UsageAmount": "-1.0"}),
        cur_row(2, **{"lineItem/UsageAmount": "N/A"}),
        cur_row(3, **{"lineItem/UsageAmount": "one"}),
        cur_row(4, **{"lineItem/UnblendedCost": "NULL"}),
        cur_row(5, **{"lineItem/LineItemType": "Credit", "lineItem/UsageAmount": "-3", "lineItem/UnblendedCost": "-3"}),
        cur_row(6)]))
    put("aws_cur_unknown_unit.csv", csv_text(h, [cur_row(1, **{"pricing/unit": "Parsecs"}), cur_row(2)]))
    put("aws_cur_unknown_currency.csv", csv_text(h, [cur_row(1, **{"lineItem/CurrencyCode": "ZZZ"}), cur_row(2)]))
    put("aws_cur_zones.csv", csv_text(h, [
        cur_row(1, **{"lineItem/UsageStartDate": "2026-07-01T01:00:00", "lineItem/UsageEndDate": "2026-07-01T02:00:00"}),
        cur_row(2, **{"lineItem/UsageStartDate": "2026-07-01T01:30:00+02:00",
                      "lineItem/UsageEndDate": "2026-07-01T02:30:00+02:00"}),
        cur_row(3, **{"lineItem/UsageStartDate": "2026-07-03T03:00:00.000Z",
                      "lineItem/UsageEndDate": "2026-07-03T04:00:00.000+0000"})]))
    put("aws_cur_outside_period.csv", csv_text(h, [
        cur_row(1, **{"lineItem/UsageStartDate": "2026-09-30T23:00:00Z", "lineItem/UsageEndDate": "2026-10-01T00:00:00Z"}),
        cur_row(2, **{"lineItem/UsageStartDate": "2026-10-01T00:00:00Z", "lineItem/UsageEndDate": "2026-10-01T01:00:00Z"}),
        cur_row(3, **{"lineItem/UsageStartDate": "2026-06-30T23:00:00Z", "lineItem/UsageEndDate": "2026-07-01T00:00:00Z"})]))
    put("aws_cur_duplicate_line_items.csv", csv_text(h, [cur_row(1), cur_row(2), cur_row(1),
                                                         cur_row(1, **{"identity/TimeInterval": "other/interval"})]))
    # two delivered files concatenated (cat a.csv a.csv > b.csv): the header appears again mid-file
    once = csv_text(h, rows)
    put("aws_cur_concatenated.csv", once + once)
    text = csv_text(h, rows)
    put("aws_cur_truncated_last_line.csv", text[: text.rindex("Tax for product code")])
    gz = gzip.compress(csv_text(h, [cur_row(n) for n in range(1, 6)]).encode("utf-8"), mtime=0)
    put("aws_cur_truncated.csv.gz", gz[: len(gz) - 40])      # download cut short
    put("aws_cur_not_gzip.csv.gz", csv_text(h, rows))         # plain CSV with a .gz name
    put("aws_cur_not_parquet.parquet", b"PAR1" + b"\x00" * 64 + b"this is not a parquet file")
    make_cur2()


def cur2_table(rows: list[dict], drop: tuple = ()) -> pa.Table:
    import datetime as dt

    def ts(v):
        return None if v is None else dt.datetime.fromisoformat(v)

    cols = {
        "identity_line_item_id": pa.array([r["id"] for r in rows], pa.string()),
        "identity_time_interval": pa.array([r["interval"] for r in rows], pa.string()),
        "bill_payer_account_id": pa.array(["123456789012"] * len(rows), pa.string()),
        "line_item_usage_account_id": pa.array(["210987654321"] * len(rows), pa.string()),
        "line_item_line_item_type": pa.array([r.get("type", "Usage") for r in rows], pa.string()),
        "line_item_usage_start_date": pa.array([ts(r["start"]) for r in rows], pa.timestamp("ms", tz="UTC")),
        "line_item_usage_end_date": pa.array([ts(r["end"]) for r in rows], pa.timestamp("ms", tz="UTC")),
        "line_item_product_code": pa.array(["AmazonEC2"] * len(rows), pa.string()),
        "line_item_usage_type": pa.array(["EU-BoxUsage:p5.48xlarge"] * len(rows), pa.string()),
        "line_item_usage_amount": pa.array([r["amount"] for r in rows], pa.float64()),
        "line_item_currency_code": pa.array(["USD"] * len(rows), pa.string()),
        "line_item_unblended_cost": pa.array([r["cost"] for r in rows], pa.float64()),
        "pricing_unit": pa.array(["Hrs"] * len(rows), pa.string()),
        "product_instance_type": pa.array(["p5.48xlarge"] * len(rows), pa.string()),
        "product_region_code": pa.array(["eu-west-1"] * len(rows), pa.string()),
        "product": pa.array([[("product_name", "Amazon Elastic Compute Cloud"), ("region", "eu-west-1")]] * len(rows),
                            pa.map_(pa.string(), pa.string())),
        "resource_tags": pa.array([r.get("tags", []) for r in rows], pa.map_(pa.string(), pa.string())),
    }
    return pa.table({k: v for k, v in cols.items() if k not in drop})


def cur2(n: int, **kw) -> dict:
    r = {"id": f"cur2-{n:04d}", "interval": f"2026-07-{n:02d}T00:00:00Z/2026-07-{n:02d}T01:00:00Z",
         "start": f"2026-07-{n:02d}T00:00:00Z", "end": f"2026-07-{n:02d}T01:00:00Z", "amount": 1.0, "cost": 55.04,
         "tags": [("user_project", "llm")]}
    r.update(kw)
    return r


def make_cur2() -> None:
    put_parquet("aws_cur2_rows.parquet", cur2_table([
        cur2(1), cur2(2, amount=-1.0), cur2(3, amount=None), cur2(4, start=None),
        cur2(5, start="2026-10-05T00:00:00Z", end="2026-10-05T01:00:00Z"), cur2(1)]))
    put_parquet("aws_cur2_missing_column.parquet", cur2_table([cur2(1)], drop=("line_item_unblended_cost",)))
    # CUR 2.0 delivered as CSV: snake_case header, map columns as JSON text
    h = list(CUR2_COLUMNS)
    rows = []
    for n, tags in ((1, '{"user_project": "llm"}'), (2, "{'user_project': 'llm'}"), (3, "")):
        rows.append({
            "identity_line_item_id": f"cur2csv-{n}", "identity_time_interval":
            f"2026-08-0{n}T00:00:00Z/2026-08-0{n}T01:00:00Z", "bill_payer_account_id": "123456789012",
            "line_item_usage_account_id": "210987654321", "line_item_line_item_type": "Usage",
            "line_item_usage_start_date": f"2026-08-0{n}T00:00:00Z", "line_item_usage_end_date":
            f"2026-08-0{n}T01:00:00Z", "line_item_product_code": "AmazonEC2",
            "line_item_usage_type": "EU-BoxUsage:g5.4xlarge", "line_item_usage_amount": "1",
            "line_item_currency_code": "USD", "line_item_unblended_cost": "1.623", "pricing_unit": "Hrs",
            "product_instance_type": "g5.4xlarge", "product_region_code": "eu-west-1", "resource_tags": tags})
    put("aws_cur2_csv_tags.csv", csv_text(h, rows))


# --- Azure cost details ------------------------------------------------------------------------------------------

def az_row(n: int, **kw) -> dict:
    row = {
        "BillingAccountId": "8611537", "BillingAccountName": "Corpus Ltd", "BillingPeriodStartDate": "07/01/2026",
        "BillingPeriodEndDate": "07/31/2026", "BillingProfileId": "8611537", "BillingProfileName": "Corpus Ltd",
        "AccountOwnerId": "owner@example.com", "AccountName": "ML", "SubscriptionId":
        "00000000-0000-0000-0000-000000000001", "SubscriptionName": "ml-prod", "Date": f"07/{n:02d}/2026",
        "Product": "Virtual Machines NCads A100 v4 Series - NC24ads A100 v4 - West Europe", "PartNumber": "AAH-00001",
        "MeterId": "00000000-0000-0000-0000-0000000000aa", "ServiceFamily": "Compute",
        "MeterCategory": "Virtual Machines", "MeterSubCategory": "NCads A100 v4 Series", "MeterRegion": "EU West",
        "MeterName": "NC24ads A100 v4", "Quantity": "24", "EffectivePrice": "3.673", "Cost": "88.152",
        "UnitPrice": "3.673", "BillingCurrency": "EUR", "ResourceLocation": "westeurope", "AvailabilityZone": "",
        "ConsumedService": "Microsoft.Compute", "ResourceId": "/subscriptions/0001/resourceGroups/ml/providers/"
        f"Microsoft.Compute/virtualMachines/gpu-{n}", "ResourceName": f"gpu-{n}", "AdditionalInfo":
        '{"ServiceType": "Standard_NC24ads_A100_v4"}', "Tags": '"project": "llm"', "CostCenter": "ML",
        "UnitOfMeasure": "1 Hour", "ResourceGroup": "ml", "OfferId": "MS-AZR-0017P", "IsAzureCreditEligible": "True",
        "PublisherName": "Microsoft", "ChargeType": "Usage", "Frequency": "UsageBased", "PublisherType": "Azure",
        "PayGPrice": "3.673", "PricingModel": "OnDemand"}
    row.update(kw)
    return row


def make_azure() -> None:
    h = AZURE_EA_HEADER
    rows = [az_row(1), az_row(2), az_row(3)]
    put("azure_cost_baseline_bom.csv", b"\xef\xbb\xbf" + csv_text(h, rows).encode("utf-8"))
    put("azure_cost_header_only.csv", b"\xef\xbb\xbf" + csv_text(h, []).encode("utf-8"))
    put("azure_cost_missing_column.csv", csv_text([c for c in h if c != "UnitOfMeasure"], rows, eol="\r\n"))
    # MCA camelCase header, ISO dates, "costInBillingCurrency"
    mca = [c[0].lower() + c[1:] for c in h]
    mca[mca.index("cost")] = "costInBillingCurrency"
    put("azure_cost_mca_camel_case.csv", csv_text(mca, [
        [az_row(1, Date="2026-07-01").get(c, "") for c in h],
        [az_row(2, Date="2026-07-02T00:00:00Z").get(c, "") for c in h],
        [az_row(3, Date="2026-07-03T13:00:00").get(c, "") for c in h]]))
    put("azure_cost_day_first_dates.csv", csv_text(h, [
        az_row(1), az_row(2, Date="31/08/2026"), az_row(3, Date="12/08/2026"), az_row(4, Date="2026/07/04"),
        az_row(5, Date="7/5/2026")], eol="\r\n"))
    # the same, with an annual period: 08/09/2026 (8 September, day first) falls inside the period either way
    put("azure_cost_day_first_annual.csv", csv_text(h, [
        az_row(1, Date="31/08/2026"), az_row(2, Date="08/09/2026"), az_row(3, Date="03/02/2026")], eol="\r\n"))
    put("azure_cost_charge_types.csv", csv_text(h, [
        az_row(1), az_row(2, ChargeType="Marketplace"), az_row(3, ChargeType=""),
        az_row(4, ChargeType="UnusedReservation", PricingModel="Reservation"),
        az_row(5, ChargeType="Refund", Quantity="-24", Cost="-88.152")]))
    put("azure_cost_quantities.csv", csv_text(h, [
        az_row(1, Quantity="1,234.5"), az_row(2, Quantity="0,5"), az_row(3, Quantity="-24"),
        az_row(4, Quantity="2.4E+01", Cost="8.8152E+01"), az_row(5, Cost="N/A"), az_row(6)]))
    put("azure_cost_unknown_unit.csv", csv_text(h, [
        az_row(1, UnitOfMeasure="1 Fortnight"), az_row(2, UnitOfMeasure="10 Hours", Quantity="2.4")]))
    put("azure_cost_unknown_currency.csv", csv_text(h, [az_row(1, BillingCurrency="€"), az_row(2)]))
    put("azure_cost_utf16.csv", csv_text(h, rows, eol="\r\n"), encoding="utf-16")
    put("azure_cost_outside_period.csv", csv_text(h, [
        az_row(1, Date="06/30/2026"), az_row(2), az_row(3, Date="10/01/2026"), az_row(4, Date="09/30/2026")]))
    put("azure_cost_identical_rows.csv", csv_text(h, rows + rows))
    text = csv_text(h, rows, eol="\r\n")
    put("azure_cost_truncated_last_line.csv", text[: text.rindex("Standard_NC24ads") + 8])
    put("azure_cost_not_parquet.parquet", b"\x00" * 16 + b"binary junk, not parquet")


# --- GCP billing -------------------------------------------------------------------------------------------------

def gcp_rec(n: int, **kw) -> dict:
    rec = {"billing_account_id": "01ABCD-234567-89EF01", "service.id": "6F81-5844-456A",
           "service.description": "Compute Engine", "sku.id": "F449-33EC-A5EF",
           "sku.description": "Nvidia Tesla A100 GPU running in Americas",
           "usage_start_time": f"2026-07-{n:02d} 00:00:00 UTC", "usage_end_time": f"2026-07-{n:02d} 01:00:00 UTC",
           "project.id": "p-train", "project.number": "123456789", "project.name": "Training",
           "labels": json.dumps([{"key": "project", "value": "llm"}]),
           "system_labels": json.dumps([{"key": "compute.googleapis.com/machine_spec", "value": "a2-highgpu-1g"}]),
           "location.location": "us-central1", "location.country": "US", "location.region": "us-central1",
           "location.zone": "us-central1-a", "cost": "2.93", "currency": "USD", "usage.amount": "3600",
           "usage.unit": "seconds", "usage.amount_in_pricing_units": "1", "usage.pricing_unit": "hour",
           "credits": "[]", "cost_type": "regular"}
    rec.update(kw)
    return rec


def nest(rec: dict) -> dict:
    out: dict = {}
    for k, v in rec.items():
        if "." in k:
            top, sub = k.split(".", 1)
            out.setdefault(top, {})[sub] = v
        elif k in ("labels", "system_labels", "credits"):
            out[k] = json.loads(v)
        else:
            out[k] = v
    out["cost"] = float(out["cost"])
    out["usage"]["amount"] = float(out["usage"]["amount"])
    return out


def make_gcp() -> None:
    h = GCP_HEADER
    put("gcp_billing_baseline.csv", csv_text(h, [gcp_rec(1), gcp_rec(2), gcp_rec(3, cost_type="tax", **{
        "usage.amount": "", "usage.unit": "", "sku.description": "Tax"})]))
    under = [c.replace(".", "_") for c in h]
    put("gcp_billing_underscore_header.csv", csv_text(under, [[gcp_rec(n)[c] for c in h] for n in (1, 2)]))
    put("gcp_billing_missing_column.csv", csv_text([c for c in h if c != "usage.unit"], [gcp_rec(1)]))
    put("gcp_billing_zones.csv", csv_text(h, [
        gcp_rec(1, usage_start_time="2026-06-30T17:00:00-07:00", usage_end_time="2026-06-30T18:00:00-07:00"),
        gcp_rec(2, usage_start_time="2026-07-02 00:00:00", usage_end_time="2026-07-02 01:00:00"),
        gcp_rec(3, usage_start_time="2026-09-30 16:00:00 PDT", usage_end_time="2026-09-30 17:00:00 PDT")]))
    put("gcp_billing_values.csv", csv_text(h, [
        gcp_rec(1, cost_type="credit"), gcp_rec(2, **{"usage.amount": "-3600"}),
        gcp_rec(3, **{"usage.amount": "3.6E+03", "cost": "2.93E+00"}), gcp_rec(4, cost="NULL"),
        gcp_rec(5, **{"usage.unit": "fortnights"}), gcp_rec(6, labels="[{bad json")]))
    put("gcp_billing_unknown_currency.csv", csv_text(h, [gcp_rec(1, currency="ZZZ"), gcp_rec(2, currency="")]))
    lines = [json.dumps(nest(gcp_rec(n))) for n in (1, 2, 3)]
    put("gcp_billing_truncated.jsonl", "\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])
    put("gcp_billing_duplicate_rows.jsonl", "\n".join(lines + lines) + "\n")
    put("gcp_billing_latin1.csv", csv_text(h, [gcp_rec(1, **{"project.name": "Entraînement"})]), encoding="latin-1")


# --- OCI cost reports --------------------------------------------------------------------------------------------

def oci_row(n: int, **kw) -> dict:
    row = {
        "lineItem/referenceNo": f"{n:032x}", "lineItem/tenantId": "ocid1.tenancy.oc1..corpustenancy0001",
        "lineItem/intervalUsageStart": f"2026-07-{n:02d}T10:00Z", "lineItem/intervalUsageEnd":
        f"2026-07-{n:02d}T11:00:00Z", "product/service": "COMPUTE", "product/compartmentId":
        "ocid1.compartment.oc1..corpusml", "product/compartmentName": "ml", "product/region": "eu-frankfurt-1",
        "product/availabilityDomain": "fra-ad-1", "product/resourceId": f"ocid1.instance.oc1.eu-frankfurt-1.gpu{n}",
        "usage/billedQuantity": "8.000000000000000000", "cost/subscriptionId": "ocid1.subscription.oc1..corpus",
        "cost/productSku": "B98415", "product/Description": "Compute - GPU - H100",
        "cost/unitPrice": "10.000000000000000000", "cost/myCost": "80.000000000000000000", "cost/currencyCode": "USD",
        "cost/billingUnitReadable": "1 NONE HOURS GPU", "cost/skuUnitDescription": "GPU Per Hour",
        "cost/overageFlag": "false", "lineItem/isCorrection": "false", "lineItem/backreferenceNo": "",
        "tags/Finance.CostCenter": "ml-42", "tags/Dev\\ml-platform.release": "r1"}
    row.update(kw)
    return row


def make_oci() -> None:
    h = OCI_HEADER
    rows = [oci_row(1), oci_row(2), oci_row(3)]
    put("oci_cost_baseline_crlf.csv", csv_text(h, rows, eol="\r\n"))
    put("oci_cost_missing_column.csv", csv_text([c for c in h if c != "cost/myCost"], rows, eol="\r\n"))
    put("oci_cost_duplicate_reference.csv", csv_text(h, [oci_row(1), oci_row(2), oci_row(1), oci_row(1, **{
        "usage/billedQuantity": "9"})], eol="\r\n"))
    put("oci_cost_values.csv", csv_text(h, [
        oci_row(1, **{"usage/billedQuantity": "-8"}), oci_row(2, **{"usage/billedQuantity": "NULL"}),
        oci_row(3, **{"cost/myCost": "8.0E+01"}), oci_row(4, **{"lineItem/intervalUsageStart": "13/07/2026 10:00"}),
        oci_row(5, **{"lineItem/isCorrection": "true", "lineItem/backreferenceNo": "17053",
                      "usage/billedQuantity": "-8", "cost/myCost": "-80"}),
        oci_row(6, **{"cost/billingUnitReadable": "1 NONE FORTNIGHTS GPU"})], eol="\r\n"))
    put("oci_cost_unknown_currency.csv", csv_text(h, [oci_row(1, **{"cost/currencyCode": "QQQ"}), oci_row(2)],
                                                  eol="\r\n"))
    put("oci_cost_not_gzip.csv.gz", csv_text(h, rows, eol="\r\n"))   # the browser already unpacked it
    put("oci_cost_zones.csv", csv_text(h, [
        oci_row(1, **{"lineItem/intervalUsageStart": "2026-07-01T01:00+02:00",
                      "lineItem/intervalUsageEnd": "2026-07-01T02:00:00+02:00"}),
        oci_row(2, **{"lineItem/intervalUsageStart": "2026-07-02T10:00", "lineItem/intervalUsageEnd":
                      "2026-07-02T11:00:00"})], eol="\r\n"))
    put("oci_cost_latin1_tag.csv", csv_text(h, [oci_row(1, **{"tags/Finance.CostCenter": "Forschung-Köln"})]),
        encoding="latin-1")


# --- provider carbon ---------------------------------------------------------------------------------------------

def aws_c(**kw) -> dict:
    row = {"last_refresh_timestamp": "2026-08-05 10:00:00Z", "location": "EU (Ireland)", "model_version": "v3.0.0",
           "payer_account_id": "123456789012", "product_code": "AmazonEC2", "region_code": "eu-west-1",
           "total_lbm_emissions_unit": "MTCO2e", "total_lbm_emissions_value": "0.123",
           "total_mbm_emissions_unit": "MTCO2e", "total_mbm_emissions_value": "0.045",
           "usage_account_id": "210987654321", "usage_period_end": "2026-08-01 00:00:00Z",
           "usage_period_start": "2026-07-01 00:00:00Z"}
    row.update(kw)
    return row


AUG = {"usage_period_start": "2026-08-01 00:00:00Z", "usage_period_end": "2026-09-01 00:00:00Z",
       "last_refresh_timestamp": "2026-09-05 10:00:00Z"}
SEP = {"usage_period_start": "2026-09-01 00:00:00Z", "usage_period_end": "2026-10-01 00:00:00Z",
       "last_refresh_timestamp": "2026-10-05 10:00:00Z"}


def make_aws_carbon() -> None:
    h = AWS_CARBON_HEADER
    put("aws_carbon_units.csv", csv_text(h, [
        aws_c(), aws_c(product_code="AmazonS3", total_lbm_emissions_unit="lbsCO2e", total_mbm_emissions_unit="lbsCO2e"),
        aws_c(product_code="AmazonRDS", total_lbm_emissions_unit="kgCO2e", total_lbm_emissions_value="12.5",
              total_mbm_emissions_unit="kgCO2e", total_mbm_emissions_value="4"),
        aws_c(product_code="AWSLambda", total_lbm_emissions_unit="", total_mbm_emissions_unit="")]))
    put("aws_carbon_missing_column.csv", csv_text([c for c in h if c != "usage_period_start"], [aws_c()]))
    put("aws_carbon_redelivered.csv", csv_text(h, [aws_c(), aws_c(**AUG)] * 2))
    put("aws_carbon_spreadsheet.csv", csv_text(h, [
        aws_c(total_lbm_emissions_value="1.23E-01", total_mbm_emissions_value="4.5E-02"),
        aws_c(product_code="AmazonS3", usage_period_start="01/08/2026 00:00", usage_period_end="01/09/2026 00:00"),
        aws_c(product_code="AmazonRDS", total_lbm_emissions_value="N/A", total_mbm_emissions_value="NULL"),
        aws_c(product_code="AWSGlue", total_lbm_emissions_value="-0.01")]))
    put("aws_carbon_outside_period.csv", csv_text(h, [
        aws_c(), aws_c(**SEP), aws_c(usage_period_start="2026-10-01 00:00:00Z", usage_period_end="2026-11-01 00:00:00Z"),
        aws_c(usage_period_start="2026-06-01 00:00:00Z", usage_period_end="2026-07-01 00:00:00Z")]))
    put("aws_carbon_refresh_conflict.csv", csv_text(h, [
        aws_c(), aws_c(total_lbm_emissions_value="0.999"),
        aws_c(last_refresh_timestamp="2026-08-02 09:00:00Z", total_lbm_emissions_value="0.1"),
        aws_c(product_code="AmazonS3", last_refresh_timestamp=""), aws_c(product_code="AmazonS3")]))
    recs = [aws_c(), aws_c(**AUG)]
    put("aws_carbon_truncated.jsonl", json.dumps(recs[0]) + "\n" + json.dumps(recs[1])[:60])


def gcp_c(**kw) -> dict:
    row = {"usage_month": "2026-07-01", "billing_account_id": "01ABCD-234567-89EF01", "project.id": "p-train",
           "project.number": "123456789", "service.id": "6F81-5844-456A", "service.description": "Compute Engine",
           "location.location": "us-central1", "location.region": "us-central1", "carbon_model_version": "12",
           "carbon_footprint_total_kgCO2e.after_offsets": "", "carbon_footprint_total_kgCO2e.market_based": "40.5",
           "carbon_footprint_total_kgCO2e.location_based": "120.25", "carbon_footprint_kgCO2e.scope1": "1.0",
           "carbon_footprint_kgCO2e.scope2.location_based": "110.0", "carbon_footprint_kgCO2e.scope2.market_based":
           "30.25", "carbon_footprint_kgCO2e.scope3": "9.25"}
    row.update(kw)
    return row


def make_gcp_carbon() -> None:
    h = GCP_CARBON_HEADER
    under = [c.replace(".", "_") for c in h]
    put("gcp_carbon_underscore_header.csv", csv_text(under, [[gcp_c()[c] for c in h],
                                                           [gcp_c(usage_month="2026-08-01")[c] for c in h]]))
    put("gcp_carbon_values.csv", csv_text(h, [
        gcp_c(), gcp_c(**{"carbon_footprint_total_kgCO2e.location_based": "-3",
                          "carbon_footprint_total_kgCO2e.market_based": "-1"}),
        gcp_c(**{"carbon_footprint_total_kgCO2e.location_based": "N/A",
                 "carbon_footprint_total_kgCO2e.market_based": "NULL"}),
        gcp_c(usage_month="01/08/2026"), gcp_c(usage_month="2026-10-01"),
        gcp_c(**{"carbon_footprint_total_kgCO2e.location_based": "1.2025E+02"})]))
    put("gcp_carbon_infinite.csv", csv_text(h, [
        gcp_c(), gcp_c(**{"carbon_footprint_total_kgCO2e.location_based": "Infinity",
                          "carbon_footprint_total_kgCO2e.market_based": "inf"})]))
    put("gcp_carbon_missing_column.csv", csv_text([c for c in h if c != "usage_month"], [gcp_c()]))
    lines = [json.dumps(nest_carbon(gcp_c(usage_month=m))) for m in ("2026-07-01", "2026-08-01", "2026-09-01")]
    put("gcp_carbon_truncated.jsonl", "\n".join(lines[:2]) + "\n" + lines[2][:70])
    put("gcp_carbon_not_parquet.parquet", "\n".join(lines) + "\n")


def nest_carbon(rec: dict) -> dict:
    out: dict = {}
    for k, v in rec.items():
        parts = k.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = (float(v) if v else None) if k.startswith("carbon_footprint") else v
    return out


def az_c(scope: int, value: str = "0.01", **kw) -> dict:
    row = {"dateKey": "20260701", "enrollmentId": "12345678", "orgName": "Corpus", "subscriptionId": "sub-a",
           "subscriptionName": "Training", "azureServiceName": "Virtual Machines", "subService": "Azure Compute",
           "azureRegionName": "West Europe", "scope": f"Scope {scope}", "scopeId": str(scope), "totalEmissions": value}
    row.update(kw)
    return row


def make_azure_carbon() -> None:
    h = AZURE_CARBON_HEADER
    put("azure_carbon_scopes.csv", csv_text(h, [
        az_c(1), az_c(2), az_c(3),
        az_c(1, subscriptionId="sub-b"), az_c(2, subscriptionId="sub-b"), az_c(4, subscriptionId="sub-b"),
        az_c(1, subscriptionId="sub-c", value="-0.5"), az_c(3, subscriptionId="sub-c")]))
    put("azure_carbon_redelivered.csv", csv_text(h, [az_c(1), az_c(2), az_c(3)] * 2))
    put("azure_carbon_datekey.csv", csv_text(h, [
        az_c(1), az_c(1, dateKey="2.02607E+07", subscriptionId="sub-b"),
        az_c(1, dateKey="01/08/2026", subscriptionId="sub-c"), az_c(1, dateKey="202608", subscriptionId="sub-d"),
        az_c(1, dateKey="20261001", subscriptionId="sub-e")]))
    put("azure_carbon_odata.json", json.dumps({"value": [az_c(1), az_c(2), "not a record", az_c(3)]}))
    put("azure_carbon_empty.json", "   \n")
    put("azure_carbon_missing_column.csv", csv_text([c for c in h if c != "totalEmissions"], [az_c(1)]))
    put("azure_carbon_utf16.csv", csv_text(h, [az_c(1)]), encoding="utf-16")


if __name__ == "__main__":
    for make in (make_focus, make_aws_cur, make_azure, make_gcp, make_oci, make_aws_carbon, make_gcp_carbon,
                 make_azure_carbon):
        make()
    print(len([p for p in HERE.iterdir() if not p.name.startswith(("_", "expected", "README"))]), "files")
