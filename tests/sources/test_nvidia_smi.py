"""pipeline/sources/nvidia_smi.py: ``nvidia-smi --query-gpu ... --format=csv`` logs and captures -> POWER frame."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.canonical import POWER
from pipeline.errors import DisclosureError, InputError, ValidationFailed
from pipeline.sources import nvidia_smi

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAPTURES = SHARED_DATA / "nvidia-smi"
FIXTURES = Path(__file__).parent / "fixtures" / "nvidia_smi"
A = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
B = "GPU-bbbbbbbb-1111-2222-3333-444444444444"


def _parse(path: Path, zone: str = "Europe/London"):
    raw = nvidia_smi.read_raw(path)
    return raw, nvidia_smi.to_canonical(raw, source_label=path.name, site_zone=zone)


def _accounting(raw, parsed) -> None:
    """Every raw row is exactly one of: kept, folded, quarantined."""
    kept, folded, quarantined = set(parsed.frame.index), set(parsed.folded), set(parsed.quarantine)
    assert not (kept & folded) and not (kept & quarantined) and not (folded & quarantined)
    assert len(raw.frame) == len(kept) + len(folded) + len(quarantined)
    assert all(target in kept for target, _ in parsed.folded.values())


def _codes(parsed) -> dict[int, list[str]]:
    return {int(i): [c for c, _ in rs] for i, rs in parsed.quarantine.items()}


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# --- plain logs -------------------------------------------------------------------------------------

def test_units_log_by_hand():
    raw, p = _parse(FIXTURES / "units_bst.csv")
    _accounting(raw, p)
    f = p.frame
    assert list(f.columns[:len(POWER)]) == list(POWER)
    # line 5 has power [N/A] and utilisation [Not Supported]: nothing usable -> quarantined
    assert _codes(p) == {3: ["no_measurement"]}
    assert f["source_row"].tolist() == [2, 3, 4]
    # 09:12:53.353 BST (UTC+1 in July) = 08:12:53.353 UTC
    assert f["ts_utc"].tolist() == [_utc("2026-07-14T08:12:53.353Z"), _utc("2026-07-14T08:12:53.360Z"),
                                    _utc("2026-07-14T08:12:58.401Z")]
    # [N/A] power is missing (NaN), never 0; the row is kept for its utilisation
    assert f["power_w"].iloc[0] == 631.95 and f["power_w"].iloc[1] == 118.40 and pd.isna(f["power_w"].iloc[2])
    assert f["utilisation_pct"].tolist() == [100.0, 3.0, 97.0]
    assert f["device_uuid"].tolist() == [A, B, A]
    assert f["gpu_index"].tolist() == ["0", "1", "0"]
    assert set(f["gpu_model"]) == {"NVIDIA H100 80GB HBM3"}
    # no hostname column: the file name stem is the host
    assert set(f["host"]) == {"units_bst"}
    assert f["energy_counter_j"].isna().all()
    assert json.loads(f["labels_json"].iloc[0]) == {"power_field": "power.draw"}


def test_units_and_nounits_give_identical_values():
    _, with_units = _parse(FIXTURES / "units_bst.csv")
    _, no_units = _parse(FIXTURES / "nounits_bst.csv")
    cols = ["source_row", "device_uuid", "gpu_index", "gpu_model", "ts_utc", "power_w", "utilisation_pct",
            "energy_counter_j", "labels_json"]
    pd.testing.assert_frame_equal(with_units.frame[cols], no_units.frame[cols])
    assert _codes(with_units) == _codes(no_units)


def test_parse_quantity_units():
    s = pd.Series(["631.95 W", "631.95", " 631.95 W ", "[N/A]", "[Not Supported]", "631.95 mW", "abc", "1e2 W"],
                  dtype="string")
    out = nvidia_smi.parse_quantity(s, "W").tolist()
    assert out[:3] == [631.95, 631.95, 631.95]
    assert all(pd.isna(v) for v in out[3:7])    # a different unit is not silently taken as W
    assert out[7] == 100.0


def test_local_time_dst_quarantined_not_guessed():
    raw, p = _parse(FIXTURES / "dst_london.csv", zone="Europe/London")
    _accounting(raw, p)
    codes = _codes(p)
    # 25 Oct 2026 01:30 happens twice in London (BST ends 02:00 -> 01:00); 29 Mar 2026 01:30 never happens
    assert codes == {1: ["timestamp_ambiguous_local_time"], 3: ["timestamp_ambiguous_local_time"],
                     5: ["timestamp_unparseable"]}
    f = p.frame
    assert f["power_w"].tolist() == [300.0, 302.0, 304.0]
    assert f["ts_utc"].tolist() == [_utc("2026-10-24T23:59:59Z"),   # 00:59:59 BST, still summer time
                                    _utc("2026-10-25T02:00:00Z"),   # 02:00 GMT
                                    _utc("2026-01-15T12:00:00Z")]   # winter: GMT = UTC
    assert "Europe/London" in p.quarantine[1][0][1]


def test_same_log_other_zone():
    _, p = _parse(FIXTURES / "units_bst.csv", zone="America/New_York")
    assert p.frame["ts_utc"].iloc[0] == _utc("2026-07-14T13:12:53.353Z")   # EDT = UTC-4


def test_repeated_header_quarantined_and_next_header_used():
    raw, p = _parse(FIXTURES / "restarted.csv")
    _accounting(raw, p)
    assert len(raw.frame) == 7                              # lines 2..8
    assert _codes(p) == {2: ["repeated_header"], 6: ["conflicting_duplicate"]}
    assert p.folded[5][0] == 4                              # line 7 repeats line 6 exactly
    f = p.frame
    assert f["source_row"].tolist() == [2, 3, 5, 6]
    # before the restart only power.draw; after it power.draw.instant is preferred, power.draw when instant is [N/A]
    assert f["power_w"].tolist() == [400.0, 410.0, 415.5, 430.0]
    assert [json.loads(x)["power_field"] for x in f["labels_json"]] == \
        ["power.draw", "power.draw", "power.draw.instant", "power.draw"]
    assert set(f["host"]) == {"gpu-node-07"}               # hostname column wins over the file name
    assert any("restarted" in n for n in p.notes)
    assert "power.draw.instant" in raw.columns


def test_power_field_preference():
    raw, p = _parse(FIXTURES / "power_fields.csv", zone="UTC")
    _accounting(raw, p)
    assert p.frame["power_w"].tolist() == [300.0, 200.0, 100.0]    # instant, then draw, then average
    assert _codes(p) == {3: ["no_measurement"]}


def test_missing_device_and_power_columns_stop(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp, name, temperature.gpu\n2026/01/15 12:00:00.000, X, 40\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        _parse(path)
    assert "required column 'uuid' is missing" in str(err.value)
    assert "required column 'power.draw' is missing" in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("2026/01/15 12:00:00.000, 0, 100.00 W\n", "noheader"),
])
def test_unreadable_logs(tmp_path, text, message):
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        nvidia_smi.read_raw(path)
    assert message in str(err.value)


def test_sniff():
    assert nvidia_smi.sniff(["timestamp", "index", "uuid", "power.draw"])
    assert nvidia_smi.sniff(["timestamp", "uuid", "utilization.gpu"])
    assert not nvidia_smi.sniff(["meter_id", "timestamp", "energy", "unit"])
    assert not nvidia_smi.sniff(["timestamp", "power.draw"])


def test_header_suite_matches_required():
    suite = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "expectations" /
                        "nvidia_smi.header.json").read_text(encoding="utf-8"))
    cols = [e["kwargs"]["column"] for e in suite["expectations"]]
    assert cols == nvidia_smi.REQUIRED
    assert all(e["meta"]["reason"] == f"required column '{c}' is missing" for e, c in zip(suite["expectations"], cols))


# --- real captures ----------------------------------------------------------------------------------

def _query_gpu_sections(path: Path) -> dict[str, tuple[int, list[str], list[str]]]:
    """Independent reading: {phase: (data line number, header cells, data cells)} for each query-gpu section."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out = {}
    for n, line in enumerate(lines):
        m = re.match(r"^# (\w+) :: query-gpu \(csv", line)
        if m:
            assert lines[n + 1].startswith("# $ nvidia-smi --query-gpu=") and lines[n + 2].startswith("#####")
            header, data = lines[n + 3].split(", "), lines[n + 4].split(", ")
            assert len(header) == len(data) and not lines[n + 5].strip()   # one GPU, one row
            out[m.group(1)] = (n + 5, header, data)                       # 1-based number of the data line
    return out


