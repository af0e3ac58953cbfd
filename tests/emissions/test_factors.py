"""pipeline/emissions/factors.py: location-based and residual-mix factor selection rules."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import FactorOverride
from pipeline.emissions.factors import location_factor, residual_mix_factor
from pipeline.evidence import FACTOR_COLUMNS


def _f(fid: str, zone: str, year: int, value: float, boundary: str = "generation", basis: str = "location") -> dict:
    row = {c: "" for c in FACTOR_COLUMNS}
    row.update(factor_id=fid, zone=zone, zone_name=zone, basis=basis, value=value, unit="kgCO2e/kWh",
               value_kg_per_kwh=value, boundary=boundary, source="test", data_year=year)
    return row


GRID = pd.DataFrame([
    _f("xx-2023", "XX", 2023, 0.30),
    _f("xx-2025", "XX", 2025, 0.25),
    _f("xx-2027", "XX", 2027, 0.20),
    _f("yy-2030", "YY", 2030, 0.50),
    _f("yy-2028", "YY", 2028, 0.55),
    _f("zz-2025-life", "ZZ", 2025, 0.40, boundary="lifecycle"),
    _f("zz-2025-gen", "ZZ", 2025, 0.35),
    _f("ww-2024-life", "WW", 2024, 0.60, boundary="lifecycle"),
], columns=FACTOR_COLUMNS)


def test_latest_year_not_after_reporting_year():
    # XX has 2023, 2025, 2027: for 2026 the latest <= 2026 is 2025 (lagging: flagged)
    c = location_factor("XX", 2026, GRID, [])
    assert c.id == "xx-2025"
    assert c.kg_per_kwh == pytest.approx(0.25, rel=1e-9)
    assert c.flags == ("factor_year_before_period",)


def test_same_year_not_flagged():
    c = location_factor("XX", 2027, GRID, [])
    assert (c.id, c.flags) == ("xx-2027", ())
    c = location_factor("XX", 2025, GRID, [])
    assert (c.id, c.flags) == ("xx-2025", ())


def test_only_later_years_takes_earliest_later_and_flags():
    # YY has 2028 and 2030 only: for 2026 the earliest later one (2028) is used, flagged
    c = location_factor("YY", 2026, GRID, [])
    assert c.id == "yy-2028"
    assert c.kg_per_kwh == pytest.approx(0.55, rel=1e-9)
    assert c.flags == ("factor_year_after_period",)


def test_generation_preferred_over_lifecycle_same_year():
    c = location_factor("ZZ", 2025, GRID, [])
    assert c.id == "zz-2025-gen"
    assert c.row["boundary"] == "generation"


def test_lifecycle_used_when_only_one():
    c = location_factor("WW", 2026, GRID, [])
    assert c.id == "ww-2024-life"
    assert c.flags == ("factor_year_before_period",)


def test_unknown_zone_has_no_factor():
    assert location_factor("QQ", 2026, GRID, []) is None


def test_location_override_wins():
    o = FactorOverride(zone="XX", basis="location", value_kg_per_kwh=0.123, source="National inventory 2026",
                       data_year=2026)
    c = location_factor("XX", 2026, GRID, [o])
    assert c.id == "override-location-XX-2026"
    assert c.kg_per_kwh == pytest.approx(0.123, rel=1e-9)
    assert c.flags == ("factor_user_override",)
    assert c.row["source"] == "National inventory 2026"
    # an override also supplies a zone the library lacks
    o2 = FactorOverride(zone="QQ", basis="location", value_kg_per_kwh=0.9, source="xyz", data_year=2026)
    assert location_factor("QQ", 2026, GRID, [o2]).kg_per_kwh == pytest.approx(0.9, rel=1e-9)


def test_override_for_other_zone_or_basis_ignored():
    others = [FactorOverride(zone="YY", basis="location", value_kg_per_kwh=0.1, source="abc", data_year=2026),
              FactorOverride(zone="XX", basis="residual_mix", value_kg_per_kwh=0.7, source="abc", data_year=2026)]
    assert location_factor("XX", 2026, GRID, others).id == "xx-2025"


def test_residual_mix_selection():
    residual = pd.DataFrame([_f("rm-xx-2024", "XX", 2024, 0.45, boundary="residual_mix", basis="residual_mix"),
                             _f("rm-xx-2025", "XX", 2025, 0.42, boundary="residual_mix", basis="residual_mix")],
                            columns=FACTOR_COLUMNS)
    c = residual_mix_factor("XX", 2026, residual, [])
    assert c.id == "rm-xx-2025"
    assert c.kg_per_kwh == pytest.approx(0.42, rel=1e-9)
    assert c.flags == ("factor_year_before_period",)
    assert residual_mix_factor("YY", 2026, residual, []) is None
    o = FactorOverride(zone="XX", basis="residual_mix", value_kg_per_kwh=0.5, source="AIB 2026", data_year=2026)
    c = residual_mix_factor("XX", 2026, residual, [o])
    assert (c.id, c.kg_per_kwh, c.flags) == ("override-residual_mix-XX-2026", 0.5, ("factor_user_override",))
    assert c.row["boundary"] == "residual_mix"
    # a location override never serves as a residual mix
    loc = FactorOverride(zone="YY", basis="location", value_kg_per_kwh=0.5, source="abc", data_year=2026)
    assert residual_mix_factor("YY", 2026, residual, [loc]) is None


def test_subnational_zone_falls_back_to_its_country_flagged():
    grid = pd.DataFrame([_f("us-2023", "US", 2023, 0.35), _f("rfce-2023", "US-RFCE", 2023, 0.27)], columns=FACTOR_COLUMNS)
    own = location_factor("US-RFCE", 2026, grid, [])
    assert own.id == "rfce-2023" and "factor_national_for_subnational" not in own.flags
    fallback = location_factor("US-AZNM", 2026, grid, [])
    assert fallback.id == "us-2023"
    assert fallback.flags == ("factor_year_before_period", "factor_national_for_subnational")
    # not a country-prefixed zone: no fallback
    assert location_factor("GCP-europe-west4", 2026, grid, []) is None
