"""pipeline/sources/dcgm.py: dcgm-exporter scrapes and Prometheus range-query JSON -> POWER frame."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.canonical import POWER
from pipeline.errors import DisclosureError, InputError
from pipeline.sources import dcgm
from pipeline.validate.quarantine import quarantine_rows

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DATADOG = SHARED_DATA / "dcgm" / "datadog-dcgm-metrics.txt"
FIXTURES = Path(__file__).parent / "fixtures" / "dcgm"
A = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
B = "GPU-bbbbbbbb-1111-2222-3333-444444444444"


def _parse(path: Path):
    raw = dcgm.read_raw(path)
    return raw, dcgm.to_canonical(raw, source_label=path.name, site_zone="Europe/London")


def _accounting(raw, parsed) -> None:
    kept, folded, quarantined = set(parsed.frame.index), set(parsed.folded), set(parsed.quarantine)
    assert not (kept & folded) and not (kept & quarantined) and not (folded & quarantined)
    assert len(raw.frame) == len(kept) + len(folded) + len(quarantined)
    assert all(target in kept for target, _ in parsed.folded.values())


def _codes(parsed) -> dict:
    out: dict = {}
    for rs in parsed.quarantine.values():
        out[rs[0][0]] = out.get(rs[0][0], 0) + 1
    return out


# --- the real DataDog scrape ------------------------------------------------------------------------

def _count_by_hand(text: str):
    samples = [l for l in text.split("\n") if l.strip() and not l.startswith("#")]
    unlabeled = [l for l in samples if re.fullmatch(r"[A-Za-z0-9_:]+ \S+", l)]
    power = [l for l in samples if re.match(r"DCGM_FI_DEV_POWER_USAGE\{.+\} \S+$", l)]
    return samples, unlabeled, power


def test_datadog_scrape_without_timestamps_is_quarantined_not_guessed():
    text = DATADOG.read_text(encoding="utf-8")
    assert not text.endswith("\n")                      # the trap: no trailing newline
    samples, unlabeled, power = _count_by_hand(text)
    assert (len(samples), len(unlabeled), len(power)) == (38, 14, 1)
    raw, p = _parse(DATADOG)
    _accounting(raw, p)
    assert len(raw.frame) == len(samples)
    assert len(p.frame) == 0
    assert _codes(p) == {"sample_without_labels": len(unlabeled), "no_timestamp": len(samples) - len(unlabeled)}
    assert any("scraped_at" in n for n in p.notes)


def test_datadog_scrape_with_scraped_at(tmp_path):
    text = DATADOG.read_text(encoding="utf-8")
    path = tmp_path / "scrape.txt"
    path.write_text("# scraped_at 2026-07-14T08:00:00Z\n" + text, encoding="utf-8")
    samples, unlabeled, power = _count_by_hand(text)
    raw, p = _parse(path)
    _accounting(raw, p)
    # the one labelled power sample (T4 on host 424773df46e0) becomes the one accepted row
    assert len(p.frame) == len(power) == 1
    row = p.frame.iloc[0]
    m = re.search(r'DCGM_FI_DEV_POWER_USAGE\{.*UUID="([^"]+)".*Hostname="([^"]+)".*\} (\S+)', text)
    e = re.search(r"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION\{.*\} (\d+)", text)
    u = re.search(r"DCGM_FI_DEV_GPU_UTIL\{.*\} (\S+)", text)
    assert (row["device_uuid"], row["host"]) == (m.group(1), m.group(2))
    assert row["power_w"] == float(m.group(3)) == 8.969
    assert row["energy_counter_j"] == int(e.group(1)) / 1000 == 128996.013      # mJ -> J
    assert row["utilisation_pct"] == float(u.group(1))
    assert row["ts_utc"] == pd.Timestamp("2026-07-14T08:00:00Z")
    assert row["gpu_model"] == "Tesla T4" and row["gpu_index"] == "0"
    # source_row is the line of the sample in the file (+1 for the scraped_at line we added)
    assert row["source_row"] == text.split("\n").index(
        next(l for l in text.split("\n") if l.startswith("DCGM_FI_DEV_POWER_USAGE{"))) + 2
    codes = _codes(p)
    assert codes["sample_without_labels"] == len(unlabeled)
    # the other host's T4 and the A10G report no power/energy/utilisation in this file
    host2 = [l for l in samples if 'Hostname="551bdf382151"' in l or 'Hostname="ip-11111"' in l]
    assert codes["no_power_metric"] == len(host2)
    host1 = [l for l in samples if 'Hostname="424773df46e0"' in l]
    assert len(p.folded) == len(host1) - 1
    assert set(codes) == {"sample_without_labels", "no_power_metric"}
    assert json.loads(row["labels_json"])["device"] == "nvidia0"


# --- range-query JSON -------------------------------------------------------------------------------

def test_range_query_two_gpus_three_timestamps():
    raw, p = _parse(FIXTURES / "range_2gpu_3ts.json")
    _accounting(raw, p)
    assert len(raw.frame) == 15                          # 5 series x 3 points
    assert p.quarantine == {} and len(p.folded) == 9     # energy and utilisation joined onto each GPU/time row
    f = p.frame.sort_values(["device_uuid", "ts_utc"])
    t = [pd.Timestamp("2026-07-14T08:00:00Z"), pd.Timestamp("2026-07-14T08:00:15Z"),
         pd.Timestamp("2026-07-14T08:00:30Z")]          # 1784016000 (+15, +30) s since the epoch
    assert f["device_uuid"].tolist() == [A, A, A, B, B, B]
    assert f["ts_utc"].tolist() == t + t
    # Prometheus "NaN" power is missing, the row stays for its energy counter
    assert f["power_w"].iloc[:2].tolist() == [650.5, 655.25] and pd.isna(f["power_w"].iloc[2])
    assert f["power_w"].iloc[3:].tolist() == [120.0, 121.5, 122.0]
    # mJ / 1000 = J
    assert f["energy_counter_j"].tolist() == [1_000_000.0, 1_009_757.5, 1_019_600.0, 500_000.0, 501_822.5, 503_640.0]
    # counter increase / 15 s agrees with the gauge: (1009757.5 - 1000000) / 15 = 650.5 W
    assert (f["energy_counter_j"].iloc[1] - f["energy_counter_j"].iloc[0]) / 15 == f["power_w"].iloc[0]
    assert f["utilisation_pct"].iloc[:3].tolist() == [100.0, 99.0, 100.0] and f["utilisation_pct"].iloc[3:].isna().all()
    # GPU 0 carries the old 'Hostname' label, GPU 1 the 2026 'hostname': both are the host
    assert set(f["host"]) == {"node-a"}
    # hpc_job -> job_id
    assert f["job_id"].iloc[:3].isna().all() and f["job_id"].iloc[3:].tolist() == ["7781"] * 3
    labels = json.loads(f["labels_json"].iloc[0])
    assert labels["instance"] == "10.0.0.5:9400" and "Hostname" not in labels and "UUID" not in labels
    assert raw.column("json_path").loc[f.index[0]].startswith("data.result[")


def test_range_query_series_in_bulk_and_a_malformed_point_on_its_own(tmp_path):
    # series 0 is well-formed (read in bulk); series 1 has a point whose value is a JSON number (read point by
    # point: its good points are samples, the bad one is quarantined). 1784016000 s = 2026-07-14T08:00:00Z
    doc = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": dcgm.POWER_METRIC, "UUID": A, "gpu": "0", "Hostname": "n1"},
         "values": [[1784016000, "100.5"], [1784016015.5, "NaN"]]},
        {"metric": {"__name__": dcgm.POWER_METRIC, "UUID": B, "gpu": "1", "Hostname": "n1"},
         "values": [[1784016000, "200"], [1784016015, 7], [1784016030, "210"]]}]}}
    path = tmp_path / "q.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    raw, p = _parse(path)
    _accounting(raw, p)
    f = raw.frame.astype(object)
    assert f["source_row"].tolist() == [1, 2, 3, 4, 5]                  # ordinal of the point in the document
    assert raw.column("json_path").tolist() == ["data.result[0].values[0]", "data.result[0].values[1]",
                                                "data.result[1].values[0]", "data.result[1].values[1]",
                                                "data.result[1].values[2]"]
    # written out where it is shown: the quarantine rows name the points they came from
    q = quarantine_rows(raw, pd.Index(sorted(p.quarantine)), p.quarantine)
    assert q["json_path"].tolist() == ["data.result[0].values[1]", "data.result[1].values[1]"]
    assert f["timestamp_s"].tolist() == ["1784016000", "1784016015.5", "1784016000", "", "1784016030"]
    assert f["value"].tolist() == ["100.5", "NaN", "200", "", "210"]
    assert f["labels"].tolist()[0] == f'UUID="{A}",gpu="0",Hostname="n1"'
    assert f["unparsed"].tolist() == ["", "", "", "[1784016015, 7]", ""]
    assert f["metric"].tolist() == [dcgm.POWER_METRIC] * 3 + [""] + [dcgm.POWER_METRIC]
    # A at 08:00:00 100.5 W; A at 08:00:15.5 has NaN only: no power metric; B 200 W at :00 and 210 W at :30
    out = p.frame
    assert list(zip(out["device_uuid"], out["ts_utc"], out["power_w"])) == [
        (A, pd.Timestamp("2026-07-14T08:00:00Z"), 100.5), (B, pd.Timestamp("2026-07-14T08:00:00Z"), 200.0),
        (B, pd.Timestamp("2026-07-14T08:00:30Z"), 210.0)]
    assert out["source_row"].tolist() == [1, 3, 5]
    assert {i: rs[0][0] for i, rs in p.quarantine.items()} == {1: "no_power_metric", 3: "unparseable_sample"}


def test_instant_query_vector(tmp_path):
    doc = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": dcgm.POWER_METRIC, "UUID": A}, "value": [1784016000, "321.25"]}]}}
    path = tmp_path / "v.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    raw, p = _parse(path)
    assert raw.column("json_path").tolist() == ["data.result[0].value"]
    assert p.frame[["device_uuid", "power_w"]].values.tolist() == [[A, 321.25]]


@pytest.mark.parametrize("texts", [
    ["1", "1.", ".5", "-0", "+1", "1e3", "1E+05", "1e309", "-1e309", "9" * 400, "0.000000000000000000001", "650.25",
     "NaN", "nan", "+Inf", "-Inf", "Infinity", " 12 ", "1_000", "0x1F", "1,5", "12 W", "\u0661\u0662", "", "abc",
     None],
    [repr(x) for x in [0.1, 1 / 3, 2 ** 0.5 * 1e10, 5e-324, 1.7976931348623157e308, 433.78, 1784016015.5]]])
def test_parse_values_in_bulk_is_parse_value(texts):
    values, ok = dcgm.parse_values(pd.Series(texts, dtype="string"))
    for text, v, good in zip(texts, values, ok):
        expected = dcgm.parse_value(text)
        assert good == (expected is not None), text
        if good:
            assert (math.isnan(v) and math.isnan(expected)) or v == expected, text


def test_hostname_and_Hostname_are_the_same_host(tmp_path):
    line = 'DCGM_FI_DEV_POWER_USAGE{{gpu="0",UUID="{u}",{key}="node-x"}} 300 1784016000000\n'
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n" + line.format(u=A, key="Hostname"), encoding="utf-8")
    new.write_text("# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n" + line.format(u=A, key="hostname"), encoding="utf-8")
    (_, p_old), (_, p_new) = _parse(old), _parse(new)
    assert p_old.frame["host"].tolist() == p_new.frame["host"].tolist() == ["node-x"]
    pd.testing.assert_frame_equal(p_old.frame.drop(columns="source_file"), p_new.frame.drop(columns="source_file"))


# --- MIG ----------------------------------------------------------------------------------------------

def test_mig_whole_gpu_power_counted_once():
    raw, p = _parse(FIXTURES / "mig_scrape.txt")
    _accounting(raw, p)
    assert len(raw.frame) == 3 and len(p.frame) == 1 and len(p.folded) == 2 and p.quarantine == {}
    row = p.frame.iloc[0]
    assert (row["device_uuid"], row["power_w"], row["source_row"]) == (A, 433.78, 3)
    assert row["ts_utc"] == pd.Timestamp("2026-07-14T08:00:00Z")      # 1784016000000 ms
    assert row["job_id"] == "9001" and row["host"] == "node-b"
    assert all(target == p.frame.index[0] and "MIG instance" in note for target, note in p.folded.values())
    labels = json.loads(row["labels_json"])
    assert labels["GPU_I_ID"] == "1,13,5" and labels["pod"] == "serve-0,serve-1,serve-2"
    assert any("MIG" in n for n in p.notes)


def test_mig_instances_of_different_jobs_leave_job_id_empty(tmp_path):
    text = (FIXTURES / "mig_scrape.txt").read_text(encoding="utf-8")
    n = iter(["9001", "9002", "9001"])
    path = tmp_path / "jobs.txt"
    path.write_text(re.sub(r'hpc_job="9001"', lambda _: f'hpc_job="{next(n)}"', text), encoding="utf-8")
    _, p = _parse(path)
    assert len(p.frame) == 1 and pd.isna(p.frame["job_id"].iloc[0])
    assert json.loads(p.frame["labels_json"].iloc[0])["hpc_job"] == "9001,9002"


def test_conflicting_repeat_is_quarantined(tmp_path):
    lines = (FIXTURES / "mig_scrape.txt").read_text(encoding="utf-8").split("\n")
    lines[4] = lines[4].replace("} 433.78 ", "} 500.00 ")
    path = tmp_path / "conflict.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    raw, p = _parse(path)
    _accounting(raw, p)
    assert len(p.frame) == 1 and len(p.folded) == 1 and _codes(p) == {"conflicting_duplicate": 1}
    assert p.frame["power_w"].iloc[0] == 433.78


# --- edges --------------------------------------------------------------------------------------------

def test_parse_labels_escapes_and_errors():
    assert dcgm.parse_labels('a="x",b="y \\"q\\" \\\\ z",c="with, comma}"') == \
        {"a": "x", "b": 'y "q" \\ z', "c": "with, comma}"}
    assert dcgm.parse_labels("") == {}
    assert dcgm.parse_labels('a="1",') == {"a": "1"}
    for bad in ('a=1', 'a="1" b="2"', 'a="1",a="2"'):
        with pytest.raises(dcgm.LabelError):
            dcgm.parse_labels(bad)


def test_text_edge_cases(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("\n".join([
        "# TYPE DCGM_FI_DEV_POWER_USAGE gauge",
        f'DCGM_FI_DEV_POWER_USAGE{{gpu="0",UUID="{A}"}} 100 1784016000000',     # kept
        f'DCGM_FI_DEV_POWER_USAGE{{gpu="0",UUID="{A}"}} 100 1784016000000',     # exact repeat: folded
        f'DCGM_FI_DEV_POWER_USAGE{{gpu="1",UUID="{B}"}} abc 1784016000000',     # bad value
        'DCGM_FI_DEV_POWER_USAGE{gpu="2",device="nvidia2"} 100 1784016000000',  # no UUID, no host
        f'DCGM_FI_DEV_POWER_USAGE{{gpu="1",UUID="{B}"}} 100',                   # no timestamp
        "this is not a sample line",
        "# scraped_at 2026-07-14 09:00:00",                                      # no offset
        f'DCGM_FI_DEV_GPU_UTIL{{gpu="1",UUID="{B}"}} 50',
    ]), encoding="utf-8")
    raw, p = _parse(path)
    _accounting(raw, p)
    assert len(p.frame) == 1 and len(p.folded) == 1
    assert _codes(p) == {"unparseable_sample": 2, "no_device": 1, "no_timestamp": 1, "bad_timestamp": 1}


@pytest.mark.parametrize("text", ["", "meter_id,timestamp,energy,unit\nm1,2026-01-01T00:00:00Z,1,kWh\n",
                                  '{"status":"error","error":"bad query"}', '{"status":"success","data":'
                                  '{"resultType":"scalar","result":[1,"2"]}}', "{not json"])
def test_unreadable(tmp_path, text):
    path = tmp_path / "x.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError):
        dcgm.read_raw(path)


def test_sniff_and_header_suite():
    raw = dcgm.read_raw(DATADOG)
    assert dcgm.sniff(raw.columns)
    assert not dcgm.sniff(["timestamp", "index", "uuid", "power.draw"])
    suite = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "expectations" /
                        "dcgm.header.json").read_text(encoding="utf-8"))
    assert [e["kwargs"]["column"] for e in suite["expectations"]] == dcgm.REQUIRED
    assert set(dcgm.REQUIRED) <= set(raw.columns)
    assert list(dcgm.to_canonical(raw, source_label="x", site_zone="UTC").frame.columns[:len(POWER)]) == list(POWER)


# --- property tests -----------------------------------------------------------------------------------

_labels = st.sampled_from(["", f'gpu="0",UUID="{A}"', f'gpu="1",UUID="{B}",hostname="n"', 'gpu="0"',
                           f'gpu="0",UUID="{A}",GPU_I_ID="1"', f'gpu="0",UUID="{A}",GPU_I_ID="2"', 'bad=1'])
_metric = st.sampled_from([dcgm.POWER_METRIC, dcgm.ENERGY_METRIC, dcgm.UTIL_METRIC, "DCGM_FI_DEV_SM_CLOCK"])
_value = st.sampled_from(["1", "1.5", "NaN", "+Inf", "x", "0"])
_ts = st.sampled_from(["", " 1784016000000", " 1784016015000", " 99999999999999999999", " -1", " 1.5"])
_sample = st.tuples(_metric, _labels, _value, _ts).map(lambda t: f"{t[0]}{{{t[1]}}} {t[2]}{t[3]}")
_text_line = st.one_of(_sample, st.sampled_from(["# HELP x", "# scraped_at 2026-07-14T08:00:00Z",
                                                 "# scraped_at yesterday", "", "garbage {"]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_text_line, max_size=15))
def test_property_text_rows_accounted(tmp_path, lines):
    path = tmp_path / "prop.txt"
    path.write_text("\n".join(["# TYPE DCGM_FI_DEV_POWER_USAGE gauge", *lines]), encoding="utf-8")
    try:
        raw, p = _parse(path)
    except DisclosureError:
        return
    _accounting(raw, p)
    assert p.frame["ts_utc"].notna().all()
    assert p.frame[["device_uuid", "ts_utc"]].dropna().duplicated().sum() == 0


_point = st.one_of(st.tuples(st.sampled_from([1784016000, 1784016015.5, -1e13]), _value).map(list),
                   st.sampled_from([[1], "x", None, [1784016000, 5]]))
_series = st.fixed_dictionaries({
    "metric": st.one_of(st.fixed_dictionaries({"__name__": _metric, "UUID": st.sampled_from([A, B]),
                                               "gpu": st.just("0")}),
                        st.just({}), st.just("oops")),
    "values": st.lists(_point, max_size=4)})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=st.lists(_series, max_size=4))
def test_property_json_rows_accounted(tmp_path, result):
    path = tmp_path / "prop.json"
    path.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}),
                    encoding="utf-8")
    try:
        raw, p = _parse(path)
    except DisclosureError:
        return
    _accounting(raw, p)
    assert p.frame[["device_uuid", "ts_utc"]].duplicated().sum() == 0


def test_canonical_text_columns_are_codes_not_text_per_row(tmp_path):
    # 8 GPUs x 2,000 points with long label sets: as "string" columns the labels alone are ~250 B per row;
    # as categoricals every text column is a one-byte code per row plus 8 label texts in all
    labels = ',"pod":"p","namespace":"ml","container":"c","DCGM_FI_DRIVER_VERSION":"550.54.15","pci_bus_id":"00000000:1A:00.0"'
    series = ",".join(
        '{"metric":{"__name__":"DCGM_FI_DEV_POWER_USAGE","UUID":"GPU-%d","gpu":"%d","Hostname":"node-%d","modelName":'
        '"NVIDIA H100 80GB HBM3"%s},"values":[%s]}' % (g, g, g // 4, labels,
                                                        ",".join(f'[{1783638000 + 10 * k},"{400 + g}"]' for k in range(2000)))
        for g in range(8))
    p = tmp_path / "dcgm.json"
    p.write_text('{"status":"success","data":{"resultType":"matrix","result":[' + series + "]}}")
    frame = dcgm.to_canonical(dcgm.read_raw(p), source_label="dcgm.json", site_zone="UTC").frame
    assert len(frame) == 16000
    text = ["source_file", "host", "device_uuid", "gpu_index", "gpu_model", "job_id", "labels_json"]
    assert all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in text)
    per_row = frame[text].memory_usage(deep=True, index=False).sum() / len(frame)
    assert per_row < 10            # 7 one-byte codes + the categories spread over 16,000 rows
    assert frame["host"].value_counts().to_dict() == {"node-0": 8000, "node-1": 8000}
    assert frame.loc[frame["device_uuid"] == "GPU-5", "power_w"].eq(405.0).all()
