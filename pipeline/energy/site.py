"""Own and colocation sites: metered energy per month, attributed to jobs, phases and projects.

1. Meter intervals -> kWh per site and month (month of the interval start, in the entity's zone).
   IT-load meters are scaled by the site's PUE to facility energy; facility meters are taken as they are.
2. Each Slurm job's in-period energy per month is its *allocation key*: measured node energy
   (ConsumedEnergyRaw) when Slurm has it, otherwise GPU-hours x accelerator board power (an upper bound,
   flagged ``job_energy_board_power``). A job that crosses a month or the period edge is split by time.
3. Per site and month, jobs receive their key energy (x PUE) out of the metered energy. If the jobs'
   keys exceed the meter, they are scaled down to it (flagged ``job_keys_scaled_to_meter``). What the
   jobs do not explain is reported as ``unallocated`` (idle / overhead) - never spread over the jobs.
4. A site with jobs but no meter takes the job keys x PUE as its energy, basis ``estimated``.

Key hierarchy per job and month: GPU telemetry attributed to the job > CodeCarbon runs nested in the job
> Slurm node energy > GPU-hours x board power. CodeCarbon runs (``nest_codecarbon``) that ran during a Slurm
job of the site are *inside* that job: their measured GPU energy becomes the job's key, never a second job
(no double count). Only runs that overlap no Slurm job are jobs of their own (``codecarbon:<run_id>``).
Kubernetes workloads seen only in telemetry (``k8s:<namespace>/<pod>``) are keys of their own too, with
the phase from the namespace / label rules.
"""

from __future__ import annotations

import fnmatch

import pandas as pd

from pipeline.canonical import ranges_text
from pipeline.config import PhaseRule, Site
from pipeline.period import PeriodBounds

def match_phase(rules: list[PhaseRule], *, job_name=None, account=None, partition=None,
                tags: dict | None = None, namespace=None, labels: dict | None = None) -> tuple[str, str]:
    """First matching rule wins. Returns (phase, rule id) or ("unallocated", "")."""
    for i, rule in enumerate(rules):
        m = rule.match
        checks = []
        for pattern, value in ((m.job_name, job_name), (m.account, account), (m.partition, partition),
                               (m.namespace, namespace)):
            if pattern is not None:
                checks.append(isinstance(value, str) and fnmatch.fnmatchcase(value, pattern))
        for given, patterns in ((tags, m.tags), (labels, m.labels)):
            for key, pattern in patterns.items():
                value = (given or {}).get(key)
                checks.append(isinstance(value, str) and fnmatch.fnmatchcase(value, pattern))
        if checks and all(checks):
            return rule.phase, rule.id or f"phase_rules[{i}]"
    return "unallocated", ""


def _split_by_month(start, end, kwh: float, bounds: PeriodBounds) -> list[tuple[str, float]]:
    total = (end - start).total_seconds()
    out = []
    for month, m_start, m_end in bounds.month_edges():
        s, e = max(start, m_start), min(end, m_end)
        if e > s and total > 0:
            out.append((month, kwh * (e - s).total_seconds() / total))
    return out


def nest_codecarbon(slurm: pd.DataFrame | None, runs: pd.DataFrame, bounds: PeriodBounds
                    ) -> tuple[pd.DataFrame, dict[tuple[str, str], float], list[dict]]:
    """CodeCarbon runs -> (runs that are jobs of their own, nested kWh per (Slurm job, month), match rows).

    A run overlapping Slurm jobs in time belongs to one of them: the job whose name or account equals the
    run's project (``name_and_time``), else the one it overlaps most (``time_only``, flagged in the table)."""
    nested: dict[tuple[str, str], float] = {}
    matches, own = [], []
    has_slurm = slurm is not None and len(slurm) > 0
    for r in runs.itertuples():
        if pd.isna(r.start_utc) or pd.isna(r.end_utc):
            own.append(r.Index)
            continue
        best, how = None, ""
        if has_slurm:
            s_end = slurm["end_utc"].fillna(bounds.end_utc)
            overlap = (s_end.clip(upper=r.end_utc) - slurm["start_utc"].clip(lower=r.start_utc)).dt.total_seconds()
            cand = slurm[(overlap > 0).fillna(False)]
            if len(cand):
                named = cand[(cand["job_name"] == r.account) | (cand["account"] == r.account)]
                pick, how = (named, "name_and_time") if len(named) else (cand, "time_only")
                best = pick.loc[overlap[pick.index].idxmax()]
        if best is None:
            own.append(r.Index)
            continue
        kwh = float(r.energy_kwh) if pd.notna(r.energy_kwh) else 0.0
        for month, part in _split_by_month(r.start_utc, r.end_utc, kwh, bounds):
            key = (str(best["job_id"]), month)
            nested[key] = nested.get(key, 0.0) + part
        matches.append({"codecarbon_run": r.job_id, "source_file": r.source_file, "source_row": int(r.source_row),
                        "slurm_job": str(best["job_id"]), "match": how, "gpu_energy_kwh": kwh})
    standalone = runs.loc[own].copy()
    standalone["job_id"] = "codecarbon:" + standalone["job_id"].astype("string")
    return standalone, nested, matches


