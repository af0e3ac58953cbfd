"""Projection of inference emissions per scenario, break-even of fine-tuning, sensitivity band, cost.

Everything here is a **projection** (``label = "projection"``) for ESRS E1-3 / E1-4 expected reductions: it is
reported in a section of its own and never subtracted from the E1-6 inventory (``netted_from_inventory`` is
always False). Pure functions: no files, no logging, no defaults picked silently.

Method (each step written down for the methodology section):

1. **Per successful task.** A failed request is retried until it succeeds; with success probability p per
   attempt the number of attempts is geometric with expectation 1/p, so
   ``Wh per task = Wh per request / p`` and ``cost per task = cost per request / p``.
2. **Demand.** Tasks in month m (m = 0 .. H-1): ``T_m = R0 x (1 + g)^m``.
3. **Emissions per month.** ``E_m = T_m x Wh/task x PUE x grid factor / 1000`` kg CO2e
   (``kWh_m = T_m x Wh/task x PUE / 1000`` facility energy).
4. **Cumulative.** ``C(m) = up-front + sum_{k<=m} E_k``, at the end of month m. Up-front (month 0) is the
   fine-tuned model's **measured** training emissions (from this run's ledger) plus any one-off energy of a
   scenario (e.g. building a RAG index: one-off IT kWh x PUE x grid factor).
5. **Break-even** of the fine-tuned model against a comparator (the baseline, and the RAG scenario if any):
   ``extra = up-front(ft) - up-front(comparator)``, ``saving = kg/task(comparator) - kg/task(ft)``;
   break-even requests ``N* = extra / saving`` (continuous, in tasks); the break-even month is the first m with
   ``C_ft(m) <= C_cmp(m)``, equivalently ``sum_{k<=m} T_k >= N*`` (compared with a relative tolerance of 1e-9
   so that an exact hand-computed parity is not lost to rounding); ``months_elapsed`` interpolates linearly
   within that month. ``saving <= 0``: no break-even (None, with the reason). ``extra <= 0`` and
   ``saving >= 0``: parity from the start (0 requests, month 0).
6. **Net effect at the horizon**: ``C_ft(H-1) - C_cmp(H-1)`` (negative = fine-tuning emits less);
   ``expected_reduction_kg_co2e`` is its negative.
7. **Sensitivity**: volume x (1 -/+ s_v); the comparator's and the fine-tuned model's energy per request
   x (1 -/+ s_e) **independently**; all 2^3 = 8 corners are computed. The net effect and break-even are
   monotonic in each factor, so the min / max over the corners is the band over the whole box (the common-mode
   cases, both energies x0.7 or x1.3, are among the corners). Training emissions are measured and not varied.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

from pipeline.errors import ValidationFailed
from pipeline.scenarios.models import ModelScenarios, Scenario, month_labels
from pipeline.scenarios.training import (
    CrossCheck,
    MeasuredTraining,
    TrainingEnergyStatement,
    seed_cross_check,
    select_training,
    training_energy_statement,
)

PROJECTION_LABEL = "projection"
NETTED_FROM_INVENTORY = False
ESRS_SECTION = "E1-3 / E1-4: expected GHG emission reductions from actions (projection)"
ESRS_DATAPOINT = "ExpectedGHGEmissionReductions"
PARITY_RTOL = 1e-9


# -- pure building blocks ------------------------------------------------------------------------------------

def per_task(value_per_request: float, success_rate: float) -> float:
    """Per successful task: a failed request is retried until success, expected attempts 1/p."""
    if not 0 < success_rate <= 1:
        raise ValueError(f"success rate {success_rate} is outside (0, 1]")
    return value_per_request / success_rate


def tasks_per_month(requests_per_month: float, monthly_growth: float, horizon_months: int) -> list[float]:
    """T_m = R0 x (1 + g)^m for m = 0 .. H-1."""
    return [requests_per_month * (1.0 + monthly_growth) ** m for m in range(horizon_months)]


@dataclass(frozen=True)
class Parity:
    requests: float | None             # break-even tasks N* (continuous)
    month_index: int | None            # 0-based month at whose end the cumulative curves cross
    months_elapsed: float | None       # continuous, interpolated within the month
    reason: str | None                 # why there is no break-even within the horizon


def parity(extra_upfront: float, saving_per_task: float, tasks: Sequence[float], *, what: str = "kg CO2e"
           ) -> Parity:
    """Break-even of an up-front extra against a saving per task over a demand curve."""
    if saving_per_task <= 0:
        if extra_upfront <= 0 and saving_per_task == 0:
            return Parity(0.0, 0, 0.0, None)
        if extra_upfront <= 0:
            return Parity(None, None, None,
                          f"ahead only by its lower up-front {what}; it uses more per successful task, so it falls "
                          "behind as requests accumulate")
        return Parity(None, None, None,
                      f"no saving per successful task ({saving_per_task:.3g} {what}): the up-front {what} is never "
                      "recovered")
    if extra_upfront <= 0:
        return Parity(0.0, 0, 0.0, None)
    n = extra_upfront / saving_per_task
    cum = 0.0
    for m, t in enumerate(tasks):
        prev, cum = cum, cum + t
        if cum >= n * (1.0 - PARITY_RTOL):
            return Parity(n, m, m + min(max((n - prev) / t, 0.0), 1.0) if t > 0 else float(m + 1), None)
    return Parity(n, None, None,
                  f"break-even needs {n:,.0f} successful tasks; the horizon's {cum:,.0f} are not enough")


# -- result objects ------------------------------------------------------------------------------------------

@dataclass
class ScenarioProjection:
    scenario_id: str
    kind: str
    scenario_label: str
    energy_source: str
    energy_scope: str
    intensity_basis: str               # assumed | measured
    wh_per_request: float              # IT energy per request used in the projection
    assumed_wh_per_request: float
    success_rate: float
    success_rate_basis: str            # assumed | measured
    wh_per_task: float
    pue: float
    grid_factor_kg_per_kwh: float
    grid_factor_source: str
    kg_co2e_per_task: float
    training_kwh: float
    training_kg_co2e: float
    one_off_kwh: float                 # facility kWh (IT one-off x PUE)
    one_off_kg_co2e: float
    upfront_kg_co2e: float
    month_index: list
    months: list
    tasks: list
    energy_kwh: list
    emissions_kg_co2e: list
    cumulative_kg_co2e: list
    total_kg_co2e: float
    currency: str | None
    cost_per_task: float | None
    training_cost: float
    cumulative_cost: list | None
    total_cost: float | None
    flags: list = field(default_factory=list)
    label: str = PROJECTION_LABEL


@dataclass
class Band:
    low: float | None
    high: float | None                 # None: not reached within the horizon in at least one case
    not_reached_in: int = 0            # number of corners without break-even in the horizon


@dataclass
class Sensitivity:
    volume: float
    energy: float
    break_even_requests: Band
    break_even_month_index: Band
    net_kg_co2e_at_horizon: Band
    cases: list                        # one dict per corner
    method: str = ("volume x(1-/+volume); comparator and fine-tuned energy per request x(1-/+energy) varied "
                   "independently; min/max over the 8 corners")
    label: str = PROJECTION_LABEL


@dataclass
class BreakEven:
    fine_tuned_id: str
    comparator_id: str
    comparator_kind: str
    extra_upfront_kg_co2e: float
    saving_kg_co2e_per_task: float
    break_even_requests: float | None
    break_even_month_index: int | None
    months_to_break_even: int | None   # break_even_month_index + 1
    break_even_month: str | None       # calendar / M-label of that month
    break_even_months_elapsed: float | None
    reason: str | None
    net_kg_co2e_at_horizon: float      # fine-tuned minus comparator; negative = reduction
    expected_reduction_kg_co2e: float  # minus the net effect
    currency: str | None
    extra_upfront_cost: float | None
    saving_cost_per_task: float | None
    cost_break_even_requests: float | None
    net_cost_at_horizon: float | None
    cost_reason: str | None
    sensitivity: Sensitivity
    label: str = PROJECTION_LABEL


@dataclass
class IntensityComparison:
    scenario_id: str
    measured_key: str
    assumed_wh_per_request: float              # IT
    assumed_facility_wh_per_request: float     # IT x PUE
    measured_facility_wh_per_request: float | None
    measured_it_wh_per_request: float | None   # measured facility / scenario PUE
    measured_to_assumed: float | None
    assumed_success_rate: float
    measured_success_rate: float | None
    months_matched: int
    requests: float
    used_in_projection: bool
    note: str
    label: str = PROJECTION_LABEL


@dataclass
class ModelProjection:
    model: str
    description: str | None
    horizon_months: int
    start_month: str | None
    requests_per_month: float
    monthly_growth: float
    emissions_basis: str
    scenarios: list
    comparisons: list
    intensity: list
    training: MeasuredTraining
    training_statement: TrainingEnergyStatement | None
    method: list
    flags: list = field(default_factory=list)
    label: str = PROJECTION_LABEL
    netted_from_inventory: bool = NETTED_FROM_INVENTORY
    esrs_section: str = ESRS_SECTION
    esrs_datapoint: str = ESRS_DATAPOINT

    def __post_init__(self) -> None:
        if self.netted_from_inventory is not False or self.label != PROJECTION_LABEL:
            raise ValueError("a projection is labelled 'projection' and is never netted from the inventory")

    def scenario(self, scenario_id: str) -> ScenarioProjection:
        return next(s for s in self.scenarios if s.scenario_id == scenario_id)

    def comparison(self, comparator_kind: str) -> BreakEven | None:
        return next((c for c in self.comparisons if c.comparator_kind == comparator_kind), None)

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN / inf become None)."""
        return _jsonable(asdict(self))

    def curves_frame(self) -> pd.DataFrame:
        """Long table, one row per scenario x month (for the XLSX / charts)."""
        rows = []
        for s in self.scenarios:
            for i, m in enumerate(s.month_index):
                rows.append({"model": self.model, "scenario_id": s.scenario_id, "kind": s.kind,
                             "month_index": m, "month": s.months[i], "tasks": s.tasks[i],
                             "energy_kwh": s.energy_kwh[i], "emissions_kg_co2e": s.emissions_kg_co2e[i],
                             "cumulative_kg_co2e": s.cumulative_kg_co2e[i],
                             "cumulative_cost": s.cumulative_cost[i] if s.cumulative_cost is not None else None,
                             "currency": s.currency, "label": PROJECTION_LABEL})
        return pd.DataFrame(rows)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return _jsonable(obj.to_dict(orient="records"))
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):   # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# -- scenario resolution -------------------------------------------------------------------------------------

