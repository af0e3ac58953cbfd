"""GPU telemetry of a site -> measured energy per job and month (the allocation key above Slurm's figures).

Per source, devices with a power gauge are integrated (trapezoid); devices with only an energy counter are
differenced (resets handled). Intervals are attributed to Slurm jobs by the DCGM ``hpc_job`` label, else by
host and time (``pipeline.energy.telemetry``). Energy attributed to no job stays with the site's
``unallocated`` line through the meter reconciliation; gaps, resets and anomalies are reported.

Kubernetes workloads: a sample with no ``hpc_job`` but a workload namespace label (``exported_namespace``,
``namespace``, ``pod_namespace``, ``container_namespace``; the ``exported_`` form wins because Prometheus renames
the workload's labels that way when they clash with the scrape target's) is a workload of its own, job id
``k8s:<namespace>/<pod>``. Such workloads become allocation keys of their own (phase by the namespace / label
rules), since no scheduler record describes them.

Kepler: one counter is one ``series_id`` (not host + device), and its levels nest (node >= pod >= container
>= process). Only one level is used per source so nothing is counted twice: pod rows when there are any, else
container rows, else node rows (node energy is then attributed to Slurm jobs by host and time).
"""

from __future__ import annotations

import json

import pandas as pd

from pipeline.energy import telemetry
from pipeline.errors import InputError

J_PER_KWH = 3.6e6
NAMESPACE_LABELS = ("exported_namespace", "namespace", "pod_namespace", "container_namespace")
POD_LABELS = ("exported_pod", "pod", "pod_name")
KEPLER_LEVELS = ("pod", "container", "node")
MAX_POWER_W = 2000.0   # a single accelerator above this is an anomaly (B200: 1000 W board power)
MAX_SERIES_POWER_W = 20000.0   # a Kepler series (a pod's or node's CPUs or GPUs together): above a whole node


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


def kepler_level(samples: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Kepler rows of one level (pod > container > node), each series its own counter; other frames as they are."""
    if "series_id" not in samples.columns or "level" not in samples.columns:
        return samples, None
    for level in KEPLER_LEVELS:
        rows = samples[samples["level"] == level]
        if len(rows):
            return rows.assign(device_uuid=rows["series_id"]), level
    return samples.iloc[0:0], None


def workloads(samples: pd.DataFrame) -> tuple[pd.Series, dict[str, dict]]:
    """job_id per sample (the scheduler's, else ``k8s:<namespace>/<pod>``) and the workloads' labels."""
    job = samples["job_id"].astype("string")
    found: dict[str, dict] = {}
    if "labels_json" not in samples.columns:
        return job, found
    ids = []
    cache: dict[str, str | None] = {}
    for text, current in zip(samples["labels_json"].tolist(), job.tolist()):
        if isinstance(current, str) and current:
            ids.append(current)
            continue
        if not isinstance(text, str) or not text:
            ids.append(None)
            continue
        if text not in cache:
            labels = json.loads(text)
            ns = next((labels[k] for k in NAMESPACE_LABELS if labels.get(k)), None)
            pod = next((labels[k] for k in POD_LABELS if labels.get(k)), "")
            if ns is None or "," in ns or "," in pod:      # several workloads on one device: not attributable
                cache[text] = None
            else:
                wid = f"k8s:{ns}/{pod}" if pod else f"k8s:{ns}"
                cache[text] = wid
                found.setdefault(wid, {"namespace": ns, "pod": pod, "labels": labels})
        ids.append(cache[text])
    return pd.Series(ids, index=samples.index, dtype="string"), found


def measured_job_energy(samples_by_source: list[tuple[pd.DataFrame, float]], jobs: pd.DataFrame | None,
                        zone: str) -> tuple[dict[tuple[str, str], float], dict]:
    """((job_id, month) -> kWh measured, report). ``samples_by_source``: (POWER frame, max_gap_s) per source.

    The report holds totals and ``months`` (month -> all measured kWh, attributed kWh) for the meter
    reconciliation, and ``workloads`` (Kubernetes workloads seen only in telemetry, with their labels)."""
    intervals, report = [], {"gaps": 0, "gap_hours": 0.0, "counter_resets": 0, "anomalies": 0,
                             "samples_dropped": 0, "energy_kwh": 0.0, "attributed_kwh": 0.0, "unattributed_kwh": 0.0,
                             "kepler_levels": [], "months": {}, "workloads": {}, "job_sources": {}}
    for samples, max_gap in samples_by_source:
        samples, level = kepler_level(samples)
        if level:
            report["kepler_levels"].append(level)
        if samples.empty:
            continue
        job_ids, found = workloads(samples)
        samples = samples.assign(job_id=job_ids)
        report["workloads"].update(found)
        has_power = samples.groupby(["host", "device_uuid"], dropna=False)["power_w"].transform(lambda x: x.notna().any())
        cap = MAX_SERIES_POWER_W if level else MAX_POWER_W
        parts = [telemetry.integrate_power(samples[has_power], max_gap_s=max_gap, max_power_w=cap),
                 telemetry.counter_energy(samples[~has_power], max_gap_s=max_gap, max_power_w=cap)]
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
        jobs = pd.DataFrame({c: pd.Series(dtype="string") for c in ("job_id", "node_list", "source_file")})
        jobs["start_utc"] = pd.Series(dtype="datetime64[ns, UTC]")
        jobs["end_utc"] = pd.Series(dtype="datetime64[ns, UTC]")
        jobs["gpu_count"] = pd.Series(dtype="float64")
        jobs["source_row"] = pd.Series(dtype="int64")
    att = telemetry.attribute_to_jobs(iv, jobs, job_hosts(jobs))
    att["month"] = att["interval_start_utc"].dt.tz_convert(zone).dt.strftime("%Y-%m")
    attributed = att["job_id"].fillna("") != ""
    mine = att[attributed]
    report["attributed_kwh"] = float(mine["energy_j"].sum()) / J_PER_KWH
    report["unattributed_kwh"] = report["energy_kwh"] - report["attributed_kwh"]
    per_month = att.groupby("month")["energy_j"].sum() / J_PER_KWH
    per_month_att = mine.groupby("month")["energy_j"].sum() / J_PER_KWH
    report["months"] = {str(m): {"measured_it_kwh": float(v), "attributed_it_kwh": float(per_month_att.get(m, 0.0))}
                        for m, v in per_month.items()}
    first = mine.sort_values(["source_file", "source_row_start"]).groupby("job_id").first()
    report["job_sources"] = {str(j): (str(r.source_file), int(r.source_row_start) if pd.notna(r.source_row_start) else 0)
                             for j, r in first.iterrows()}
    by = mine.groupby(["job_id", "month"])["energy_j"].sum() / J_PER_KWH
    return {(str(j), str(m)): float(v) for (j, m), v in by.items()}, report
