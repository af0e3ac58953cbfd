"""pipeline/sources/kepler.py: Kepler energy counters (Prometheus text scrape or query JSON) -> POWER frame.

Fixtures are hand-written in both metric generations (names and labels from the Kepler sources / docs cited in
the adapter); the expected joules below are worked out from the fixture lines.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import DisclosureError, InputError
from pipeline.sources import kepler

FIXTURES = Path(__file__).parent / "fixtures" / "kepler"
T0 = pd.Timestamp("2025-07-01T10:00:00Z")    # 1751364000 s


def _parse(path: Path, **kw):
    raw = kepler.read_raw(path)
    parsed = kepler.to_canonical(raw, source_label=path.name, site_zone="Europe/London", **kw)
    assert len(raw.frame) == len(parsed.frame) + len(parsed.folded) + len(parsed.quarantine)
    return raw, parsed


def _write(tmp_path: Path, text: str, name: str = "m.prom") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --- generation <= 0.9 --------------------------------------------------------------------------------

def test_v09_scrape_zones_not_double_counted():
    raw, parsed = _parse(FIXTURES / "kepler_0.9_scrape.prom")
    f = parsed.frame
    # 14 kepler_*_joules_total sample lines; cpu_cycles and node_info are not rows
    assert len(raw.frame) == 14
    assert raw.frame.attrs["skipped_samples"] == {"kepler_container_cpu_cycles_total": 1, "kepler_node_info": 1}
    assert (len(f), len(parsed.folded), len(parsed.quarantine)) == (9, 5, 0)
    c = f[f["level"] == "container"]
    dyn = c[c["labels_json"].str.contains('"mode": "dynamic"')]
    # kept dynamic CPU+DRAM = package 1200.5 + dram 150.75 = 1351.25
    # (summing every zone would give 1200.5 + 900 + 100 + 150.75 = 2351.25)
    cpu_dram = dyn[dyn["component"].isin(["cpu", "dram"])]["energy_counter_j"].sum()
    assert cpu_dram == pytest.approx(1351.25)
    # kept dynamic components add up to Kepler's own aggregate kepler_container_joules_total (9401.25),
    # which is folded, not added: 1200.5 + 150.75 + 50 + 8000
    assert dyn["energy_counter_j"].sum() == pytest.approx(9401.25)
    folded_lines = sorted(int(raw.frame.at[i, "source_row"]) for i in parsed.folded)
    assert folded_lines == [7, 8, 12, 15, 21]    # core, uncore, platform, aggregate total, node core
    # each folded sample points at the package sample of its own series
    pkg_dyn = dyn[dyn["zone"] == "package"].index[0]
    node_pkg0 = f[(f["level"] == "node") & f["labels_json"].str.contains('"package": "0"')
                  & (f["zone"] == "package")].index[0]
    assert {raw.frame.at[i, "source_row"]: t for i, (t, _) in parsed.folded.items()} == \
        {7: pkg_dyn, 8: pkg_dyn, 12: pkg_dyn, 15: pkg_dyn, 21: node_pkg0}
    # idle mode is a disjoint part: kept (300.25)
    assert c[c["labels_json"].str.contains('"mode": "idle"')]["energy_counter_j"].tolist() == [300.25]
    # node: 2 sockets' package + dram + GPU; core folded
    n = f[f["level"] == "node"]
    assert sorted(n["energy_counter_j"]) == [6000, 48000, 50000, 700000]
    gpu = n[n["component"] == "gpu"].iloc[0]
    assert (gpu["gpu_index"], gpu["host"]) == ("0", "gpu-node-1") and pd.isna(gpu["device_uuid"])
    assert (f["ts_utc"] == T0).all()       # 1751364000000 ms
    assert (f["kepler_generation"] == "<=0.9").all()
    # zone is put into labels_json for the old generation (it is in the metric name there)
    assert json.loads(f.loc[pkg_dyn, "labels_json"]) == {
        "container_id": "c1", "container_name": "trainer", "container_namespace": "ml", "mode": "dynamic",
        "pod_name": "train-0", "source": "rapl-sysfs", "zone": "package"}
    assert f[f["component"] != "gpu"]["device_uuid"].isna().all()


# --- generation >= 0.10 ------------------------------------------------------------------------------

def test_v011_scrape_with_scraped_at():
    raw, parsed = _parse(FIXTURES / "kepler_0.11_metrics.prom", scraped_at="2026-07-01T12:00:00")
    f = parsed.frame
    assert (len(raw.frame), len(f), len(parsed.folded), len(parsed.quarantine)) == (15, 9, 6, 0)
    # naive scraped_at read in site_zone: 12:00 BST = 11:00Z
    assert (f["ts_utc"] == pd.Timestamp("2026-07-01T11:00:00Z")).all()
    node = f[(f["level"] == "node") & (f["component"] != "gpu")]
    # package 123456.5 + dram 20000.25 = 143456.75 kept; core 100000 and psys 200000 folded;
    # active 80000 + idle 43456.5 (= 123456.5, the package total) folded into the package row
    assert node["energy_counter_j"].sum() == pytest.approx(143456.75)
    pkg = node[node["zone"] == "package"].index[0]
    by_line = {int(raw.frame.at[i, "source_row"]): t for i, (t, _) in parsed.folded.items()}
    assert {k: by_line[k] for k in (5, 7, 8, 9)} == {5: pkg, 7: pkg, 8: pkg, 9: pkg}
    gpus = f[(f["level"] == "node") & (f["component"] == "gpu")].sort_values("gpu_index")
    assert gpus["device_uuid"].tolist() == ["GPU-11111111-1111-1111-1111-111111111111",
                                            "GPU-22222222-2222-2222-2222-222222222222"]
    assert gpus["gpu_model"].tolist() == ["H100-SXM", "H100-SXM"]
    assert gpus["energy_counter_j"].sum() == 5_400_000        # 3.6 MJ + 1.8 MJ; active 3.0 MJ folded
    cont = f[f["level"] == "container"]
    assert sorted(cont["energy_counter_j"]) == [700, 5000, 900000]   # core 4000 folded
    assert (f["host"] == "gpu-node-2").all()
    assert (f["kepler_generation"] == ">=0.10").all()
    assert set(f["level"]) == {"node", "container", "pod"}


def test_v011_scrape_without_time_is_quarantined():
    _, parsed = _parse(FIXTURES / "kepler_0.11_metrics.prom")
    assert len(parsed.frame) == 0 and len(parsed.quarantine) == 15
    assert {c for rs in parsed.quarantine.values() for c, _ in rs} == {"kepler_sample_without_time"}


def test_range_query_json():
    raw, parsed = _parse(FIXTURES / "query_range_0.11.json")
    f = parsed.frame
    # 4 energy series x 3 points = 12 rows; the watts series (3 points) is not read
    assert (len(raw.frame), len(f), len(parsed.folded)) == (12, 9, 3)
    assert raw.frame.attrs["skipped_samples"] == {"kepler_container_cpu_watts": 3}
    pkg = f[(f["level"] == "container") & (f["zone"] == "package")].sort_values("ts_utc")
    assert pkg["ts_utc"].tolist() == [T0, T0 + pd.Timedelta(seconds=30), T0 + pd.Timedelta(seconds=60)]
    # package counter increase over the range: 1075 - 1000 = 75 J (+ dram 110.5 - 100 = 10.5 J), core not added
    assert pkg["energy_counter_j"].iloc[-1] - pkg["energy_counter_j"].iloc[0] == 75.0
    dram = f[f["zone"] == "dram"].sort_values("ts_utc")["energy_counter_j"]
    assert dram.iloc[-1] - dram.iloc[0] == 10.5
    gpu = f[f["component"] == "gpu"].sort_values("ts_utc")
    assert gpu["energy_counter_j"].iloc[-1] - gpu["energy_counter_j"].iloc[0] == pytest.approx(18000.5)
    assert set(gpu["device_uuid"]) == {"GPU-33333333-3333-3333-3333-333333333333"}
    assert set(gpu["gpu_model"]) == {"A100-SXM-80GB"}
    assert (f["host"] == "gpu-node-2").all()          # node_name wins over instance 10.0.0.5:28282
    # 3 kept series (package, dram, gpu), 3 points each
    assert f.groupby("series_id").size().tolist() == [3, 3, 3]
    # each core point folds into the package point of the same time
    for i, (t, _) in parsed.folded.items():
        assert raw.frame.at[i, "timestamp"] == raw.frame.at[t, "timestamp"]
        assert f.at[t, "zone"] == "package"


def test_vector_json_and_instance_host(tmp_path):
    doc = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "kepler_pod_gpu_joules_total", "instance": "node-7:28282", "pod_name": "p"},
         "value": [1751364000.5, "42"]}]}}
    _, parsed = _parse(_write(tmp_path, json.dumps(doc), "v.json"))
    row = parsed.frame.iloc[0]
    assert (row["host"], row["energy_counter_j"], row["ts_utc"]) == \
        ("node-7", 42.0, T0 + pd.Timedelta(milliseconds=500))


def test_core_without_package_is_quarantined_not_kept(tmp_path):
    text = ('kepler_container_cpu_joules_total{container_id="a",zone="core",node_name="n"} 10 1751364000000\n'
            'kepler_container_cpu_joules_total{container_id="b",zone="package",node_name="n"} 20 1751364000000\n'
            'kepler_container_cpu_joules_total{container_id="b",zone="weird",node_name="n"} 5 1751364000000\n')
    _, parsed = _parse(_write(tmp_path, text))
    assert parsed.frame["energy_counter_j"].tolist() == [20.0]
    assert parsed.quarantine[0][0][0] == "kepler_overlapping_zone"
    assert parsed.quarantine[2][0][0] == "kepler_unknown_zone"


def test_bad_lines_values_and_openmetrics_seconds(tmp_path):
    text = ("# EOF-less OpenMetrics-style sample with seconds\n"
            'kepler_node_cpu_joules_total{zone="package",node_name="n"} 7 1751364000.25\n'
            'kepler_node_cpu_joules_total{zone="dram",node_name="n"} NaN 1751364000000\n'
            'kepler_node_cpu_joules_total{zone="package" node_name="n"} 1 1751364000000\n'
            "this is not a sample\n"
            'kepler_node_cpu_joules_total{zone="dram",node_name="n"} -1 1751364000000\n')
    raw, parsed = _parse(_write(tmp_path, text))
    assert parsed.frame["ts_utc"].tolist() == [T0 + pd.Timedelta(milliseconds=250)]
    codes = {int(raw.frame.at[i, "source_row"]): rs[0][0] for i, rs in parsed.quarantine.items()}
    assert codes == {3: "kepler_bad_counter_value", 4: "kepler_unparseable_sample", 5: "kepler_unparseable_sample",
                     6: "kepler_bad_counter_value"}


def test_label_escapes(tmp_path):
    text = 'kepler_container_gpu_joules_total{container_name="a\\"b\\\\c",node_name="n"} 3 1751364000000\n'
    _, parsed = _parse(_write(tmp_path, text))
    assert json.loads(parsed.frame.iloc[0]["labels_json"])["container_name"] == 'a"b\\c'


def test_read_raw_errors(tmp_path):
    with pytest.raises(InputError):
        kepler.read_raw(tmp_path / "missing.prom")
    with pytest.raises(InputError):
        kepler.read_raw(_write(tmp_path, "  \n"))
    with pytest.raises(InputError):
        kepler.read_raw(_write(tmp_path, '{"status": "error", "error": "bad query"}', "e.json"))


def test_header_suite(validator):
    raw = kepler.read_raw(FIXTURES / "query_range_0.11.json")
    assert validator.run("k", "kepler.header", raw.frame.head(0).drop(columns=["source_row"])).success
    bad = validator.run("k", "kepler.header", raw.frame.head(0).drop(columns=["source_row", "value"]))
    assert any("required column 'value' is missing" in p for p in bad.table_problems)


# --- property: row accounting -------------------------------------------------------------------------

NAMES = st.sampled_from(["kepler_node_cpu_joules_total", "kepler_container_cpu_joules_total",
                         "kepler_node_cpu_active_joules_total", "kepler_node_gpu_joules_total",
                         "kepler_container_package_joules_total", "kepler_container_core_joules_total",
                         "kepler_container_joules_total", "kepler_node_platform_joules_total",
                         "kepler_foo_joules_total", "kepler_node_cpu_watts", "up"])
LINE = st.one_of(
    st.builds(lambda n, z, c, v, t: f'{n}{{zone="{z}",container_id="{c}",node_name="h"}} {v}{t}', NAMES,
              st.sampled_from(["package", "core", "dram", "psys", "uncore", "", "x"]), st.sampled_from(["a", "b"]),
              st.sampled_from(["1", "0", "2.5e3", "NaN", "-1", "+Inf", "z"]),
              st.sampled_from(["", " 1751364000000", " 1751364000", " 99999999999999999999", " q"])),
    st.text(alphabet='kepler_{}=", 0123#\\', max_size=30))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=15), scraped=st.sampled_from([None, "2026-07-01T12:00:00", "2026-07-01T12:00Z"]),
       as_json=st.booleans())
def test_property_row_accounting(lines, scraped, as_json):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.prom"
        text = "\n".join(lines) + "\n"
        if as_json:
            parsed_lines = [ln.split(" ") for ln in lines if ln.startswith("kepler")]
            doc = {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"__name__": p[0].split("{")[0], "zone": "package"}, "values": [[p[-1], p[-1]]]}
                for p in parsed_lines]}}
            text = json.dumps(doc)
        path.write_text(text, encoding="utf-8")
        try:
            raw = kepler.read_raw(path)
            parsed = kepler.to_canonical(raw, source_label="p", site_zone="Europe/London", scraped_at=scraped)
        except DisclosureError:
            return
        kept, folded, quar = set(parsed.frame.index), set(parsed.folded), set(parsed.quarantine)
        assert len(raw.frame) == len(kept) + len(folded) + len(quar)
        assert kept | folded | quar == set(raw.frame.index)
        assert not (kept & folded) and not (kept & quar) and not (folded & quar)
        assert all(t in kept for t, _ in parsed.folded.values())