def test_h100_capture_load_power_equals_file():
    path = CAPTURES / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt"
    raw, p = _parse(path, zone="UTC")
    _accounting(raw, p)
    assert p.quarantine == {} and len(p.frame) == 2
    sections = _query_gpu_sections(path)
    for phase in ("idle", "load"):
        line_no, header, data = sections[phase]
        row = p.frame[p.frame["source_row"] == line_no]
        assert len(row) == 1
        values = dict(zip(header, data))
        instant = float(re.fullmatch(r"(\d+\.\d+) W", values["power.draw.instant [W]"]).group(1))
        assert row["power_w"].iloc[0] == instant
        util = float(re.fullmatch(r"(\d+) %", values["utilization.gpu [%]"]).group(1))
        assert row["utilisation_pct"].iloc[0] == util
        assert row["gpu_model"].iloc[0] == values["name"]
        assert row["ts_utc"].iloc[0] == pd.Timestamp(values["timestamp"].replace("/", "-"), tz="UTC")
    # the load section, read by hand: gpu-burn at 100 %, 625.68 W instant (631.95 W power.draw, the 1 s average)
    load = p.frame[p.frame["source_row"] == sections["load"][0]].iloc[0]
    assert (load["power_w"], load["utilisation_pct"]) == (625.68, 100.0)
    assert dict(zip(sections["load"][1], sections["load"][2]))["power.draw [W]"] == "631.95 W"
    # hostname is [N/A] in captures: the file stem is the host
    assert set(p.frame["host"]) == {path.stem}
    # this cloud host logs in UTC: the capture's collected_at agrees, no drift note
    assert not any("collected_at" in n for n in p.notes)


