"""pipeline/energy/site.py: phase rules, job allocation keys per month, meter allocation and coverage."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import PhaseRule, Site, config_from_dict
from pipeline.energy import meters as meters_energy
from pipeline.energy import site as site_energy
from pipeline.period import bounds as period_bounds

T = pd.Timestamp


def _rules(*specs) -> list[PhaseRule]:
    return [PhaseRule.model_validate(s) for s in specs]


def _bounds(period="2026-Q3", zone="Europe/London"):
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR", "timezone": zone},
        "period": period,
        "contracts": [{"id": "c", "kind": "cloud", "provider": "aws"}],
        "sources": [{"kind": "focus", "path": "x.csv", "contracts": ["c"]}],
    })
    return period_bounds(cfg)


# --- match_phase ------------------------------------------------------------------------------------

def test_first_matching_rule_wins():
    rules = _rules({"id": "train", "phase": "training", "match": {"job_name": "train-*"}},
                   {"id": "ft", "phase": "fine_tuning", "match": {"job_name": "train-ft*"}})
    assert site_energy.match_phase(rules, job_name="train-ft-7") == ("training", "train")
    assert site_energy.match_phase(list(reversed(rules)), job_name="train-ft-7") == ("fine_tuning", "ft")


def test_globs_and_default_rule_id():
    rules = _rules({"phase": "evaluation", "match": {"job_name": "eval-??"}},
                   {"phase": "inference", "match": {"job_name": "serve-*", "partition": "gpu[ab]"}})
    assert site_energy.match_phase(rules, job_name="eval-01") == ("evaluation", "phase_rules[0]")
    assert site_energy.match_phase(rules, job_name="eval-001") == ("unallocated", "")
    # all fields of a rule must match
    assert site_energy.match_phase(rules, job_name="serve-x", partition="gpua") == ("inference", "phase_rules[1]")
    assert site_energy.match_phase(rules, job_name="serve-x", partition="gpuc") == ("unallocated", "")
    assert site_energy.match_phase(rules, job_name="serve-x") == ("unallocated", "")
    # globs are case-sensitive
    assert site_energy.match_phase(rules, job_name="EVAL-01") == ("unallocated", "")


def test_tag_rules():
    rules = _rules({"id": "inf", "phase": "inference", "match": {"tags": {"workload": "infer*", "env": "prod"}}},
                   {"id": "acct", "phase": "training", "match": {"account": "research-*"}})
    assert site_energy.match_phase(rules, tags={"workload": "inference", "env": "prod"}) == ("inference", "inf")
    assert site_energy.match_phase(rules, tags={"workload": "inference"}) == ("unallocated", "")
    assert site_energy.match_phase(rules, tags=None, account="research-nlp") == ("training", "acct")


def test_rule_with_empty_match_never_matches():
    rules = _rules({"id": "empty", "phase": "training", "match": {}})
    assert site_energy.match_phase(rules, job_name="anything") == ("unallocated", "")


# --- job_month_keys -------------------------------------------------------------------------------

def _jobs(rows):
    base = {"job_id": "1", "job_name": "train-x", "account": "proj", "partition": "gpu", "source_file": "s.txt",
            "source_row": 2, "gpu_count": 8.0, "gpu_model": "H100-SXM", "energy_kwh": float("nan")}
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("start_utc", "end_utc"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


RULES = [PhaseRule.model_validate({"id": "t", "phase": "training", "match": {"job_name": "train-*"}})]


def test_job_split_across_month_edge_in_london():
    b = _bounds()
    # July ends at 2026-08-01T00:00 BST = 2026-07-31T23:00Z.
    # Job 21:00Z..02:00Z: 2 h in July (21:00-23:00Z), 3 h in August (23:00-02:00Z), 5 h in all.
    jobs = _jobs([
        {"job_id": "m", "start_utc": "2026-07-31T21:00Z", "end_utc": "2026-08-01T02:00Z", "energy_kwh": 10.0},
        {"job_id": "b", "start_utc": "2026-07-31T21:00Z", "end_utc": "2026-08-01T02:00Z", "source_row": 3},
    ])
    keys = site_energy.job_month_keys(jobs, b, {"H100-SXM": 700.0}, RULES, "account")
    k = keys.set_index(["job_id", "month"])
    # measured 10 kWh split by time: 10 x 2/5 = 4 kWh, 10 x 3/5 = 6 kWh
    assert k.loc[("m", "2026-07"), "key_it_kwh"] == pytest.approx(4.0, rel=1e-9)
    assert k.loc[("m", "2026-08"), "key_it_kwh"] == pytest.approx(6.0, rel=1e-9)
    assert k.loc[("m", "2026-07"), "key_basis"] == "measured"
    # board power: 8 GPUs x 2 h = 16 GPU-h x 700 W = 11.2 kWh; 8 x 3 h = 24 GPU-h x 700 W = 16.8 kWh
    assert k.loc[("b", "2026-07"), "gpu_hours"] == pytest.approx(16.0, rel=1e-9)
    assert k.loc[("b", "2026-07"), "key_it_kwh"] == pytest.approx(11.2, rel=1e-9)
    assert k.loc[("b", "2026-08"), "key_it_kwh"] == pytest.approx(16.8, rel=1e-9)
    assert k.loc[("b", "2026-08"), "flags"] == "job_energy_board_power"
    assert set(keys["phase"]) == {"training"} and set(keys["project"]) == {"proj"}


def test_job_clipped_to_period_and_end_unknown():
    b = _bounds()
    # period starts 2026-06-30T23:00Z (London). Job 20:00Z..01:00Z: 2 of its 5 h are in the period.
    # End unknown: clipped to the period end 2026-09-30T23:00Z; started 2026-09-30T21:00Z -> 2 h.
    jobs = _jobs([
        {"job_id": "edge", "start_utc": "2026-06-30T20:00Z", "end_utc": "2026-07-01T01:00Z", "energy_kwh": 5.0},
        {"job_id": "run", "start_utc": "2026-09-30T21:00Z", "end_utc": None, "gpu_count": 4.0},
        {"job_id": "pend", "start_utc": None, "end_utc": None},
        {"job_id": "nomodel", "start_utc": "2026-07-02T00:00Z", "end_utc": "2026-07-02T01:00Z", "gpu_model": None},
    ])
    keys = site_energy.job_month_keys(jobs, b, {"H100-SXM": 700.0}, [], "none")
    k = keys.set_index("job_id")
    assert "pend" not in k.index
    # 5 kWh x 2/5 = 2 kWh
    assert k.loc["edge", "key_it_kwh"] == pytest.approx(2.0, rel=1e-9)
    # 4 GPUs x 2 h x 700 W = 5.6 kWh
    assert k.loc["run", "key_it_kwh"] == pytest.approx(5.6, rel=1e-9)
    assert k.loc["run", "month"] == "2026-09"
    assert k.loc["run", "flags"] == "job_end_unknown_clipped_to_period_end;job_energy_board_power"
    assert k.loc["nomodel", "key_it_kwh"] == 0.0
    assert k.loc["nomodel", "flags"] == "job_gpu_model_unknown"
    assert set(keys["phase"]) == {"unallocated"} and set(keys["project"]) == {""}


# --- meter_months / allocate ------------------------------------------------------------------------

SITE = Site(id="s1", grid_zone="GB", pue=1.5, meters=[{"id": "IT1", "measures": "it_load"},
                                                      {"id": "FAC1", "measures": "facility"}])


def _meters(rows):
    df = pd.DataFrame([{"source_file": "m.csv", "site_id": "s1", **r} for r in rows])
    df["interval_start_utc"] = pd.to_datetime(df["interval_start_utc"], utc=True)
    df["interval_end_utc"] = df["interval_start_utc"] + pd.Timedelta(hours=1)
    return df


def _keys(rows):
    base = {"job_id": "1", "job_name": "j", "source_file": "s.txt", "source_row": 2, "phase": "training",
            "phase_rule": "t", "project": "p", "gpu_hours": 0.0, "key_basis": "measured", "flags": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_meter_months_pue_only_on_it_load():
    m = meters_energy.meter_months(_meters([
        {"meter_id": "IT1", "interval_start_utc": "2026-07-31T22:00Z", "energy_kwh": 100.0, "source_row": 2},
        {"meter_id": "FAC1", "interval_start_utc": "2026-07-31T23:00Z", "energy_kwh": 100.0, "source_row": 3},
    ]), SITE, _bounds())
    # 22:00Z = 23:00 BST on 31 July; 23:00Z = 00:00 BST on 1 August
    assert m["month"].tolist() == ["2026-07", "2026-08"]
    # IT load x PUE 1.5 = 150; facility meter as read = 100
    assert m["facility_kwh"].tolist() == [pytest.approx(150.0, rel=1e-9), pytest.approx(100.0, rel=1e-9)]


def _july_meter_rows():
    # two IT-load hours of 100 kWh each in July: 200 kWh IT x PUE 1.5 = 300 kWh facility
    return meters_energy.meter_months(_meters([
        {"meter_id": "IT1", "interval_start_utc": "2026-07-10T00:00Z", "energy_kwh": 100.0, "source_row": 2},
        {"meter_id": "IT1", "interval_start_utc": "2026-07-10T01:00Z", "energy_kwh": 100.0, "source_row": 3},
    ]), SITE, _bounds())


def test_allocate_keys_below_meter_leave_unallocated_remainder():
    keys = _keys([{"month": "2026-07", "key_it_kwh": 60.0}, {"month": "2026-07", "key_it_kwh": 40.0,
                                                              "phase": "inference", "source_row": 5}])
    slices, alloc = site_energy.allocate(SITE, ["2026-07"], _july_meter_rows(), keys)
    s = slices.set_index("phase")
    # keys: 60 + 40 = 100 kWh IT x 1.5 = 150 kWh facility; meter 300 -> unallocated 300 - 150 = 150
    assert s.loc["training", "energy_kwh"] == pytest.approx(90.0, rel=1e-9)     # 60 x 1.5
    assert s.loc["inference", "energy_kwh"] == pytest.approx(60.0, rel=1e-9)    # 40 x 1.5
    assert s.loc["unallocated", "energy_kwh"] == pytest.approx(150.0, rel=1e-9)
    assert s.loc["unallocated", "source_rows"] == "2-3"
    assert slices["energy_kwh"].sum() == pytest.approx(300.0, rel=1e-9)
    a = alloc.iloc[0]
    assert (a["metered_it_kwh"], a["facility_kwh"], a["jobs_kwh_estimate"], a["allocated_kwh"], a["unallocated_kwh"]) \
        == (pytest.approx(200.0, rel=1e-9), pytest.approx(300.0, rel=1e-9), pytest.approx(150.0, rel=1e-9),
            pytest.approx(150.0, rel=1e-9), pytest.approx(150.0, rel=1e-9))
    assert set(slices["energy_basis"]) == {"metered"}


def test_allocate_keys_above_meter_scaled():
    keys = _keys([{"month": "2026-07", "key_it_kwh": 300.0}])
    slices, alloc = site_energy.allocate(SITE, ["2026-07"], _july_meter_rows(), keys)
    # keys 300 x 1.5 = 450 > meter 300: scaled by 300/450; jobs get 300, nothing unallocated
    assert slices["phase"].tolist() == ["training"]
    assert slices["energy_kwh"].tolist() == [pytest.approx(300.0, rel=1e-9)]
    assert slices["defaults_used"].tolist() == ["job_keys_scaled_to_meter"]
    assert alloc.iloc[0]["unallocated_kwh"] == pytest.approx(0.0, abs=1e-9)
    assert alloc.iloc[0]["allocated_kwh"] == pytest.approx(300.0, rel=1e-9)
    assert f"{300 / 450:.4f}" in alloc.iloc[0]["allocation_key"]


def test_allocate_month_without_jobs_all_unallocated():
    slices, alloc = site_energy.allocate(SITE, ["2026-07", "2026-08"], _july_meter_rows(), _keys([]).iloc[0:0])
    # July: 300 kWh unallocated; August: no readings, no jobs -> one unallocated slice of 0
    assert slices[["month", "phase"]].values.tolist() == [["2026-07", "unallocated"], ["2026-08", "unallocated"]]
    assert slices["energy_kwh"].tolist() == [pytest.approx(300.0, rel=1e-9), 0.0]


def test_allocate_without_meter_uses_job_estimates():
    keys = _keys([{"month": "2026-07", "key_it_kwh": 10.0, "flags": "job_energy_board_power"}])
    slices, alloc = site_energy.allocate(SITE, ["2026-07"], None, keys)
    # 10 kWh IT x PUE 1.5 = 15 kWh, basis estimated
    assert slices["energy_kwh"].tolist() == [pytest.approx(15.0, rel=1e-9)]
    assert slices["energy_basis"].tolist() == ["estimated"]
    assert slices["defaults_used"].tolist() == ["job_energy_board_power;site_energy_from_job_estimates"]
    assert alloc.iloc[0]["unallocated_kwh"] == 0.0
