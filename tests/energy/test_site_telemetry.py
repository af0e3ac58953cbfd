"""pipeline/energy/site_telemetry.py: GPU telemetry becomes the measured allocation key of Slurm jobs."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.canonical import JOB, POWER, conform
from pipeline.config import Config, config_from_dict
from pipeline.energy import site as site_energy
from pipeline.energy.site_telemetry import TelemetryStream, measured_job_energy
from pipeline.errors import InputError
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


# --- Kubernetes workloads, Kepler levels, CodeCarbon nesting, reconciliation --------------------------

def _k8s_samples(labels: str, watts: float = 500.0, host: str = "node-k") -> pd.DataFrame:
    df = _samples().assign(host=host, device_uuid="GPU-K", power_w=watts, labels_json=labels)
    return conform(df, POWER)


def test_kubernetes_workload_becomes_a_key_with_the_namespace_rule():
    cfg = config_from_dict({**_cfg().model_dump(mode="json", exclude={"base_dir", "config_path"}),
                            "phase_rules": [{"id": "serving", "phase": "inference", "match": {"namespace": "llm-*"}}]})
    labels = '{"container": "vllm", "exported_namespace": "llm-serving", "exported_pod": "serve-0", ' \
             '"namespace": "monitoring", "pod": "dcgm-exporter-x", "project": "chat"}'
    kwh, report = measured_job_energy([(_k8s_samples(labels), 120.0)], _jobs(), "UTC")
    # 500 W x 3600 s = 0.5 kWh; the exported_* labels (the workload's) win over the scrape target's
    assert kwh == {("k8s:llm-serving/serve-0", "2026-07"): pytest.approx(0.5, rel=1e-9)}
    keys = site_energy.job_month_keys(_jobs(), bounds(cfg), {"H100-SXM": 700.0}, cfg.phase_rules, "account", kwh,
                                      workloads=report["workloads"], project_label="project",
                                      job_sources=report["job_sources"])
    k = keys.set_index("job_id").loc["k8s:llm-serving/serve-0"]
    assert (k["phase"], k["phase_rule"], k["project"], k["key_basis"]) == ("inference", "serving", "chat", "measured")
    assert k["key_it_kwh"] == pytest.approx(0.5, rel=1e-9)
    assert (k["source_file"], k["source_row"]) == ("dcgm.json", 1)


def test_device_shared_by_several_pods_is_not_guessed():
    labels = '{"namespace": "a,b", "pod": "p1,p2"}'    # MIG instances of two workloads on one GPU
    kwh, report = measured_job_energy([(_k8s_samples(labels), 120.0)], _jobs(), "UTC")
    assert kwh == {}
    assert report["unattributed_kwh"] == pytest.approx(0.5, rel=1e-9)


def _kepler(rows):
    """rows: (level, series, labels_json, counter values at T0 + 0, 600, 1200 s)."""
    out = []
    n = 0
    for level, series, labels, values in rows:
        for k, v in enumerate(values):
            n += 1
            out.append({"source_file": "kepler.prom", "source_row": n, "host": "node-k", "device_uuid": pd.NA,
                        "ts_utc": T0 + pd.Timedelta(seconds=600 * k), "power_w": float("nan"), "energy_counter_j": v,
                        "job_id": pd.NA, "labels_json": labels, "level": level, "series_id": series})
    return conform(pd.DataFrame(out), POWER)


def test_kepler_counters_differenced_per_series_at_one_level():
    pod = '{"pod_name": "train-0", "pod_namespace": "ml"}'
    samples = _kepler([
        # node GPU counter: the whole node, overlaps the pods -> not used when pod rows exist
        ("node", "kepler_node_gpu_joules_total{gpu=0}", '{"node_name": "node-k"}', [0.0, 9e6, 18e6]),
        # the pod's GPU and CPU counters: two series on the same host (host + device would merge them)
        ("pod", "kepler_pod_gpu_joules_total{pod=train-0}", pod, [1000.0, 1000.0 + 1.8e6, 1000.0 + 3.6e6]),
        ("pod", "kepler_pod_cpu_joules_total{pod=train-0,zone=package}", pod, [50.0, 50.0 + 0.9e6, 50.0 + 1.8e6]),
    ])
    kwh, report = measured_job_energy([(samples, 900.0)], None, "UTC")
    # GPU 3.6e6 J = 1 kWh, CPU 1.8e6 J = 0.5 kWh -> 1.5 kWh for the pod; the node counter (5 kWh) is not added
    assert kwh == {("k8s:ml/train-0", "2026-07"): pytest.approx(1.5, rel=1e-9)}
    assert report["energy_kwh"] == pytest.approx(1.5, rel=1e-9)
    assert report["kepler_levels"] == ["pod"]


def test_kepler_node_level_used_when_no_workload_rows():
    samples = _kepler([("node", "kepler_node_gpu_joules_total{gpu=0}", '{"node_name": "gpu001"}', [0.0, 3.6e5, 7.2e5])])
    samples["host"] = "gpu001"
    kwh, _ = measured_job_energy([(samples, 900.0)], _jobs(), "UTC")
    # node gpu001 runs job 101 from T0 for an hour: 7.2e5 J = 0.2 kWh
    assert kwh == {("101", "2026-07"): pytest.approx(0.2, rel=1e-9)}


def _runs(rows):
    base = {"job_name": "x", "partition": pd.NA, "site_id": "s1", "state": "COMPLETED", "gpu_count": 1.0,
            "gpu_model": "H100-SXM", "node_list": pd.NA, "source_file": "emissions.csv"}
    df = conform(pd.DataFrame([{**base, **r} for r in rows]), JOB)
    return df


def test_codecarbon_run_inside_a_slurm_job_is_its_key_not_a_second_job():
    cfg = _cfg()
    b = bounds(cfg)
    runs = _runs([
        # project "ft-a" = job 101's name, inside its hour: nested, 0.25 kWh measured
        {"job_id": "run-1", "account": "ft-a", "start_utc": T0 + pd.Timedelta(minutes=10),
         "end_utc": T0 + pd.Timedelta(minutes=40), "energy_kwh": 0.25, "source_row": 2},
        # both jobs run T0..T0+1h and neither name matches: the largest overlap (a tie: the first job, 101)
        {"job_id": "run-2", "account": "other", "start_utc": T0 + pd.Timedelta(minutes=30),
         "end_utc": T0 + pd.Timedelta(minutes=50), "energy_kwh": 0.1, "source_row": 3},
        # the next day, no Slurm job running: a job of its own
        {"job_id": "run-3", "account": "solo", "start_utc": T0 + pd.Timedelta(days=1),
         "end_utc": T0 + pd.Timedelta(days=1, hours=2), "energy_kwh": 1.2, "source_row": 4},
    ])
    standalone, nested, matches = site_energy.nest_codecarbon(_jobs(), runs, b)
    assert standalone["job_id"].tolist() == ["codecarbon:run-3"]
    assert [(m["codecarbon_run"], m["slurm_job"], m["match"]) for m in matches] == [
        ("run-1", "101", "name_and_time"), ("run-2", "101", "time_only")]
    # job 101: 0.25 + 0.1 = 0.35 kWh measured
    assert nested == {("101", "2026-07"): pytest.approx(0.35, rel=1e-12)}
    jobs = pd.concat([_jobs(), standalone], ignore_index=True)
    keys = site_energy.job_month_keys(jobs, b, {"H100-SXM": 700.0}, [], "account", codecarbon_kwh=nested)
    k = keys.set_index("job_id")
    assert k.loc["101", "key_it_kwh"] == pytest.approx(0.35, rel=1e-12)
    assert k.loc["101", "flags"] == "job_energy_codecarbon"
    # job 102 keeps its board-power estimate: 1 GPU-hour x 700 W = 0.7 kWh
    assert k.loc["102", "key_it_kwh"] == pytest.approx(0.7, rel=1e-12)
    assert k.loc["codecarbon:run-3", "key_it_kwh"] == pytest.approx(1.2, rel=1e-12)
    # total keys 0.35 + 0.7 + 1.2 = 2.25 kWh: the runs are never added on top of job 101's estimate
    assert keys["key_it_kwh"].sum() == pytest.approx(2.25, rel=1e-12)


def test_reconciliation_columns_against_the_meter():
    from pipeline.config import Site
    site = Site(id="s1", grid_zone="GB", pue=1.5, meters=[{"id": "IT1"}])
    meter = pd.DataFrame({"source_file": "m.csv", "source_row": [2, 3], "meter_id": "IT1", "site_id": "s1",
                          "month": "2026-07", "energy_kwh": [10.0, 10.0], "facility_kwh": [15.0, 15.0], "flags": ""})
    keys = pd.DataFrame([
        {"job_id": "1", "job_name": "a", "source_file": "s", "source_row": 2, "month": "2026-07", "phase": "training",
         "phase_rule": "", "project": "", "gpu_hours": 1.0, "key_it_kwh": 4.0, "key_basis": "measured",
         "flags": "job_energy_gpu_telemetry"},
        {"job_id": "2", "job_name": "b", "source_file": "s", "source_row": 3, "month": "2026-07", "phase": "training",
         "phase_rule": "", "project": "", "gpu_hours": 1.0, "key_it_kwh": 2.0, "key_basis": "estimated",
         "flags": "job_energy_board_power"}])
    _sl, alloc = site_energy.allocate(site, ["2026-07"], meter, keys,
                                      {"2026-07": {"measured_it_kwh": 5.0, "attributed_it_kwh": 4.0}})
    a = alloc.iloc[0]
    # facility 30 kWh; keys (4 + 2) x 1.5 = 9 kWh: telemetry 6, board power 3; unallocated 21
    assert (a["facility_kwh"], a["key_telemetry_kwh"], a["key_board_power_kwh"], a["unallocated_kwh"]) == (
        pytest.approx(30.0), pytest.approx(6.0), pytest.approx(3.0), pytest.approx(21.0))
    # all telemetry 5 kWh IT x 1.5 = 7.5 kWh = 25 % of the metered facility energy
    assert a["telemetry_it_kwh"] == pytest.approx(5.0) and a["telemetry_share_of_facility"] == pytest.approx(0.25)


# --- streaming: one file at a time ----------------------------------------------------------------------------

def _stream(frames, jobs, max_gap=120.0, source_key="dcgm"):
    s = TelemetryStream(jobs, "UTC")
    for f in frames:
        s.add(f, max_gap, source_key=source_key)
    return s.result()


def _file(samples: pd.DataFrame, name: str) -> pd.DataFrame:
    return samples.assign(source_file=name).reset_index(drop=True)


def _power(seconds, watts, uuid="GPU-A", host="gpu001") -> pd.DataFrame:
    """One device's power samples at T0 + seconds (NaN = no value), no job label."""
    df = pd.DataFrame({"source_file": "dcgm.json", "source_row": range(1, len(seconds) + 1), "host": host,
                       "device_uuid": uuid, "gpu_index": "0", "gpu_model": "H100-SXM",
                       "ts_utc": pd.to_datetime([T0 + pd.Timedelta(seconds=x) for x in seconds], utc=True),
                       "power_w": [float(w) for w in watts], "energy_counter_j": float("nan"),
                       "utilisation_pct": 90.0, "job_id": pd.NA, "labels_json": "{}"})
    return conform(df, POWER)


