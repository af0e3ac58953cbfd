"""Measured training of a specialised model, from this run's activity ledger, and its EU AI Act statement.

:func:`select_training` picks the ledger rows a model's :class:`~pipeline.scenarios.models.TrainingLink` names
(phases x projects); with ``job_name_glob`` each site slice (month x site x phase x project) is narrowed to the
share of the matching Slurm jobs' allocation keys (``job_allocation_keys``: GPU telemetry > Slurm node energy >
GPU-hours x board power). Cloud rows carry no job names: with a glob they are left out, and the selection says so.

:func:`seed_cross_check` recomputes the training with the seed method (GPU-hours x average power x PUE x grid
factor) and reports the ratio to the measured figure. :func:`training_energy_statement` assembles what
Annex XI Section 1 point 2(d)/(e) of the AI Act asks for: compute used, and the known or estimated energy,
with the method and its uncertainty.

The statement is **measured** data of the reporting period (``label = "measured"``), not a projection.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field

import pandas as pd

from pipeline.canonical import BASIS_RANK, or_flags, worst_basis
from pipeline.errors import ValidationFailed
from pipeline.scenarios.models import TrainingLink

SITE_KINDS = ("colocation", "owned")


@dataclass(frozen=True)
class MeasuredTraining:
    """What the projection needs from the measured training: facility kWh, kg CO2e and cost."""

    energy_kwh: float
    emissions_kg_co2e: float
    cost: float = 0.0
    cost_currency: str | None = None
    basis: str = "location"
    source: str = "activity ledger of this run"


@dataclass
class TrainingSelection:
    model: str
    phases: list[str]
    projects: list[str]
    phase_rules: list[str]
    job_name_glob: str | None
    rows: pd.DataFrame                 # selected ledger rows with their 'share' (1.0 unless narrowed by the glob)
    energy_kwh: float                  # facility energy (the ledger includes PUE)
    emissions_lb_kg_co2e: float
    emissions_mb_kg_co2e: float
    cost: float
    cost_currency: str | None          # None when no cost or several currencies
    gpu_hours: float | None            # scheduler jobs only; None without job keys
    job_ids: list[str]
    months: list[str]
    energy_basis: str                  # worst basis of the rows
    kwh_by_basis: dict[str, float]
    defaults_used: str
    sources: list[str]                 # "file: rows" of the ledger rows, for drill-down
    flags: list[str] = field(default_factory=list)

    def measured(self, basis: str = "location") -> MeasuredTraining:
        kg = self.emissions_lb_kg_co2e if basis == "location" else self.emissions_mb_kg_co2e
        return MeasuredTraining(energy_kwh=self.energy_kwh, emissions_kg_co2e=kg, cost=self.cost,
                                cost_currency=self.cost_currency, basis=basis,
                                source=f"activity ledger rows: {'; '.join(self.sources) or 'none'}")


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce").fillna(0.0).astype("float64") if col in df else \
        pd.Series(0.0, index=df.index)


def select_training(activity: pd.DataFrame, link: TrainingLink, *, model: str,
                    job_keys: pd.DataFrame | None = None) -> TrainingSelection:
    """The ledger rows holding ``model``'s training. Raises ValidationFailed when nothing matches."""
    act = activity
    mask = act["phase"].isin(link.phases)
    if link.projects:
        mask &= act["project"].isin(link.projects)
    if link.phase_rules:
        if "phase_rule" not in act.columns:
            raise ValidationFailed(f"model '{model}': training_link.phase_rules needs the ledger's phase_rule column",
                                   fix="select the training by projects or job_name_glob instead")
        mask &= act["phase_rule"].isin(link.phase_rules)
    sel = act[mask].copy()
    flags: list[str] = []
    jk = None
    if job_keys is not None and len(job_keys):
        jk = job_keys[job_keys["phase"].isin(link.phases)]
        if link.projects:
            jk = jk[jk["project"].isin(link.projects)]
        if link.phase_rules and "phase_rule" in jk.columns:
            jk = jk[jk["phase_rule"].isin(link.phase_rules)]
    sel["share"] = 1.0
    if link.job_name_glob:
        if jk is None:
            raise ValidationFailed(
                f"model '{model}': training_link.job_name_glob needs the run's job allocation keys, and none were given",
                fix="pass the run's job_allocation_keys, or select the training by projects only")
        names = jk["job_name"].fillna("").astype(str)
        jk = jk.assign(_match=[fnmatch.fnmatchcase(n, link.job_name_glob) for n in names])
        # a site slice is (month, site, phase[, phase_rule], project): the glob keeps the matching jobs' share
        by_rule = "phase_rule" in jk.columns and "phase_rule" in sel.columns
        group = ["site_id", "month", "phase"] + (["phase_rule"] if by_rule else []) + ["project"]
        total = jk.groupby(group, sort=True, dropna=False)["key_it_kwh"].sum()
        matched = jk[jk["_match"]].groupby(group, sort=True, dropna=False)["key_it_kwh"].sum()
        shares = {k: (float(matched.get(k, 0.0)) / float(v) if v > 0 else 0.0) for k, v in total.items()}
        is_site = sel["contract_kind"].isin(SITE_KINDS) if "contract_kind" in sel else pd.Series(False, index=sel.index)
        ledger_keys = zip(sel["site_or_region"], sel["month"], sel["phase"],
                          *([sel["phase_rule"]] if by_rule else []), sel["project"])
        sel["share"] = [shares.get(tuple(k), 0.0) if site else 0.0 for k, site in zip(ledger_keys, is_site)]
        if (~is_site).any():
            flags.append("cloud_rows_excluded_by_job_name_glob")
        jk = jk[jk["_match"]]
        sel = sel[sel["share"] > 0]
    if sel.empty:
        what = f"phases {', '.join(link.phases)}"
        if link.projects:
            what += f", projects {', '.join(link.projects)}"
        if link.phase_rules:
            what += f", phase rules {', '.join(link.phase_rules)}"
        if link.job_name_glob:
            what += f", job names '{link.job_name_glob}'"
        raise ValidationFailed(
            f"model '{model}': no ledger rows hold its training ({what})",
            fix="check training_link against the ledger's phase and project columns (activity ledger CSV) and the "
                "phase_rules; the fine-tuning jobs must be among this run's inputs")
    share = sel["share"]
    energy = float((_num(sel, "energy_kwh") * share).sum())
    lb = float((_num(sel, "emissions_lb_kg_co2e") * share).sum())
    mb = float((_num(sel, "emissions_mb_kg_co2e") * share).sum())
    cost_s = _num(sel, "cost") * share
    currencies = sorted({str(c) for c, v in zip(sel.get("cost_currency", pd.Series("", index=sel.index)), cost_s)
                         if v != 0 and isinstance(c, str) and c})
    if len(currencies) > 1 or any(";" in c for c in currencies):
        flags.append("training_cost_mixed_currencies")
        currency = None
    else:
        currency = currencies[0] if currencies else None
    kinds = sel["contract_kind"] if "contract_kind" in sel else pd.Series("", index=sel.index)
    if kinds.isin(SITE_KINDS).any():
        flags.append("training_cost_excludes_site_rows")   # site slices carry no cost in the ledger
    gpu_hours = None
    job_ids: list[str] = []
    if jk is not None:
        gpu_hours = float(jk["gpu_hours"].sum())
        job_ids = sorted({str(j) for j in jk["job_id"]})
        if (~kinds.isin(SITE_KINDS)).any():
            flags.append("gpu_hours_cover_scheduler_jobs_only")
    basis_col = sel["energy_basis"] if "energy_basis" in sel else pd.Series("estimated", index=sel.index)
    kwh_by_basis = {b: float((_num(sel, "energy_kwh") * share)[basis_col == b].sum()) for b in BASIS_RANK}
    sources = []
    for f, rows in zip(sel.get("source_file", pd.Series("", index=sel.index)),
                       sel.get("source_rows", pd.Series("", index=sel.index))):
        s = f"{f}: {rows}" if isinstance(rows, str) and rows else str(f)
        if s and s not in sources:
            sources.append(s)
    return TrainingSelection(
        model=model, phases=list(link.phases), projects=list(link.projects),
        phase_rules=list(link.phase_rules), job_name_glob=link.job_name_glob,
        rows=sel, energy_kwh=energy, emissions_lb_kg_co2e=lb, emissions_mb_kg_co2e=mb,
        cost=float(cost_s.sum()), cost_currency=currency, gpu_hours=gpu_hours, job_ids=job_ids,
        months=sorted({str(m) for m in sel["month"]}), energy_basis=worst_basis(basis_col),
        kwh_by_basis=kwh_by_basis, defaults_used=or_flags(sel.get("defaults_used", [])), sources=sources,
        flags=flags)