def _grid(s: Scenario, model: str, zone_factors: Mapping[str, tuple[float, str]] | None) -> tuple[float, str]:
    if s.grid_factor_kg_per_kwh is not None:
        return s.grid_factor_kg_per_kwh, s.grid_factor_source or ""
    zone = s.grid_zone
    if zone_factors is None or zone not in zone_factors:
        raise ValidationFailed(
            f"model '{model}' scenario '{s.id}': no grid factor for zone '{zone}'",
            fix="add the zone to the factor library, or give grid_factor_kg_per_kwh with grid_factor_source")
    value, source = zone_factors[zone]
    return float(value), source


def _measured_row(measured: pd.DataFrame | None, key: str | None) -> dict | None:
    if measured is None or key is None or measured.empty:
        return None
    hit = measured[measured["model"] == key]
    if hit.empty:
        return None
    row = hit.iloc[0].to_dict()
    wh = row.get("wh_per_request")
    return row if wh is not None and not pd.isna(wh) else None


def compare_intensity(ms: ModelScenarios, measured_by_model: pd.DataFrame | None) -> list[IntensityComparison]:
    """Measured beside assumed for each scenario with a measured_key (``measured_per_model`` output)."""
    out = []
    for s in ms.scenarios:
        if not s.measured_key:
            continue
        assumed = s.wh_per_request
        row = _measured_row(measured_by_model, s.measured_key)
        months = 0
        requests = 0.0
        if measured_by_model is not None and not measured_by_model.empty:
            hit = measured_by_model[measured_by_model["model"] == s.measured_key]
            if not hit.empty:
                months, requests = int(hit.iloc[0]["months_matched"]), float(hit.iloc[0]["requests"])
        fac = it = ratio = succ = None
        note = ""
        if row is not None:
            fac = float(row["wh_per_request"])
            it = fac / s.pue
            ratio = it / assumed
            sr = row.get("success_rate")
            succ = None if sr is None or pd.isna(sr) else float(sr)
            note = ("measured facility energy per request (ledger, PUE included) divided by the scenario's PUE "
                    "to compare with the assumed IT energy")
        else:
            note = "no month with both request counts and inference energy for this key"
        out.append(IntensityComparison(
            scenario_id=s.id, measured_key=s.measured_key, assumed_wh_per_request=assumed,
            assumed_facility_wh_per_request=assumed * s.pue, measured_facility_wh_per_request=fac,
            measured_it_wh_per_request=it, measured_to_assumed=ratio, assumed_success_rate=s.success_rate,
            measured_success_rate=succ, months_matched=months, requests=requests,
            used_in_projection=bool(s.use_measured and row is not None), note=note))
    return out


