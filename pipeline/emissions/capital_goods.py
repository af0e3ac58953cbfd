"""Scope 3 Category 2 (capital goods): the cradle-to-gate emissions of GPUs, servers, network and storage
equipment the company acquired in the reporting period.

    emissions_kg_co2e = quantity x embodied_kg_co2e_per_unit

Decisions (GHG Protocol Corporate Value Chain (Scope 3) Standard, Category 2, p.39 of the 2011 standard):
- The **full** cradle-to-gate emissions are reported in the period the asset was acquired (the date control /
  ownership passed). They are **not depreciated, amortised or spread** over the asset's life: a server bought
  on 3 August 2026 counts in full in a period that contains 3 August 2026, and in no other period.
- Period dates are inclusive calendar dates in the entity's calendar (the same dates as ``config.period``).
- Assets acquired outside the period are not included; they are returned in ``outside`` with the reason, so
  the report can count them (an asset register usually holds prior years' purchases too).
- The use-phase electricity of the equipment is Scope 2 (own / colocated sites), not Category 2.

Pure function: no files, no logging. Rows the ingest suites should have quarantined (missing or non-positive
quantity or factor, missing date or citation) stop the calculation rather than being skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pipeline.errors import ValidationFailed

METHOD = "cradle_to_gate_full_in_acquisition_period"

# per asset acquired in the period; emissions_kg_co2e = quantity x embodied_kg_co2e_per_unit on every row
CAT2_ROWS = {
    "asset_id": "string",
    "description": "string",
    "asset_class": "string",
    "accelerator_model": "string",
    "site_id": "string",
    "acquisition_date": "datetime64[ns]",
    "quantity": "float64",
    "embodied_kg_co2e_per_unit": "float64",
    "emissions_kg_co2e": "float64",
    "factor_source": "string",
    "method": "string",
    "source_file": "string",
    "source_row": "int64",
}

# per asset acquired outside the period: counted, not included
OUTSIDE_ROWS = {
    "asset_id": "string",
    "asset_class": "string",
    "acquisition_date": "datetime64[ns]",
    "quantity": "float64",
    "emissions_kg_co2e_not_included": "float64",   # what the asset counts in its own acquisition period
    "reason": "string",
    "source_file": "string",
    "source_row": "int64",
}

_NEEDED = ["asset_id", "asset_class", "quantity", "acquisition_date", "embodied_kg_co2e_per_unit", "factor_source",
           "source_file", "source_row"]


@dataclass(frozen=True)
class Category2:
    rows: pd.DataFrame       # CAT2_ROWS, sorted by acquisition date, asset id, source file and row
    outside: pd.DataFrame    # OUTSIDE_ROWS, same order

    @property
    def total_kg_co2e(self) -> float:
        return float(self.rows["emissions_kg_co2e"].sum())

    @property
    def units_acquired(self) -> float:
        return float(self.rows["quantity"].sum())


def _as_date(value: dt.date | str | pd.Timestamp, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        raise ValueError(f"{name} must be a calendar date without a time zone, got {value!r}")
    return ts.normalize()


def _check(assets: pd.DataFrame) -> None:
    missing = [c for c in _NEEDED if c not in assets.columns]
    if missing:
        raise ValueError(f"assets frame lacks column(s) {', '.join(missing)} (expected the canonical ASSET frame)")
    text_missing = assets["asset_id"].isna() | assets["factor_source"].isna() | assets["asset_class"].isna()
    bad = (text_missing | assets["acquisition_date"].isna()
           | ~(assets["quantity"] > 0) | ~(assets["embodied_kg_co2e_per_unit"] > 0))
    problems = [f"{r.source_file} row {r.source_row}: asset {r.asset_id}" for r in assets[bad].itertuples(index=False)]
    dup = assets["asset_id"].notna() & assets["asset_id"].duplicated(keep=False)
    for asset_id, grp in assets[dup].groupby("asset_id", sort=True):
        where = ", ".join(f"{r.source_file} row {r.source_row}" for r in grp.itertuples(index=False))
        problems.append(f"asset {asset_id} appears more than once ({where}): it would be counted twice")
    if problems:
        raise ValidationFailed(
            f"{len(problems)} asset row(s) cannot be used for Scope 3 Category 2", problems=problems,
            fix="each asset needs a date, a quantity and an embodied factor above 0 and a factor_source, and one "
                "line per asset id across all asset registers; correct the register(s)")


def category2(assets: pd.DataFrame, start_date: dt.date | str, end_date: dt.date | str) -> Category2:
    """Category 2 rows for the assets acquired from ``start_date`` to ``end_date`` (both inclusive).

    ``assets`` is the canonical ASSET frame (accepted rows of every asset register). Each asset acquired in
    the period gets quantity x embodied factor in full; the others go to ``outside`` with the reason.
    """
    start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
    if end < start:
        raise ValueError(f"end_date {end.date()} is before start_date {start.date()}")
    _check(assets)
    frame = assets.copy()
    frame["acquisition_date"] = pd.to_datetime(frame["acquisition_date"]).dt.normalize()
    for col in ("description", "accelerator_model", "site_id"):
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame["emissions_kg_co2e"] = frame["quantity"] * frame["embodied_kg_co2e_per_unit"]
    frame = frame.sort_values(["acquisition_date", "asset_id", "source_file", "source_row"], kind="stable")

    inside = frame["acquisition_date"].between(start, end, inclusive="both")
    rows = frame[inside].assign(method=METHOD)
    rows = rows[list(CAT2_ROWS)].astype(CAT2_ROWS).reset_index(drop=True)

    period = f"the reporting period {start.date()} to {end.date()}"
    out = frame[~inside].copy()
    out["reason"] = [
        f"acquired {d.date()}, {'before' if d < start else 'after'} {period}: Category 2 counts an asset in full "
        "in the period of its acquisition only (not depreciated)"
        for d in out["acquisition_date"]]
    out["emissions_kg_co2e_not_included"] = out["emissions_kg_co2e"]
    outside = out[list(OUTSIDE_ROWS)].astype(OUTSIDE_ROWS).reset_index(drop=True)
    return Category2(rows=rows, outside=outside)
