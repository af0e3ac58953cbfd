"""summary.json: the machine-readable result. Every figure is a sum over the activity ledger.

Keys relied on by users (do not rename): period, entity, consolidation_approach, energy_mwh,
emissions_tco2e, by_phase_tco2e, inputs, validation, run. More keys may be added.
All figures are floats, unrounded (rounding happens only in the PDF/XLSX presentation).
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.emissions.instruments import instrument_table

PHASE_KEYS = ("training", "fine_tuning", "inference", "evaluation", "unallocated")
SCHEMA_VERSION = "1"


def _t(kg: float) -> float:
    return float(kg) / 1000.0


def _mwh(kwh: float) -> float:
    return float(kwh) / 1000.0


def emissions_block(ledger: pd.DataFrame) -> dict:
    s2 = ledger[ledger["scope"] == "2"]
    s3 = ledger[ledger["scope"] == "3"]
    by_cat = {str(cat): _t(g["emissions_lb_kg_co2e"].sum()) for cat, g in s3.groupby("category", sort=True)}
    scope1 = 0.0
    s2_lb = _t(s2["emissions_lb_kg_co2e"].sum())
    s2_mb = _t(s2["emissions_mb_kg_co2e"].sum())
    s3_total = _t(s3["emissions_lb_kg_co2e"].sum())
    return {
        "scope1": scope1,
        "scope2_location_based": s2_lb,
        "scope2_market_based": s2_mb,
        "scope3_by_category": by_cat,
        "scope3_total": s3_total,
        "total_location_based": scope1 + s2_lb + s3_total,
        "total_market_based": scope1 + s2_mb + s3_total,
    }


def _by_phase(ledger: pd.DataFrame, column: str) -> dict:
    sums = ledger.groupby("phase", dropna=False)[column].sum()
    return {p: _t(sums.get(p, 0.0)) for p in PHASE_KEYS}


def build_summary(d) -> dict:  # d: pipeline.result.Disclosure
    cfg, ledger = d.config, d.ledger
    own = ledger[ledger["own_operations"]]
    # energy is counted once per activity slice; market-based instrument splits do not duplicate energy
    by_site = {str(k): _mwh(v) for k, v in own.groupby("site_or_region", dropna=False)["energy_kwh"].sum().sort_index().items()}
    by_basis = {str(k): _mwh(v) for k, v in ledger.groupby("energy_basis", dropna=False)["energy_kwh"].sum().sort_index().items()}
    cloud = ledger[ledger["contract_kind"] == "cloud"]
    months = cfg.period.months()
    by_month = {}
    for m in months:
        sub = ledger[ledger["month"] == m]
        by_month[m] = _by_phase(sub, "emissions_lb_kg_co2e")
    failed = [
        {"source": i.source_id, "expectation": f.expectation, "column": f.column,
         "unexpected_count": f.unexpected_count, "stops_run": f.stops_run}
        for i in d.inputs for f in i.failed_expectations
    ]
    quarantined = sum(i.rows_quarantined for i in d.inputs)
    return {
        "schema_version": SCHEMA_VERSION,
        "period": {"start": cfg.period.start.isoformat(), "end": cfg.period.end.isoformat(),
                   "end_inclusive": True, "label": cfg.period.label, "timezone": cfg.entity.timezone},
        "entity": cfg.entity.name,
        "consolidation_approach": cfg.entity.consolidation_approach,
        "currency": cfg.entity.currency,
        "energy_mwh": {
            "total_own_operations": _mwh(own["energy_kwh"].sum()),
            "by_site": by_site,
            "cloud_estimated_value_chain": _mwh(cloud["energy_kwh"].sum()),
            "by_basis": by_basis,
            "mix": getattr(d, "energy_mix", {}) or {},
        },
        "emissions_tco2e": emissions_block(ledger),
        "contractual_instruments": instrument_table(ledger, cfg),
        # expected reductions (ESRS E1-3 / E1-4): projections, reported apart and never netted from the totals above
        "projections": {"label": "projection", "netted_from_inventory": False,
                        "models": list(getattr(d, "projections", []) or [])},
        "by_phase_tco2e": _by_phase(ledger, "emissions_lb_kg_co2e"),
        "by_phase_basis": "location_based (Scope 2 location-based + Scope 3)",
        "by_phase_market_based_tco2e": _by_phase(ledger, "emissions_mb_kg_co2e"),
        "by_month_phase_tco2e": by_month,
        "inputs": [
            {"source": i.source_id, "kind": i.kind, "path": i.path, "sha256": i.sha256,
             "rows_read": i.rows_read, "rows_accepted": i.rows_accepted,
             "rows_quarantined": i.rows_quarantined, "quarantine_file": i.quarantine_file}
            for i in d.inputs
        ],
        "validation": {"success": not failed, "rows_quarantined": quarantined, "failed_expectations": failed},
        "scope3_primary_data": d.data_quality.get("scope3_primary_data", {"reported_tco2e": 0.0, "share_of_scope3": 0.0}),
        "data_quality": d.data_quality,
        "run": {"id": d.run_id, "code_version": d.code_version,
                "config_sha256": d.config_sha256,
                "factor_library_version": d.factor_library_version},
    }


def json_safe(value):
    """NaN / infinity are not JSON: missing figures are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return json_safe(value.item())
        except (ValueError, AttributeError):
            return value
    if value is pd.NA or value is pd.NaT:
        return None
    return value
