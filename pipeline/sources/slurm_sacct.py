"""Slurm ``sacct --parsable2`` output (``|``-separated, header first, no trailing ``|``).

Traps handled:
- Job steps (``1234.batch``, ``1234.extern``, ``1234.0``) repeat the job's energy: only the job allocation
  row is kept; step rows are counted as read and folded into their job, never summed.
- ``AllocTRES`` may list ``gres/gpu:h100=8`` *and* ``gres/gpu=8`` for the same GPUs: the untyped count wins;
  typed counts are summed only when no untyped entry exists. The typed name gives the GPU model, mapped to
  the hardware catalogue by the site's ``gres_gpu_types``; jobs with no typed GPU take the site's ``gpu_model``.
- Times have no zone: they are in the site's time zone (config ``sites[].timezone``).
  ``Start=None`` (never started) and ``End=Unknown`` (still running) are kept and flagged.
- ``ConsumedEnergyRaw`` is node energy in joules (IPMI/RAPL), only meaningful for exclusive allocations;
  Slurm records no NVIDIA GPU energy. Empty means "not measured".
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import JOB, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc

KIND = "slurm_sacct"
FAMILY = "job"
REQUIRED = ["JobID", "JobName", "Account", "State", "Start", "End", "AllocTRES"]
SOURCE_COLUMNS = {"job_id": "JobID", "start_utc": "Start", "end_utc": "End", "energy_kwh": "ConsumedEnergyRaw"}
J_PER_KWH = 3.6e6
_GPU_TYPED = re.compile(r"gres/gpu:([^=,]+)=(\d+)")
_GPU_UNTYPED = re.compile(r"gres/gpu=(\d+)")


def sniff(columns: list[str]) -> bool:
    return {"JobID", "AllocTRES"} <= set(columns)


def read_raw(path: Path) -> RawTable:
    # sacct never quotes (a job name may start with '"'): quotes are ordinary characters here
    return read_delimited(path, delimiter="|", what="sacct --parsable2 output", quoting=False)


def gpu_from_tres(tres: object) -> tuple[float, str | None]:
    """(GPU count, typed model name or None) from an AllocTRES string."""
    if not isinstance(tres, str) or not tres:
        return 0.0, None
    typed = _GPU_TYPED.findall(tres)
    untyped = _GPU_UNTYPED.findall(tres)
    model = typed[0][0] if typed else None
    if untyped:
        return float(sum(int(n) for n in untyped)), model
    return float(sum(int(n) for _, n in typed)), model


def is_step(job_id: object) -> bool:
    return isinstance(job_id, str) and "." in job_id


def to_canonical(raw: RawTable, *, source_label: str, site_id: str, site_zone: str,
                 default_gpu_model: str | None, gres_gpu_types: dict[str, str] | None = None
                 ) -> Parsed:
    """Job allocation rows; step rows are folded into their job (``Parsed.folded``: index -> job id)."""
    f = raw.frame
    steps = f["JobID"].map(is_step).astype(bool)
    jobs = f[~steps]
    col = lambda name: nullify(jobs[name]) if name in jobs.columns else pd.Series(pd.NA, index=jobs.index, dtype="string")
    out = pd.DataFrame(index=jobs.index)
    out["source_file"] = source_label
    out["source_row"] = jobs["source_row"]
    out["job_id"] = col("JobID")
    out["job_name"] = col("JobName")
    out["account"] = col("Account")
    out["wckey"] = col("WCKey")
    out["partition"] = col("Partition")
    out["site_id"] = site_id
    out["state"] = col("State")
    start_raw = jobs["Start"].astype("string").str.strip()
    end_raw = jobs["End"].astype("string").str.strip()
    out["start_utc"] = to_utc(start_raw.mask(start_raw.isin(["None", "Unknown"])), assume_zone=site_zone)
    out["end_utc"] = to_utc(end_raw.mask(end_raw.isin(["None", "Unknown"])), assume_zone=site_zone)
    out["start_missing"] = start_raw.isin(["None", "Unknown"]).fillna(False).astype(bool)
    out["end_unknown"] = end_raw.isin(["Unknown", "None"]).fillna(False).astype(bool)
    gpus = jobs["AllocTRES"].map(gpu_from_tres)
    out["gpu_count"] = gpus.map(lambda g: g[0]).astype("float64")
    typed = gpus.map(lambda g: g[1])
    types = gres_gpu_types or {}
    out["gpu_model"] = pd.Series([types.get(t, t) if isinstance(t, str) else default_gpu_model for t in typed],
                                 index=jobs.index, dtype="string")
    out["node_list"] = col("NodeList")
    out["duration_s"] = (out["end_utc"] - out["start_utc"]).dt.total_seconds()
    out["gpu_hours"] = out["gpu_count"] * out["duration_s"] / 3600.0
    folded, quarantine = {}, {}
    if "ConsumedEnergyRaw" in jobs.columns:
        given = nullify(jobs["ConsumedEnergyRaw"])
        joules = to_number(given)
        out["energy_kwh"] = joules / J_PER_KWH
        # text that is not a plain number of joules is not "no measurement": the row is quarantined, not estimated
        for i in jobs.index[given.notna() & joules.isna()]:
            quarantine[i] = [("energy_not_a_number", f"ConsumedEnergyRaw is not a number of joules "
                                                      f"(ConsumedEnergyRaw = '{given[i]}')")]
    else:
        out["energy_kwh"] = float("nan")
    job_index = {jid: i for i, jid in out["job_id"].items() if isinstance(jid, str)}
    for i in f.index[steps]:
        parent = str(f.at[i, "JobID"]).split(".", 1)[0]
        if parent in job_index:
            folded[i] = (job_index[parent], f"step of job {parent}: its energy repeats the job's, never summed")
        else:
            quarantine[i] = [("job_step_without_job", f"step of job {parent}, whose job row is missing")]
    notes = [f"{len(folded)} job-step row(s) (.batch/.extern/...) folded into their jobs; step energy never summed"] if folded else []
    return Parsed(frame=conform(out, JOB), quarantine=quarantine, folded=folded, notes=notes)