def test_mig_capture_one_row_per_physical_gpu():
    path = CAPTURES / "linux-x86_64__nvidia-h100-mig__590.48.01.txt"
    text = path.read_text(encoding="utf-8")
    listing = text.split("# $ nvidia-smi -L\n", 1)[1].split("\n\n", 1)[0]
    mig_devices = re.findall(r"^\s+MIG \S+\s+Device\s+\d+: \(UUID: MIG-", listing, flags=re.M)
    physical = re.findall(r"^GPU \d+: .*\(UUID: (GPU-[0-9a-f-]+)\)", listing, flags=re.M)
    assert len(mig_devices) == 4 and len(physical) == 1
    raw, p = _parse(path, zone="UTC")
    _accounting(raw, p)
    # one row per physical GPU per query-gpu section (idle, load), none per MIG device
    assert len(p.frame) == 2 and p.quarantine == {}
    assert set(p.frame["device_uuid"]) == set(physical)
    assert p.frame["utilisation_pct"].isna().all()          # [N/A] under MIG
    sections = _query_gpu_sections(path)
    load = p.frame[p.frame["source_row"] == sections["load"][0]].iloc[0]
    assert load["power_w"] == float(dict(zip(sections["load"][1], sections["load"][2]))["power.draw.instant [W]"][:-2])
    assert json.loads(load["labels_json"])["mig_mode"] == "Enabled"
    assert any("MIG is enabled" in n for n in p.notes)


