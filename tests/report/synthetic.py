"""A small, hand-made Disclosure for report-writer tests (the demo run is tested end to end elsewhere).

Figures (kg CO2e = kWh x kg/kWh), by hand:
  Scope 2 (lon-colo, GB grid 0.2 kg/kWh LB):
    2026-07 fine_tuning   1000 kWh  GO-covered 400 kWh (MB 0) + residual 600 kWh (MB grid fallback 0.2)
    2026-08 training       500 kWh  all uncovered (MB 0.2)
    2026-08 unallocated    250 kWh  (MB 0.2)
  Scope 3 Cat 1 (aws-main us-east-1, 0.3 kg/kWh):
    2026-07 inference      100 kWh  cost 40
    2026-09 unallocated     50 kWh  cost 10
  LB: S2 = (1000 + 500 + 250) x 0.2 = 350 kg ; S3 = 150 x 0.3 = 45 kg ; total 395 kg
  MB: S2 = (600 + 500 + 250) x 0.2 = 270 kg ; total 315 kg
"""

from __future__ import annotations

import pandas as pd

from pipeline.canonical import ACTIVITY, conform
from pipeline.config import config_from_dict
from pipeline.report.summary import build_summary
from pipeline.result import Disclosure, FailedExpectation, InputReport

CONFIG = {
    "entity": {"name": "Test <Entity> & Co", "consolidation_approach": "operational_control",
               "currency": "EUR", "timezone": "Europe/London"},
    "period": "2026-Q3",
    "contracts": [
        {"id": "aws-main", "kind": "cloud", "provider": "aws"},
        {"id": "lon-colo", "kind": "colocation", "provider": "Colo Ltd", "site": "lon-colo-1"},
    ],
    "sites": [{"id": "lon-colo-1", "grid_zone": "GB", "timezone": "Europe/London", "pue": 1.35,
               "meters": [{"id": "M1"}]}],
    "sources": [{"id": "bill", "kind": "focus", "path": "bill.csv", "contracts": ["aws-main"]}],
}


def _row(**kw):
    base = {
        "activity_id": "", "month": "2026-07", "contract_id": "lon-colo", "contract_kind": "colocation",
        "provider": "Colo Ltd", "site_or_region": "lon-colo-1", "grid_zone": "GB", "service": "GPU cluster",
        "instance_type": "", "phase": "training", "project": "p1", "scope": "2", "category": "",
        "rule_id": "S2-colo-company-power-opcontrol", "own_operations": True, "energy_kwh": 0.0,
        "energy_basis": "metered", "defaults_used": "", "cost": 0.0, "cost_currency": "", "instrument": "grid_average",
        "factor_id_lb": "test-GB", "factor_lb_kg_per_kwh": 0.2, "factor_id_mb": "test-GB",
        "factor_mb_kg_per_kwh": 0.2, "source_file": "meters.csv", "source_rows": "2-745",
    }
    base.update(kw)
    base["quantity"], base["quantity_unit"] = base["energy_kwh"], "kWh"
    base["emissions_lb_kg_co2e"] = base["energy_kwh"] * base["factor_lb_kg_per_kwh"]
    base["emissions_mb_kg_co2e"] = base["energy_kwh"] * base["factor_mb_kg_per_kwh"]
    return base


