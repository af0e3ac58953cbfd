"""pipeline/sources/codecarbon.py: CodeCarbon emissions.csv -> canonical job frame.

Expected values are read independently from the files with the csv module and converted with
datetime.strptime (explicit formats) + zoneinfo, not with the adapter's own parsing.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import DisclosureError
from pipeline.sources import codecarbon

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CC_DATA = SHARED_DATA / "codecarbon"
FIXTURES = Path(__file__).parent / "fixtures" / "codecarbon"
REAL_FILES = sorted(CC_DATA.rglob("*.csv")) if CC_DATA.is_dir() else []
needs_data = pytest.mark.skipif(not CC_DATA.is_dir(), reason="shared sample data (/work/shared/data) not present")
OREGON = "America/Los_Angeles"


def _parse(path: Path, zone: str = OREGON, **kw):
    return codecarbon.to_canonical(codecarbon.read_raw(path), source_label=path.name, site_id="s1",
                                   site_zone=zone, **kw)


def _csv_row(path: Path, line: int) -> dict:
    """The data row on file line ``line`` (header = line 1), read with the csv module."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            if n == line:
                return row
    raise AssertionError(f"no line {line} in {path}")


def _expected_times(row: dict, zone: str, fmt: str) -> tuple[pd.Timestamp, pd.Timestamp, float]:
    local = datetime.strptime(row["timestamp"], fmt).replace(tzinfo=ZoneInfo(zone))
    end = local.astimezone(UTC)
    dur = float(row["duration"])
    return pd.Timestamp(end), pd.Timestamp(end - timedelta(seconds=dur)), dur


def _row_at(parsed, line: int) -> pd.Series:
    hit = parsed.frame[parsed.frame["source_row"] == line]
    assert len(hit) == 1
    return hit.iloc[0]


def _assert_row(parsed, path: Path, line: int, zone: str, fmt: str) -> pd.Series:
    row = _csv_row(path, line)
    end, start, dur = _expected_times(row, zone, fmt)
    got = _row_at(parsed, line)
    assert got["end_utc"] == end
    assert abs((got["start_utc"] - start).total_seconds()) < 1e-5
    assert got["duration_s"] == pytest.approx(dur, rel=1e-12)
    assert got["energy_kwh"] == pytest.approx(float(row["gpu_energy"]), rel=1e-12)
    assert got["cpu_energy_kwh"] == pytest.approx(float(row["cpu_energy"]), rel=1e-12)
    assert got["ram_energy_kwh"] == pytest.approx(float(row["ram_energy"]), rel=1e-12)
    assert got["energy_consumed_kwh"] == pytest.approx(float(row["energy_consumed"]), rel=1e-12)
    assert got["emissions_kg_codecarbon"] == pytest.approx(float(row["emissions"]), rel=1e-12)
    assert got["codecarbon_version"] == row["codecarbon_version"]
    assert got["account"] == row["project_name"]
    return got


# --- every real file ------------------------------------------------------------------------------------

@needs_data
def test_real_files_present():
    assert len(REAL_FILES) == 24


@needs_data
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name[:40])
def test_every_real_file_parses(path):
    raw = codecarbon.read_raw(path)
    assert codecarbon.sniff(raw.columns)
    assert not raw.malformed
    parsed = _parse(path)
    f = parsed.frame
    # row accounting: nothing lost, nothing double
    assert len(raw.frame) == len(f) + len(parsed.folded) + len(parsed.quarantine)
    assert set(f.index) | set(parsed.folded) | set(parsed.quarantine) == set(raw.frame.index)
    assert f["end_utc"].notna().all() and f["start_utc"].notna().all()
    assert (f["end_utc"] >= f["start_utc"]).all()
    assert f["job_id"].notna().all() and not f["job_id"].duplicated().any()
    assert f["energy_kwh"].notna().all() and (f["energy_kwh"] >= 0).all()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        gpu_total = sum(float(r["gpu_energy"]) for r in csv.DictReader(fh))
    assert f["energy_kwh"].sum() == pytest.approx(gpu_total, rel=1e-12)


@needs_data
def test_real_files_pass_the_job_row_suite(validator):
    """The canonical rows satisfy the job.rows Great Expectations suite (start_missing / end_unknown present)."""
    params = {"period_start_utc": "2023-01-01T00:00:00+00:00", "period_end_utc": "2027-01-01T00:00:00+00:00"}
    for path in [CC_DATA / "co2_inference/complete/summarize_cnn_15.csv",
                 CC_DATA / "v2.7plus/green-ops-profiler_cc3.2.5_emissions.csv"]:
        outcome = validator.run("cc", "job.rows", _parse(path).frame, params)
        assert not outcome.table_problems
        assert outcome.row_reasons == {}


