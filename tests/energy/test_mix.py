"""pipeline/energy/mix.py: E1-5 fossil / nuclear / renewable split of own-operations electricity."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import config_from_dict
from pipeline.energy.mix import energy_mix


def _cfg():
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3",
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "X", "site": "s1", "certificates": [
            {"id": "GO-1", "type": "GO", "mwh": 40, "market": "XX", "vintage_year": 2026}]}],
        "sites": [{"id": "s1", "grid_zone": "XX", "pue": 1.2}],
        "sources": [{"kind": "meter_readings", "path": "m.csv", "site": "s1"}],
    })


MIX = pd.DataFrame([
    {"mix_id": "m-2023-XX", "zone": "XX", "data_year": 2023, "fossil_share": 0.9, "nuclear_share": 0.0,
     "renewable_share": 0.1, "other_share": 0.0, "source": "t", "licence": "t"},
    {"mix_id": "m-2025-XX", "zone": "XX", "data_year": 2025, "fossil_share": 0.5, "nuclear_share": 0.2,
     "renewable_share": 0.28, "other_share": 0.02, "source": "t", "licence": "t"},
    {"mix_id": "m-2024-YY", "zone": "YY", "data_year": 2024, "fossil_share": 0.6, "nuclear_share": 0.0,
     "renewable_share": 0.4, "other_share": 0.0, "source": "t", "licence": "t"},
])


def _ledger(rows):
    return pd.DataFrame([{"scope": "2", "own_operations": True, **r} for r in rows])


def test_certificates_renewable_rest_by_grid_mix_other_as_fossil():
    ledger = _ledger([{"grid_zone": "XX", "instrument": "GO-1", "energy_kwh": 40_000.0},
                      {"grid_zone": "XX", "instrument": "grid_average", "energy_kwh": 60_000.0}])
    m = energy_mix(ledger, _cfg(), MIX)
    # GO: 40 MWh renewable. Rest 60 MWh with the 2025 mix (latest <= 2026): fossil 0.5 + other 0.02 = 0.52
    # -> 31.2 MWh; nuclear 0.2 -> 12 MWh; renewable 0.28 -> 16.8 MWh
    assert m["fossil_mwh"] == pytest.approx(31.2, rel=1e-12)
    assert m["nuclear_mwh"] == pytest.approx(12.0, rel=1e-12)
    assert m["renewable_mwh"] == pytest.approx(56.8, rel=1e-12)
    assert m["renewable_from_instruments_mwh"] == pytest.approx(40.0, rel=1e-12)
    assert m["renewable_share"] == pytest.approx(0.568, rel=1e-12)
    assert m["total_mwh"] == pytest.approx(100.0, rel=1e-12)
    assert [r["mix_id"] for r in m["mix_rows"]] == ["m-2025-XX"]


def test_subnational_falls_back_to_country_and_unknown_zone_not_guessed():
    ledger = _ledger([{"grid_zone": "YY-NORTH", "instrument": "", "energy_kwh": 10_000.0},
                      {"grid_zone": "ZZ", "instrument": "", "energy_kwh": 5_000.0},
                      {"grid_zone": "XX", "instrument": "", "energy_kwh": 1.0, "scope": "3", "own_operations": False}])
    m = energy_mix(ledger, _cfg(), MIX)
    # YY-NORTH -> YY: 6 MWh fossil, 4 renewable; ZZ: 5 MWh not determined; the Scope 3 row is not own operations
    assert (m["fossil_mwh"], m["renewable_mwh"], m["not_determined_mwh"]) == (
        pytest.approx(6.0), pytest.approx(4.0), pytest.approx(5.0))
    assert m["zones_without_mix"] == ["ZZ"]
    assert m["not_determined_share"] == pytest.approx(5 / 15, rel=1e-12)


def test_shares_that_do_not_add_to_one_are_normalised():
    mix = MIX.assign(fossil_share=[0.9, 0.5, 0.6000001])
    ledger = _ledger([{"grid_zone": "YY", "instrument": "", "energy_kwh": 1000.0}])
    m = energy_mix(ledger, _cfg(), mix)
    assert m["fossil_mwh"] + m["nuclear_mwh"] + m["renewable_mwh"] == pytest.approx(1.0, rel=1e-15)
