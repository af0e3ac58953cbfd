"""pipeline/scenarios/project.py: projection, break-even, sensitivity, cost. Every expected value is worked out
by hand in the comments (never copied from the program's output).

Reference case (flat demand):
  baseline   3 Wh/request, success 0.75 -> 3 / 0.75 = 4 Wh per successful task
  fine-tuned 0.4 Wh/request, success 0.8 -> 0.4 / 0.8 = 0.5 Wh per successful task
  PUE 1.2, grid 0.2 kg/kWh -> baseline 4 x 1.2 x 0.2 / 1000 = 0.00096 kg/task, fine-tuned 0.00012 kg/task
  saving per task = 3.5 Wh x 1.2 x 0.2 / 1000 = 0.00084 kg; training 420 kg -> 420 / 0.00084 = 500,000 tasks
  100,000 tasks/month: cumulative tasks after month index m = 100,000 (m + 1) >= 500,000 -> m = 4 (5 months)
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ValidationFailed
from pipeline.scenarios.models import ModelScenarios
from pipeline.scenarios.project import (
    NETTED_FROM_INVENTORY,
    ModelProjection,
    parity,
    per_task,
    project_model,
    tasks_per_month,
)
from pipeline.scenarios.training import MeasuredTraining

REL = 1e-9


def _scen(id, kind, wh, success, **kw):
    s = {"id": id, "kind": kind, "label": id, "energy_wh_per_request": wh, "energy_source": "test", "success_rate":
         success, "pue": 1.2, "grid_factor_kg_per_kwh": 0.2, "grid_factor_source": "test factor"}
    s.update(kw)
    return s


def _ms(*, horizon=12, growth=0.0, r0=100_000, extra_scenarios=(), base=None, ft=None, **kw) -> ModelScenarios:
    scenarios = [base or _scen("base", "baseline", 3.0, 0.75), ft or _scen("ft", "fine_tuned", 0.4, 0.8),
                 *extra_scenarios]
    return ModelScenarios(model="support", horizon_months=horizon, requests_per_month=r0, monthly_growth=growth,
                          training_link={"phases": ["fine_tuning"], "projects": ["support-ft"]},
                          scenarios=scenarios, **kw)


TRAIN_420 = MeasuredTraining(energy_kwh=2100.0, emissions_kg_co2e=420.0)   # 2100 kWh x 0.2 kg/kWh


def test_per_task_and_demand():
    assert per_task(3.0, 0.75) == pytest.approx(4.0, rel=REL)
    assert per_task(0.4, 0.8) == pytest.approx(0.5, rel=REL)
    with pytest.raises(ValueError):
        per_task(1.0, 0.0)
    # 100,000 x 1.1^m: 100,000; 110,000; 121,000; 133,100
    assert tasks_per_month(100_000, 0.10, 4) == pytest.approx([100_000, 110_000, 121_000, 133_100], rel=REL)


def test_flat_reference_case():
    p = project_model(_ms(start_month="2026-10"), TRAIN_420)
    base, ft = p.scenario("base"), p.scenario("ft")
    assert base.wh_per_task == pytest.approx(4.0, rel=REL) and ft.wh_per_task == pytest.approx(0.5, rel=REL)
    assert base.kg_co2e_per_task == pytest.approx(0.00096, rel=REL)
    assert ft.kg_co2e_per_task == pytest.approx(0.00012, rel=REL)
    # per month: baseline 100,000 x 4 Wh x 1.2 / 1000 = 480 kWh -> 96 kg; fine-tuned 60 kWh -> 12 kg
    assert base.energy_kwh[0] == pytest.approx(480.0, rel=REL) and base.emissions_kg_co2e[7] == pytest.approx(96.0, rel=REL)
    assert ft.energy_kwh[0] == pytest.approx(60.0, rel=REL) and ft.emissions_kg_co2e[0] == pytest.approx(12.0, rel=REL)
    # fine-tuned starts with its training: 420 + 12 = 432 after month 0; baseline 96
    assert ft.cumulative_kg_co2e[0] == pytest.approx(432.0, rel=REL)
    assert base.cumulative_kg_co2e[0] == pytest.approx(96.0, rel=REL)
    # month index 3: ft 420 + 48 = 468 > baseline 384; month index 4: ft 480 = baseline 480
    assert ft.cumulative_kg_co2e[3] > base.cumulative_kg_co2e[3]
    assert ft.cumulative_kg_co2e[4] == pytest.approx(480.0, rel=REL) == base.cumulative_kg_co2e[4]
    be = p.comparison("baseline")
    assert be.saving_kg_co2e_per_task == pytest.approx(0.00084, rel=REL)
    assert be.extra_upfront_kg_co2e == pytest.approx(420.0, rel=REL)
    assert be.break_even_requests == pytest.approx(500_000, rel=REL)
    assert be.break_even_month_index == 4 and be.months_to_break_even == 5
    assert be.break_even_month == "2027-02"           # 2026-10 + 4 months
    assert be.break_even_months_elapsed == pytest.approx(5.0, rel=REL)
    # horizon 12: ft 420 + 12 x 12 = 564; baseline 12 x 96 = 1152; net -588
    assert ft.total_kg_co2e == pytest.approx(564.0, rel=REL) and base.total_kg_co2e == pytest.approx(1152.0, rel=REL)
    assert be.net_kg_co2e_at_horizon == pytest.approx(-588.0, rel=REL)
    assert be.expected_reduction_kg_co2e == pytest.approx(588.0, rel=REL)
    assert be.reason is None and p.comparison("rag") is None


def test_break_even_inside_a_month():
    # 400 kg / 0.00084 kg = 476,190.476 tasks; after index 3: 400,000, after index 4: 500,000 -> index 4,
    # 4 + 76,190.476 / 100,000 = 4.7619048 months elapsed
    p = project_model(_ms(), MeasuredTraining(energy_kwh=2000.0, emissions_kg_co2e=400.0))
    be = p.comparison("baseline")
    assert be.break_even_requests == pytest.approx(476_190.476190, rel=1e-9)
    assert be.break_even_month_index == 4
    assert be.break_even_months_elapsed == pytest.approx(4.76190476, rel=1e-8)
    assert be.break_even_month == "M5"


def test_growth_case():
    # tasks 100,000 x 1.1^m: 100,000; 110,000; 121,000; 133,100; 146,410; 161,051
    # cumulative: 100,000; 210,000; 331,000; 464,100; 610,510 -> first >= 500,000 at index 4
    # elapsed 4 + (500,000 - 464,100) / 146,410 = 4 + 35,900 / 146,410 = 4.2452018
    # horizon 6: cumulative tasks 771,561 -> net 420 - 0.00084 x 771,561 = 420 - 648.11124 = -228.11124
    p = project_model(_ms(horizon=6, growth=0.10), TRAIN_420)
    be = p.comparison("baseline")
    assert be.break_even_month_index == 4
    assert be.break_even_months_elapsed == pytest.approx(4.2452018, rel=1e-7)
    assert be.net_kg_co2e_at_horizon == pytest.approx(-228.11124, rel=1e-9)
    # last month's baseline emissions: 161,051 x 0.00096 = 154.60896 kg
    assert p.scenario("base").emissions_kg_co2e[5] == pytest.approx(154.60896, rel=1e-9)


def test_no_break_even_within_horizon():
    # horizon 4 with 10 % growth: 464,100 tasks < 500,000
    be = project_model(_ms(horizon=4, growth=0.10), TRAIN_420).comparison("baseline")
    assert be.break_even_requests == pytest.approx(500_000, rel=REL)
    assert be.break_even_month_index is None and be.months_to_break_even is None and be.break_even_month is None
    assert "500,000" in be.reason and "464,100" in be.reason
    # net at horizon: 420 - 0.00084 x 464,100 = 420 - 389.844 = 30.156 (fine-tuning still emits more)
    assert be.net_kg_co2e_at_horizon == pytest.approx(30.156, rel=1e-9)


def test_no_saving_means_no_break_even():
    # fine-tuned at 3 Wh / 0.75 = the baseline's 4 Wh per task: saving 0
    p = project_model(_ms(ft=_scen("ft", "fine_tuned", 3.0, 0.75)), TRAIN_420)
    be = p.comparison("baseline")
    assert be.break_even_requests is None and be.break_even_month_index is None
    assert "no saving" in be.reason
    assert be.net_kg_co2e_at_horizon == pytest.approx(420.0, rel=REL)


def test_parity_edge_cases():
    assert parity(0.0, 0.001, [10.0]) == parity(-5.0, 0.0, [10.0])      # parity from the start
    assert parity(0.0, 0.001, [10.0]).month_index == 0
    p = parity(-1.0, -0.001, [10.0])
    assert p.requests is None and "falls behind" in p.reason


def test_sensitivity_band_flat_case():
    # corners: comparator 0.00096 x {0.7, 1.3}, fine-tuned 0.00012 x {0.7, 1.3}, volume 100,000 x {0.7, 1.3}
    # smallest saving: 0.000672 - 0.000156 = 0.000516 -> 420 / 0.000516 = 813,953.488 tasks;
    #   at 70,000/month: 70,000 (m + 1) >= 813,953.5 -> m + 1 = 12 -> index 11
    # largest saving: 0.001248 - 0.000084 = 0.001164 -> 420 / 0.001164 = 360,824.742 tasks;
    #   at 130,000/month: m + 1 >= 2.776 -> index 2
    # net: most reduction 420 - 0.001164 x 1,560,000 = -1395.84; least 420 - 0.000516 x 840,000 = -13.44
    s = project_model(_ms(), TRAIN_420).comparison("baseline").sensitivity
    assert len(s.cases) == 8 and s.volume == 0.3 and s.energy == 0.3
    assert s.break_even_requests.low == pytest.approx(360_824.742268, rel=1e-9)
    assert s.break_even_requests.high == pytest.approx(813_953.488372, rel=1e-9)
    assert (s.break_even_month_index.low, s.break_even_month_index.high) == (2, 11)
    assert s.break_even_month_index.not_reached_in == 0
    assert s.net_kg_co2e_at_horizon.low == pytest.approx(-1395.84, rel=1e-9)
    assert s.net_kg_co2e_at_horizon.high == pytest.approx(-13.44, rel=1e-9)
    assert s.label == "projection"


RAG = _scen("rag", "rag", 1.2, 0.9, one_off_energy_kwh=50.0, one_off_description="index build job 812")


def test_rag_comparison():
    # RAG: 1.2 / 0.9 = 1.3333 Wh/task -> 1.3333 x 1.2 x 0.2 / 1000 = 0.00032 kg/task;
    # index build 50 kWh IT x 1.2 = 60 kWh -> 12 kg up-front
    # fine-tuned vs RAG: extra 420 - 12 = 408 kg, saving 0.00032 - 0.00012 = 0.0002 -> 2,040,000 tasks
    # flat 100,000/month: index 19 -> 2,000,000 < 2,040,000; index 20 -> 2,100,000: index 20, elapsed 20.4
    # horizon 24: ft 420 + 0.00012 x 2,400,000 = 708; RAG 12 + 0.00032 x 2,400,000 = 780 -> net -72
    p = project_model(_ms(horizon=24, extra_scenarios=[RAG]), TRAIN_420)
    rag = p.scenario("rag")
    assert rag.kg_co2e_per_task == pytest.approx(0.00032, rel=REL)
    assert rag.one_off_kwh == pytest.approx(60.0, rel=REL) and rag.upfront_kg_co2e == pytest.approx(12.0, rel=REL)
    be = p.comparison("rag")
    assert be.comparator_id == "rag" and be.extra_upfront_kg_co2e == pytest.approx(408.0, rel=REL)
    assert be.break_even_requests == pytest.approx(2_040_000, rel=REL)
    assert be.break_even_month_index == 20
    assert be.break_even_months_elapsed == pytest.approx(20.4, rel=1e-9)
    assert be.net_kg_co2e_at_horizon == pytest.approx(-72.0, rel=1e-9)
    # baseline at 24 months: 0.00096 x 2,400,000 = 2304 -> net 708 - 2304 = -1596
    assert p.comparison("baseline").net_kg_co2e_at_horizon == pytest.approx(-1596.0, rel=1e-9)


def test_rag_sensitivity_not_reached_in_some_corners():
    # horizon 12; savings: RAG x0.7 = 0.000224 minus ft 0.000084 / 0.000156 -> 0.00014 / 0.000068;
    # RAG x1.3 = 0.000416 -> 0.000332 / 0.00026. Break-even tasks 408 / saving:
    # 0.000332 -> 1,228,915.7 (reached at volume x1.3: 130,000 (m+1), m + 1 = 10 -> index 9; not at x0.7: 840,000)
    # 0.00026 -> 1,569,230.8 > 1,560,000: not reached; the others larger still -> reached in 1 corner of 8
    s = project_model(_ms(extra_scenarios=[RAG]), TRAIN_420).comparison("rag").sensitivity
    assert s.break_even_month_index.low == 9
    assert s.break_even_month_index.high is None and s.break_even_month_index.not_reached_in == 7


def test_cost_is_carried_through():
    # cost per task: baseline 0.003 / 0.75 = 0.004; fine-tuned 0.0004 / 0.8 = 0.0005; saving 0.0035
    # training cost 1,000 EUR -> cost break-even 1,000 / 0.0035 = 285,714.2857 tasks
    # 12 months flat (1,200,000 tasks): ft 1,000 + 600 = 1,600; baseline 4,800 -> net -3,200
    ms = _ms(base=_scen("base", "baseline", 3.0, 0.75, cost_per_request=0.003, currency="EUR"),
             ft=_scen("ft", "fine_tuned", 0.4, 0.8, cost_per_request=0.0004, currency="EUR"))
    p = project_model(ms, MeasuredTraining(energy_kwh=2100.0, emissions_kg_co2e=420.0, cost=1000.0,
                                           cost_currency="EUR"))
    ft = p.scenario("ft")
    assert ft.cost_per_task == pytest.approx(0.0005, rel=REL) and ft.training_cost == 1000.0
    assert ft.cumulative_cost[0] == pytest.approx(1050.0, rel=REL)
    be = p.comparison("baseline")
    assert be.currency == "EUR" and be.saving_cost_per_task == pytest.approx(0.0035, rel=REL)
    assert be.cost_break_even_requests == pytest.approx(285_714.285714, rel=1e-9)
    assert be.net_cost_at_horizon == pytest.approx(-3200.0, rel=1e-9)


def test_cost_absent_or_in_another_currency():
    p = project_model(_ms(), TRAIN_420)
    be = p.comparison("baseline")
    assert be.net_cost_at_horizon is None and "not given" in be.cost_reason
    ms = _ms(base=_scen("base", "baseline", 3.0, 0.75, cost_per_request=0.003, currency="EUR"),
             ft=_scen("ft", "fine_tuned", 0.4, 0.8, cost_per_request=0.0004, currency="EUR"))
    p = project_model(ms, MeasuredTraining(2100.0, 420.0, cost=900.0, cost_currency="USD"))
    assert p.comparison("baseline").net_cost_at_horizon is None
    assert "training_cost_currency_differs" in p.flags


def test_grid_zone_resolved_by_caller():
    # baseline in zone DE at 0.38 kg/kWh: 4 Wh x 1.2 x 0.38 / 1000 = 0.001824 kg/task
    base = _scen("base", "baseline", 3.0, 0.75, grid_factor_kg_per_kwh=None, grid_factor_source=None, grid_zone="DE")
    p = project_model(_ms(base=base), TRAIN_420, zone_factors={"DE": (0.38, "ember-DE-2023")})
    assert p.scenario("base").kg_co2e_per_task == pytest.approx(0.001824, rel=REL)
    assert p.scenario("base").grid_factor_source == "ember-DE-2023"
    with pytest.raises(ValidationFailed, match="no grid factor for zone 'DE'"):
        project_model(_ms(base=base), TRAIN_420, zone_factors={})


MEASURED = pd.DataFrame({"model": ["ft-endpoint"], "months_matched": [2], "months_unmatched": [0],
                         "requests": [300_000.0], "energy_kwh": [126.0], "wh_per_request": [0.42],
                         "success_rate": [0.95]})


def test_measured_beside_assumed():
    # measured 0.42 Wh/request facility / PUE 1.2 = 0.35 Wh IT; assumed 0.4 -> ratio 0.875
    ft = _scen("ft", "fine_tuned", 0.4, 0.8, measured_key="ft-endpoint")
    p = project_model(_ms(ft=ft), TRAIN_420, measured_by_model=MEASURED)
    (cmp,) = p.intensity
    assert cmp.scenario_id == "ft" and cmp.measured_it_wh_per_request == pytest.approx(0.35, rel=REL)
    assert cmp.assumed_facility_wh_per_request == pytest.approx(0.48, rel=REL)
    assert cmp.measured_to_assumed == pytest.approx(0.875, rel=REL)
    assert cmp.measured_success_rate == 0.95 and cmp.months_matched == 2 and not cmp.used_in_projection
    assert p.scenario("ft").intensity_basis == "assumed" and p.scenario("ft").wh_per_task == pytest.approx(0.5, rel=REL)


def test_use_measured_in_projection():
    # 0.35 Wh IT / measured success 0.95 = 0.3684211 Wh/task -> x 1.2 x 0.2 / 1000 = 8.8421053e-5 kg/task
    ft = _scen("ft", "fine_tuned", 0.4, 0.8, measured_key="ft-endpoint", use_measured=True)
    p = project_model(_ms(ft=ft), TRAIN_420, measured_by_model=MEASURED)
    s = p.scenario("ft")
    assert s.intensity_basis == "measured" and s.success_rate_basis == "measured"
    assert s.wh_per_task == pytest.approx(0.36842105263, rel=1e-9)
    assert s.kg_co2e_per_task == pytest.approx(8.8421052632e-5, rel=1e-9)
    assert s.assumed_wh_per_request == 0.4 and p.intensity[0].used_in_projection
    with pytest.raises(ValidationFailed, match="sets use_measured"):
        project_model(_ms(ft=ft), TRAIN_420, measured_by_model=MEASURED.iloc[0:0])


def test_gpu_only_energy_is_flagged():
    base = _scen("base", "baseline", None, 0.75, energy_wh_per_request=None, tokens_per_request=400,
                 energy_j_per_token=0.373, energy_scope="gpu_only", energy_source="ML.ENERGY leaderboard v3, 70B")
    p = project_model(_ms(base=base), TRAIN_420)
    # 400 x 0.373 J = 149.2 J = 0.0414444 Wh/request
    assert p.scenario("base").wh_per_request == pytest.approx(0.04144444444, rel=1e-9)
    assert "energy_per_request_gpu_only_underestimate" in p.flags


def _walk(obj, path="$"):
    if isinstance(obj, dict):
        yield path, obj
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")


def test_output_is_json_and_labelled_projection_never_netted():
    p = project_model(_ms(horizon=4, growth=0.1, extra_scenarios=[RAG]), TRAIN_420)
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d["netted_from_inventory"] is False and NETTED_FROM_INVENTORY is False
    assert d["label"] == "projection" and d["esrs_datapoint"] == "ExpectedGHGEmissionReductions"
    labelled = [path for path, node in _walk(d) if "label" in node]
    for section in ("scenarios", "comparisons"):
        for i, node in enumerate(d[section]):
            assert node["label"] == "projection", f"{section}[{i}]"
    assert all(c["sensitivity"]["label"] == "projection" for c in d["comparisons"])
    assert len(labelled) >= 1 + 3 + 2 + 2
    with pytest.raises(ValueError, match="never netted"):
        ModelProjection(**{**{f: getattr(p, f) for f in p.__dataclass_fields__}, "netted_from_inventory": True})


def test_curves_frame_long_format():
    df = project_model(_ms(horizon=3), TRAIN_420).curves_frame()
    assert len(df) == 2 * 3 and set(df["label"]) == {"projection"}
    row = df[(df["scenario_id"] == "ft") & (df["month_index"] == 2)].iloc[0]
    assert row["cumulative_kg_co2e"] == pytest.approx(420.0 + 3 * 12.0, rel=REL)


@settings(max_examples=200, deadline=None)
@given(extra=st.floats(1.0, 1e4), saving=st.floats(1e-6, 1e-2), r0=st.floats(1.0, 1e6), g=st.floats(-0.2, 0.3),
       horizon=st.integers(1, 60))
def test_break_even_month_is_where_the_curves_cross(extra, saving, r0, g, horizon):
    tasks = tasks_per_month(r0, g, horizon)
    p = parity(extra, saving, tasks)
    diff, cum = [], 0.0
    for t in tasks:
        cum += t
        diff.append(extra - saving * cum)      # fine-tuned minus comparator cumulative
    tol = 1e-9 * extra
    crossed = [m for m, d in enumerate(diff) if d <= tol]
    if p.month_index is None:
        assert not [m for m, d in enumerate(diff) if d <= -tol]
    else:
        assert crossed and p.month_index == crossed[0]
        assert p.month_index <= p.months_elapsed <= p.month_index + 1
    assert math.isclose(p.requests, extra / saving, rel_tol=1e-12)


def test_issue_example_543_kwh_against_103_1_joules_per_request():
    """543 kWh of fine-tuning energy recovered by saving 103.1 J per request:
    543 x 3,600,000 J = 1,954,800,000 J; / 103.1 J = 18,960,232.8 requests (about 19 million).
    At 2,000,000 requests a month the cumulative count passes it in month 10 (index 9): 9 x 2 M = 18 M < N* <= 20 M."""
    from pipeline.scenarios.project import parity

    p = parity(543 * 3_600_000.0, 103.1, [2_000_000.0] * 24, what="J")
    assert p.requests == pytest.approx(1_954_800_000 / 103.1, rel=1e-12)
    assert round(p.requests) == 18_960_233
    assert p.month_index == 9
    assert p.months_elapsed == pytest.approx(9 + (18_960_232.783705 - 18_000_000) / 2_000_000, rel=1e-9)
    none = parity(543 * 3_600_000.0, 103.1, [500_000.0] * 24, what="J")
    # 24 x 0.5 M = 12 M requests < 18.96 M: never within the horizon, and the reason says so
    assert none.month_index is None and "not enough" in none.reason