@needs_data
def test_header_suite_names_missing_required_column(validator):
    raw = codecarbon.read_raw(CC_DATA / "v2.7plus/fedhenet_cc3.0.5_emissions.csv")
    ok = validator.run("cc", "codecarbon.header", raw.frame.head(0).drop(columns=["source_row"]))
    assert ok.success
    bad = validator.run("cc", "codecarbon.header", raw.frame.head(0).drop(columns=["source_row", "gpu_energy"]))
    assert not bad.success
    assert any("required column 'gpu_energy' is missing" in p for p in bad.table_problems)


# --- one file per version ----------------------------------------------------------------------------

@needs_data
def test_v231_task_mode_file():
    path = CC_DATA / "co2_inference/base/emissions_base_000f2a61-6c23-4644-af23-5dee6c40c537.csv"
    parsed = _parse(path)
    got = _assert_row(parsed, path, 2, OREGON, "%Y-%m-%dT%H:%M:%S")
    # 2023-10-02T20:20:22 PDT (UTC-7) = 2023-10-03 03:20:22 UTC; ends there, started 14.3979 s earlier
    assert got["end_utc"] == pd.Timestamp("2023-10-03T03:20:22Z")
    assert got["energy_kwh"] == pytest.approx(0.0020907063948527593, rel=1e-15)
    run = "000f2a61-6c23-4644-af23-5dee6c40c537"
    # both rows share run_id: task rows are distinct tasks, not snapshots
    assert parsed.frame["job_id"].tolist() == [f"{run}/load model", f"{run}/query model"]
    assert got["job_name"] == "cardiffnlp/twitter-xlm-roberta-base-sentiment / load model"
    assert not parsed.folded
    # "8 x NVIDIA A100-SXM4-80GB" -> 8 GPUs of A100-SXM-80GB; 8 x 14.397873640060425 s / 3600
    assert got["gpu_count"] == 8.0 and got["gpu_model"] == "A100-SXM-80GB"
    assert got["gpu_hours"] == pytest.approx(8 * 14.397873640060425 / 3600, rel=1e-12)


@needs_data
def test_v231_mixed_timestamp_formats_summarize_cnn_15():
    path = CC_DATA / "co2_inference/complete/summarize_cnn_15.csv"
    parsed = _parse(path)
    space = _assert_row(parsed, path, 2, OREGON, "%Y-%m-%d %H:%M:%S")      # 2023-09-26 16:44:16
    tee = _assert_row(parsed, path, 72, OREGON, "%Y-%m-%dT%H:%M:%S")       # 2023-10-24T22:11:51
    assert space["end_utc"] == pd.Timestamp("2023-09-26T23:44:16Z")
    assert tee["end_utc"] == pd.Timestamp("2023-10-25T05:11:51Z")
    # E-exponent in the same file (row 72 emissions_rate 4.21953759764249E-05)
    assert tee["emissions_rate_kg_per_s_codecarbon"] == pytest.approx(4.21953759764249e-05, rel=1e-15)


@needs_data
def test_v231_non_padded_hours_summarize_xsum_15():
    path = CC_DATA / "co2_inference/complete/summarize_xsum_15.csv"
    parsed = _parse(path)
    got = _assert_row(parsed, path, 25, OREGON, "%Y-%m-%d %H:%M:%S")       # 2023-10-06 0:05:27
    assert _csv_row(path, 25)["timestamp"] == "2023-10-06 0:05:27"
    assert got["end_utc"] == pd.Timestamp("2023-10-06T07:05:27Z")
    assert got["start_utc"] == pd.Timestamp("2023-10-06T07:05:27Z") - pd.Timedelta(seconds=235.7570419)


@needs_data
def test_v231_e_exponents_qa_sciq():
    path = CC_DATA / "co2_inference/complete/qa_sciq.csv"
    got = _row_at(_parse(path), 2)
    assert _csv_row(path, 2)["emissions_rate"] == "7.05012795758524E-05"
    assert got["emissions_rate_kg_per_s_codecarbon"] == pytest.approx(7.05012795758524e-05, rel=1e-15)


@needs_data
def test_v284_windows_no_gpu_location_change():
    path = CC_DATA / "v2.7plus/greenkode_cc2.8.4_emissions.csv"
    parsed = _parse(path, zone="America/Toronto")
    got = _assert_row(parsed, path, 2, "America/Toronto", "%Y-%m-%dT%H:%M:%S")
    assert _csv_row(path, 2)["gpu_energy"] == "0"                            # integer 0
    assert got["energy_kwh"] == 0.0 and got["gpu_count"] == 0.0 and pd.isna(got["gpu_model"])
    assert got["job_name"] == "CLI Run: test_app.py"
    assert got["cpu_power_w"] == 7.5 and not got["cpu_power_is_tdp_estimate"]
    # location changes mid-file: kept per row, not used for the factor
    with open(path, newline="") as fh:
        countries = [r["country_iso_code"] for r in csv.DictReader(fh)]
    assert parsed.frame["country_iso_code"].tolist() == countries
    assert set(parsed.frame["country_iso_code"]) == {"CAN", "IDN"}


