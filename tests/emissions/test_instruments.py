"""pipeline/emissions/instruments.py: consumption per instrument type and bundled / unbundled shares."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import config_from_dict
from pipeline.emissions.instruments import instrument_table


def _cfg():
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3",
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "X", "site": "s1", "certificates": [
            {"id": "GO-1", "type": "GO", "mwh": 30, "market": "GB", "vintage_year": 2026, "bundled": True},
            {"id": "GO-2", "type": "GO", "mwh": 10, "market": "GB", "vintage_year": 2026, "bundled": False},
            {"id": "PPA-1", "type": "PPA", "mwh": 20, "market": "GB", "vintage_year": 2026, "bundled": True}]}],
        "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.2}],
        "sources": [{"kind": "meter_readings", "path": "m.csv", "site": "s1"}],
    })


def test_instrument_shares_by_site():
    ledger = pd.DataFrame({
        "scope": ["2", "2", "2", "2", "2", "3"],
        "site_or_region": ["s1"] * 5 + ["eu-west-1"],
        "instrument": ["GO-1", "GO-2", "PPA-1", "residual_mix", "residual_mix", ""],
        "energy_kwh": [30_000.0, 10_000.0, 20_000.0, 25_000.0, 15_000.0, 999.0],
    })
    (row,) = instrument_table(ledger, _cfg())
    # 100 MWh consumed; GO 40, PPA 20, residual 40 (the Scope 3 row is not Scope 2)
    assert row["consumption_mwh"] == pytest.approx(100.0)
    types = {i["type"]: (i["mwh"], i["share_of_consumption"]) for i in row["instruments"]}
    assert types == {"GO": (pytest.approx(40.0), pytest.approx(0.4)), "PPA": (pytest.approx(20.0), pytest.approx(0.2)),
                     "residual mix": (pytest.approx(40.0), pytest.approx(0.4))}
    # contractual 60 MWh: bundled GO-1 30 + PPA 20 = 50 -> 5/6; unbundled GO-2 10 -> 1/6
    assert row["contractual_mwh"] == pytest.approx(60.0)
    assert row["bundled_share_of_contractual"] == pytest.approx(50 / 60, rel=1e-12)
    assert row["unbundled_share_of_contractual"] == pytest.approx(10 / 60, rel=1e-12)


def test_no_instruments_no_shares():
    ledger = pd.DataFrame({"scope": ["2"], "site_or_region": ["s1"], "instrument": ["grid_average"],
                           "energy_kwh": [500.0]})
    (row,) = instrument_table(ledger, _cfg())
    assert row["instruments"] == [{"type": "grid average (last resort)", "mwh": pytest.approx(0.5),
                                   "share_of_consumption": pytest.approx(1.0)}]
    assert row["contractual_mwh"] == 0.0 and row["bundled_share_of_contractual"] is None