def make_disclosure() -> Disclosure:
    cfg = config_from_dict(CONFIG)
    rows = [
        _row(month="2026-07", phase="fine_tuning", energy_kwh=400.0, instrument="GO-1",
             factor_id_mb="eac-GO-1", factor_mb_kg_per_kwh=0.0),
        _row(month="2026-07", phase="fine_tuning", energy_kwh=600.0, instrument="grid_average"),
        _row(month="2026-08", phase="training", energy_kwh=500.0),
        _row(month="2026-08", phase="unallocated", project="", energy_kwh=250.0),
        _row(month="2026-07", contract_id="aws-main", contract_kind="cloud", provider="aws",
             site_or_region="us-east-1", grid_zone="US-SRVC", service="Amazon Elastic Compute Cloud",
             instance_type="=HYPERLINK(\"http://evil\")", phase="inference", project="<img src=x>",
             scope="3", category="1", rule_id="S3-1-cloud", own_operations=False, energy_kwh=100.0,
             energy_basis="estimated", defaults_used="utilisation_default;pue_provider_default", cost=40.0, cost_currency="USD",
             instrument="", factor_id_lb="test-SRVC", factor_lb_kg_per_kwh=0.3, factor_id_mb="test-SRVC",
             factor_mb_kg_per_kwh=0.3, source_file="bill.csv", source_rows="2-30"),
        _row(month="2026-09", contract_id="aws-main", contract_kind="cloud", provider="aws",
             site_or_region="us-east-1", grid_zone="US-SRVC", service="Amazon Elastic Compute Cloud",
             instance_type="m5.large", phase="unallocated", project="", scope="3", category="1",
             rule_id="S3-1-cloud", own_operations=False, energy_kwh=50.0, energy_basis="estimated",
             defaults_used="utilisation_default", cost=10.0, cost_currency="USD", instrument="", factor_id_lb="test-SRVC",
             factor_lb_kg_per_kwh=0.3, factor_id_mb="test-SRVC", factor_mb_kg_per_kwh=0.3,
             source_file="bill.csv", source_rows="31"),
    ]
    ledger = pd.DataFrame(rows)
    ledger["activity_id"] = [f"A{i:05d}" for i in range(1, len(ledger) + 1)]
    ledger = conform(ledger, ACTIVITY)
    fcols = ["factor_id", "zone", "zone_name", "basis", "value", "unit", "value_kg_per_kwh", "boundary",
             "source", "edition", "data_year", "licence", "retrieval_date", "url", "note"]
    factors = pd.DataFrame([
        ["test-GB", "GB", "United Kingdom", "location", 0.2, "kgCO2e/kWh", 0.2, "generation",
         "Test source", "2025", 2025, "OGL-3.0", "2026-11-22", "https://example.org/gb", ""],
        ["test-SRVC", "US-SRVC", "SERC Virginia/Carolina", "location", 661.4, "lb CO2e/MWh", 0.3,
         "generation", "Test eGRID", "eGRID2023", 2023, "US public domain", "2026-11-22", "https://example.org/egrid", ""],
        ["eac-GO-1", "GB", "United Kingdom", "certificate", 0.0, "kgCO2e/kWh", 0.0, "contractual",
         "GO-1 (GO, vintage 2026)", "", 2026, "", "", "", "bundled: no"],
    ], columns=fcols)
    decisions = pd.DataFrame([
        {"contract_id": "aws-main", "kind": "cloud", "provider": "aws", "rule_id": "S3-1-cloud",
         "scope": "3", "category": "1", "explanation": "Public cloud usage -> Scope 3 Category 1"},
        {"contract_id": "lon-colo", "kind": "colocation", "provider": "Colo Ltd",
         "rule_id": "S2-colo-company-power-opcontrol", "scope": "2", "category": "",
         "explanation": "Colocation, company buys electricity, operational control -> Scope 2"},
    ])
    allocation = pd.DataFrame([
        {"site_id": "lon-colo-1", "month": "2026-07", "metered_it_kwh": 740.74, "pue": 1.35,
         "facility_kwh": 1000.0, "jobs_kwh_estimate": 1000.0, "allocated_kwh": 1000.0,
         "unallocated_kwh": 0.0, "allocation_key": "job energy"},
    ])
    inputs = [
        InputReport("bill", "focus", "bill.csv", "a" * 64, 32, 31, 1, "quarantine/bill.csv",
                    (FailedExpectation("expect_column_values_to_not_be_null", "quantity", 1, False),)),
        InputReport("meters", "meter_readings", "meters.csv", "b" * 64, 744, 744, 0, None),
    ]
    d = Disclosure(config=cfg, run_id="run-test", config_sha256="c" * 64, code_version="0.1.0",
                   factor_library_version="test", ledger=ledger, factors=factors, decisions=decisions,
                   allocation=allocation, inputs=inputs,
                   data_quality={"unestimated_billing": [{"reason": "non-usage charge (Tax)", "rows": 3, "cost": 12.5}]},
                   methodology=[("Scope 2", "Both location- and market-based are reported.")])
    d.summary = build_summary(d)
    return d

