"""pipeline/emissions/calculate.py: activity slices x factors -> ledger, with market-based instruments."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pipeline.config import config_from_dict
from pipeline.emissions.calculate import apply_factors
from pipeline.errors import ValidationFailed
from pipeline.evidence import FACTOR_COLUMNS, load_library

GB_LB = 0.2      # kg/kWh, test grid factor for GB (generation, 2026)
US_LB = 0.4      # kg/kWh, test grid factor for US-SRVC


def _f(fid, zone, value, boundary="generation", year=2026):
    row = {c: "" for c in FACTOR_COLUMNS}
    row.update(factor_id=fid, zone=zone, zone_name=zone, basis="location", value=value, unit="kgCO2e/kWh",
               value_kg_per_kwh=value, boundary=boundary, source="test", data_year=year)
    return row


def _lib(rows=None):
    grid = pd.DataFrame(rows or [_f("t-GB", "GB", GB_LB), _f("t-US", "US-SRVC", US_LB)], columns=FACTOR_COLUMNS)
    residual = pd.DataFrame(columns=FACTOR_COLUMNS)
    return dataclasses.replace(load_library(), grid=grid, residual=residual)


def _cfg(colo_extra=None, overrides=None):
    colo = {"id": "colo", "kind": "colocation", "provider": "Colo", "site": "s1",
            "certificates": [{"id": "GO-1", "type": "GO", "mwh": 40, "market": "GB", "vintage_year": 2026}]}
    colo.update(colo_extra or {})
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3",
        "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}, colo],
        "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.25}],
        "sources": [{"kind": "slurm_sacct", "path": "x.txt", "site": "s1"}],
        "factor_overrides": overrides or [],
    })


def _slice(**kw):
    base = {"month": "2026-07", "contract_id": "colo", "contract_kind": "colocation", "provider": "Colo",
            "site_or_region": "s1", "grid_zone": "GB", "service": "GPU cluster", "instance_type": "",
            "phase": "training", "project": "p", "scope": "2", "category": "", "rule_id": "r",
            "own_operations": True, "energy_kwh": 0.0, "energy_basis": "metered", "defaults_used": "",
            "cost": 0.0, "cost_currency": "", "source_file": "m.csv", "source_rows": "2-3"}
    base.update(kw)
    return base


def _slices():
    return pd.DataFrame([
        _slice(month="2026-07", energy_kwh=60_000.0),
        _slice(month="2026-08", energy_kwh=40_000.0, phase="unallocated"),
        _slice(contract_id="aws", contract_kind="cloud", provider="aws", site_or_region="us-east-1",
               grid_zone="US-SRVC", scope="3", category="1", own_operations=False, energy_kwh=1_000.0,
               energy_basis="estimated", cost=50.0, defaults_used="utilisation_default"),
    ])


def test_scope2_go_forty_percent_then_grid_fallback():
    ledger, factors, decisions = apply_factors(_slices(), _cfg(), _lib())
    s2 = ledger[ledger["scope"] == "2"]
    # site consumption 60,000 + 40,000 = 100,000 kWh; GO 40 MWh -> 40 % covered at 0 kg/kWh,
    # 60 % uncovered; no supplier rate and no residual mix -> grid average 0.2 kg/kWh (flagged)
    assert s2["energy_kwh"].sum() == pytest.approx(100_000.0, rel=1e-9)
    by = s2.groupby("instrument")["energy_kwh"].sum()
    assert by["GO-1"] == pytest.approx(40_000.0, rel=1e-9)
    assert by["grid_average"] == pytest.approx(60_000.0, rel=1e-9)
    # LB = 100,000 x 0.2 = 20,000 kg; MB = 40,000 x 0 + 60,000 x 0.2 = 12,000 kg
    assert s2["emissions_lb_kg_co2e"].sum() == pytest.approx(20_000.0, rel=1e-9)
    assert s2["emissions_mb_kg_co2e"].sum() == pytest.approx(12_000.0, rel=1e-9)
    # pro rata per slice: July 60,000 kWh -> GO 24,000, grid 36,000 (MB 7,200 kg)
    july = s2[(s2["month"] == "2026-07") & (s2["instrument"] == "grid_average")]
    assert july["energy_kwh"].tolist() == [pytest.approx(36_000.0, rel=1e-9)]
    assert july["emissions_mb_kg_co2e"].tolist() == [pytest.approx(7_200.0, rel=1e-9)]
    assert all("mb_grid_average_fallback" in f for f in s2.loc[s2["instrument"] == "grid_average", "defaults_used"])
    assert not any("mb_grid_average_fallback" in f for f in s2.loc[s2["instrument"] == "GO-1", "defaults_used"])
    assert decisions[0]["applied_mwh"] == pytest.approx(40.0, rel=1e-9)
    assert set(factors["factor_id"]) == {"t-GB", "t-US", "eac-GO-1"}


def test_scope3_market_equals_location():
    ledger, _, _ = apply_factors(_slices(), _cfg(), _lib())
    s3 = ledger[ledger["scope"] == "3"]
    # 1,000 kWh x 0.4 = 400 kg, both methods
    assert s3["emissions_lb_kg_co2e"].tolist() == [pytest.approx(400.0, rel=1e-9)]
    assert s3["emissions_mb_kg_co2e"].tolist() == [pytest.approx(400.0, rel=1e-9)]
    assert s3["cost"].tolist() == [pytest.approx(50.0, rel=1e-9)]
    assert s3["defaults_used"].tolist() == ["utilisation_default"]


def test_energy_and_cost_preserved_and_ids_sequential():
    ledger, _, _ = apply_factors(_slices(), _cfg(), _lib())
    assert ledger["energy_kwh"].sum() == pytest.approx(101_000.0, rel=1e-9)
    assert ledger["activity_id"].tolist() == [f"A{i:06d}" for i in range(1, len(ledger) + 1)]
    # each row: emissions = energy x factor
    for r in ledger.itertuples():
        assert r.emissions_lb_kg_co2e == pytest.approx(r.energy_kwh * r.factor_lb_kg_per_kwh, rel=1e-9)
        assert r.emissions_mb_kg_co2e == pytest.approx(r.energy_kwh * r.factor_mb_kg_per_kwh, rel=1e-9)


def test_supplier_rate_for_uncovered_share():
    cfg = _cfg({"supplier_factor_kg_per_kwh": 0.25, "supplier_factor_source": "Supplier disclosure"})
    ledger, _, _ = apply_factors(_slices(), cfg, _lib())
    s2 = ledger[ledger["scope"] == "2"]
    # MB = 60,000 kWh x 0.25 = 15,000 kg
    assert s2["emissions_mb_kg_co2e"].sum() == pytest.approx(15_000.0, rel=1e-9)
    assert set(s2["instrument"]) == {"GO-1", "supplier"}


def test_residual_mix_override_for_uncovered_share():
    cfg = _cfg(overrides=[{"zone": "GB", "basis": "residual_mix", "value_kg_per_kwh": 0.3,
                           "source": "AIB residual mix 2026", "data_year": 2026}])
    ledger, _, _ = apply_factors(_slices(), cfg, _lib())
    s2 = ledger[ledger["scope"] == "2"]
    # MB = 60,000 kWh x 0.3 = 18,000 kg; LB unchanged 20,000 kg
    assert s2["emissions_mb_kg_co2e"].sum() == pytest.approx(18_000.0, rel=1e-9)
    assert s2["emissions_lb_kg_co2e"].sum() == pytest.approx(20_000.0, rel=1e-9)
    assert set(s2["instrument"]) == {"GO-1", "residual_mix"}


def test_lifecycle_factor_flagged_for_scope2():
    lib = _lib([_f("life-GB", "GB", 0.21, boundary="lifecycle", year=2024), _f("t-US", "US-SRVC", US_LB)])
    ledger, _, _ = apply_factors(_slices(), _cfg(), lib)
    s2 = ledger[ledger["scope"] == "2"]
    assert all("lifecycle_factor_for_scope2" in f and "factor_year_before_period" in f for f in s2["defaults_used"])
    # 100,000 kWh x 0.21 = 21,000 kg
    assert s2["emissions_lb_kg_co2e"].sum() == pytest.approx(21_000.0, rel=1e-9)


def test_missing_zone_stops():
    lib = _lib([_f("t-GB", "GB", GB_LB)])
    with pytest.raises(ValidationFailed) as ei:
        apply_factors(_slices(), _cfg(), lib)
    assert "US-SRVC" in ei.value.message
