"""Configuration models for inference scenarios of each specialised model (``projections:`` in disclosure.yaml).

One :class:`ModelScenarios` per specialised model compares a **baseline** (large foundation model with heavier
prompting), an optional **RAG** variant and the **fine-tuned** small model. The fine-tuned scenario's training
emissions are never typed in: :class:`TrainingLink` selects this run's ledger rows (phases, projects and
optionally scheduler job names) whose energy and emissions belong to the model.

Units are in the field names. Per-request energy is **IT energy** (server / accelerator, before PUE); PUE and
the grid factor are applied per scenario. Requests per month count **user tasks that must succeed**: a failed
request is retried, so one task costs ``1 / success_rate`` requests on average (see ``project.py``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from pipeline.strict_model import StrictModel as _Strict

SCENARIO_KINDS = ("baseline", "rag", "fine_tuned")
_ID = r"^[A-Za-z0-9_.-]+$"
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _grid_choice(factor: float | None, source: str | None, zone: str | None) -> None:
    """Exactly one of a resolved grid factor (with its citation) or a grid zone the pipeline resolves."""
    if factor is not None and zone is not None:
        raise ValueError("give grid_factor_kg_per_kwh (with grid_factor_source) or grid_zone, not both")
    if factor is None and zone is None:
        raise ValueError("give the grid emission factor: grid_factor_kg_per_kwh with grid_factor_source, "
                         "or grid_zone (resolved from the factor library)")
    if factor is not None and not (source and source.strip()):
        raise ValueError("grid_factor_kg_per_kwh needs grid_factor_source (where the factor comes from)")


class TrainingLink(_Strict):
    """Which of this run's activity-ledger rows hold the model's training / fine-tuning energy."""

    phases: list[Literal["training", "fine_tuning", "evaluation"]] = Field(
        default_factory=lambda: ["training", "fine_tuning"], min_length=1,
        description="Ledger phases counted as the model's training (from phase_rules).")
    projects: list[str] = Field(
        default_factory=list,
        description="Ledger projects (billing tag / Slurm account or wckey) of the training; empty = any project "
                    "(then job_name_glob is required).")
    phase_rules: list[str] = Field(
        default_factory=list,
        description="Ids of the phase_rules whose matches are this model's training (ledger column phase_rule; "
                    "works for Slurm jobs and tagged cloud rows alike); empty = any rule.")
    job_name_glob: str | None = Field(
        None, description="Glob on Slurm job names: only the matching jobs' share of the site slices counts "
                          "(cloud rows have no job names and are then left out).")

    @model_validator(mode="after")
    def _narrow(self) -> TrainingLink:
        if not self.projects and not self.phase_rules and not self.job_name_glob:
            raise ValueError("training_link needs 'projects', 'phase_rules' or 'job_name_glob': without one of them "
                             "every training job of the run would be attributed to this one model")
        return self


class SeedCheck(_Strict):
    """Inputs of the seed method's cross-check: training = GPU-hours x average power x PUE x grid factor."""

    average_power_w: float = Field(gt=0, description="Average power per GPU in W (e.g. board power x utilisation).")
    power_source: str = Field(min_length=3, description="Where the average power comes from (datasheet, telemetry).")
    pue: float = Field(ge=1.0, le=3.0, description="PUE of the facility the training ran in.")
    grid_factor_kg_per_kwh: float | None = Field(None, ge=0, description="Grid factor of the training location.")
    grid_factor_source: str | None = Field(None, description="Citation of grid_factor_kg_per_kwh.")
    grid_zone: str | None = Field(None, description="Grid zone resolved from the factor library (instead of a factor).")
    gpu_hours: float | None = Field(
        None, gt=0, description="GPU-hours of the training; omit to take them from this run's scheduler job records.")

    @model_validator(mode="after")
    def _grid(self) -> SeedCheck:
        _grid_choice(self.grid_factor_kg_per_kwh, self.grid_factor_source, self.grid_zone)
        return self


