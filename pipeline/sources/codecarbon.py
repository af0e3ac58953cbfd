"""CodeCarbon ``emissions.csv`` (and task-mode ``emissions_<experiment>_<run_id>.csv``) -> canonical job frame.

One row = one measured run (or one task of a run). Checked against mlco2/codecarbon's source
(``codecarbon/output.py`` up to 2.4.x, ``codecarbon/output_methods/emissions_data.py`` from 2.5):

- Columns vary by version (31-38) and are parsed **by header name only**, never by position:
  2.3.x ``timestamp,project_name,run_id,duration,...,on_cloud,pue`` (31); task mode writes ``task_name`` first and
  no ``pue`` (31); 2.7+ adds ``experiment_id`` after ``run_id`` (32); 3.1+ adds ``water_consumed``,
  ``cpu_utilization_percent``, ``gpu_utilization_percent``, ``ram_utilization_percent``, ``ram_used_gb`` and ``wue``
  (38). Appending with a newer version to an older file can move columns (``cloud_provider,cloud_region`` last):
  harmless here. Unknown extra columns are ignored; optional columns may be missing.
- Units: ``duration`` s; ``*_energy`` and ``energy_consumed`` kWh; ``*_power`` W; ``emissions`` kg CO2eq.
- ``timestamp`` is written when the run (or task) **ends**: ``datetime.now().strftime("%Y-%m-%dT%H:%M:%S")`` in
  ``EmissionsTracker._prepare_emissions_data`` - local wall-clock time **without a zone** in every release checked
  (v2.3.1, v2.8.4, v3.0.5, v3.2.5 and master @b05965e4). So ``end_utc`` = timestamp read in the site's zone
  (``site_zone``), ``start_utc`` = end - ``duration``. A timestamp that does carry an offset (``Z``/``+01:00``,
  e.g. written by another tool) is honoured. Ambiguous / non-existent local times at DST changes become NaT (the
  row is quarantined), never guessed.
- Spreadsheet round trips change the text: ``2023-09-26 16:44:16`` (space), ``2023-10-06 0:05:27`` (hour not
  padded), numbers as ``7.05012795758524E-05``. Accepted timestamp shapes are explicit:
  ``YYYY-MM-DD[T| ]H[H]:MM[:SS[.fff]][Z|+HH:MM]`` (year-month-day order only; ``26/09/2023`` is refused, never
  guessed).
- ``gpu_energy`` is read from NVML (``nvmlDeviceGetTotalEnergyConsumption`` deltas) for all GPUs CodeCarbon
  tracked (all visible GPUs unless ``gpu_ids`` was set): MEASURED, and 0 when no GPU / NVML. It is this frame's
  ``energy_kwh``. ``cpu_energy`` / ``ram_energy`` are often estimates (see below) and are kept in extra columns.
- ``cpu_power == 42.5`` W marks CodeCarbon's fallback: ``POWER_CONSTANT = 85`` (W, "default W value for a CPU if
  no model is found") x ``CONSUMPTION_PERCENTAGE_CONSTANT = 0.5`` in ``codecarbon/external/hardware.py``
  (``CPU._get_power_from_cpus``, mode "constant"; same constants at v2.3.1 and master). Flagged
  ``cpu_power_is_tdp_estimate``. (A matched TDP in constant mode also gives TDP x 0.5 - e.g. 7.5 W for a 15 W
  laptop CPU - which cannot be told apart from a measurement by value alone; only 42.5 W is flagged.)
- ``emissions`` uses CodeCarbon's own factor: kept as ``emissions_kg_codecarbon`` for reference, never used.
- ``experiment_id`` defaults to the constant ``5b0fa12a-3dd7-45bb-9766-cc326314d9f1`` in CodeCarbon: never an identity.
- A ``run_id`` repeated without ``task_name`` is a cumulative snapshot (``tracker.flush()`` writes the running
  totals, ``stop()`` writes them again; ``FileOutput`` appends both): the latest snapshot (longest duration, then
  last in the file) is kept and the earlier ones are folded into it - never summed. Task rows are distinct tasks:
  ``job_id`` = ``run_id/task_name``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import JOB, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc

KIND = "codecarbon"
FAMILY = "job"
REQUIRED = ["timestamp", "project_name", "run_id", "duration", "cpu_energy", "gpu_energy", "ram_energy",
            "energy_consumed"]
SOURCE_COLUMNS = {"job_id": "run_id", "start_utc": "timestamp", "end_utc": "timestamp", "duration_s": "duration",
                  "energy_kwh": "gpu_energy"}

# CodeCarbon codecarbon/external/hardware.py: POWER_CONSTANT (85 W) x CONSUMPTION_PERCENTAGE_CONSTANT (0.5)
TDP_FALLBACK_CPU_POWER_W = 85 * 0.5

# nvidia-smi / NVML product names (after dropping a leading "NVIDIA " or "Tesla ") -> hardware catalogue names
# (evidence/hardware/accelerators.csv). Anything else is kept as given.
GPU_CATALOGUE = {
    "H100 80GB HBM3": "H100-SXM",
    "H100 NVL": "H100-NVL",
    "H200": "H200-SXM",
    "A100-SXM4-40GB": "A100-SXM-40GB",
    "A100-SXM4-80GB": "A100-SXM-80GB",
    "A100 80GB PCIE": "A100-PCIe-80GB",
    "L40S": "L40S",
    "L4": "L4",
    "T4": "T4",
    "A10G": "A10G",
    "V100-SXM2-16GB": "V100",
    "V100-SXM2-32GB": "V100",
    "V100-PCIE-16GB": "V100",
    "V100-PCIE-32GB": "V100",
}
_GPU_KEYS = {k.upper(): v for k, v in GPU_CATALOGUE.items()}
_GPU_SPEC = re.compile(r"^\s*(\d+)\s*x\s+(.+?)\s*$")
_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def sniff(columns: list[str]) -> bool:
    return {"run_id", "duration", "gpu_energy", "energy_consumed"} <= set(columns)


def read_raw(path: Path) -> RawTable:
    return read_delimited(path, what="CodeCarbon emissions.csv")


def catalogue_gpu_name(name: object) -> str | None:
    """Hardware catalogue name for an NVML GPU name (``NVIDIA A100-SXM4-80GB`` -> ``A100-SXM-80GB``)."""
    if not isinstance(name, str) or not name.strip():
        return None
    text = " ".join(name.split())
    key = re.sub(r"^(NVIDIA|Tesla)\s+", "", text, flags=re.IGNORECASE)
    key = re.sub(r"^(Tesla)\s+", "", key, flags=re.IGNORECASE).upper()
    return _GPU_KEYS.get(key, text)


def parse_gpu_model(text: object) -> tuple[float | None, str | None]:
    """(count, catalogue model) from CodeCarbon's ``gpu_model`` (``"8 x NVIDIA A100-SXM4-80GB"``).

    CodeCarbon joins one ``"<n> x <name>"`` per distinct model with no separator, so a mixed host reads
    ``"2 x NVIDIA A1001 x NVIDIA T4"``; that cannot be split safely, so it is kept as given with no count.
    """
    if not isinstance(text, str) or not text.strip():
        return None, None
    m = _GPU_SPEC.match(text)
    if m and not re.search(r"\d\s*x\s", m.group(2)):
        return float(m.group(1)), catalogue_gpu_name(m.group(2))
    return None, " ".join(text.split())


def normalise_timestamp(text: object) -> str | None:
    """The accepted CodeCarbon / spreadsheet timestamp shapes as ISO 8601 text; anything else -> None."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    if int(h) > 23:
        return None
    out = f"{y}-{mo}-{d}T{int(h):02d}:{mi}:{s or '00'}{frac or ''}"
    if zone:
        out += "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    return out