def _same(a, b):
    (ka, ra), (kb, rb) = a, b
    assert ka.keys() == kb.keys() and all(ka[k] == pytest.approx(kb[k], rel=1e-12) for k in ka)
    assert list(ra) == list(rb)
    for key in ra:
        if key == "months":
            assert ra[key].keys() == rb[key].keys()
            for m in ra[key]:
                assert ra[key][m] == {c: pytest.approx(v, rel=1e-12, abs=1e-15) for c, v in rb[key][m].items()}
        elif isinstance(ra[key], float):
            assert ra[key] == pytest.approx(rb[key], rel=1e-12, abs=1e-15)
        else:
            assert ra[key] == rb[key]


@pytest.mark.parametrize("cut", [1, 17, 30, 59])
def test_files_one_by_one_equal_all_at_once(cut):
    # the hour of 400 W on gpu001 (61 samples) split into two files after sample `cut`: the interval across the
    # edge is integrated from the carried sample, so job 101 still gets 400 W x 3600 s = 0.4 kWh
    s = _samples()
    files = [_file(s.iloc[:cut], "day1.json"), _file(s.iloc[cut:], "day2.json")]
    streamed = _stream(files, _jobs())
    assert streamed[0] == {("101", "2026-07"): pytest.approx(0.4, rel=1e-9)}
    _same(streamed, measured_job_energy([(pd.concat(files, ignore_index=True), 120.0)], _jobs(), "UTC"))


