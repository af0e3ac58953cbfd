"""Scenario projections for specialised models: baseline vs RAG vs fine-tuned small model.

    models.py    pydantic config (``projections:`` block): Projections > ModelScenarios > Scenario
    requests.py  request-count CSV reader and measured energy per request (ledger inference energy / requests)
    training.py  this run's measured training of a model (ledger rows), seed-method cross-check, AI Act statement
    project.py   per-task energy, monthly curves, break-even, sensitivity band, cost; ModelProjection.to_dict()

Projections are reported under ESRS E1-3 / E1-4 expected reductions, labelled ``projection`` and never netted
from the E1-6 inventory (``ModelProjection.netted_from_inventory`` is always False).
"""

from pipeline.scenarios.models import (
                                        ModelScenarios,
                                        Projections,
                                        Scenario,
                                        SeedCheck,
                                        Sensitivity,
                                        TrainingLink,
)
from pipeline.scenarios.project import (
                                        NETTED_FROM_INVENTORY,
                                        PROJECTION_LABEL,
                                        BreakEven,
                                        ModelProjection,
                                        ScenarioProjection,
                                        build_projection,
                                        compare_intensity,
                                        parity,
                                        per_task,
                                        project_model,
                                        tasks_per_month,
)
from pipeline.scenarios.requests import (
                                        measured_intensity,
                                        measured_per_model,
                                        read_request_counts,
)
from pipeline.scenarios.training import (
                                        MeasuredTraining,
                                        TrainingEnergyStatement,
                                        TrainingSelection,
                                        seed_cross_check,
                                        select_training,
                                        training_energy_statement,
)

__all__ = [
    "NETTED_FROM_INVENTORY", "PROJECTION_LABEL", "BreakEven", "MeasuredTraining", "ModelProjection", "ModelScenarios",
    "Projections", "Scenario", "ScenarioProjection", "SeedCheck", "Sensitivity", "TrainingEnergyStatement",
    "TrainingLink", "TrainingSelection", "build_projection", "compare_intensity", "measured_intensity",
    "measured_per_model", "parity", "per_task", "project_model", "read_request_counts", "seed_cross_check",
    "select_training", "tasks_per_month", "training_energy_statement",
]