def to_canonical(raw: RawTable, *, source_label: str, site_id: str, site_zone: str,
                 default_gpu_model: str | None = None, gres_gpu_types: dict | None = None) -> Parsed:
    """Canonical job rows. ``default_gpu_model`` names the GPUs when ``gpu_model`` is empty but GPUs were
    counted; ``gres_gpu_types`` is accepted (and unused) so ingest can call every job adapter alike."""
    f = raw.frame
    col = lambda name: nullify(f[name]) if name in f.columns else pd.Series(pd.NA, index=f.index, dtype="string")
    num = lambda name: to_number(f[name]) if name in f.columns else pd.Series(float("nan"), index=f.index)

    run_id = col("run_id")
    task = col("task_name")
    project = col("project_name")
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    job_id = run_id.where(task.isna(), run_id + "/" + task)
    out["job_id"] = job_id
    out["job_name"] = project.where(task.isna(), project.fillna("") + " / " + task)
    out["account"] = project
    out["partition"] = pd.Series(pd.NA, index=f.index, dtype="string")
    out["site_id"] = site_id
    out["state"] = "COMPLETED"
    ts = pd.Series([normalise_timestamp(v) for v in col("timestamp").tolist()], index=f.index, dtype="string")
    end = to_utc(ts, assume_zone=site_zone)
    duration = num("duration")
    out["end_utc"] = end
    out["start_utc"] = end - pd.to_timedelta(duration.where(duration.abs() < 1e9), unit="s")
    out["start_missing"] = False
    out["end_unknown"] = False
    out["duration_s"] = duration

    counts, models = [], []
    for spec in col("gpu_model").tolist():
        c, m = parse_gpu_model(spec)
        counts.append(c)
        models.append(m)
    spec_count = pd.Series(counts, index=f.index, dtype="float64")
    model = pd.Series(models, index=f.index, dtype="string")
    # count: gpu_count column, else the "<n> x" of gpu_model, else 0 when no GPU is named (unknown for a mixed host)
    gpu_count = num("gpu_count").fillna(spec_count)
    gpu_count = gpu_count.mask(gpu_count.isna() & model.isna(), 0.0)
    out["gpu_count"] = gpu_count
    if default_gpu_model:
        model = model.mask(model.isna() & (gpu_count > 0), default_gpu_model)
    out["gpu_model"] = model
    out["gpu_hours"] = gpu_count * duration / 3600.0
    out["energy_kwh"] = num("gpu_energy")

    out["run_id"] = run_id
    out["task_name"] = task
    out["experiment_id"] = col("experiment_id")
    out["cpu_energy_kwh"] = num("cpu_energy")
    out["ram_energy_kwh"] = num("ram_energy")
    out["energy_consumed_kwh"] = num("energy_consumed")
    out["cpu_power_w"] = num("cpu_power")
    out["gpu_power_w"] = num("gpu_power")
    out["cpu_power_is_tdp_estimate"] = (num("cpu_power") == TDP_FALLBACK_CPU_POWER_W).astype(bool)
    out["codecarbon_version"] = col("codecarbon_version")
    out["emissions_kg_codecarbon"] = num("emissions")
    out["emissions_rate_kg_per_s_codecarbon"] = num("emissions_rate")
    out["country_iso_code"] = col("country_iso_code")
    out["region"] = col("region")
    out["cloud_provider"] = col("cloud_provider")
    out["cloud_region"] = col("cloud_region")

    # a value given but not a finite number is an error in the row, never "not measured"
    quarantine: dict = {}
    for column in ("duration", "gpu_energy", "cpu_energy", "ram_energy", "energy_consumed", "gpu_count"):
        if column not in f.columns:
            continue
        given = col(column)
        bad = given.notna() & num(column).isna()
        for i in f.index[bad]:
            quarantine.setdefault(i, []).append((f"{column}_not_a_number",
                                                 f"{column} is not a finite number ({column} = '{given[i]}')"))
    for i in f.index[(out["gpu_count"] < 0).fillna(False)]:
        quarantine.setdefault(i, []).append(("gpu_count_negative", f"gpu_count is negative (gpu_count = '{col('gpu_count')[i]}')"))
    # repeated run (flush snapshots, cumulative): keep the latest, fold the others into it
    folded = {}
    plain = task.isna() & run_id.notna()
    if plain.any():
        order = pd.DataFrame({"key": job_id[plain], "dur": duration[plain].fillna(-1.0),
                              "pos": range(int(plain.sum()))}, index=f.index[plain])
        for key, grp in order.groupby("key", sort=False):
            if len(grp) < 2:
                continue
            keep = grp.sort_values(["dur", "pos"]).index[-1]
            for i in grp.index:
                if i != keep:
                    note = (f"cumulative snapshot of run {key} (tracker.flush); superseded by the later row "
                            f"{int(f.at[keep, 'source_row'])}, never summed")
                    folded[i] = (keep, note)
    folded = {i: v for i, v in folded.items() if i not in quarantine}   # a broken row is quarantined, not folded
    for i, (target, note) in list(folded.items()):
        if target in quarantine:    # the run's latest snapshot is broken: its earlier snapshots go with it
            del folded[i]
            quarantine[i] = [("snapshot_of_quarantined_row", f"{note}; that row is quarantined")]
    frame = conform(out.drop(index=list(folded) + list(quarantine)), JOB)
    notes = []
    if folded:
        notes.append(f"{len(folded)} earlier snapshot row(s) of repeated run_id(s) folded into the latest row; "
                     "energy counted once")
    n_tdp = int(frame["cpu_power_is_tdp_estimate"].sum())
    if n_tdp:
        notes.append(f"{n_tdp} row(s) with cpu_power 42.5 W: CodeCarbon's TDP fallback (85 W x 0.5), CPU energy "
                     "is an estimate, not a measurement")
    notes.append("energy_kwh = CodeCarbon gpu_energy (NVML, measured); CodeCarbon's emissions are not used")
    return Parsed(frame=frame, quarantine=quarantine, folded=folded, notes=notes)