@dataclass(frozen=True)
class CrossCheck:
    """Seed method: training = GPU-hours x average power x PUE x grid factor, against the measured figure."""

    gpu_hours: float
    gpu_hours_source: str
    average_power_w: float
    power_source: str
    pue: float
    grid_factor_kg_per_kwh: float
    grid_factor_source: str
    seed_kwh: float
    seed_kg_co2e: float
    measured_kwh: float
    measured_kg_co2e: float
    ratio_kwh: float | None             # seed / measured; None when the measured figure is 0
    ratio_kg_co2e: float | None
    method: str = "GPU-hours x average power (W) x PUE / 1000 = kWh; kWh x grid factor = kg CO2e"
    label: str = "cross-check"

    def to_dict(self) -> dict:
        return asdict(self)


def seed_cross_check(*, gpu_hours: float, average_power_w: float, pue: float, grid_factor_kg_per_kwh: float,
                     measured_kwh: float, measured_kg_co2e: float, gpu_hours_source: str = "",
                     power_source: str = "", grid_factor_source: str = "") -> CrossCheck:
    seed_kwh = gpu_hours * average_power_w * pue / 1000.0
    seed_kg = seed_kwh * grid_factor_kg_per_kwh
    return CrossCheck(
        gpu_hours=gpu_hours, gpu_hours_source=gpu_hours_source, average_power_w=average_power_w,
        power_source=power_source, pue=pue, grid_factor_kg_per_kwh=grid_factor_kg_per_kwh,
        grid_factor_source=grid_factor_source, seed_kwh=seed_kwh, seed_kg_co2e=seed_kg,
        measured_kwh=measured_kwh, measured_kg_co2e=measured_kg_co2e,
        ratio_kwh=seed_kwh / measured_kwh if measured_kwh > 0 else None,
        ratio_kg_co2e=seed_kg / measured_kg_co2e if measured_kg_co2e > 0 else None)