@needs_data
def test_v305_gpu_named_as_given():
    path = CC_DATA / "v2.7plus/fedhenet_cc3.0.5_emissions.csv"
    parsed = _parse(path, zone="Europe/Madrid")
    got = _assert_row(parsed, path, 2, "Europe/Madrid", "%Y-%m-%dT%H:%M:%S")
    # 2025-09-26T12:21:28 CEST (UTC+2)
    assert got["end_utc"] == pd.Timestamp("2025-09-26T10:21:28Z")
    assert got["gpu_count"] == 1.0 and got["gpu_model"] == "NVIDIA GeForce RTX 3080 Ti"
    assert got["energy_kwh"] == pytest.approx(0.0008088659248697, rel=1e-15)
    assert got["experiment_id"] == "5b0fa12a-3dd7-45bb-9766-cc326314d9f1"
    assert got["job_id"] == "d7303a53-154f-45b2-a3c6-5945b959f173"


@needs_data
def test_v325_38_column_file():
    path = CC_DATA / "v2.7plus/green-ops-profiler_cc3.2.5_emissions.csv"
    raw = codecarbon.read_raw(path)
    assert len(raw.columns) == 38 and "water_consumed" in raw.columns and "wue" in raw.columns
    parsed = _parse(path, zone="Africa/Tunis")
    got = _assert_row(parsed, path, 2, "Africa/Tunis", "%Y-%m-%dT%H:%M:%S")
    assert got["gpu_count"] == 0.0 and got["energy_kwh"] == 0.0
    assert pd.isna(got["country_iso_code"]) and pd.isna(got["region"])     # geolocation failed upstream
    assert got["job_name"] == "resnet18"
    assert len(parsed.frame) == 12


@needs_data
def test_cpu_power_42_5_flagged_on_real_file():
    path = CC_DATA / "co2_inference/complete/image_class_imagenet.csv"
    f = _parse(path).frame
    with open(path, newline="") as fh:
        flags = [float(r["cpu_power"]) == 42.5 for r in csv.DictReader(fh)]
    assert all(flags)
    assert f["cpu_power_is_tdp_estimate"].tolist() == flags


# --- synthetic edge cases ------------------------------------------------------------------------------

def test_edge_case_fixture():
    path = FIXTURES / "edge_cases.csv"
    raw = codecarbon.read_raw(path)
    parsed = _parse(path, zone="Europe/London")
    f = parsed.frame
    assert len(raw.frame) == len(f) + len(parsed.folded) + len(parsed.quarantine) == 7
    a = _row_at(parsed, 2)
    # 2026-07-01T10:00:00 BST = 09:00Z; 3600 s; E exponents; 8 x H100 80GB HBM3 (no gpu_count column)
    assert (a["start_utc"], a["end_utc"]) == (pd.Timestamp("2026-07-01T08:00Z"), pd.Timestamp("2026-07-01T09:00Z"))
    assert a["energy_kwh"] == 1.5 and a["cpu_energy_kwh"] == 0.025 and a["energy_consumed_kwh"] == 1.535
    assert (a["gpu_count"], a["gpu_model"], a["gpu_hours"]) == (8.0, "H100-SXM", 8.0)
    assert a["cpu_power_is_tdp_estimate"]
    # repeated run_id = flush snapshots: the later (longer) one kept, the earlier folded into it, energy once
    assert parsed.folded == {1: (2, parsed.folded[1][1])}
    assert f.loc[f["job_id"] == "bbbb-2", "energy_kwh"].tolist() == [1.0]
    # explicit offset honoured: 12:00+02:00 = 10:00Z (not read as London time)
    assert _row_at(parsed, 5)["end_utc"] == pd.Timestamp("2026-07-01T10:00Z")
    assert not _row_at(parsed, 5)["cpu_power_is_tdp_estimate"]
    # day-first text is refused, not guessed
    assert pd.isna(_row_at(parsed, 6)["end_utc"]) and pd.isna(_row_at(parsed, 6)["start_utc"])
    # a mixed host cannot be split safely: kept as given, count unknown
    e = _row_at(parsed, 7)
    assert e["gpu_model"] == "2 x NVIDIA A100-SXM4-40GB1 x Tesla T4" and pd.isna(e["gpu_count"])
    # non-padded hour, space separator: 9:05 BST = 08:05Z
    g = _row_at(parsed, 8)
    assert g["end_utc"] == pd.Timestamp("2026-07-01T08:05Z") and (g["gpu_count"], g["gpu_model"]) == (4.0, "A10G")
    assert g["gpu_hours"] == pytest.approx(4 * 300 / 3600, rel=1e-12)