def _scenario_projection(s: Scenario, ms: ModelScenarios, tasks: list[float], labels: list[str], *,
                         training: MeasuredTraining | None,
                         zone_factors: Mapping[str, tuple[float, str]] | None,
                         measured_by_model: pd.DataFrame | None) -> ScenarioProjection:
    flags: list[str] = []
    wh_req, basis = s.wh_per_request, "assumed"
    success, success_basis = s.success_rate, "assumed"
    if s.use_measured:
        row = _measured_row(measured_by_model, s.measured_key)
        if row is None:
            raise ValidationFailed(
                f"model '{ms.model}' scenario '{s.id}' sets use_measured, but no month has both request counts and "
                f"inference energy for '{s.measured_key}'",
                fix="add the request counts for that key, check that the ledger's inference rows carry it as project, "
                    "or set use_measured: false")
        wh_req, basis = float(row["wh_per_request"]) / s.pue, "measured"
        sr = row.get("success_rate")
        if sr is not None and not pd.isna(sr) and sr > 0:
            success, success_basis = float(sr), "measured"
    if s.energy_scope == "gpu_only" and basis == "assumed":
        flags.append("energy_per_request_gpu_only_underestimate")
    factor, factor_source = _grid(s, ms.model, zone_factors)
    wh_task = per_task(wh_req, success)
    kg_task = wh_task * s.pue * factor / 1000.0
    one_off_kwh = s.one_off_energy_kwh * s.pue
    one_off_kg = one_off_kwh * factor
    t_kwh = training.energy_kwh if training is not None else 0.0
    t_kg = training.emissions_kg_co2e if training is not None else 0.0
    upfront = t_kg + one_off_kg
    energy = [t * wh_task * s.pue / 1000.0 for t in tasks]
    emissions = [e * factor for e in energy]
    cumulative = list(itertools.accumulate(emissions, initial=upfront))[1:]
    currency = s.currency
    cost_task = per_task(s.cost_per_request, success) if s.cost_per_request is not None else None
    t_cost = training.cost if training is not None else 0.0
    cum_cost = total_cost = None
    if training is not None and training.cost_currency and currency and training.cost_currency != currency:
        flags.append("training_cost_currency_differs")
    if cost_task is not None:
        cum_cost = list(itertools.accumulate((t * cost_task for t in tasks), initial=t_cost))[1:]
        total_cost = cum_cost[-1]
    return ScenarioProjection(
        scenario_id=s.id, kind=s.kind, scenario_label=s.label, energy_source=("measured: request counts x ledger "
        "inference energy" if basis == "measured" else s.energy_source), energy_scope=s.energy_scope,
        intensity_basis=basis, wh_per_request=wh_req, assumed_wh_per_request=s.wh_per_request, success_rate=success,
        success_rate_basis=success_basis, wh_per_task=wh_task, pue=s.pue, grid_factor_kg_per_kwh=factor,
        grid_factor_source=factor_source, kg_co2e_per_task=kg_task, training_kwh=t_kwh, training_kg_co2e=t_kg,
        one_off_kwh=one_off_kwh, one_off_kg_co2e=one_off_kg, upfront_kg_co2e=upfront,
        month_index=list(range(len(tasks))), months=list(labels), tasks=list(tasks), energy_kwh=energy,
        emissions_kg_co2e=emissions, cumulative_kg_co2e=cumulative, total_kg_co2e=cumulative[-1],
        currency=currency, cost_per_task=cost_task, training_cost=t_cost, cumulative_cost=cum_cost,
        total_cost=total_cost, flags=flags)


