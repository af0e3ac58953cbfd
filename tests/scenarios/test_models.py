"""pipeline/scenarios/models.py: scenario config validation, with messages that say what to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.scenarios.models import (
    ModelScenarios,
    Projections,
    Scenario,
    SeedCheck,
    TrainingLink,
    month_labels,
)


def _scenario(**kw) -> dict:
    base = {"id": "ft", "kind": "fine_tuned", "label": "Fine-tuned 1B", "energy_wh_per_request": 0.4,
            "energy_source": "measured pilot", "success_rate": 0.8, "pue": 1.2,
            "grid_factor_kg_per_kwh": 0.2, "grid_factor_source": "test factor"}
    base.update(kw)
    return base


def _model(**kw) -> dict:
    base = {"model": "support", "horizon_months": 12, "requests_per_month": 100_000,
            "training_link": {"phases": ["fine_tuning"], "projects": ["support-ft"]},
            "scenarios": [_scenario(id="base", kind="baseline", label="70B prompt", energy_wh_per_request=3.0,
                                    success_rate=0.75),
                          _scenario()]}
    base.update(kw)
    return base


def test_token_form_gives_wh_per_request():
    # 1200 tokens x 0.373 J/token = 447.6 J = 447.6 / 3600 Wh = 0.124333... Wh
    s = Scenario(**_scenario(energy_wh_per_request=None, tokens_per_request=1200, energy_j_per_token=0.373))
    assert s.wh_per_request == pytest.approx(0.1243333333, rel=1e-9)


def test_direct_form_wh_per_request():
    assert Scenario(**_scenario()).wh_per_request == 0.4


@pytest.mark.parametrize("kw, message", [
    ({"tokens_per_request": 1000, "energy_j_per_token": 0.07}, "not both"),
    ({"energy_wh_per_request": None}, "give the energy per request"),
    ({"energy_wh_per_request": None, "tokens_per_request": 1000}, "energy_j_per_token is missing"),
    ({"energy_wh_per_request": None, "energy_j_per_token": 0.07}, "tokens_per_request is missing"),
    ({"grid_zone": "DE"}, "not both"),
    ({"grid_factor_kg_per_kwh": None, "grid_factor_source": None}, "give the grid emission factor"),
    ({"grid_factor_source": None}, "needs grid_factor_source"),
    ({"cost_per_request": 0.001}, "needs 'currency'"),
    ({"one_off_energy_kwh": 50}, "needs one_off_description"),
    ({"use_measured": True}, "needs measured_key"),
    ({"success_rate": 0}, "greater than 0"),
    ({"success_rate": 1.2}, "less than or equal to 1"),
    ({"pue": 0.9}, "greater than or equal to 1"),
    ({"energy_source": ""}, "at least 3"),
    ({"colour": "blue"}, "Extra inputs are not permitted"),
])
def test_scenario_errors_are_clear(kw, message):
    with pytest.raises(ValidationError, match=message):
        Scenario(**_scenario(**kw))


def test_zone_instead_of_factor_is_accepted():
    s = Scenario(**_scenario(grid_factor_kg_per_kwh=None, grid_factor_source=None, grid_zone="DE"))
    assert s.grid_zone == "DE"


def test_model_needs_one_baseline_and_one_fine_tuned():
    with pytest.raises(ValidationError, match="exactly one scenario of kind 'baseline'"):
        ModelScenarios(**_model(scenarios=[_scenario(), _scenario(id="ft2")]))
    with pytest.raises(ValidationError, match="exactly one scenario of kind 'fine_tuned'"):
        ModelScenarios(**_model(scenarios=[_scenario(id="b", kind="baseline"), _scenario(id="r", kind="rag")]))
    rag = [_scenario(id=f"r{i}", kind="rag") for i in range(2)]
    with pytest.raises(ValidationError, match="at most one scenario of kind 'rag'"):
        ModelScenarios(**_model(scenarios=_model()["scenarios"] + rag))


def test_model_rejects_duplicate_ids_and_mixed_currencies():
    with pytest.raises(ValidationError, match="duplicate scenario id"):
        ModelScenarios(**_model(scenarios=[_scenario(kind="baseline"), _scenario()]))
    scen = [_scenario(id="b", kind="baseline", cost_per_request=0.003, currency="EUR"),
            _scenario(cost_per_request=0.0004, currency="USD")]
    with pytest.raises(ValidationError, match="several currencies"):
        ModelScenarios(**_model(scenarios=scen))


def test_training_link_must_narrow():
    with pytest.raises(ValidationError, match="needs 'projects', 'phase_rules' or 'job_name_glob'"):
        TrainingLink(phases=["fine_tuning"])
    assert TrainingLink(job_name_glob="ft-*").phases == ["training", "fine_tuning"]
    assert TrainingLink(phase_rules=["ft-support"]).projects == []
    with pytest.raises(ValidationError):
        TrainingLink(phases=["inference"], projects=["p"])   # inference is never training


def test_seed_check_needs_a_cited_factor_or_zone():
    with pytest.raises(ValidationError, match="needs grid_factor_source"):
        SeedCheck(average_power_w=700, power_source="datasheet", pue=1.2, grid_factor_kg_per_kwh=0.2)
    assert SeedCheck(average_power_w=700, power_source="datasheet", pue=1.2, grid_zone="GB").gpu_hours is None


def test_model_bounds():
    with pytest.raises(ValidationError, match="greater than -1"):
        ModelScenarios(**_model(monthly_growth=-1))
    with pytest.raises(ValidationError, match="start_month"):
        ModelScenarios(**_model(start_month="2026-13"))
    with pytest.raises(ValidationError, match="horizon_months"):
        ModelScenarios(**_model(horizon_months=0))


def test_projections_block():
    p = Projections(request_counts="inputs/requests.csv", models=[_model()])
    assert p.models[0].fine_tuned.id == "ft" and p.models[0].rag is None
    with pytest.raises(ValidationError, match="duplicate model id"):
        Projections(models=[_model(), _model()])
    measured = _model(scenarios=[_model()["scenarios"][0], _scenario(measured_key="ft-endpoint", use_measured=True)])
    with pytest.raises(ValidationError, match="request_counts is not given"):
        Projections(models=[measured])


def test_models_are_frozen():
    s = Scenario(**_scenario())
    with pytest.raises(ValidationError):
        s.pue = 2.0


def test_month_labels():
    assert month_labels("2026-11", 3) == ["2026-11", "2026-12", "2027-01"]
    assert month_labels(None, 2) == ["M1", "M2"]


def test_example_block_validates():
    import pathlib

    import yaml

    data = yaml.safe_load((pathlib.Path(__file__).parent / "example_projections.yaml").read_text(encoding="utf-8"))
    p = Projections(**data["projections"])
    m = p.models[0]
    assert [s.kind for s in m.scenarios] == ["baseline", "rag", "fine_tuned"]
    # 1500 tokens x 0.373 J = 559.5 J = 0.155416... Wh
    assert m.baseline.wh_per_request == pytest.approx(0.15541666667, rel=1e-9)
    assert m.training_link.job_name_glob == "ft-legal-*" and m.seed_check.grid_zone == "GB"
