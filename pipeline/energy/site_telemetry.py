"""GPU telemetry of a site -> measured energy per job and month (the allocation key above Slurm's figures).

Per source, devices with a power gauge are integrated (trapezoid); devices with only an energy counter are
differenced (resets handled). Intervals are attributed to Slurm jobs by the DCGM ``hpc_job`` label, else by
host and time (``pipeline.energy.telemetry``). Energy attributed to no job stays with the site's
``unallocated`` line through the meter reconciliation; gaps, resets and anomalies are reported.
"""

from __future__ import annotations

import pandas as pd

from pipeline.energy import telemetry
from pipeline.errors import InputError

J_PER_KWH = 3.6e6
MAX_POWER_W = 2000.0   # a single accelerator above this is an anomaly (B200: 1000 W board power)


def job_hosts(jobs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for j in jobs.itertuples(index=False):
        try:
            hosts = telemetry.expand_nodelist(j.node_list if isinstance(j.node_list, str) else "")
        except ValueError as exc:
            raise InputError(f"NodeList '{j.node_list}' cannot be expanded: {exc}", file=str(j.source_file),
                             row=int(j.source_row), fix="check the NodeList column of the sacct export") from None
        rows += [{"job_id": j.job_id, "host": h} for h in hosts]
    return pd.DataFrame(rows, columns=["job_id", "host"])


def measured_job_energy(samples_by_source: list[tuple[pd.DataFrame, float]], jobs: pd.DataFrame | None,
                        zone: str) -> tuple[dict[tuple[str, str], float], dict]:
    """((job_id, month) -> kWh measured, report). ``samples_by_source``: (POWER frame, max_gap_s) per source."""
    intervals, report = [], {"gaps": 0, "gap_hours": 0.0, "counter_resets": 0, "anomalies": 0,
                             "samples_dropped": 0, "energy_kwh": 0.0, "attributed_kwh": 0.0, "unattributed_kwh": 0.0}
    for samples, max_gap in samples_by_source:
        if samples.empty:
            continue
        has_power = samples.groupby(["host", "device_uuid"], dropna=False)["power_w"].transform(lambda x: x.notna().any())
        parts = [telemetry.integrate_power(samples[has_power], max_gap_s=max_gap, max_power_w=MAX_POWER_W),
                 telemetry.counter_energy(samples[~has_power], max_gap_s=max_gap, max_power_w=MAX_POWER_W)]
        for te in parts:
            intervals.append(te.intervals)
            report["gaps"] += len(te.gaps)
            report["gap_hours"] += float(te.gaps["duration_s"].sum()) / 3600.0 if len(te.gaps) else 0.0
            report["counter_resets"] += len(te.resets)
            report["anomalies"] += len(te.anomalies)
            if len(te.dropped_samples):
                report["samples_dropped"] += int(te.dropped_samples.select_dtypes("number").sum().sum())
    intervals = [i for i in intervals if len(i)]
    if not intervals:
        return {}, report
    iv = pd.concat(intervals, ignore_index=True)
    report["energy_kwh"] = float(iv["energy_j"].sum()) / J_PER_KWH
    if jobs is None or jobs.empty:
        report["unattributed_kwh"] = report["energy_kwh"]
        return {}, report
    att = telemetry.attribute_to_jobs(iv, jobs, job_hosts(jobs))
    att["month"] = att["interval_start_utc"].dt.tz_convert(zone).dt.strftime("%Y-%m")
    mine = att[att["job_id"].fillna("") != ""]
    report["attributed_kwh"] = float(mine["energy_j"].sum()) / J_PER_KWH
    report["unattributed_kwh"] = report["energy_kwh"] - report["attributed_kwh"]
    by = mine.groupby(["job_id", "month"])["energy_j"].sum() / J_PER_KWH
    return {(str(j), str(m)): float(v) for (j, m), v in by.items()}, report