class Sensitivity(_Strict):
    """Relative band for the sensitivity analysis (0.3 = x0.7 and x1.3)."""

    volume: float = Field(0.3, ge=0, lt=1, description="Relative uncertainty of the request volume.")
    energy: float = Field(0.3, ge=0, lt=1, description="Relative uncertainty of each scenario's energy per request "
                                                       "(varied independently for the comparator and the fine-tuned model).")


class Scenario(_Strict):
    """One way of serving the model's task: baseline, RAG or fine-tuned."""

    id: str = Field(pattern=_ID, description="Scenario id, unique within the model.")
    kind: Literal["baseline", "rag", "fine_tuned"]
    label: str = Field(min_length=1, description="Name shown in the report, e.g. 'Llama-3.1-70B, few-shot prompt'.")
    energy_wh_per_request: float | None = Field(None, gt=0, description="IT energy per request in Wh (before PUE).")
    tokens_per_request: float | None = Field(None, gt=0, description="Tokens per request (with energy_j_per_token).")
    energy_j_per_token: float | None = Field(None, gt=0, description="IT energy per token in J (with tokens_per_request).")
    energy_source: str = Field(min_length=3, description="Citation of the per-request energy (e.g. 'ML.ENERGY "
                                                         "leaderboard v3, Llama-3.1-70B on 4xH100', or 'measured').")
    energy_scope: Literal["it_equipment", "gpu_only"] = Field(
        "it_equipment", description="What the per-request energy covers: the whole server (it_equipment) or the GPU "
                                    "only (gpu_only, e.g. ML.ENERGY): gpu_only is flagged as an underestimate.")
    success_rate: float = Field(gt=0, le=1, description="Share of requests that succeed; failures are retried.")
    pue: float = Field(ge=1.0, le=3.0, description="PUE of the facility serving the scenario.")
    pue_source: str | None = Field(None, description="Where the PUE comes from.")
    grid_factor_kg_per_kwh: float | None = Field(None, ge=0, description="Grid factor of the serving location.")
    grid_factor_source: str | None = Field(None, description="Citation of grid_factor_kg_per_kwh (required with it).")
    grid_zone: str | None = Field(None, description="Grid zone resolved from the factor library (instead of a factor).")
    cost_per_request: float | None = Field(None, ge=0, description="Cost per request (attempt), in 'currency'.")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of cost_per_request.")
    one_off_energy_kwh: float = Field(0.0, ge=0, description="One-off IT energy at month 0 in kWh (e.g. building "
                                                             "the RAG index); PUE and grid factor are applied.")
    one_off_description: str | None = Field(None, description="What the one-off energy is and where it comes from.")
    measured_key: str | None = Field(None, description="Model id in the request-count CSV and project of the "
                                                       "ledger's inference rows measuring this scenario.")
    use_measured: bool = Field(False, description="Project with the measured energy per request instead of the "
                                                  "assumed one (needs measured_key and request counts).")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        per_request = self.energy_wh_per_request is not None
        tokens = self.tokens_per_request is not None or self.energy_j_per_token is not None
        if per_request and tokens:
            raise ValueError("give energy_wh_per_request, or tokens_per_request with energy_j_per_token, not both")
        if not per_request and not tokens:
            raise ValueError("give the energy per request: energy_wh_per_request, or tokens_per_request with "
                             "energy_j_per_token")
        if tokens and (self.tokens_per_request is None or self.energy_j_per_token is None):
            missing = "energy_j_per_token" if self.energy_j_per_token is None else "tokens_per_request"
            raise ValueError(f"the token form needs both tokens_per_request and energy_j_per_token; {missing} is missing")
        _grid_choice(self.grid_factor_kg_per_kwh, self.grid_factor_source, self.grid_zone)
        if self.cost_per_request is not None and self.currency is None:
            raise ValueError("cost_per_request needs 'currency' (ISO 4217, e.g. EUR)")
        if self.one_off_energy_kwh > 0 and not (self.one_off_description and self.one_off_description.strip()):
            raise ValueError("one_off_energy_kwh needs one_off_description (what it is and where it comes from)")
        if self.use_measured and not self.measured_key:
            raise ValueError("use_measured needs measured_key: the model id in the request-count CSV")
        return self

    @property
    def wh_per_request(self) -> float:
        """Assumed IT energy per request in Wh (tokens x J/token / 3600 in the token form)."""
        if self.energy_wh_per_request is not None:
            return self.energy_wh_per_request
        assert self.tokens_per_request is not None and self.energy_j_per_token is not None
        return self.tokens_per_request * self.energy_j_per_token / 3600.0


