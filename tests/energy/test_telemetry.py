"""pipeline/energy/telemetry.py: power / counter integration, gaps, resets, anomalies, job attribution,
Slurm host lists. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canonical import POWER, conform, device_time_order
from pipeline.energy import telemetry as tel

T0 = pd.Timestamp("2026-07-14 08:00:00", tz="UTC")


def _samples(seconds, *, power=None, counter=None, host="gpu001", uuid="GPU-aaaa", job=None,
             t_ns=None) -> pd.DataFrame:
    """Canonical POWER frame: one device, samples at T0 + seconds (or T0 + t_ns nanoseconds, exactly)."""
    n = len(seconds)
    offsets = (pd.to_timedelta(np.asarray(t_ns, dtype=np.int64), unit="ns") if t_ns is not None
               else pd.to_timedelta(np.asarray(seconds, dtype=float), unit="s"))
    df = pd.DataFrame({
        "source_file": "dcgm.prom",
        "source_row": np.arange(2, n + 2),
        "host": host,
        "device_uuid": uuid,
        "ts_utc": T0 + offsets,
        "power_w": np.nan if power is None else np.asarray(power, dtype=float),
        "energy_counter_j": np.nan if counter is None else np.asarray(counter, dtype=float),
        "job_id": job if job is not None else pd.NA,
    })
    return conform(df, POWER)


def _at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


# --- integrate_power ------------------------------------------------------------------------------------

def test_constant_h100_ten_minutes():
    # 631.95 W (nvidia-smi sample from an H100), every 1 s for 10 min: 601 samples, 600 intervals of 1 s
    # 631.95 W x 600 s = 379,170 J = 379,170 / 3.6e6 kWh = 0.105325 kWh
    r = tel.integrate_power(_samples(range(601), power=[631.95] * 601), max_gap_s=10)
    assert len(r.intervals) == 600
    assert r.intervals["energy_j"].sum() == pytest.approx(379_170.0, rel=1e-12)
    assert r.intervals["energy_j"].sum() / 3.6e6 == pytest.approx(0.105325, rel=1e-12)
    assert r.gaps.empty and r.anomalies.empty and r.resets.empty and r.dropped_samples.empty
    first = r.intervals.iloc[0]
    assert (first["interval_start_utc"], first["interval_end_utc"]) == (_at(0), _at(1))
    assert (first["source_row_start"], first["source_row_end"]) == (2, 3)
    assert first["method"] == "power_trapezoid" and first["flags"] == "" and first["job_id"] == ""


def test_ramp_trapezoid():
    # 100 W -> 300 W linearly over 10 s (11 samples, +20 W per s): mean 200 W x 10 s = 2000 J
    r = tel.integrate_power(_samples(range(11), power=np.linspace(100, 300, 11)), max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(2000.0, rel=1e-12)
    # two samples only, 10 s apart: (100 + 300) / 2 x 10 = 2000 J - the trapezoid is exact for a ramp
    r2 = tel.integrate_power(_samples([0, 10], power=[100, 300]), max_gap_s=10)
    assert r2.intervals["energy_j"].tolist() == [pytest.approx(2000.0, rel=1e-12)]


def test_hole_longer_than_max_gap_is_a_gap():
    # samples at 0..10 s, then a 30 s hole, then 40..50 s, constant 500 W, max_gap_s 10
    # integrated: 10 s + 10 s = 20 s x 500 W = 10,000 J; the 10 s -> 40 s interval is a 30 s gap
    secs = list(range(11)) + list(range(40, 51))
    r = tel.integrate_power(_samples(secs, power=[500.0] * len(secs)), max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(10_000.0, rel=1e-12)
    assert len(r.intervals) == 20
    assert len(r.gaps) == 1
    gap = r.gaps.iloc[0]
    assert (gap["gap_start_utc"], gap["gap_end_utc"]) == (_at(10), _at(40))
    assert gap["duration_s"] == 30.0
    assert gap["reason"] == tel.GAP_TOO_LONG and gap["intervals"] == 1
    assert math.isnan(gap["counter_delta_j"])


def test_interval_exactly_max_gap_is_integrated():
    # 10 s = max_gap_s: not longer, so integrated: 400 W x 10 s = 4000 J
    r = tel.integrate_power(_samples([0, 10], power=[400, 400]), max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(4000.0, rel=1e-12) and r.gaps.empty


def test_nan_power_makes_gaps_merged_into_one():
    # 0 s 200 W, 1 s NaN, 2 s NaN, 3 s 200 W, 4 s 200 W: only 3 -> 4 is integrated = 200 J;
    # 0 -> 1, 1 -> 2, 2 -> 3 are gaps (missing power) and merge into one 3 s gap of 3 intervals
    r = tel.integrate_power(_samples(range(5), power=[200, np.nan, np.nan, 200, 200]), max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(200.0, rel=1e-12)
    assert r.gaps[["duration_s", "reason", "intervals"]].values.tolist() == [[3.0, tel.GAP_POWER_MISSING, 3]]


def test_gaps_of_two_devices_do_not_merge():
    # GPU-a: samples at 0, 60, 1000 s, its last interval (60 -> 1000 s) is a 940 s gap; GPU-b: samples at 0, 1000,
    # 1060 s, its first interval (0 -> 1000 s) is a 1000 s gap. Same reason and job, and numbered one after the
    # other, but no sample in common: two gaps, 940 s + 1000 s = 1940 s
    a = _samples([0, 60, 1000], power=[100.0] * 3, uuid="GPU-a")
    b = _samples([0, 1000, 1060], power=[100.0] * 3, uuid="GPU-b")
    r = tel.integrate_power(pd.concat([a, b], ignore_index=True), max_gap_s=120)
    assert r.gaps[["device_uuid", "gap_start_utc", "gap_end_utc", "duration_s", "intervals"]].values.tolist() == [
        ["GPU-a", _at(60), _at(1000), 940.0, 1], ["GPU-b", _at(0), _at(1000), 1000.0, 1]]


def test_negative_power_is_invalid_not_energy():
    # -5 W at 1 s: intervals 0 -> 1 and 1 -> 2 are gaps (power_invalid); 2 -> 3 at 100 W = 100 J
    r = tel.integrate_power(_samples(range(4), power=[100, -5, 100, 100]), max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(100.0, rel=1e-12)
    assert r.gaps["reason"].tolist() == [tel.GAP_POWER_INVALID]


def test_duplicate_timestamps_counted_and_ignored():
    # samples at 0, 1, 1, 2, 2, 2 s; 100 W, except the conflicting duplicate at 2 s (999 W, second in input)
    # kept: 0, 1, 2 s at 100 W -> 2 s x 100 W = 200 J; 3 duplicates dropped, 1 of them with another value
    df = _samples([0, 1, 1, 2, 2, 2], power=[100, 100, 100, 100, 999, 100])
    r = tel.integrate_power(df, max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(200.0, rel=1e-12)
    assert len(r.intervals) == 2
    assert r.dropped_samples[["host", "device_uuid", "missing_ts", "duplicate_ts", "duplicate_ts_conflicting"]
                             ].values.tolist() == [["gpu001", "GPU-aaaa", 0, 3, 1]]


def test_duplicate_keeps_the_valued_sample():
    # at 1 s a NaN sample comes first, then 300 W: the valued one is kept -> 0..1: 200 J, 1..2: 200 J... mean
    # of 100 and 300 = 200 W x 1 s, twice = 400 J, and no gap
    df = _samples([0, 1, 1, 2], power=[100, np.nan, 300, 100])
    r = tel.integrate_power(df, max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(400.0, rel=1e-12) and r.gaps.empty


def test_unsorted_input_and_missing_timestamp():
    # input order 2, 0, NaT, 1 s at 100 W: sorted 0, 1, 2 -> 200 J; the NaT sample is dropped and counted
    df = _samples([2, 0, 5, 1], power=[100, 100, 100, 100])
    df.loc[2, "ts_utc"] = pd.NaT
    r = tel.integrate_power(df, max_gap_s=10)
    assert r.intervals["energy_j"].sum() == pytest.approx(200.0, rel=1e-12)
    assert r.dropped_samples["missing_ts"].tolist() == [1]


def test_two_devices_on_one_host_stay_separate():
    # two physical GPUs (MIG de-duplicated upstream), interleaved rows, same timestamps:
    # GPU-a 100 W x 10 s = 1000 J, GPU-b 300 W x 10 s = 3000 J; mixing them would give other numbers
    a = _samples(range(11), power=[100.0] * 11, uuid="GPU-a")
    b = _samples(range(11), power=[300.0] * 11, uuid="GPU-b")
    df = pd.concat([a, b]).sort_values("ts_utc", kind="stable").reset_index(drop=True)
    r = tel.integrate_power(df, max_gap_s=10)
    per = r.intervals.groupby("device_uuid")["energy_j"].sum()
    assert per.to_dict() == {"GPU-a": pytest.approx(1000.0, rel=1e-12), "GPU-b": pytest.approx(3000.0, rel=1e-12)}
    assert r.dropped_samples.empty   # same timestamp on two devices is not a duplicate


def test_power_anomaly_optional():
    # a 1 MW glitch at 1 s: intervals 0 -> 1 and 1 -> 2 average 500,050 W > 2000 W -> anomalies;
    # 2 -> 3 at 100 W = 100 J is kept
    r = tel.integrate_power(_samples(range(4), power=[100, 1e6, 100, 100]), max_gap_s=10, max_power_w=2000)
    assert r.intervals["energy_j"].sum() == pytest.approx(100.0, rel=1e-12)
    assert len(r.anomalies) == 2
    assert r.anomalies["implied_power_w"].tolist() == [pytest.approx(500_050.0, rel=1e-12)] * 2
    # without the bound, everything counts: 500,050 + 500,050 + 100 J
    r2 = tel.integrate_power(_samples(range(4), power=[100, 1e6, 100, 100]), max_gap_s=10)
    assert r2.intervals["energy_j"].sum() == pytest.approx(1_000_200.0, rel=1e-12)


def test_job_id_of_interval_start_sample():
    df = _samples(range(3), power=[100, 100, 100], job=["7", "8", "8"])
    r = tel.integrate_power(df, max_gap_s=10)
    assert r.intervals["job_id"].tolist() == ["7", "8"]


def test_timestamps_must_be_timezone_aware():
    df = _samples(range(3), power=[1, 1, 1])
    df["ts_utc"] = df["ts_utc"].dt.tz_localize(None)
    with pytest.raises(TypeError, match="timezone-aware"):
        tel.integrate_power(df, max_gap_s=10)


# --- counter_energy ---------------------------------------------------------------------------------------

def test_counter_reset_mid_job():
    # 1000 J, 2000 J, reset (reboot) to 50 J, 150 J, 10 s apart:
    # 2000 - 1000 = 1000 J; reset: energy since the reset = 50 J; 150 - 50 = 100 J -> 1150 J, reset flagged
    r = tel.counter_energy(_samples([0, 10, 20, 30], counter=[1000, 2000, 50, 150]), max_gap_s=60, max_power_w=2000)
    assert r.intervals["energy_j"].tolist() == [1000.0, 50.0, 100.0]
    assert r.intervals["energy_j"].sum() == 1150.0
    assert r.intervals["flags"].tolist() == ["", tel.FLAG_COUNTER_RESET, ""]
    assert r.intervals["method"].unique().tolist() == ["counter_delta"]
    assert len(r.resets) == 1
    reset = r.resets.iloc[0]
    assert (reset["counter_before_j"], reset["counter_after_j"], reset["energy_j_assumed"]) == (2000.0, 50.0, 50.0)
    assert reset["treatment"] == "counted"
    assert (reset["interval_start_utc"], reset["interval_end_utc"]) == (_at(10), _at(20))


def test_counter_implying_one_megawatt_is_an_anomaly():
    # 0 J -> 10 MJ in 10 s = 1,000,000 W > 2000 W: excluded and reported; 10 MJ -> 10 MJ + 5000 J in 10 s
    # (500 W) counts: total 5000 J
    r = tel.counter_energy(_samples([0, 10, 20], counter=[0, 1e7, 1e7 + 5000]), max_gap_s=60, max_power_w=2000)
    assert r.intervals["energy_j"].sum() == 5000.0
    assert len(r.anomalies) == 1
    an = r.anomalies.iloc[0]
    assert an["implied_power_w"] == pytest.approx(1e6, rel=1e-12)
    assert an["energy_j"] == 1e7 and an["reason"] == tel.ANOMALY_POWER


def test_counter_reset_implying_too_much_power_is_an_anomaly():
    # reset to 1e6 J 10 s later: "energy since the reset" would be 100 kW - the counter did not restart
    # from 0 (or the unit is wrong): excluded, and the reset is listed with treatment "anomaly"
    r = tel.counter_energy(_samples([0, 10, 20], counter=[5e6, 5e6 + 1000, 1e6]), max_gap_s=60, max_power_w=2000)
    assert r.intervals["energy_j"].sum() == 1000.0
    assert r.anomalies["flags"].tolist() == [tel.FLAG_COUNTER_RESET]
    assert r.resets["treatment"].tolist() == ["anomaly"]


def test_counter_long_interval_is_a_gap_with_uncounted_delta():
    # 0 s 0 J, 10 s 3000 J, 100 s 30000 J (90 s hole > max_gap 60), 110 s 33000 J:
    # counted 3000 + 3000 = 6000 J; the gap reports the 27,000 J change it did not count
    r = tel.counter_energy(_samples([0, 10, 100, 110], counter=[0, 3000, 30000, 33000]), max_gap_s=60,
                           max_power_w=2000)
    assert r.intervals["energy_j"].sum() == 6000.0
    assert r.gaps[["duration_s", "reason", "counter_delta_j"]].values.tolist() == [[90.0, tel.GAP_TOO_LONG, 27000.0]]


def test_counter_reset_inside_a_gap():
    # reset across a 100 s hole: a gap (no energy), change unknown (NaN); the reset is listed as "gap"
    r = tel.counter_energy(_samples([0, 10, 110], counter=[0, 3000, 40]), max_gap_s=60, max_power_w=2000)
    assert r.intervals["energy_j"].sum() == 3000.0
    assert math.isnan(r.gaps["counter_delta_j"].iloc[0])
    assert r.resets["treatment"].tolist() == ["gap"]


def test_counter_missing_values_are_gaps():
    r = tel.counter_energy(_samples([0, 10, 20], counter=[0, np.nan, 2000]), max_gap_s=60, max_power_w=2000)
    assert r.intervals.empty
    assert r.gaps[["reason", "intervals", "duration_s"]].values.tolist() == [[tel.GAP_COUNTER_MISSING, 2, 20.0]]


def test_counter_two_devices_on_one_host_stay_separate():
    # GPU-a 0 -> 1000 J, GPU-b 5000 -> 5500 J: no reset (b's counter is not "after" a's)
    a = _samples([0, 10], counter=[0, 1000], uuid="GPU-a")
    b = _samples([0, 10], counter=[5000, 5500], uuid="GPU-b")
    r = tel.counter_energy(pd.concat([b, a], ignore_index=True), max_gap_s=60, max_power_w=2000)
    assert r.intervals.groupby("device_uuid")["energy_j"].sum().to_dict() == {"GPU-a": 1000.0, "GPU-b": 500.0}
    assert r.resets.empty


# --- attribute_to_jobs ------------------------------------------------------------------------------------

def _jobs(*rows) -> pd.DataFrame:
    """rows: (job_id, start s, end s or None, gpu_count)."""
    return pd.DataFrame({
        "job_id": pd.array([r[0] for r in rows], dtype="string"),
        "start_utc": pd.Series([_at(r[1]) for r in rows], dtype="datetime64[ns, UTC]"),
        "end_utc": pd.Series([_at(r[2]) if r[2] is not None else pd.NaT for r in rows], dtype="datetime64[ns, UTC]"),
        "gpu_count": [float(r[3]) for r in rows],
    })


def _hosts(*pairs) -> pd.DataFrame:
    return pd.DataFrame({"job_id": [p[0] for p in pairs], "host": [p[1] for p in pairs]})


def _power_intervals(n_s=100, watts=100.0, **kw) -> pd.DataFrame:
    return tel.integrate_power(_samples(range(n_s + 1), power=[watts] * (n_s + 1), **kw), max_gap_s=10).intervals


def _per_job(att: pd.DataFrame) -> dict:
    return {k: pytest.approx(v, rel=1e-12) for k, v in att.groupby("job_id")["energy_j"].sum().items()}


def test_job_label_wins():
    # every sample labelled hpc_job 42: 100 W x 100 s = 10,000 J to job 42, whatever ran on the host
    iv = _power_intervals(job=["42"] * 101)
    att = tel.attribute_to_jobs(iv, _jobs(("42", 0, 100, 8), ("43", 0, 100, 8)), _hosts(("43", "gpu001")))
    assert _per_job(att) == {"42": 10_000.0}
    assert set(att["attribution"]) == {"job_label"} and set(att["basis"]) == {"measured"}
    assert set(att["flags"]) == {""}


def test_job_label_not_in_jobs_is_flagged():
    iv = _power_intervals(n_s=2, job=["99"] * 3)
    att = tel.attribute_to_jobs(iv, _jobs(("42", 0, 100, 8)), None)
    assert set(att["flags"]) == {tel.FLAG_LABEL_NOT_IN_JOBS}
    assert att["energy_j"].sum() == pytest.approx(200.0, rel=1e-12)


def test_two_jobs_back_to_back_on_one_host():
    # 100 W for 100 s on gpu001; job A [0, 40.5 s), job B [40.5 s, 100 s)
    # A: 40.5 s x 100 W = 4050 J, B: 59.5 s x 100 W = 5950 J; the 40 -> 41 s interval is split 50/50
    iv = _power_intervals()
    jobs = _jobs(("A", 0, 40.5, 8), ("B", 40.5, 100, 8))
    att = tel.attribute_to_jobs(iv, jobs, _hosts(("A", "gpu001"), ("B", "gpu001")))
    assert _per_job(att) == {"A": 4050.0, "B": 5950.0}
    split = att[att["source_row_start"] == 42].sort_values("job_id")   # the sample at 40 s is data row 42
    assert split[["job_id", "interval_start_utc", "interval_end_utc"]].values.tolist() == [
        ["A", _at(40), _at(40.5)], ["B", _at(40.5), _at(41)]]
    assert split["share"].tolist() == [0.5, 0.5]
    assert set(att["attribution"]) == {"host_time_overlap"} and set(att["flags"]) == {""}


def test_overlapping_jobs_split_by_gpus_per_node():
    # 100 W x 100 s = 10,000 J on gpu001. Job A [0, 100) has 6 GPUs on this node (12 over 2 nodes);
    # job B [50, 100) 2 GPUs on this node. 0-50 s: A alone 5000 J; 50-100 s shared 6:2 ->
    # A 5000 x 6/8 = 3750 J, B 5000 x 2/8 = 1250 J. A = 8750 J, B = 1250 J, shared rows flagged
    iv = _power_intervals()
    jobs = _jobs(("A", 0, 100, 12), ("B", 50, 100, 2))
    att = tel.attribute_to_jobs(iv, jobs, _hosts(("A", "gpu001"), ("A", "gpu002"), ("B", "gpu001")))
    assert _per_job(att) == {"A": 8750.0, "B": 1250.0}
    shared = att[att["interval_start_utc"] >= _at(50)]
    assert set(shared["flags"]) == {tel.FLAG_SHARED_HOST}
    assert set(att[att["interval_start_utc"] < _at(50)]["flags"]) == {""}


def test_overlapping_jobs_without_gpus_split_equally():
    # two CPU-only jobs share the node for the whole 100 s: 10,000 J / 2 = 5000 J each, flagged equal split
    iv = _power_intervals()
    att = tel.attribute_to_jobs(iv, _jobs(("A", 0, 100, 0), ("B", 0, 100, 0)),
                                _hosts(("A", "gpu001"), ("B", "gpu001")))
    assert _per_job(att) == {"A": 5000.0, "B": 5000.0}
    assert set(att["flags"]) == {f"{tel.FLAG_SHARED_HOST};{tel.FLAG_SHARED_HOST_EQUAL}"}


def test_unattributed_energy_kept_and_totals_add_up():
    # 100 W x 100 s = 10,000 J on gpu001; job A [20, 50) on gpu001, job B [0, 100) on another host
    # A: 30 s x 100 W = 3000 J; unattributed (job ""): 7000 J; 3000 + 7000 = 10,000 = total
    iv = _power_intervals()
    att = tel.attribute_to_jobs(iv, _jobs(("A", 20, 50, 8), ("B", 0, 100, 8)),
                                _hosts(("A", "gpu001"), ("B", "gpu099")))
    assert _per_job(att) == {"": 7000.0, "A": 3000.0}
    assert set(att.loc[att["job_id"] == "", "attribution"]) == {"unattributed"}
    attributed = att.loc[att["job_id"] != "", "energy_j"].sum()
    unattributed = att.loc[att["job_id"] == "", "energy_j"].sum()
    assert attributed + unattributed == pytest.approx(iv["energy_j"].sum(), rel=1e-12)


def test_running_job_is_open_ended_and_no_job_hosts_means_unattributed():
    iv = _power_intervals()
    # end_utc NaT: still running -> takes everything from its start (30 s): 7000 J; before: 3000 J idle
    att = tel.attribute_to_jobs(iv, _jobs(("R", 30, None, 8)), _hosts(("R", "gpu001")))
    assert _per_job(att) == {"": 3000.0, "R": 7000.0}
    # no host list at all: only labels could attribute; here everything is unattributed
    att2 = tel.attribute_to_jobs(iv, _jobs(("R", 30, None, 8)), None)
    assert _per_job(att2) == {"": 10_000.0}


def test_attribution_keeps_interval_flags_and_provenance():
    r = tel.counter_energy(_samples([0, 10, 20, 30], counter=[1000, 2000, 50, 150]), max_gap_s=60, max_power_w=2000)
    att = tel.attribute_to_jobs(r.intervals, _jobs(("A", 0, 30, 8)), _hosts(("A", "gpu001")))
    assert att["flags"].tolist() == ["", tel.FLAG_COUNTER_RESET, ""]
    assert att["source_row_start"].tolist() == [2, 3, 4] and set(att["method"]) == {"counter_delta"}



def test_attribution_columns_selected():
    # only the columns asked for are built, with the same values as in the full frame
    r = tel.counter_energy(_samples([0, 10, 20, 30], counter=[1000, 2000, 50, 150]), max_gap_s=60, max_power_w=2000)
    args = (r.intervals, _jobs(("A", 0, 30, 8)), _hosts(("A", "gpu001")))
    full = tel.attribute_to_jobs(*args)
    some = tel.attribute_to_jobs(*args, columns=["energy_j", "job_id"])
    assert list(some.columns) == ["job_id", "energy_j"]                  # in ATTRIBUTION_COLUMNS order
    pd.testing.assert_frame_equal(some, full[["job_id", "energy_j"]])
    with pytest.raises(ValueError):
        tel.attribute_to_jobs(*args, columns=["watts"])

# --- expand_nodelist ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("nodelist, hosts", [
    ("gpu[001-004]", ["gpu001", "gpu002", "gpu003", "gpu004"]),
    ("gpu[001,003,005-006]", ["gpu001", "gpu003", "gpu005", "gpu006"]),
    ("nid[001002,001004]", ["nid001002", "nid001004"]),
    ("gpu[001-002],cpu05", ["gpu001", "gpu002", "cpu05"]),
    ("node1,node[2-5,12]", ["node1", "node2", "node3", "node4", "node5", "node12"]),   # Slurm::Hostlist example
    ("n[8-10]", ["n8", "n9", "n10"]),                    # width of the written low bound: no padding
    ("a[1-2]b[3-4]", ["a1b3", "a1b4", "a2b3", "a2b4"]),  # several brackets: cartesian product
    ("gpu07", ["gpu07"]),
    ("gpu[1-2] cpu[3-4]", ["gpu1", "gpu2", "cpu3", "cpu4"]),
    ("None assigned", []),
    ("", []),
    (None, []),
])
def test_expand_nodelist(nodelist, hosts):
    assert tel.expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize("bad", ["gpu[001-", "gpu001]", "gpu[4-1]", "gpu[a-b]", "gpu[[1]]", "gpu[1-]"])
def test_expand_nodelist_rejects_malformed(bad):
    with pytest.raises(ValueError):
        tel.expand_nodelist(bad)


# --- properties -----------------------------------------------------------------------------------------

_series = st.integers(min_value=2, max_value=60).flatmap(lambda n: st.tuples(
    st.lists(st.floats(min_value=0.001, max_value=120.0), min_size=n - 1, max_size=n - 1),   # dt, s
    st.lists(st.floats(min_value=0.0, max_value=1500.0), min_size=n, max_size=n),             # power, W
))


@settings(max_examples=150, deadline=None)
@given(_series)
def test_property_power_total_equals_numpy_trapezoid(data):
    dts, power = data
    # timestamps are stored to the nanosecond: build the times from whole ns so numpy sees the same points
    t_ns = np.concatenate([[0], np.cumsum(np.round(np.asarray(dts) * 1e9).astype(np.int64))])
    secs = t_ns / 1e9
    r = tel.integrate_power(_samples(secs, power=power, t_ns=t_ns), max_gap_s=math.inf)
    expected = np.trapezoid(np.asarray(power), secs)
    assert r.intervals["energy_j"].sum() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert (r.intervals["energy_j"] >= 0).all()
    assert r.gaps.empty


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.001, max_value=120.0), st.floats(min_value=0.0, max_value=1e5)),
                min_size=1, max_size=60),
       st.floats(min_value=0.0, max_value=1e9))
def test_property_counter_without_resets_totals_last_minus_first(steps, start):
    dts = np.array([s[0] for s in steps])
    t_ns = np.concatenate([[0], np.cumsum(np.round(dts * 1e9).astype(np.int64))])
    counter = start + np.concatenate([[0.0], np.cumsum([s[1] for s in steps])])
    r = tel.counter_energy(_samples(t_ns / 1e9, counter=counter, t_ns=t_ns), max_gap_s=math.inf,
                           max_power_w=math.inf)
    assert r.intervals["energy_j"].sum() == pytest.approx(counter[-1] - counter[0], rel=1e-9, abs=1e-6)
    assert r.resets.empty and (r.intervals["energy_j"] >= 0).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["gpu001", "gpu002"]), st.integers(0, 120), st.integers(1, 80),
                          st.integers(0, 8), st.booleans()), min_size=0, max_size=6))
def test_property_attribution_conserves_energy(job_specs):
    # random jobs (host, start s, length s, gpus, still running?) over two hosts with 100 s of telemetry each
    iv = pd.concat([_power_intervals(host="gpu001", watts=300.0), _power_intervals(host="gpu002", watts=500.0)],
                   ignore_index=True)
    jobs = _jobs(*[(str(i), s, None if running else s + n, g) for i, (_, s, n, g, running) in enumerate(job_specs)])
    hosts = _hosts(*[(str(i), h) for i, (h, *_rest) in enumerate(job_specs)])
    att = tel.attribute_to_jobs(iv, jobs, hosts)
    assert att["energy_j"].sum() == pytest.approx(iv["energy_j"].sum(), rel=1e-12)
    assert (att["energy_j"] >= 0).all()
    assert (att["interval_end_utc"] > att["interval_start_utc"]).all()


@pytest.mark.parametrize("seed, extreme", [(1, False), (2, False), (3, False), (4, True)])
def test_breakpoint_lookup_matches_a_scan(seed, extreme):
    # _asof: the last breakpoint of the query's host at or before (exact) / strictly before its time, by a
    # plain scan over the breakpoints; includes the -inf / +inf sentinels, ties, hosts without breakpoints
    from pipeline.energy.telemetry import INT64_MAX, INT64_MIN, _asof
    rng = np.random.default_rng(seed)
    rows = [(h, int(t)) for h in range(5) for t in rng.integers(0, 50, rng.integers(0, 6))]
    rows += [(h, INT64_MIN) for h in range(4)] + [(1, INT64_MAX)]
    rows = sorted(set(rows))
    bp = pd.DataFrame({"h": [r[0] for r in rows], "t": [r[1] for r in rows], "seg": range(len(rows))})
    qh = rng.integers(-1, 6, 300)
    qt = rng.integers(-5, 55, 300)
    if extreme:                # times too far apart to pack with the host: the merge_asof way
        qt[:2] = [INT64_MIN + 1, INT64_MAX - 1]
    for exact in (True, False):
        got = _asof(bp, qh, qt, exact=exact)
        want = [max([k for k, (h, t) in enumerate(rows) if h == a and (t <= b if exact else t < b)], default=-1)
                for a, b in zip(qh.tolist(), qt.tolist())]
        assert got.tolist() == want


# --- the sort and device numbering of _sorted_samples, against the plain pandas / numpy forms -----------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.booleans()), min_size=1, max_size=60),
       st.booleans())
def test_device_time_order_is_lexsort(rows, huge_span):
    dev = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64) * (2**59 if huge_span else 10**9)   # huge: the lexsort way
    nan = np.array([r[2] for r in rows], dtype=np.int64)
    assert device_time_order(dev, t, nan).tolist() == np.lexsort((nan, t, dev)).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["h1", "h2", None]), st.sampled_from(["GPU-a", "GPU-b", None])),
                min_size=1, max_size=40), st.booleans())
def test_device_numbers_are_groupby_ngroup(pairs, categorical):
    frame = pd.DataFrame({"host": [p[0] for p in pairs], "device_uuid": [p[1] for p in pairs]}, dtype="string")
    if categorical:
        frame = frame.astype("category")
    expected = frame.groupby(["host", "device_uuid"], sort=False, dropna=False, observed=True).ngroup()
    assert tel.device_keys(frame)[0].tolist() == expected.tolist()
