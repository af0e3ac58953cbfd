"""Microsoft Azure emissions (Emissions Impact Dashboard for Azure / Microsoft Cloud for Sustainability API,
``EnrollmentEmission`` entity) -> canonical provider-carbon frame. CSV, CSV.gz, Parquet, JSON lines, or the OData
JSON response (``{"value": [...]}``).

Sources read (2026):
- Microsoft Learn, "Cloud for Sustainability API (preview) OData query examples"
  (learn.microsoft.com/industry/sustainability/api-odata) and the REST reference "O Data - Emissions By
  Enrollment": EnrollmentEmission = ``dateKey`` (int32, "date in yyyymmdd format; dd is always 01"),
  ``enrollmentId`` (billing account id), ``orgName``, ``subscriptionId``, ``subscriptionName``,
  ``azureServiceName``, ``subService`` (e.g. Azure Storage, Azure Compute), ``azureRegionName``, ``scope``
  (greenhouse gas scope, e.g. Scope 1, Scope 2 or Scope 3), ``scopeId`` (int32), ``totalEmissions``
  (double, "total emissions of the record (mtCO2e)"). One row per scope.
- "Microsoft Cloud for Sustainability API calculation methodology" (learn.microsoft.com/industry/sustainability/
  api-calculation-method): scope 1, 2 and 3 of Microsoft's datacenters attributed to the customer's usage; Scope 3
  = Microsoft's categories 1, 2, 4, 5, 9, 12 (hardware manufacture, transport, end of life).
- Microsoft Tech Community announcement of the MCfS API (April 2023): "Scope 2 ... This calculation is
  market-based, meaning that it takes into account Microsoft's renewable energy power purchases."

Decision: the company's Scope 3 Category 1 figure is everything Microsoft attributes to the customer, so the
Scope 1, 2 and 3 rows of one enrollment x subscription x service x sub-service x region x month are summed into one
row (the first of them carries the sum; the others are listed in ``Parsed.folded``: read, accepted, counted once).
Scope 2 is market-based, so the sum goes to ``market_based_kg_co2e``; Microsoft gives no location-based
figure, so ``location_based_kg_co2e`` stays empty (never derived). Units: mtCO2e x 1000 -> kg.
A scope row that cannot be summed (scope not 1/2/3, emissions missing, unreadable or negative) is quarantined
together with the other scope rows of its key, because the sum would be incomplete; a scope repeated within a key
(re-delivered row) is quarantined, the first kept.

Mapping: subscriptionId -> account_id; azureServiceName -> service (subService kept as ``sub_service``);
azureRegionName -> region; dateKey (20240101, also 202401 / 2024-01-01 / 2024-01) -> month; no model version in
the entity (model_version empty). Extra column ``scopes`` lists the scopes summed (e.g. "1;2;3").

Not verified: the column set of the Azure portal "Carbon optimization" CSV export and the Carbon Optimization
REST API (``latestMonthEmissions`` in kgCO2E, one item per category type) - not supported by this adapter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, to_number
from pipeline.sources.aws_carbon import column, finish, read_table

KIND = "azure_carbon"
FAMILY = "provider_carbon"
REQUIRED = ["dateKey", "subscriptionId", "azureServiceName", "azureRegionName", "scope", "totalEmissions"]
SOURCE_COLUMNS = {"month": "dateKey", "month_mid_utc": "dateKey", "has_figure": "totalEmissions"}
KG_PER_MTCO2E = 1000.0
_SCOPE = re.compile(r"^\s*(?:scope\s*)?([123])\s*$", re.I)
_DATEKEY = re.compile(r"^\s*(\d{4})-?(\d{2})(?:-?(\d{2}))?(?:[T ].*)?\s*$")


def sniff(columns: list[str]) -> bool:
    return {"dateKey", "subscriptionId", "totalEmissions"} <= set(columns)


def read_raw(path: Path) -> RawTable:
    return read_table(path, what="Azure emissions export (Emissions Impact Dashboard / Cloud for Sustainability)")


def month_from_datekey(value: object) -> object:
    if not isinstance(value, str):
        return pd.NA
    m = _DATEKEY.match(value)
    if not m:
        return pd.NA
    year, month = int(m.group(1)), int(m.group(2))
    if not (1900 <= year < 2200 and 1 <= month <= 12):
        return pd.NA
    return f"{year:04d}-{month:02d}"


def scope_number(scope: object, scope_id: object) -> object:
    for text in (scope, scope_id):
        if isinstance(text, str):
            m = _SCOPE.match(re.sub(r"\.0+$", "", text.strip()))
            if m:
                return int(m.group(1))
    return pd.NA


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["provider"] = "azure"
    out["account_id"] = column(f, "subscriptionId")
    out["region"] = column(f, "azureRegionName")
    out["service"] = column(f, "azureServiceName")
    out["sub_service"] = column(f, "subService")
    out["enrollment_id"] = column(f, "enrollmentId")
    out["billing_account_id"] = out["enrollment_id"]
    out["month"] = column(f, "dateKey").map(month_from_datekey).astype("string")
    out["model_version"] = pd.Series(pd.NA, index=f.index, dtype="string")
    scope_text = column(f, "scope")
    scope_id = column(f, "scopeId")
    scope = pd.Series([scope_number(a if not pd.isna(a) else None, b if not pd.isna(b) else None)
                       for a, b in zip(scope_text, scope_id)], index=f.index, dtype="Int64")
    kg = to_number(f["totalEmissions"]) * KG_PER_MTCO2E if "totalEmissions" in f.columns else \
        pd.Series(float("nan"), index=f.index)
    out["location_based_kg_co2e"] = float("nan")
    out["market_based_kg_co2e"] = kg

    quarantine: dict = {}
    folded: dict = {}
    row_no = f["source_row"].astype("int64")
    raw_scope = scope_text.fillna(scope_id).fillna("")
    raw_value = column(f, "totalEmissions")

    def bad_reason(i) -> str | None:
        if pd.isna(scope[i]):
            return f"scope '{raw_scope[i][:40]}' is not Scope 1, 2 or 3"
        if pd.isna(kg[i]):
            return f"totalEmissions '{'' if pd.isna(raw_value[i]) else str(raw_value[i])[:40]}' is missing or not a number"
        if kg[i] < 0:
            return f"totalEmissions {raw_value[i]} is negative"
        return None

    key_cols = ["enrollment_id", "account_id", "service", "sub_service", "region", "month"]
    keyed = out[out["month"].notna()]
    groups = keyed[key_cols].fillna("\x00").groupby(key_cols, sort=False).groups
    carriers: dict = {}
    for idx in groups.values():
        members = sorted(idx)
        bad = {i: r for i in members if (r := bad_reason(i))}
        if bad:
            for i, reason in bad.items():
                quarantine[i] = [("scope_row_unreadable", reason)]
            bad_rows = ", ".join(str(row_no[i]) for i in bad)
            for i in members:
                if i not in bad:
                    quarantine[i] = [("scope_sum_incomplete",
                                      f"another scope row of the same subscription/service/region/month (row "
                                      f"{bad_rows}) is quarantined, so the Scope 1+2+3 total would be incomplete")]
            continue
        seen: dict = {}
        for i in members:
            s = int(scope[i])
            if s in seen:
                quarantine[i] = [("duplicate_scope_row",
                                  f"repeats Scope {s} of row {row_no[seen[s]]} for the same subscription/service/"
                                  "region/month (re-delivered row? first kept)")]
            else:
                seen[s] = i
        good = list(seen.values())
        carrier = good[0]
        carriers[carrier] = good
        for i in good[1:]:
            folded[i] = (carrier, f"Scope {int(scope[i])} figure summed into row {row_no[carrier]} (Scope 1+2+3 total)")

    # rows without a readable month are not summed: each stays as it is (the row suite quarantines it)
    for i in out.index[out["month"].isna()]:
        reason = bad_reason(i)
        if reason:
            quarantine[i] = [("scope_row_unreadable", reason)]

    kept = out.drop(index=list(folded))
    scopes = scope.reindex(kept.index).map(lambda s: "" if pd.isna(s) else str(int(s))).astype("string")
    rows_text = kept["source_row"].astype("int64").astype(str)
    for c, good in carriers.items():
        kept.at[c, "market_based_kg_co2e"] = float(sum(kg[i] for i in good))
        order = sorted(good, key=lambda i: int(scope[i]))
        scopes[c] = ";".join(str(int(scope[i])) for i in order)
        rows_text[c] = ";".join(str(row_no[i]) for i in sorted(good, key=lambda i: row_no[i]))
    kept["scopes"] = scopes
    kept["source_rows"] = rows_text.astype("string")
    notes = ["Azure gives Scope 2 market-based only: market_based_kg_co2e = Scope 1 + 2 + 3; "
             "location_based_kg_co2e left empty"] if len(f) else []
    if folded:
        notes.insert(0, f"{len(folded)} scope row(s) summed into the first scope row of the same "
                        "subscription/service/region/month (folded, counted once)")
    return Parsed(frame=finish(kept), quarantine=quarantine, folded=folded, notes=notes)
