"""Google Cloud Carbon Footprint export (BigQuery table ``carbon_footprint``) -> canonical provider-carbon frame.

Source read (2026): Google Cloud "Carbon Footprint export data schema"
(cloud.google.com/carbon-footprint/docs/data-schema) and "Export your carbon footprint"
(cloud.google.com/carbon-footprint/docs/export):
    usage_month (DATE, "Month during which this usage occurred", e.g. 2021-10-01), billing_account_id,
    project.id (NULL when the data is not associated with a project or the project was deleted),
    project.number, service.id, service.description, location.location (country / region / zone),
    location.region, carbon_model_version (INTEGER),
    carbon_footprint_kgCO2e.scope1, .scope2.location_based, .scope2.market_based, .scope3,
    carbon_footprint_total_kgCO2e.location_based ("scope 1 + scope 2 location-based + scope 3"),
    carbon_footprint_total_kgCO2e.market_based ("scope 1 + scope 2 market-based + scope 3"),
    carbon_footprint_total_kgCO2e.after_offsets ("Currently set to NULL") - all in kg CO2e.
    The transfer writes a monthly partitioned table; each month's data is added on the 15th of the next month.

The table is nested (RECORD columns). Accepted files: JSON lines / NEWLINE_DELIMITED_JSON (nested objects
flattened to the dotted names above), Parquet (struct columns flattened the same way) and CSV whose headers are
the dotted names. BigQuery cannot export nested records to CSV, so a CSV comes from a query; headers written with
``_`` for ``.`` (``project_id``, ``carbon_footprint_total_kgCO2e_location_based``) are accepted too (an
accommodation, not a documented format).

Mapping (the company's Scope 3 Cat 1 figure is the provider's total: scope 1 + 2 + 3 attributed to the customer):
    carbon_footprint_total_kgCO2e.location_based -> location_based_kg_co2e  (kg, no conversion)
    carbon_footprint_total_kgCO2e.market_based   -> market_based_kg_co2e    (empty if the column is absent)
    project.id (else project.number)             -> account_id   (empty when Google attributes no project)
    service.description (else service.id)        -> service
    location.region (else location.location)     -> region
    usage_month                                  -> month (YYYY-MM)
    carbon_model_version                         -> model_version
If a file has no ``carbon_footprint_total_kgCO2e.*`` column for a basis but has all three documented components
(scope1, scope2.<basis>, scope3), the total is their sum, as the schema defines it (noted).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, to_number, to_utc
from pipeline.sources.aws_carbon import column, finish, read_table

KIND = "gcp_carbon"
FAMILY = "provider_carbon"
TOTAL = "carbon_footprint_total_kgCO2e"
PARTS = "carbon_footprint_kgCO2e"
REQUIRED = ["usage_month", "billing_account_id", "project.id", "service.description", "location.region",
            "carbon_model_version", f"{TOTAL}.location_based"]
KNOWN = REQUIRED + ["project.number", "service.id", "location.location", f"{TOTAL}.market_based",
                    f"{TOTAL}.after_offsets", f"{PARTS}.scope1", f"{PARTS}.scope2.location_based",
                    f"{PARTS}.scope2.market_based", f"{PARTS}.scope3"]
KNOWN_COLUMNS = KNOWN      # the documented columns: never suggested as a rename for another (ingest_file.header_check)
SOURCE_COLUMNS = {"month": "usage_month", "month_mid_utc": "usage_month",
                  "location_based_kg_co2e": f"{TOTAL}.location_based",
                  "market_based_kg_co2e": f"{TOTAL}.market_based", "has_figure": f"{TOTAL}.location_based"}


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return "usage_month" in cols and any(c.startswith((TOTAL, PARTS)) for c in cols)


def read_raw(path: Path) -> RawTable:
    raw = read_table(path, what="Google Cloud Carbon Footprint export")
    # CSV written by a query may use '_' where the schema has '.'
    renames = {name.replace(".", "_"): name for name in KNOWN if "." in name}
    present = set(raw.frame.columns)
    mapping = {old: new for old, new in renames.items() if old in present and new not in present}
    if mapping:
        raw.frame = raw.frame.rename(columns=mapping)
    return raw


def _basis(f: pd.DataFrame, basis: str) -> tuple[pd.Series, bool]:
    """(kg CO2e for the basis, summed from components?)"""
    total = f"{TOTAL}.{basis}"
    if total in f.columns:
        return to_number(f[total]), False
    parts = [f"{PARTS}.scope1", f"{PARTS}.scope2.{basis}", f"{PARTS}.scope3"]
    if all(p in f.columns for p in parts):
        s1, s2, s3 = (to_number(f[p]) for p in parts)
        return s1 + s2 + s3, True
    return pd.Series(float("nan"), index=f.index, dtype="float64"), False


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["provider"] = "gcp"
    out["account_id"] = column(f, "project.id", "project.number")
    out["region"] = column(f, "location.region", "location.location")
    out["service"] = column(f, "service.description", "service.id")
    month = to_utc(column(f, "usage_month"), assume_zone="UTC")
    out["month"] = month.dt.strftime("%Y-%m").astype("string")
    lb, lb_summed = _basis(f, "location_based")
    mb, mb_summed = _basis(f, "market_based")
    out["location_based_kg_co2e"] = lb
    out["market_based_kg_co2e"] = mb
    out["model_version"] = column(f, "carbon_model_version")
    out["billing_account_id"] = column(f, "billing_account_id")
    notes = []
    for summed, basis in ((lb_summed, "location-based"), (mb_summed, "market-based")):
        if summed:
            notes.append(f"{basis} total summed from scope1 + scope2 + scope3 (no total column in the file)")
    if f"{TOTAL}.market_based" not in f.columns and not mb_summed:
        notes.append("no market-based figure in this export (column absent): market_based_kg_co2e left empty")
    # counted over the rows read (a row the reader found malformed is quarantined, not kept)
    readable = ~out.index.isin(list(raw.malformed))
    no_project = int((out["account_id"].isna() & readable).sum())
    if no_project:
        notes.append(f"{no_project} row(s) with no project (project.id and project.number empty): kept with an "
                     "empty account_id")
    return Parsed(frame=finish(out), notes=notes)
