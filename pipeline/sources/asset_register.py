"""Capital-goods asset register CSV -> canonical asset frame (Scope 3 Category 2 input).

Columns are found by header name (order free, extra columns kept in the raw frame only):

    asset_id                     required; unique within the file (a repeat is quarantined, first kept)
    description                  required column; the value may be empty
    asset_class                  gpu | server | network | storage | other (case-insensitive)
    quantity                     units acquired; must be a number above 0 (disposals are not Category 2)
    acquisition_date             YYYY-MM-DD: the date control / ownership passed to the company
    embodied_kg_co2e_per_unit    cradle-to-gate kg CO2e per unit (supplier PCF / EPD, or a cited estimate); above 0
    factor_source                citation for the embodied factor: required on every row
    site                         optional: site id where the asset is installed
    cost, currency               optional: purchase cost and its ISO currency (not used in any emission figure)
    accelerator_model            optional: hardware catalogue name of the GPUs in the asset (e.g. H100-SXM)

A value that cannot be read becomes missing (NaN / NaT / <NA>) in the canonical frame and the raw text stays
in the raw frame; the ``asset.rows`` suite then quarantines the row with a reason naming the column and
quoting the raw value (``SOURCE_COLUMNS`` maps each canonical column back to its header). ``asset_class`` is
kept lower-cased as written, so an unknown class is quarantined with what was written, not blanked.
The optional cost is never a reason to reject a row: an unreadable cost, or a cost without a currency, is
left empty and counted in the notes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.canonical import ASSET, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number

KIND = "asset_register"
FAMILY = "asset"
REQUIRED = ["asset_id", "description", "asset_class", "quantity", "acquisition_date",
            "embodied_kg_co2e_per_unit", "factor_source"]
OPTIONAL = ["site", "cost", "currency", "accelerator_model"]
ASSET_CLASSES = ("gpu", "server", "network", "storage", "other")
# canonical column -> raw header (ingest quotes the raw value next to each quarantine reason)
SOURCE_COLUMNS = {
    "asset_id": "asset_id",
    "description": "description",
    "asset_class": "asset_class",
    "quantity": "quantity",
    "acquisition_date": "acquisition_date",
    "embodied_kg_co2e_per_unit": "embodied_kg_co2e_per_unit",
    "factor_source": "factor_source",
    "site_id": "site",
    "cost": "cost",
    "currency": "currency",
    "accelerator_model": "accelerator_model",
}
DATE_FORMAT = "%Y-%m-%d"
_EARLIEST, _LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01")


def sniff(columns: list[str]) -> bool:
    return set(REQUIRED) <= set(columns)


def read_raw(path: Path) -> RawTable:
    return read_delimited(path, what="asset register CSV")


def to_date(s: pd.Series) -> pd.Series:
    """YYYY-MM-DD calendar dates (no time, no zone); anything else, or a year outside 1900..2199, is NaT."""
    s = nullify(s)
    dates = pd.to_datetime(s, format=DATE_FORMAT, errors="coerce")
    return dates.where((dates >= _EARLIEST) & (dates < _LATEST)).astype("datetime64[ns]")


def _optional(f: pd.DataFrame, column: str) -> pd.Series:
    if column in f.columns:
        return nullify(f[column])
    return pd.Series(pd.NA, index=f.index, dtype="string")


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["asset_id"] = nullify(f["asset_id"])
    out["description"] = nullify(f["description"])
    out["asset_class"] = nullify(f["asset_class"]).str.lower()
    out["accelerator_model"] = _optional(f, "accelerator_model")
    out["site_id"] = _optional(f, "site")
    out["quantity"] = to_number(f["quantity"])
    out["acquisition_date"] = to_date(f["acquisition_date"])
    out["embodied_kg_co2e_per_unit"] = to_number(f["embodied_kg_co2e_per_unit"])
    out["factor_source"] = nullify(f["factor_source"])

    notes = []
    cost_text = _optional(f, "cost")
    cost = to_number(cost_text) if "cost" in f.columns else pd.Series(float("nan"), index=f.index)
    currency = _optional(f, "currency").str.upper()
    unreadable = cost_text.notna() & cost.isna()
    no_currency = cost.notna() & currency.isna()
    if unreadable.any():
        notes.append(f"{int(unreadable.sum())} row(s) with a cost that is not a number: cost left empty "
                     "(not used in any emission figure)")
    if no_currency.any():
        notes.append(f"{int(no_currency.sum())} row(s) with a cost but no currency: cost left empty")
    out["cost"] = cost.mask(no_currency)
    out["currency"] = currency.mask(out["cost"].isna())
    return Parsed(frame=conform(out, ASSET), notes=notes)