@dataclass(frozen=True)
class TrainingEnergyStatement:
    """EU AI Act Annex XI Section 1 point 2(d)/(e): compute used and known or estimated training energy."""

    model: str
    energy_kwh: float
    known_or_estimated: str             # "known" (every kWh metered or measured) or "estimated"
    kwh_by_basis: dict
    estimated_share: float              # share of the kWh that rests on estimates
    emissions_lb_kg_co2e: float
    emissions_mb_kg_co2e: float
    gpu_hours: float | None
    jobs: int
    months: list
    method: str
    uncertainty: list
    excludes: str
    sources: list
    defaults_used: str
    cross_check: dict | None
    label: str = "measured"
    reference: str = "Regulation (EU) 2024/1689, Annex XI, Section 1, point 2(d) and (e)"

    def to_dict(self) -> dict:
        return asdict(self)


def training_energy_statement(selection: TrainingSelection, cross_check: CrossCheck | None = None
                              ) -> TrainingEnergyStatement:
    est = selection.kwh_by_basis.get("estimated", 0.0)
    share = est / selection.energy_kwh if selection.energy_kwh > 0 else 0.0
    what = f"phases {', '.join(selection.phases)}"
    if selection.projects:
        what += f", projects {', '.join(selection.projects)}"
    if selection.phase_rules:
        what += f", phase rules {', '.join(selection.phase_rules)}"
    method = (f"Sum of this run's activity-ledger energy (facility kWh, PUE included) for {what}"
              + (f", narrowed to Slurm jobs named '{selection.job_name_glob}' by their share of each site slice's "
                 "allocation keys" if selection.job_name_glob else "")
              + ". Site energy is metered and allocated to jobs by GPU telemetry, else Slurm node energy, else "
                "GPU-hours x board power; cloud energy is estimated from billed usage x power model x provider PUE.")
    uncertainty = []
    if share > 0:
        uncertainty.append(f"{share:.1%} of the energy rests on estimates (power model or board power), not on "
                           "meters or measured job energy")
    else:
        uncertainty.append("every kWh is metered or measured; uncertainty is that of the meters and of the "
                           "allocation of site energy to jobs")
    if "job_energy_board_power" in selection.defaults_used.split(";"):
        uncertainty.append("part of the site energy is allocated to jobs by GPU-hours x board power (no job energy "
                           "measured for those jobs), so the split between jobs is estimated even where the site "
                           "total is metered")
    if selection.defaults_used:
        uncertainty.append(f"defaults assumed: {selection.defaults_used}")
    uncertainty.extend(f"flag: {f}" for f in selection.flags)
    if cross_check is not None and cross_check.ratio_kwh is not None:
        uncertainty.append(f"seed-method cross-check gives {cross_check.seed_kwh:.1f} kWh, "
                           f"{cross_check.ratio_kwh:.2f} x the measured figure")
    return TrainingEnergyStatement(
        model=selection.model, energy_kwh=selection.energy_kwh,
        known_or_estimated="known" if share == 0 else "estimated", kwh_by_basis=dict(selection.kwh_by_basis),
        estimated_share=share, emissions_lb_kg_co2e=selection.emissions_lb_kg_co2e,
        emissions_mb_kg_co2e=selection.emissions_mb_kg_co2e, gpu_hours=selection.gpu_hours,
        jobs=len(selection.job_ids), months=list(selection.months), method=method, uncertainty=uncertainty,
        excludes=("Energy of training the base model this one was fine-tuned from (the base-model provider's own "
                  "Annex XI figure) and training outside this reporting period's inputs."),
        sources=list(selection.sources), defaults_used=selection.defaults_used,
        cross_check=cross_check.to_dict() if cross_check is not None else None)
