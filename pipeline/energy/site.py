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
"""

from __future__ import annotations

import fnmatch

import pandas as pd

from pipeline.config import PhaseRule, Site
from pipeline.errors import ValidationFailed
from pipeline.period import PeriodBounds

MIN_METER_COVERAGE = 0.95


def match_phase(rules: list[PhaseRule], *, job_name=None, account=None, partition=None,
                tags: dict | None = None) -> tuple[str, str]:
    """First matching rule wins. Returns (phase, rule id) or ("unallocated", "")."""
    for i, rule in enumerate(rules):
        m = rule.match
        checks = []
        for pattern, value in ((m.job_name, job_name), (m.account, account), (m.partition, partition)):
            if pattern is not None:
                checks.append(isinstance(value, str) and fnmatch.fnmatchcase(value, pattern))
        for key, pattern in m.tags.items():
            value = (tags or {}).get(key)
            checks.append(isinstance(value, str) and fnmatch.fnmatchcase(value, pattern))
        if checks and all(checks):
            return rule.phase, rule.id or f"phase_rules[{i}]"
    return "unallocated", ""


def meter_months(meters: pd.DataFrame, site: Site, bounds: PeriodBounds) -> pd.DataFrame:
    """kWh per meter x month, IT and facility, plus coverage of the period in hours."""
    measures = {m.id: m.measures for m in site.meters}
    m = meters[meters["site_id"] == site.id].copy()
    m["month"] = m["interval_start_utc"].dt.tz_convert(bounds.zone).dt.strftime("%Y-%m")
    m["hours"] = (m["interval_end_utc"] - m["interval_start_utc"]).dt.total_seconds() / 3600.0
    m["scale"] = m["meter_id"].map(lambda mid: site.pue if measures.get(mid) == "it_load" else 1.0)
    m["facility_kwh"] = m["energy_kwh"] * m["scale"]
    return m


def check_meter_coverage(meters: pd.DataFrame, site: Site, bounds: PeriodBounds, source_label: str) -> list[dict]:
    """Stops the run when a meter of the site covers less than 95 % of the period; returns gap notes."""
    notes, problems = [], []
    for meter in site.meters:
        mm = meters[meters["meter_id"] == meter.id]
        covered = float(((mm["interval_end_utc"] - mm["interval_start_utc"]).dt.total_seconds() / 3600.0).sum())
        share = covered / bounds.hours if bounds.hours else 0.0
        if share < MIN_METER_COVERAGE:
            first = mm["interval_start_utc"].min()
            last = mm["interval_end_utc"].max()
            span = f"{first:%Y-%m-%d %H:%M}Z..{last:%Y-%m-%d %H:%M}Z" if len(mm) else "no readings"
            problems.append(f"meter {meter.id} at site {site.id} covers {share:.2%} of the period ({span}); "
                            f"at least {MIN_METER_COVERAGE:.0%} is needed")
        elif covered < bounds.hours:
            notes.append({"site": site.id, "meter": meter.id, "missing_hours": round(bounds.hours - covered, 3),
                          "treatment": "not filled: the missing intervals add no energy"})
    if problems:
        raise ValidationFailed(
            "the reporting period is not covered by meter readings", file=source_label, problems=problems,
            fix="supply the missing readings (or remove the meter from the site if it was decommissioned)")
    return notes


def job_month_keys(jobs: pd.DataFrame, bounds: PeriodBounds, board_power_w: dict[str, float],
                   rules: list[PhaseRule], project_field: str,
                   telemetry_kwh: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """One row per job x month with its in-period allocation key (IT kWh), phase and project.

    Key hierarchy: GPU telemetry attributed to the job in that month (``telemetry_kwh``: (job_id, month) ->
    kWh; basis measured) > Slurm node energy (ConsumedEnergyRaw; measured) > GPU-hours x board power (estimated)."""
    telemetry_kwh = telemetry_kwh or {}
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
        project = getattr(j, project_field) if project_field != "none" else ""
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
    cols = ["job_id", "job_name", "source_file", "source_row", "month", "phase", "phase_rule", "project",
            "gpu_hours", "key_it_kwh", "key_basis", "flags"]
    return pd.DataFrame(rows, columns=cols)


def allocate(site: Site, months: list[str], meter_rows: pd.DataFrame | None, keys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            g = k.groupby(["phase", "project"], sort=True)
            for (phase, project), grp in g:
                flags = set(base_flags)
                for fl in grp["flags"]:
                    flags.update(x for x in fl.split(";") if x)
                slices.append({"month": month, "phase": phase, "project": project,
                               "energy_kwh": float(grp["key_it_kwh"].sum()) * site.pue * scale,
                               "energy_basis": basis, "defaults_used": ";".join(sorted(flags)),
                               "source_file": ";".join(sorted(grp["source_file"].astype(str).unique())),
                               "source_rows": _ranges(grp["source_row"])})
        if unallocated > 0 or (meter_rows is not None and not len(k)):
            slices.append({"month": month, "phase": "unallocated", "project": "", "energy_kwh": unallocated,
                           "energy_basis": basis, "defaults_used": ";".join(f for f in base_flags if f.startswith("meter_")),
                           "source_file": meter_file,
                           "source_rows": meter_src})
        alloc_rows.append({"site_id": site.id, "month": month, "metered_it_kwh": metered_it, "pue": site.pue,
                           "facility_kwh": facility, "jobs_kwh_estimate": key_fac, "allocated_kwh": allocated,
                           "unallocated_kwh": unallocated,
                           "measured_key_kwh": float(k.loc[k["key_basis"] == "measured", "key_it_kwh"].sum()) * site.pue if len(k) else 0.0,
                           "estimated_key_kwh": float(k.loc[k["key_basis"] == "estimated", "key_it_kwh"].sum()) * site.pue if len(k) else 0.0,
                           "allocation_key": "job energy: GPU telemetry where present, else Slurm node energy, else GPU-hours x board power"
                                             + (f"; keys scaled by {scale:.4f} to the meter" if scale != 1.0 else "")})
    return pd.DataFrame(slices), pd.DataFrame(alloc_rows)


def _ranges(rows: pd.Series) -> str:
    """Compress row numbers into ranges: 2-5,9,12-13."""
    nums = sorted(set(int(r) for r in rows))
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)