def _sensitivity(ft: ScenarioProjection, cmp: ScenarioProjection, ms: ModelScenarios) -> Sensitivity:
    sv, se = ms.sensitivity.volume, ms.sensitivity.energy
    extra = ft.upfront_kg_co2e - cmp.upfront_kg_co2e
    cases = []
    for v, fc, ff in itertools.product((1 - sv, 1 + sv), (1 - se, 1 + se), (1 - se, 1 + se)):
        tasks = [t * v for t in ft.tasks]
        saving = cmp.kg_co2e_per_task * fc - ft.kg_co2e_per_task * ff
        p = parity(extra, saving, tasks)
        net = extra - saving * sum(tasks)
        cases.append({"volume_factor": v, "comparator_energy_factor": fc, "fine_tuned_energy_factor": ff,
                      "saving_kg_co2e_per_task": saving, "break_even_requests": p.requests,
                      "break_even_month_index": p.month_index, "net_kg_co2e_at_horizon": net})

    def band(key: str) -> Band:
        vals = [c[key] for c in cases]
        known = [x for x in vals if x is not None]
        missing = len(vals) - len(known)
        return Band(low=min(known) if known else None, high=max(known) if known and not missing else None,
                    not_reached_in=missing)

    return Sensitivity(volume=sv, energy=se, break_even_requests=band("break_even_requests"),
                       break_even_month_index=band("break_even_month_index"),
                       net_kg_co2e_at_horizon=band("net_kg_co2e_at_horizon"), cases=cases)