def test_windows_capture_local_time():
    path = CAPTURES / "windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.txt"
    collected = pd.Timestamp(re.search(r"^collected_at:\s+(\S+)", path.read_text(encoding="utf-8"),
                                       flags=re.M).group(1))
    raw, p = _parse(path, zone="Europe/Berlin")         # the desktop runs at UTC+2 (CEST) in June
    _accounting(raw, p)
    assert len(p.frame) == 2 and p.quarantine == {}
    assert abs(p.frame["ts_utc"].iloc[0] - collected) < pd.Timedelta(seconds=5)
    assert not any("collected_at" in n for n in p.notes)
    sections = _query_gpu_sections(path)
    load = p.frame[p.frame["source_row"] == sections["load"][0]].iloc[0]
    assert load["power_w"] == float(dict(zip(sections["load"][1], sections["load"][2]))["power.draw.instant [W]"][:-2])
    # the wrong zone is not corrected, but it is reported
    _, wrong = _parse(path, zone="UTC")
    assert any("+2.0 h" in n and "collected_at" in n for n in wrong.notes)


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_every_real_capture_parses(path):
    raw, p = _parse(path, zone="UTC")
    _accounting(raw, p)
    assert nvidia_smi.sniff(raw.columns)
    assert len(raw.frame) == 2 and len(p.frame) == 2 and p.quarantine == {}
    assert p.frame["power_w"].gt(0).all()


def test_capture_with_ansi_and_crlf(tmp_path):
    src = CAPTURES / "linux-x86_64__nvidia-l40s__595.80.txt"
    text = src.read_text(encoding="utf-8")
    header_line = text.split("\n").index(next(l for l in text.split("\n") if l.startswith("timestamp, ")))
    # colour the header and write CRLF: same values and line numbers
    lines = text.split("\n")
    lines[header_line] = "\x1b[1m" + lines[header_line] + "\x1b[0m"
    path = tmp_path / src.name
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    _, p1 = _parse(src, zone="UTC")
    _, p2 = _parse(path, zone="UTC")
    pd.testing.assert_frame_equal(p1.frame.drop(columns="source_file"), p2.frame.drop(columns="source_file"))


# --- property test ----------------------------------------------------------------------------------

_cell = st.sampled_from(["[N/A]", "[Not Supported]", "[Requested functionality has been deprecated]", "", "0",
                         "12.5 W", "12.5", "100 %", "abc", "\"q,uoted\"", "-1"])
_ts = st.sampled_from(["2026/07/14 09:12:53.353", "2026/10/25 01:30:00.000", "2026/03/29 01:30:00.000",
                       "2026/13/45 99:99:99.000", "", "[N/A]", "0001/01/01 00:00:00.000", "2026/01/15 12:00:00"])
_line = st.one_of(
    st.tuples(_ts, st.sampled_from(["0", "1", "", "[N/A]"]), st.sampled_from([A, B, "", "[N/A]"]), _cell, _cell)
    .map(lambda t: ", ".join(t)),
    st.just("timestamp, index, uuid, power.draw [W], utilization.gpu [%]"),
    st.just("timestamp, uuid, power.draw.instant [W]"),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, max_size=12), zone=st.sampled_from(["UTC", "Europe/London"]))
def test_property_rows_accounted(tmp_path, lines, zone):
    path = tmp_path / "prop.csv"
    path.write_text("\n".join(["timestamp, index, uuid, power.draw [W], utilization.gpu [%]", *lines]) + "\n",
                    encoding="utf-8")
    try:
        raw, p = _parse(path, zone=zone)
    except DisclosureError:
        return
    _accounting(raw, p)
    assert p.frame["ts_utc"].notna().all()
    assert (p.frame["power_w"].notna() | p.frame["utilisation_pct"].notna()).all()
