"""pipeline/scenarios/training.py: measured training from the ledger, seed cross-check, AI Act statement,
and the whole chain (build_projection). Expected values are summed by hand from the rows below."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.errors import ValidationFailed
from pipeline.scenarios.models import ModelScenarios, TrainingLink
from pipeline.scenarios.project import build_projection
from pipeline.scenarios.training import (
    seed_cross_check,
    select_training,
    training_energy_statement,
)


def _row(month, kind, where, phase, project, kwh, lb, mb, *, cost=0.0, currency="", basis="metered",
         defaults="", file="jobs.txt", rows="2-5"):
    return {"month": month, "contract_kind": kind, "site_or_region": where, "phase": phase, "project": project,
            "energy_kwh": kwh, "emissions_lb_kg_co2e": lb, "emissions_mb_kg_co2e": mb, "cost": cost,
            "cost_currency": currency, "energy_basis": basis, "defaults_used": defaults, "source_file": file,
            "source_rows": rows}


LEDGER = pd.DataFrame([
    _row("2026-07", "colocation", "s1", "fine_tuning", "support-ft", 100.0, 20.0, 5.0),
    _row("2026-08", "colocation", "s1", "fine_tuning", "support-ft", 50.0, 10.0, 2.5, basis="estimated",
         defaults="job_energy_board_power", rows="7"),
    _row("2026-07", "cloud", "eu-west-1", "fine_tuning", "support-ft", 40.0, 8.0, 8.0, cost=120.0, currency="EUR",
         basis="estimated", file="focus.csv", rows="10-12"),
    _row("2026-07", "colocation", "s1", "training", "other", 70.0, 14.0, 3.5),
    _row("2026-07", "colocation", "s1", "inference", "support-ft", 30.0, 6.0, 1.5),
])

JOB_KEYS = pd.DataFrame([
    {"site_id": "s1", "job_id": "11", "job_name": "ft-support-a", "month": "2026-07", "phase": "fine_tuning",
     "project": "support-ft", "gpu_hours": 10.0, "key_it_kwh": 30.0},
    {"site_id": "s1", "job_id": "12", "job_name": "eval-x", "month": "2026-07", "phase": "fine_tuning",
     "project": "support-ft", "gpu_hours": 4.0, "key_it_kwh": 10.0},
    {"site_id": "s1", "job_id": "11", "job_name": "ft-support-a", "month": "2026-08", "phase": "fine_tuning",
     "project": "support-ft", "gpu_hours": 8.0, "key_it_kwh": 20.0},
    {"site_id": "s1", "job_id": "13", "job_name": "ft-support-z", "month": "2026-07", "phase": "training",
     "project": "other", "gpu_hours": 99.0, "key_it_kwh": 99.0},
])


def test_select_by_phase_and_project():
    # rows 1-3: 100 + 50 + 40 = 190 kWh; LB 20 + 10 + 8 = 38; MB 5 + 2.5 + 8 = 15.5; cost 120 EUR (cloud row)
    sel = select_training(LEDGER, TrainingLink(phases=["fine_tuning"], projects=["support-ft"]), model="support")
    assert sel.energy_kwh == 190.0 and sel.emissions_lb_kg_co2e == 38.0 and sel.emissions_mb_kg_co2e == 15.5
    assert sel.cost == 120.0 and sel.cost_currency == "EUR"
    assert sel.kwh_by_basis == {"metered": 100.0, "measured": 0.0, "estimated": 90.0}
    assert sel.energy_basis == "estimated" and sel.defaults_used == "job_energy_board_power"
    assert sel.gpu_hours is None and sel.months == ["2026-07", "2026-08"]
    assert "training_cost_excludes_site_rows" in sel.flags
    assert sel.sources == ["jobs.txt: 2-5", "jobs.txt: 7", "focus.csv: 10-12"]
    m = sel.measured("market")
    assert m.emissions_kg_co2e == 15.5 and m.energy_kwh == 190.0 and m.basis == "market"


def test_gpu_hours_from_job_keys():
    # jobs 11 (10 + 8 h) and 12 (4 h) match phase and project; 13 does not -> 22 GPU-hours
    sel = select_training(LEDGER, TrainingLink(phases=["fine_tuning"], projects=["support-ft"]), model="support",
                          job_keys=JOB_KEYS)
    assert sel.gpu_hours == 22.0 and sel.job_ids == ["11", "12"]
    assert "gpu_hours_cover_scheduler_jobs_only" in sel.flags   # the cloud row has no GPU-hours here


def test_job_name_glob_takes_the_matching_jobs_share():
    # July slice: job 11 key 30 of 30 + 10 -> share 0.75 -> 75 kWh, LB 15, MB 3.75
    # August slice: only job 11 -> share 1 -> 50 kWh, LB 10, MB 2.5; cloud row left out
    # totals 125 kWh, LB 25, MB 6.25; GPU-hours 10 + 8 = 18; estimated 50 of 125 kWh
    link = TrainingLink(phases=["fine_tuning"], projects=["support-ft"], job_name_glob="ft-support-*")
    sel = select_training(LEDGER, link, model="support", job_keys=JOB_KEYS)
    assert sel.energy_kwh == pytest.approx(125.0, rel=1e-12)
    assert sel.emissions_lb_kg_co2e == pytest.approx(25.0, rel=1e-12)
    assert sel.emissions_mb_kg_co2e == pytest.approx(6.25, rel=1e-12)
    assert sel.gpu_hours == 18.0 and sel.job_ids == ["11"]
    assert sel.cost == 0.0 and sel.cost_currency is None
    assert "cloud_rows_excluded_by_job_name_glob" in sel.flags
    st = training_energy_statement(sel)
    assert st.known_or_estimated == "estimated" and st.estimated_share == pytest.approx(0.4, rel=1e-12)
    assert st.label == "measured" and "Annex XI" in st.reference and "ft-support-*" in st.method


def test_glob_without_projects_uses_phases_only():
    sel = select_training(LEDGER, TrainingLink(job_name_glob="ft-support-*"), model="m", job_keys=JOB_KEYS)
    # phases training + fine_tuning: job 13 is the only job of the 'training/other' slice -> its 70 kWh count too
    # 75 + 50 + 70 = 195 kWh
    assert sel.energy_kwh == pytest.approx(195.0, rel=1e-12)
    assert sel.job_ids == ["11", "13"]


def _with_rules(ledger: pd.DataFrame, keys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # the July site slice split by phase rule as the ledger now does: rule r-ft (job 11, key 30 -> 75 kWh,
    # LB 15) and rule r-eval (job 12, key 10 -> 25 kWh, LB 5); every other row keeps rule r-ft / r-other
    rows = ledger.to_dict("records")
    july = rows[0]
    rows[0] = {**july, "energy_kwh": 75.0, "emissions_lb_kg_co2e": 15.0, "emissions_mb_kg_co2e": 3.75,
               "phase_rule": "r-ft"}
    rows.insert(1, {**july, "energy_kwh": 25.0, "emissions_lb_kg_co2e": 5.0, "emissions_mb_kg_co2e": 1.25,
                    "phase_rule": "r-eval"})
    for r in rows[2:]:
        r["phase_rule"] = "r-other" if r["project"] == "other" else "r-ft"
    k = keys.copy()
    k["phase_rule"] = ["r-ft", "r-eval", "r-ft", "r-other"]
    return pd.DataFrame(rows), k


def test_select_by_phase_rule():
    # rule r-ft, fine_tuning: July 75 + August 50 + cloud 40 = 165 kWh; LB 15 + 10 + 8 = 33;
    # GPU-hours of job 11 only: 10 + 8 = 18
    ledger, keys = _with_rules(LEDGER, JOB_KEYS)
    sel = select_training(ledger, TrainingLink(phases=["fine_tuning"], phase_rules=["r-ft"]), model="support",
                          job_keys=keys)
    assert sel.energy_kwh == 165.0 and sel.emissions_lb_kg_co2e == 33.0
    assert sel.gpu_hours == 18.0 and sel.job_ids == ["11"] and sel.cost == 120.0
    with pytest.raises(ValidationFailed, match="needs the ledger's phase_rule column"):
        select_training(LEDGER, TrainingLink(phase_rules=["r-ft"]), model="support")


def test_glob_share_is_taken_per_phase_rule_slice():
    # with slices split by rule, the glob keeps the whole r-ft slice (share 1: 75 kWh) and none of the r-eval
    # slice (job 12 does not match): 75 + 50 = 125 kWh, as without the split, and only r-ft rows are selected
    ledger, keys = _with_rules(LEDGER, JOB_KEYS)
    link = TrainingLink(phases=["fine_tuning"], projects=["support-ft"], job_name_glob="ft-support-*")
    sel = select_training(ledger, link, model="support", job_keys=keys)
    assert sel.energy_kwh == pytest.approx(125.0, rel=1e-12)
    assert set(sel.rows["phase_rule"]) == {"r-ft"} and list(sel.rows["share"]) == [1.0, 1.0]


def test_selection_errors():
    with pytest.raises(ValidationFailed, match="no ledger rows hold its training"):
        select_training(LEDGER, TrainingLink(phases=["fine_tuning"], projects=["nope"]), model="support")
    with pytest.raises(ValidationFailed, match="needs the run's job allocation keys"):
        select_training(LEDGER, TrainingLink(projects=["support-ft"], job_name_glob="ft-*"), model="support")


def test_seed_cross_check():
    # 1000 GPU-h x 700 W x 1.2 / 1000 = 840 kWh; x 0.2 kg/kWh = 168 kg; measured 800 kWh / 160 kg -> 1.05
    c = seed_cross_check(gpu_hours=1000, average_power_w=700, pue=1.2, grid_factor_kg_per_kwh=0.2,
                         measured_kwh=800.0, measured_kg_co2e=160.0)
    assert c.seed_kwh == pytest.approx(840.0, rel=1e-12) and c.seed_kg_co2e == pytest.approx(168.0, rel=1e-12)
    assert c.ratio_kwh == pytest.approx(1.05, rel=1e-12) and c.ratio_kg_co2e == pytest.approx(1.05, rel=1e-12)
    assert seed_cross_check(gpu_hours=1, average_power_w=1, pue=1, grid_factor_kg_per_kwh=0, measured_kwh=0,
                            measured_kg_co2e=0).ratio_kwh is None


def test_statement_known_when_all_metered():
    sel = select_training(LEDGER.iloc[[0]], TrainingLink(phases=["fine_tuning"], projects=["support-ft"]),
                          model="support")
    st = training_energy_statement(sel)
    assert st.known_or_estimated == "known" and st.energy_kwh == 100.0 and st.estimated_share == 0.0
    assert "base model" in st.excludes


def test_build_projection_end_to_end():
    # ledger: 2100 kWh of metered fine-tuning at s1 with 420 kg location-based -> the reference case:
    # break-even 500,000 tasks at month index 4 (see test_project.py)
    # seed check: 2 jobs, 1,500 + 1,000 GPU-h = 2,500 GPU-h x 700 W x 1.2 / 1000 = 2,100 kWh -> ratio 1.0;
    # kg: 2,100 x 0.2 = 420 -> ratio 1.0
    ledger = pd.DataFrame([_row("2026-07", "colocation", "s1", "fine_tuning", "support-ft", 2100.0, 420.0, 0.0)])
    keys = pd.DataFrame([
        {"site_id": "s1", "job_id": "1", "job_name": "ft-a", "month": "2026-07", "phase": "fine_tuning",
         "project": "support-ft", "gpu_hours": 1500.0, "key_it_kwh": 1050.0},
        {"site_id": "s1", "job_id": "2", "job_name": "ft-b", "month": "2026-07", "phase": "fine_tuning",
         "project": "support-ft", "gpu_hours": 1000.0, "key_it_kwh": 700.0}])
    scen = {"energy_source": "test", "pue": 1.2, "grid_factor_kg_per_kwh": 0.2, "grid_factor_source": "test"}
    ms = ModelScenarios(
        model="support", horizon_months=12, requests_per_month=100_000,
        training_link={"phases": ["fine_tuning"], "projects": ["support-ft"]},
        seed_check={"average_power_w": 700, "power_source": "H100 SXM board power", "pue": 1.2, "grid_zone": "GB"},
        scenarios=[{"id": "b", "kind": "baseline", "label": "70B", "energy_wh_per_request": 3.0, "success_rate": 0.75,
                    **scen},
                   {"id": "f", "kind": "fine_tuned", "label": "1B", "energy_wh_per_request": 0.4, "success_rate": 0.8,
                    **scen}])
    p = build_projection(ms, ledger, job_keys=keys, zone_factors={"GB": (0.2, "test-GB")})
    assert p.scenario("f").training_kg_co2e == 420.0 and p.scenario("f").training_kwh == 2100.0
    be = p.comparison("baseline")
    assert be.break_even_requests == pytest.approx(500_000, rel=1e-9) and be.break_even_month_index == 4
    st = p.training_statement
    assert st.gpu_hours == 2500.0 and st.jobs == 2 and st.known_or_estimated == "known"
    assert st.cross_check["ratio_kwh"] == pytest.approx(1.0, rel=1e-12)
    assert st.cross_check["ratio_kg_co2e"] == pytest.approx(1.0, rel=1e-12)
    assert st.cross_check["grid_factor_source"] == "test-GB"
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d["training_statement"]["label"] == "measured" and d["netted_from_inventory"] is False