def _break_even(ft: ScenarioProjection, cmp: ScenarioProjection, ms: ModelScenarios) -> BreakEven:
    extra = ft.upfront_kg_co2e - cmp.upfront_kg_co2e
    saving = cmp.kg_co2e_per_task - ft.kg_co2e_per_task
    p = parity(extra, saving, ft.tasks)
    net = ft.total_kg_co2e - cmp.total_kg_co2e
    currency = cost_extra = cost_saving = cost_n = net_cost = None
    cost_reason = None
    if ft.cost_per_task is None or cmp.cost_per_task is None:
        cost_reason = "cost_per_request not given for both scenarios"
    elif "training_cost_currency_differs" in ft.flags:
        cost_reason = "the training cost in the ledger is in another currency than the scenarios' costs"
    else:
        currency = ft.currency
        cost_extra = ft.training_cost
        cost_saving = cmp.cost_per_task - ft.cost_per_task
        cp = parity(cost_extra, cost_saving, ft.tasks, what="cost")
        cost_n = cp.requests
        net_cost = (ft.total_cost or 0.0) - (cmp.total_cost or 0.0)
        cost_reason = cp.reason
    return BreakEven(
        fine_tuned_id=ft.scenario_id, comparator_id=cmp.scenario_id, comparator_kind=cmp.kind,
        extra_upfront_kg_co2e=extra, saving_kg_co2e_per_task=saving, break_even_requests=p.requests,
        break_even_month_index=p.month_index,
        months_to_break_even=p.month_index + 1 if p.month_index is not None else None,
        break_even_month=ft.months[p.month_index] if p.month_index is not None else None,
        break_even_months_elapsed=p.months_elapsed, reason=p.reason, net_kg_co2e_at_horizon=net,
        expected_reduction_kg_co2e=-net, currency=currency, extra_upfront_cost=cost_extra,
        saving_cost_per_task=cost_saving, cost_break_even_requests=cost_n, net_cost_at_horizon=net_cost,
        cost_reason=cost_reason, sensitivity=_sensitivity(ft, cmp, ms))


METHOD_NOTES = [
    "Projection for ESRS E1-3 / E1-4 expected reductions; not part of and never netted from the E1-6 inventory.",
    "Per successful task = per request / success rate (a failed request is retried; expected attempts 1/p).",
    "Tasks in month m = requests_per_month x (1 + monthly_growth)^m, m = 0 .. horizon-1.",
    "Emissions = tasks x Wh per task x PUE x grid factor / 1000 (kg CO2e).",
    "The fine-tuned scenario starts at month 0 with its measured training emissions from this run's ledger.",
    ("Break-even requests = extra up-front emissions / saving per successful task; break-even month = first month "
     "in which the fine-tuned cumulative emissions are at or below the comparator's."),
    ("Sensitivity: volume and each scenario's energy per request varied independently by the stated band; "
     "min / max over all 8 corners."),
]


