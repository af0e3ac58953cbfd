"""pipeline/energy/site_telemetry.py: GPU telemetry becomes the measured allocation key of Slurm jobs."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.canonical import JOB, POWER, conform
from pipeline.config import Config, config_from_dict
from pipeline.energy import site as site_energy
from pipeline.energy.site_telemetry import measured_job_energy
from pipeline.period import bounds

T0 = pd.Timestamp("2026-07-14T09:00:00Z")


def _cfg() -> Config:
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR", "timezone": "UTC"},
        "period": "2026-Q3",
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "X", "site": "s1"}],
        "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.5}],
        "sources": [{"kind": "slurm_sacct", "path": "x.txt", "site": "s1"}],
    })


def _jobs() -> pd.DataFrame:
    rows = [
        {"job_id": "101", "job_name": "ft-a", "account": "p", "partition": "gpu", "site_id": "s1", "state": "COMPLETED",
         "start_utc": T0, "end_utc": T0 + pd.Timedelta(hours=1), "gpu_count": 1.0, "gpu_model": "H100-SXM",
         "energy_kwh": float("nan"), "node_list": "gpu001", "source_file": "s.txt", "source_row": 2},
        {"job_id": "102", "job_name": "ft-b", "account": "p", "partition": "gpu", "site_id": "s1", "state": "COMPLETED",
         "start_utc": T0, "end_utc": T0 + pd.Timedelta(hours=1), "gpu_count": 1.0, "gpu_model": "H100-SXM",
         "energy_kwh": float("nan"), "node_list": "gpu002", "source_file": "s.txt", "source_row": 3},
    ]
    df = conform(pd.DataFrame(rows), JOB)
    df["gpu_hours"] = df["gpu_count"] * 1.0
    return df


def _samples() -> pd.DataFrame:
    # gpu001's GPU at a constant 400 W, sampled every 60 s for one hour (61 samples), no job label
    ts = [T0 + pd.Timedelta(seconds=60 * k) for k in range(61)]
    df = pd.DataFrame({"source_file": "dcgm.json", "source_row": range(1, 62), "host": "gpu001", "device_uuid": "GPU-A",
                       "gpu_index": "0", "gpu_model": "H100-SXM", "ts_utc": pd.to_datetime(ts, utc=True),
                       "power_w": 400.0, "energy_counter_j": float("nan"), "utilisation_pct": 90.0,
                       "job_id": pd.NA, "labels_json": "{}"})
    return conform(df, POWER)


def test_telemetry_energy_attributed_to_the_job_on_that_host():
    kwh, report = measured_job_energy([(_samples(), 120.0)], _jobs(), "UTC")
    # 400 W x 3600 s = 1,440,000 J = 0.4 kWh, all inside job 101 on gpu001
    assert kwh == {("101", "2026-07"): pytest.approx(0.4, rel=1e-9)}
    assert report["energy_kwh"] == pytest.approx(0.4, rel=1e-9)
    assert report["unattributed_kwh"] == pytest.approx(0.0, abs=1e-12)


def test_key_hierarchy_telemetry_before_board_power():
    cfg = _cfg()
    kwh, _ = measured_job_energy([(_samples(), 120.0)], _jobs(), "UTC")
    keys = site_energy.job_month_keys(_jobs(), bounds(cfg), {"H100-SXM": 700.0}, [], "account", kwh)
    by_job = keys.set_index("job_id")
    # job 101: measured 0.4 kWh from telemetry; job 102: no telemetry -> 1 GPU-hour x 700 W = 0.7 kWh, estimated
    assert by_job.loc["101", "key_it_kwh"] == pytest.approx(0.4, rel=1e-9)
    assert by_job.loc["101", "key_basis"] == "measured" and "job_energy_gpu_telemetry" in by_job.loc["101", "flags"]
    assert by_job.loc["102", "key_it_kwh"] == pytest.approx(0.7, rel=1e-9)
    assert by_job.loc["102", "key_basis"] == "estimated"


def test_gap_in_telemetry_is_not_invented():
    s = _samples()
    s = s[(s["ts_utc"] < T0 + pd.Timedelta(minutes=20)) | (s["ts_utc"] >= T0 + pd.Timedelta(minutes=40))]
    kwh, report = measured_job_energy([(s, 120.0)], _jobs(), "UTC")
    # samples at 0..19 min and 40..60 min: 19 + 20 one-minute intervals integrate (39 min x 400 W);
    # the 21-minute hole (19 -> 40) is longer than max_gap 120 s: reported, not filled
    assert kwh[("101", "2026-07")] == pytest.approx(400 * 39 * 60 / 3.6e6, rel=1e-9)
    assert report["gaps"] == 1 and report["gap_hours"] == pytest.approx(21 / 60, rel=1e-9)