def test_existing_fixtures_file_by_file():
    # every fixture above, cut into three files, gives what one frame gives
    pod = '{"pod_name": "train-0", "pod_namespace": "ml"}'
    kepler = _kepler([("node", "n0", '{"node_name": "node-k"}', [0.0, 9e6, 18e6]),
                      ("pod", "p0", pod, [1000.0, 1000.0 + 1.8e6, 1000.0 + 3.6e6])])
    hole = _samples()
    hole = hole[(hole["ts_utc"] < T0 + pd.Timedelta(minutes=20)) | (hole["ts_utc"] >= T0 + pd.Timedelta(minutes=40))]
    labels = '{"exported_namespace": "llm-serving", "exported_pod": "serve-0"}'
    for frame, gap, jobs in ((_samples(), 120.0, _jobs()), (hole, 120.0, _jobs()), (kepler, 900.0, None),
                             (_k8s_samples(labels), 120.0, _jobs())):
        frame = frame.sort_values("ts_utc", kind="stable").reset_index(drop=True)
        n = len(frame)
        files = [_file(frame.iloc[a:b], f"f{k}") for k, (a, b) in enumerate([(0, n // 3), (n // 3, 2 * n // 3),
                                                                           (2 * n // 3, n)])]
        _same(_stream(files, jobs, gap), measured_job_energy([(pd.concat(files, ignore_index=True), gap)], jobs,
                                                             "UTC"))


def test_trapezoid_across_the_file_edge():
    # one sample per file: 300 W at 10:00:00 (day1), 500 W ten seconds later (day2); the only interval crosses
    # the edge: (300 + 500) / 2 x 10 s = 4000 J = 4000 / 3.6e6 kWh, inside job 101's hour on gpu001
    day1 = _file(_power([600], [300]), "day1.json")
    day2 = _file(_power([610], [500]), "day2.json")
    kwh, report = _stream([day1, day2], _jobs())
    assert kwh == {("101", "2026-07"): pytest.approx(4000 / 3.6e6, rel=1e-12)}
    assert report["energy_kwh"] == pytest.approx(4000 / 3.6e6, rel=1e-12) and report["gaps"] == 0
    # the interval is traced to the sample that starts it, in day1
    assert report["job_sources"] == {"101": ("day1.json", 1)}


def test_result_then_more_files():
    # result() integrates the carried samples into a copy: asking half way does not change the end result
    s = TelemetryStream(_jobs(), "UTC")
    s.add(_file(_power([0, 60], [400, 400]), "day1.json"), 120.0, source_key="dcgm")
    assert s.result()[0] == {("101", "2026-07"): pytest.approx(400 * 60 / 3.6e6, rel=1e-12)}
    s.add(_file(_power([120], [400]), "day2.json"), 120.0, source_key="dcgm")
    assert s.result()[0] == {("101", "2026-07"): pytest.approx(400 * 120 / 3.6e6, rel=1e-12)}


def test_repeated_edge_sample_is_counted_once():
    # day2 repeats day1's last sample (same time and value, as a query_range of [day start, day end] does):
    # samples at 0, 60, 120 s of 400 W -> 2 intervals x 60 s x 400 W = 48,000 J; one duplicate dropped
    day1 = _file(_power([0, 60], [400, 400]), "day1.json")
    day2 = _file(_power([60, 120], [400, 400]), "day2.json")
    kwh, report = _stream([day1, day2], _jobs())
    assert report["energy_kwh"] == pytest.approx(48_000 / 3.6e6, rel=1e-12)
    assert report["samples_dropped"] == 1
    _same((kwh, report), measured_job_energy([(pd.concat([day1, day2], ignore_index=True), 120.0)], _jobs(), "UTC"))


def test_edge_sample_without_value_is_decided_with_the_next_file():
    # day1 ends with a NaN reading at 120 s; day2 repeats 120 s with 400 W. Within one file the valued duplicate
    # is kept, so 0-60, 60-120 and 120-180 s all integrate at 400 W = 72,000 J and there is no gap: the interval
    # ending at a device's last sample waits for the next file
    day1 = _file(_power([0, 60, 120], [400, 400, float("nan")]), "day1.json")
    day2 = _file(_power([120, 180], [400, 400]), "day2.json")
    kwh, report = _stream([day1, day2], _jobs())
    assert report["energy_kwh"] == pytest.approx(72_000 / 3.6e6, rel=1e-12) and report["gaps"] == 0
    _same((kwh, report), measured_job_energy([(pd.concat([day1, day2], ignore_index=True), 120.0)], _jobs(), "UTC"))


def test_gap_across_the_file_edge():
    # day1: 400 W at 0, 60, 120 s; day2: 400 W at 1320, 1380 s. The 120 -> 1320 s interval (20 min) is longer
    # than max_gap 120 s: one gap of 1200 s = 1/3 h, not integrated; energy 3 x 60 s x 400 W = 72,000 J
    day1 = _file(_power([0, 60, 120], [400] * 3), "day1.json")
    day2 = _file(_power([1320, 1380], [400] * 2), "day2.json")
    _, report = _stream([day1, day2], _jobs())
    assert report["gaps"] == 1 and report["gap_hours"] == pytest.approx(1 / 3, rel=1e-12)
    assert report["energy_kwh"] == pytest.approx(72_000 / 3.6e6, rel=1e-12)


def test_gap_running_through_the_file_edge_is_one_gap():
    # 400 W at 0 and 60 s, no value at 120, 180 (day1) and 240 s (day2), 400 W at 300 and 360 s: the four
    # intervals 60 -> 300 s are one power_missing gap of 240 s (as in one file), not one gap per file;
    # energy 0-60 and 300-360 s: 2 x 60 s x 400 W = 48,000 J
    nan = float("nan")
    day1 = _file(_power([0, 60, 120, 180], [400, 400, nan, nan]), "day1.json")
    day2 = _file(_power([240, 300, 360], [nan, 400, 400]), "day2.json")
    kwh, report = _stream([day1, day2], _jobs())
    assert report["gaps"] == 1 and report["gap_hours"] == pytest.approx(240 / 3600, rel=1e-12)
    assert report["energy_kwh"] == pytest.approx(48_000 / 3.6e6, rel=1e-12)
    # cut anywhere else, the same
    for cut in range(1, 7):
        frame = pd.concat([day1, day2], ignore_index=True)
        _same(_stream([_file(frame.iloc[:cut], "day1.json"), _file(frame.iloc[cut:], "day2.json")], _jobs()),
              (kwh, report))


def test_overlapping_files_are_refused():
    # day2 holds a sample (300 s) earlier than day1's last one (600 s): overlapping exports or files out of order
    day1 = _file(_power([0, 300, 600], [400] * 3), "day1.json")
    day2 = _file(_power([300, 900], [400] * 2), "day2.json")
    with pytest.raises(InputError) as err:
        _stream([day1, day2], _jobs())
    assert err.value.file == "day2.json" and "day1.json" in err.value.message and "time order" in err.value.fix
    # another source may cover the same time: its devices are its own
    s = TelemetryStream(_jobs(), "UTC")
    s.add(day1, 120.0, source_key="a")
    s.add(day2, 120.0, source_key="b")


def test_state_does_not_grow_with_samples():
    # 3 GPUs, 1 s apart: 2 files of 10 samples, or 30 files of 300. After every add, what is kept is the same:
    # per device the sample that starts its next interval and the one at its latest time (2 x 3 rows), the
    # 3 devices, and one (job, month) sum per job - nothing per sample or interval
    def run(files, per_file):
        s = TelemetryStream(_jobs(), "UTC")
        seen = []
        for f in range(files):
            secs = list(range(f * per_file, (f + 1) * per_file))
            frame = pd.concat([_power(secs, [400] * per_file, uuid=u, host=h)
                               for u, h in (("GPU-A", "gpu001"), ("GPU-B", "gpu001"), ("GPU-C", "gpu002"))])
            s.add(_file(frame, f"day{f}.json"), 120.0, source_key="dcgm")
            seen.append(s.retained())
        return seen
    small, large = run(2, 10), run(30, 300)
    assert all(r == small[-1] for r in small + large)
    assert small[-1]["carried_rows"] == 6 and small[-1]["devices"] == 3
    assert small[-1]["job_months"] == 2 and small[-1]["months"] == 1      # jobs 101 (gpu001) and 102 (gpu002)


def test_kepler_level_chosen_from_all_files_of_a_source():
    # day1 has the node counter only; day2 has the node and the pod counters. Read together the source's level is
    # pod (the highest present), so the node rows are not used in either file: streamed, the same.
    # Pod: 1000 -> 1000 + 1.8e6 J over day2 = 0.5 kWh
    pod = '{"pod_name": "train-0", "pod_namespace": "ml"}'
    day1 = _kepler([("node", "n0", '{"node_name": "node-k"}', [0.0, 3.6e6])]).assign(source_file="k1.prom")
    day2 = _kepler([("node", "n0", '{"node_name": "node-k"}', [7.2e6, 10.8e6]),
                    ("pod", "p0", pod, [1000.0, 1000.0 + 1.8e6])]).assign(source_file="k2.prom")
    day2["ts_utc"] = day2["ts_utc"] + pd.Timedelta(seconds=1200)
    kwh, report = _stream([day1, day2], None, 900.0, source_key="kepler")
    assert kwh == {("k8s:ml/train-0", "2026-07"): pytest.approx(0.5, rel=1e-9)}
    assert report["kepler_levels"] == ["pod"]
    _same((kwh, report), measured_job_energy([(pd.concat([day1, day2], ignore_index=True), 900.0)], None, "UTC"))


def test_power_or_counter_chosen_per_file():
    # GPU-A: day1 has power (400 W) and its energy counter at 0, 60, 120 s; day2 only the counter (180, 240 s).
    # Counter: 0, 24,000, 48,000, 72,000, 96,000 J. Streamed, day2 uses the counter: 0 -> 240 s = 96,000 J,
    # no gap (the 60 -> 120 s interval waits for day2 and is counted there: 24,000 J by the counter too).
    # Read together the device is a power device, so 120 -> 240 s is one power_missing gap: 48,000 J
    day1 = _file(_power([0, 60, 120], [400] * 3).assign(energy_counter_j=[0.0, 24_000.0, 48_000.0]), "day1.json")
    day2 = _file(_power([180, 240], [float("nan")] * 2).assign(energy_counter_j=[72_000.0, 96_000.0]), "day2.json")
    _, streamed = _stream([day1, day2], _jobs())
    assert streamed["energy_kwh"] == pytest.approx(96_000 / 3.6e6, rel=1e-12) and streamed["gaps"] == 0
    _, together = measured_job_energy([(pd.concat([day1, day2], ignore_index=True), 120.0)], _jobs(), "UTC")
    assert together["energy_kwh"] == pytest.approx(48_000 / 3.6e6, rel=1e-12) and together["gaps"] == 1


def test_text_categories_that_differ_between_files():
    # day1 (0..30 min) is labelled hpc_job 101, day2 (31..60 min) hpc_job 102: each file's categorical columns
    # know only its own job and file name. The interval 30 -> 31 min starts at day1's carried sample, so it is
    # job 101's: 101 gets 31 one-minute intervals of 400 W, 102 the other 29.
    s = _samples()
    day1 = conform(s.iloc[:31].assign(job_id="101", source_file="day1.json"), POWER)
    day2 = conform(s.iloc[31:].assign(job_id="102", source_file="day2.json"), POWER)
    assert isinstance(day1["job_id"].dtype, pd.CategoricalDtype) and list(day2["job_id"].cat.categories) == ["102"]
    kwh, report = _stream([day1, day2], _jobs())
    assert kwh == {("101", "2026-07"): pytest.approx(400 * 31 * 60 / 3.6e6, rel=1e-12),
                   ("102", "2026-07"): pytest.approx(400 * 29 * 60 / 3.6e6, rel=1e-12)}
    assert report["job_sources"] == {"101": ("day1.json", 1), "102": ("day2.json", 32)}


def test_concat_keeps_text_categorical_over_the_union():
    from pipeline.energy.site_telemetry import _concat
    a = pd.DataFrame({"host": pd.Categorical(["n1", None, "n2"]), "x": [1, 2, 3]})
    b = pd.DataFrame({"host": pd.Series(["n3", "n1"], dtype="string"), "x": [4, 5]})
    out = _concat([a, b])
    assert isinstance(out["host"].dtype, pd.CategoricalDtype)
    assert out["host"].astype(object).where(out["host"].notna(), None).tolist() == ["n1", None, "n2", "n3", "n1"]
    assert out["x"].tolist() == [1, 2, 3, 4, 5]


def test_a_conflicting_repeat_is_one_dropped_sample():
    # samples at 0, 60, 60 (a different value: 500 W) and 120 s: the second sample at 60 s is dropped once
    # (it is a repeat, and a conflicting one: one sample, not two); 400 W kept -> 2 x 60 s x 400 W = 48,000 J
    kwh, report = _stream([_file(_power([0, 60, 60, 120], [400, 400, 500, 400]), "day1.json")], _jobs())
    assert report["samples_dropped"] == 1
    assert report["energy_kwh"] == pytest.approx(48_000 / 3.6e6, rel=1e-12)