def project_model(ms: ModelScenarios, training: MeasuredTraining, *,
                  zone_factors: Mapping[str, tuple[float, str]] | None = None,
                  measured_by_model: pd.DataFrame | None = None,
                  training_statement: TrainingEnergyStatement | None = None,
                  flags: Sequence[str] = ()) -> ModelProjection:
    """Project every scenario of ``ms`` and compare the fine-tuned model with the baseline (and RAG).

    ``training``: the fine-tuned model's measured training (facility kWh, kg CO2e on ``ms.emissions_basis``,
    cost). ``zone_factors``: grid zone -> (kg/kWh, factor id) for scenarios that give ``grid_zone``.
    ``measured_by_model``: ``requests.measured_per_model`` output (for use_measured and the comparison)."""
    tasks = tasks_per_month(ms.requests_per_month, ms.monthly_growth, ms.horizon_months)
    labels = month_labels(ms.start_month, ms.horizon_months)
    projections = [
        _scenario_projection(s, ms, tasks, labels, training=training if s.kind == "fine_tuned" else None,
                             zone_factors=zone_factors, measured_by_model=measured_by_model)
        for s in ms.scenarios]
    ft = next(p for p in projections if p.kind == "fine_tuned")
    comparisons = [_break_even(ft, p, ms) for kind in ("baseline", "rag") for p in projections if p.kind == kind]
    all_flags = sorted(set(flags) | {f for p in projections for f in p.flags})
    return ModelProjection(
        model=ms.model, description=ms.description, horizon_months=ms.horizon_months, start_month=ms.start_month,
        requests_per_month=ms.requests_per_month, monthly_growth=ms.monthly_growth,
        emissions_basis=ms.emissions_basis, scenarios=projections, comparisons=comparisons,
        intensity=compare_intensity(ms, measured_by_model), training=training,
        training_statement=training_statement, method=list(METHOD_NOTES), flags=all_flags)


def build_projection(ms: ModelScenarios, activity: pd.DataFrame, *, job_keys: pd.DataFrame | None = None,
                     measured_by_model: pd.DataFrame | None = None,
                     zone_factors: Mapping[str, tuple[float, str]] | None = None) -> ModelProjection:
    """Whole chain for one model: ledger rows -> measured training (+ seed cross-check, AI Act statement)
    -> projection. ``activity``: the run's ledger (ACTIVITY); ``job_keys``: the run's job allocation keys."""
    selection = select_training(activity, ms.training_link, model=ms.model, job_keys=job_keys)
    check: CrossCheck | None = None
    flags = list(selection.flags)
    if ms.seed_check is not None:
        sc = ms.seed_check
        gpu_hours, gh_source = sc.gpu_hours, "config (seed_check.gpu_hours)"
        if gpu_hours is None:
            gpu_hours, gh_source = selection.gpu_hours, "this run's scheduler job records"
        if sc.grid_factor_kg_per_kwh is not None:
            factor, fsrc = sc.grid_factor_kg_per_kwh, sc.grid_factor_source or ""
        elif zone_factors is not None and sc.grid_zone in zone_factors:
            factor, fsrc = float(zone_factors[sc.grid_zone][0]), zone_factors[sc.grid_zone][1]
        else:
            raise ValidationFailed(f"model '{ms.model}': no grid factor for seed_check zone '{sc.grid_zone}'",
                                   fix="add the zone to the factor library or give grid_factor_kg_per_kwh")
        if gpu_hours:
            kg = selection.emissions_lb_kg_co2e if ms.emissions_basis == "location" else selection.emissions_mb_kg_co2e
            check = seed_cross_check(gpu_hours=gpu_hours, average_power_w=sc.average_power_w, pue=sc.pue,
                                     grid_factor_kg_per_kwh=factor, measured_kwh=selection.energy_kwh,
                                     measured_kg_co2e=kg, gpu_hours_source=gh_source,
                                     power_source=sc.power_source, grid_factor_source=fsrc)
        else:
            flags.append("seed_check_without_gpu_hours")
    statement = training_energy_statement(selection, check)
    return project_model(ms, selection.measured(ms.emissions_basis), zone_factors=zone_factors,
                         measured_by_model=measured_by_model, training_statement=statement, flags=flags)