def job_month_keys(jobs: pd.DataFrame, bounds: PeriodBounds, board_power_w: dict[str, float],
                   rules: list[PhaseRule], project_field: str,
                   telemetry_kwh: dict[tuple[str, str], float] | None = None,
                   codecarbon_kwh: dict[tuple[str, str], float] | None = None,
                   workloads: dict[str, dict] | None = None, project_label: str | None = None,
                   job_sources: dict[str, tuple[str, int]] | None = None) -> pd.DataFrame:
    """One row per job x month with its in-period allocation key (IT kWh), phase and project.

    Key hierarchy: GPU telemetry attributed to the job in that month (``telemetry_kwh``: (job_id, month) ->
    kWh; basis measured) > CodeCarbon runs nested in the job (``codecarbon_kwh``; measured) > Slurm node
    energy (ConsumedEnergyRaw; measured) > GPU-hours x board power (estimated). Telemetry keys of jobs the
    scheduler frame lacks (Kubernetes workloads, ``workloads``: job_id -> namespace, pod, labels) are rows too."""
    telemetry_kwh = telemetry_kwh or {}
    codecarbon_kwh = codecarbon_kwh or {}
    rows = []
    for j in jobs.itertuples(index=False):
        if pd.isna(j.start_utc):
            continue  # never started: no energy
        start = j.start_utc
        end = j.end_utc if not pd.isna(j.end_utc) else bounds.end_utc
        flags = ["job_end_unknown_clipped_to_period_end"] if pd.isna(j.end_utc) else []
        total_s = (end - start).total_seconds()
        if total_s <= 0:
            continue
        phase, rule_id = match_phase(rules, job_name=j.job_name, account=j.account, partition=j.partition)
        project = getattr(j, project_field, "") if project_field != "none" else ""
        measured = not pd.isna(j.energy_kwh)
        bp = board_power_w.get(j.gpu_model.upper()) if isinstance(j.gpu_model, str) else None
        for month, m_start, m_end in bounds.month_edges():
            s, e = max(start, m_start), min(end, m_end)
            overlap = (e - s).total_seconds()
            if overlap <= 0:
                continue
            gpu_hours = j.gpu_count * overlap / 3600.0
            if (j.job_id, month) in telemetry_kwh:
                key_kwh, basis, f = telemetry_kwh[(j.job_id, month)], "measured", ["job_energy_gpu_telemetry"]
            elif (j.job_id, month) in codecarbon_kwh:
                key_kwh, basis, f = codecarbon_kwh[(j.job_id, month)], "measured", ["job_energy_codecarbon"]
            elif measured:
                key_kwh, basis, f = j.energy_kwh * overlap / total_s, "measured", []
            elif bp is not None:
                key_kwh, basis, f = gpu_hours * bp / 1000.0, "estimated", ["job_energy_board_power"]
            else:
                key_kwh, basis, f = 0.0, "estimated", ["job_gpu_model_unknown"]
            rows.append({"job_id": j.job_id, "job_name": j.job_name, "source_file": j.source_file,
                         "source_row": j.source_row, "month": month, "phase": phase, "phase_rule": rule_id,
                         "project": project if isinstance(project, str) else "", "gpu_hours": gpu_hours,
                         "key_it_kwh": key_kwh, "key_basis": basis, "flags": ";".join(flags + f)})
    known = set(jobs["job_id"].dropna().astype(str)) if "job_id" in jobs else set()
    for (job_id, month), kwh in sorted(telemetry_kwh.items()):
        if job_id in known:
            continue
        w = (workloads or {}).get(job_id)
        labels = w["labels"] if w else {}
        phase, rule_id = match_phase(rules, namespace=w["namespace"] if w else None, labels=labels)
        src_file, src_row = (job_sources or {}).get(job_id, ("GPU telemetry", 0))
        rows.append({"job_id": job_id, "job_name": w["pod"] if w else job_id, "source_file": src_file,
                     "source_row": src_row, "month": month, "phase": phase, "phase_rule": rule_id,
                     "project": labels.get(project_label, "") if project_label else "", "gpu_hours": 0.0,
                     "key_it_kwh": kwh, "key_basis": "measured",
                     "flags": "job_energy_gpu_telemetry" + ("" if w else ";job_label_not_in_jobs")})
    cols = ["job_id", "job_name", "source_file", "source_row", "month", "phase", "phase_rule", "project",
            "gpu_hours", "key_it_kwh", "key_basis", "flags"]
    return pd.DataFrame(rows, columns=cols)


KEY_KINDS = (("job_energy_gpu_telemetry", "key_telemetry_kwh"), ("job_energy_codecarbon", "key_codecarbon_kwh"),
             ("job_energy_board_power", "key_board_power_kwh"))


