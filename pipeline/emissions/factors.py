"""Factor selection rules (written down in docs/methodology.md and tested).

Location-based factor for a grid zone and reporting year:
1. A user override in the config (``factor_overrides``, basis ``location``) for the zone wins; it must cite a source.
2. Otherwise the library row for the zone with the latest data year <= the reporting year.
   If only later years exist, the earliest later one is used and flagged ``factor_year_after_period``.
   A data year earlier than the reporting year is flagged ``factor_year_before_period`` (usual: factors lag).
3. Generation-boundary rows are preferred over lifecycle rows of the zone, whatever their year (the year
   rule then applies among them). A lifecycle factor used
   for Scope 2 is flagged ``lifecycle_factor_for_scope2`` and the report says so (it includes upstream
   emissions that belong in Scope 3 Cat. 3).
4. Sub-national before national: a sub-national zone (``<ISO country>-<sub>``, e.g. ``US-RFCE``, ``AU-NSW``)
   with no factor of its own takes its country's factor (``US``, ``AU``), flagged
   ``factor_national_for_subnational`` - the substitution is visible on every row that uses it.
No factor for a zone (nor its country) stops the run: a silently substituted factor would be invisible.

Residual-mix factor for market-based Scope 2: config override (basis ``residual_mix``), else the library's
residual-mix table (user-supplied rows only; see evidence/README.md), else none - the caller then falls back
to the location-based factor as the stated last resort (flag ``mb_grid_average_fallback``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from pipeline.config import FactorOverride
from pipeline.evidence import FACTOR_COLUMNS

SUBNATIONAL = re.compile(r"^[A-Z]{2}-[A-Za-z0-9]+$")


@dataclass(frozen=True)
class FactorChoice:
    row: dict            # one FACTOR_COLUMNS row
    flags: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.row["factor_id"]

    @property
    def kg_per_kwh(self) -> float:
        return float(self.row["value_kg_per_kwh"])


def override_row(o: FactorOverride) -> dict:
    fid = f"override-{o.basis}-{o.zone}-{o.data_year}"
    return {"factor_id": fid, "zone": o.zone, "zone_name": o.zone, "basis": o.basis, "value": o.value_kg_per_kwh,
            "unit": "kgCO2e/kWh", "value_kg_per_kwh": o.value_kg_per_kwh,
            "boundary": "residual_mix" if o.basis == "residual_mix" else "as stated by source",
            "source": o.source, "edition": "user override (config factor_overrides)", "data_year": o.data_year,
            "licence": "user-supplied", "retrieval_date": "", "url": "", "note": "user override"}


def _pick(rows: pd.DataFrame, year: int) -> tuple[dict | None, list[str]]:
    if rows.empty:
        return None, []
    # boundary first: a generation-boundary factor of any year beats a lifecycle one (Scope 2 must not
    # include upstream emissions); then the year rule among the remaining rows
    generation = rows[rows["boundary"] == "generation"]
    if not generation.empty:
        rows = generation
    rows = rows.assign(_gen=(rows["boundary"] != "generation").astype(int))
    earlier = rows[rows["data_year"] <= year]
    if not earlier.empty:
        best = earlier.sort_values(["data_year", "_gen", "factor_id"], ascending=[False, True, True]).iloc[0]
        flags = ["factor_year_before_period"] if int(best["data_year"]) < year else []
    else:
        best = rows.sort_values(["data_year", "_gen", "factor_id"], ascending=[True, True, True]).iloc[0]
        flags = ["factor_year_after_period"]
    return {c: best[c] for c in FACTOR_COLUMNS}, flags


def location_factor(zone: str, year: int, grid: pd.DataFrame, overrides: list[FactorOverride]) -> FactorChoice | None:
    for o in overrides:
        if o.zone == zone and o.basis == "location":
            return FactorChoice(override_row(o), ("factor_user_override",))
    row, flags = _pick(grid[grid["zone"] == zone], year)
    if row is None and SUBNATIONAL.match(zone):
        row, flags = _pick(grid[grid["zone"] == zone[:2]], year)
        flags = [*flags, "factor_national_for_subnational"]
    if row is None:
        return None
    return FactorChoice(row, tuple(flags))


def residual_mix_factor(zone: str, year: int, residual: pd.DataFrame,
                        overrides: list[FactorOverride]) -> FactorChoice | None:
    for o in overrides:
        if o.zone == zone and o.basis == "residual_mix":
            return FactorChoice(override_row(o), ("factor_user_override",))
    row, flags = _pick(residual[residual["zone"] == zone], year)
    return None if row is None else FactorChoice(row, tuple(flags))