def test_edge_case_rows_suite_quarantines_unparseable_time(validator):
    parsed = _parse(FIXTURES / "edge_cases.csv", zone="Europe/London")
    params = {"period_start_utc": "2026-07-01T00:00:00+00:00", "period_end_utc": "2026-10-01T00:00:00+00:00"}
    outcome = validator.run("cc", "job.rows", parsed.frame, params)
    assert set(outcome.row_reasons) == {4}        # dddd-4 (01/07/2026 ...) only


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA H100 80GB HBM3", "H100-SXM"), ("NVIDIA A100-SXM4-40GB", "A100-SXM-40GB"),
    ("NVIDIA A100-SXM4-80GB", "A100-SXM-80GB"), ("NVIDIA L40S", "L40S"), ("NVIDIA L4", "L4"),
    ("Tesla T4", "T4"), ("NVIDIA A10G", "A10G"), ("NVIDIA H200", "H200-SXM"),
    ("NVIDIA GeForce RTX 3080 Ti", "NVIDIA GeForce RTX 3080 Ti"), ("NVIDIA A100-PCIE-40GB", "NVIDIA A100-PCIE-40GB"),
    ("", None), (None, None),
])
def test_catalogue_gpu_name(name, expected):
    assert codecarbon.catalogue_gpu_name(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("2023-09-26 16:44:16", "2023-09-26T16:44:16"), ("2023-10-24T22:11:51", "2023-10-24T22:11:51"),
    ("2023-10-06 0:05:27", "2023-10-06T00:05:27"), ("2026-07-01T12:00:00Z", "2026-07-01T12:00:00+00:00"),
    ("2026-07-01T12:00:00.250+0200", "2026-07-01T12:00:00.250+02:00"), ("2026-07-01 12:00", "2026-07-01T12:00:00"),
    ("01/07/2026 12:00:00", None), ("2026-07-01", None), ("2026-07-01 25:00:00", None), ("", None),
])
def test_normalise_timestamp(text, expected):
    assert codecarbon.normalise_timestamp(text) == expected


# --- property: row accounting -------------------------------------------------------------------------

TIMES = st.sampled_from(["2026-07-01T10:00:00", "2026-07-01 9:05:00", "2026-07-01T10:00:00+02:00", "01/07/2026 1:00",
                         "", "garbage", "2026-03-29T01:30:00", "2026-10-25T01:30:00", "9999-99-99T99:99:99"])
NUMS = st.sampled_from(["1", "0", "1.5E-03", "-3", "", "NaN", "x", "1e400", "3600"])
ROW = st.fixed_dictionaries({
    "run_id": st.sampled_from(["r1", "r2", "r3", ""]), "task_name": st.sampled_from(["", "load", "query"]),
    "timestamp": TIMES, "project_name": st.text(alphabet="ab ,:\"", max_size=6), "duration": NUMS,
    "cpu_power": st.sampled_from(["42.5", "7.5", ""]), "cpu_energy": NUMS, "gpu_energy": NUMS, "ram_energy": NUMS,
    "energy_consumed": NUMS, "gpu_count": st.sampled_from(["", "0", "8"]),
    "gpu_model": st.sampled_from(["", "8 x NVIDIA A100-SXM4-80GB", "1 x NVIDIA L4", "2 x A1 x B", "x"]),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=10), task_mode=st.booleans(), ragged=st.booleans())
def test_property_row_accounting(rows, task_mode, ragged):
    header = [c for c in ROW_KEYS if task_mode or c != "task_name"]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "emissions.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in rows:
                w.writerow([r[c] for c in header])
        if ragged and rows:
            text = path.read_text(encoding="utf-8").rstrip("\n")
            path.write_text(text.rsplit(",", 2)[0] + "\n", encoding="utf-8")
        try:
            raw = codecarbon.read_raw(path)
            parsed = codecarbon.to_canonical(raw, source_label="p", site_id="s", site_zone="Europe/London")
        except DisclosureError:
            return
        kept, folded, quar = set(parsed.frame.index), set(parsed.folded), set(parsed.quarantine)
        assert len(raw.frame) == len(kept) + len(folded) + len(quar)
        assert kept | folded | quar == set(raw.frame.index) and not (kept & folded)
        assert all(t in kept for t, _ in parsed.folded.values())


ROW_KEYS = ["task_name", "run_id", "timestamp", "project_name", "duration", "cpu_power", "cpu_energy", "gpu_energy",
            "ram_energy", "energy_consumed", "gpu_count", "gpu_model"]