def _key_mix(k: pd.DataFrame, pue: float) -> dict[str, float]:
    """Facility kWh of the month's keys by how they were obtained (telemetry, CodeCarbon, Slurm, board power)."""
    out = {col: 0.0 for _, col in KEY_KINDS}
    out["key_slurm_energy_kwh"] = 0.0
    if k.empty:
        return out
    for flags, kwh in zip(k["flags"].fillna(""), k["key_it_kwh"]):
        col = next((c for flag, c in KEY_KINDS if flag in flags.split(";")), "key_slurm_energy_kwh")
        out[col] += float(kwh) * pue
    return out


def allocate(site: Site, months: list[str], meter_rows: pd.DataFrame | None, keys: pd.DataFrame,
             telemetry_months: dict[str, dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (site activity slices, allocation table per month).

    Activity slices: month, phase, project, energy_kwh (facility), energy_basis, defaults_used,
    source_file, source_rows. Allocation table: one row per month with the reconciliation figures.
    """
    slices, alloc_rows = [], []
    for month in months:
        k = keys[keys["month"] == month] if len(keys) else keys
        key_it = float(k["key_it_kwh"].sum()) if len(k) else 0.0
        key_fac = key_it * site.pue
        if meter_rows is not None:
            mm = meter_rows[meter_rows["month"] == month]
            metered_it = float(mm["energy_kwh"].sum())
            facility = float(mm["facility_kwh"].sum())
            basis = "metered"
            base_flags = sorted({f for fl in mm["flags"].dropna() for f in str(fl).split(";") if f}) if "flags" in mm else []
            scale = 1.0
            if key_fac > facility and key_fac > 0:
                scale = facility / key_fac
                base_flags = base_flags + ["job_keys_scaled_to_meter"]
            allocated = key_fac * scale
            unallocated = facility - allocated
            meter_file = ";".join(sorted(mm["source_file"].astype(str).unique()))
            meter_src = _ranges(mm["source_row"])
        else:
            metered_it, facility, basis, base_flags, scale = float("nan"), key_fac, "estimated", ["site_energy_from_job_estimates"], 1.0
            allocated, unallocated, meter_file, meter_src = key_fac, 0.0, "", ""
        if len(k):
            g = k.groupby(["phase", "phase_rule", "project"], sort=True)
            for (phase, phase_rule, project), grp in g:
                flags = set(base_flags)
                for fl in grp["flags"]:
                    flags.update(x for x in fl.split(";") if x)
                slices.append({"month": month, "phase": phase, "phase_rule": phase_rule, "project": project,
                               "energy_kwh": float(grp["key_it_kwh"].sum()) * site.pue * scale,
                               "energy_basis": basis, "defaults_used": ";".join(sorted(flags)),
                               "source_file": ";".join(sorted(grp["source_file"].astype(str).unique())),
                               "source_rows": _ranges(grp["source_row"])})
        if unallocated > 0 or (meter_rows is not None and not len(k)):
            slices.append({"month": month, "phase": "unallocated", "phase_rule": "", "project": "", "energy_kwh": unallocated,
                           "energy_basis": basis, "defaults_used": ";".join(f for f in base_flags if f.startswith("meter_")),
                           "source_file": meter_file,
                           "source_rows": meter_src})
        tm = (telemetry_months or {}).get(month, {})
        mix = _key_mix(k, site.pue)
        alloc_rows.append({"site_id": site.id, "month": month, "energy_basis": basis,
                           "metered_it_kwh": metered_it, "pue": site.pue,
                           "facility_kwh": facility, "jobs_kwh_estimate": key_fac, "allocated_kwh": allocated,
                           "unallocated_kwh": unallocated,
                           "measured_key_kwh": float(k.loc[k["key_basis"] == "measured", "key_it_kwh"].sum()) * site.pue if len(k) else 0.0,
                           "estimated_key_kwh": float(k.loc[k["key_basis"] == "estimated", "key_it_kwh"].sum()) * site.pue if len(k) else 0.0,
                           **mix,
                           "telemetry_it_kwh": tm.get("measured_it_kwh", 0.0),
                           "telemetry_attributed_it_kwh": tm.get("attributed_it_kwh", 0.0),
                           "telemetry_share_of_facility": (tm.get("measured_it_kwh", 0.0) * site.pue / facility
                                                           if facility and facility == facility else float("nan")),
                           "allocation_key": "job energy: GPU telemetry where present, else CodeCarbon runs in the job, "
                                             "else Slurm node energy, else GPU-hours x board power"
                                             + (f"; keys scaled by {scale:.4f} to the meter" if scale != 1.0 else "")})
    return pd.DataFrame(slices), pd.DataFrame(alloc_rows)


def _ranges(rows: pd.Series) -> str:
    """Compress row numbers into ranges: 2-5,9,12-13."""
    return ranges_text(rows.astype("int64"))