class ModelScenarios(_Strict):
    """Baseline, optional RAG and fine-tuned scenarios of one specialised model, with the demand projection."""

    model: str = Field(pattern=_ID, description="Id of the specialised model.")
    description: str | None = Field(None, description="The task the model performs.")
    start_month: str | None = Field(None, pattern=_MONTH, description="First projected month (YYYY-MM); "
                                                                      "months are numbered from 0 without it.")
    horizon_months: int = Field(ge=1, le=240, description="Months projected.")
    requests_per_month: float = Field(gt=0, description="Tasks (successful requests needed) in the first month.")
    monthly_growth: float = Field(0.0, gt=-1, le=1, description="Month-on-month growth of the tasks (0.05 = 5 %).")
    emissions_basis: Literal["location", "market"] = Field(
        "location", description="Basis of the measured training emissions taken from the ledger; give the "
                                "scenarios' grid factors on the same basis.")
    training_link: TrainingLink
    seed_check: SeedCheck | None = Field(None, description="Seed-method cross-check of the measured training.")
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)
    scenarios: list[Scenario] = Field(min_length=2)

    @model_validator(mode="after")
    def _kinds(self) -> ModelScenarios:
        ids = [s.id for s in self.scenarios]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"model '{self.model}': duplicate scenario id(s): {', '.join(dup)}")
        kinds = [s.kind for s in self.scenarios]
        for kind, lo, hi in (("baseline", 1, 1), ("fine_tuned", 1, 1), ("rag", 0, 1)):
            n = kinds.count(kind)
            if not lo <= n <= hi:
                want = "exactly one" if lo == hi else "at most one"
                raise ValueError(f"model '{self.model}' needs {want} scenario of kind '{kind}' (found {n})")
        currencies = sorted({s.currency for s in self.scenarios if s.currency})
        if len(currencies) > 1:
            raise ValueError(f"model '{self.model}': scenarios give costs in several currencies "
                             f"({', '.join(currencies)}); use one currency per model")
        return self

    def scenario(self, kind: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.kind == kind), None)

    @property
    def baseline(self) -> Scenario:
        s = self.scenario("baseline")
        assert s is not None
        return s

    @property
    def fine_tuned(self) -> Scenario:
        s = self.scenario("fine_tuned")
        assert s is not None
        return s

    @property
    def rag(self) -> Scenario | None:
        return self.scenario("rag")


class Projections(_Strict):
    """The ``projections:`` block: expected reductions from fine-tuning, reported apart from the inventory."""

    request_counts: str | None = Field(
        None, description="CSV of measured request counts (model,month,requests[,successful_requests]), relative "
                          "to the config file.")
    models: list[ModelScenarios] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> Projections:
        names = [m.model for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate model id(s) under projections.models: {', '.join(dup)}")
        if self.request_counts is None:
            for m in self.models:
                for s in m.scenarios:
                    if s.use_measured:
                        raise ValueError(f"model '{m.model}' scenario '{s.id}' sets use_measured but "
                                         "projections.request_counts is not given")
        return self


def month_labels(start_month: str | None, horizon: int) -> list[str]:
    """Calendar labels YYYY-MM from ``start_month``, or M1..MH when no start month is given."""
    if start_month is None:
        return [f"M{i + 1}" for i in range(horizon)]
    m = re.fullmatch(_MONTH, start_month)
    assert m is not None, start_month
    y, mo = int(start_month[:4]), int(start_month[5:7])
    out = []
    for _ in range(horizon):
        out.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return out
