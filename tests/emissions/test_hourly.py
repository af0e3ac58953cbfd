"""pipeline/emissions/hourly.py: hourly splitting, hourly location-based emissions, hourly matching, comparison.

Every expected value is worked out by hand in the comments next to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canonical import GRID_INTENSITY, INSTRUMENT_HOURLY, conform
from pipeline.emissions import hourly
from pipeline.sources import certificate_generation_hourly, grid_intensity_hourly

FIXTURES = Path(__file__).resolve().parents[1] / "sources" / "fixtures"


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _intensity(zone: str, by_hour: dict[str, float], lifecycle: dict[str, float] | None = None,
               estimated: set[str] = frozenset()) -> pd.DataFrame:
    """GRID_INTENSITY rows: {iso hour: kg/kWh} direct, optional lifecycle-only hours."""
    rows = [{"source_file": "ci.csv", "source_row": n + 2, "zone": zone, "hour_start_utc": T(h),
             "ci_direct_kg_per_kwh": v, "ci_lifecycle_kg_per_kwh": np.nan, "estimated": h in estimated}
            for n, (h, v) in enumerate(by_hour.items())]
    rows += [{"source_file": "ci.csv", "source_row": 900 + n, "zone": zone, "hour_start_utc": T(h),
              "ci_direct_kg_per_kwh": np.nan, "ci_lifecycle_kg_per_kwh": v, "estimated": False}
             for n, (h, v) in enumerate((lifecycle or {}).items())]
    return conform(pd.DataFrame(rows), GRID_INTENSITY)


def _day_profile() -> pd.DataFrame:
    """GB on 2026-07-01: 0.100 kg/kWh 00-05h, 0.200 06-11h, 0.300 12-17h, 0.200 18-23h (UTC)."""
    ci = {}
    for h in range(24):
        ci[f"2026-07-01T{h:02d}:00:00Z"] = 0.100 if h < 6 else 0.300 if 12 <= h < 18 else 0.200
    return _intensity("GB", ci)


def _generation(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame([{"source_file": "g.csv", "source_row": n + 2, "instrument_id": i, "hour_start_utc": T(h),
                           "energy_kwh": kwh, "unit_known": True} for n, (i, h, kwh) in enumerate(rows)])
    return conform(frame, INSTRUMENT_HOURLY)


def _runs() -> pd.DataFrame:
    """A 100 kW training run for 4 hours, once at night (site 'night') and once at midday (site 'noon')."""
    return pd.DataFrame({
        "site_id": ["night", "noon"],
        "start": [T("2026-07-01T00:00:00Z"), T("2026-07-01T12:00:00Z")],
        "end": [T("2026-07-01T04:00:00Z"), T("2026-07-01T16:00:00Z")],
        "energy_kwh": [400.0, 400.0],                     # 100 kW x 4 h
    })


def _hours_of(frame: pd.DataFrame, **kw) -> pd.DataFrame:
    return hourly.to_hours(frame, start_col="start", end_col="end", energy_col="energy_kwh", **kw)


# --- to_hours -------------------------------------------------------------------------------------------

def test_ninety_minute_interval_split_by_time():
    iv = pd.DataFrame({"site_id": ["s1"], "start": [T("2026-07-01T10:30:00Z")], "end": [T("2026-07-01T12:00:00Z")],
                       "energy_kwh": [90.0]})
    out = _hours_of(iv, keys=["site_id"])
    # 10:30-11:00 is 30 of 90 minutes -> 30 kWh; 11:00-12:00 is 60 of 90 -> 60 kWh
    assert out["hour_start_utc"].tolist() == [T("2026-07-01T10:00:00Z"), T("2026-07-01T11:00:00Z")]
    assert out["energy_kwh"].tolist() == [pytest.approx(30.0, rel=1e-12), pytest.approx(60.0, rel=1e-12)]
    assert out.columns.tolist() == ["site_id", "hour_start_utc", "energy_kwh"]


def test_two_hour_interval_over_three_clock_hours():
    iv = pd.DataFrame({"start": [T("2026-07-01T09:20:00Z")], "end": [T("2026-07-01T11:20:00Z")], "energy_kwh": [120.0]})
    out = _hours_of(iv)
    # 120 kWh over 120 minutes = 1 kWh/min: 09:20-10:00 40, 10:00-11:00 60, 11:00-11:20 20
    assert out["energy_kwh"].tolist() == [pytest.approx(v, rel=1e-12) for v in (40.0, 60.0, 20.0)]


def test_quarter_hour_meter_intervals_add_up_per_hour():
    starts = pd.date_range("2026-07-01T10:00:00Z", periods=6, freq="15min")
    iv = pd.DataFrame({"meter": "M1", "start": starts, "end": starts + pd.Timedelta(minutes=15),
                       "energy_kwh": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    out = _hours_of(iv, keys=["meter"])
    # 10:00 = 1+2+3+4 = 10 kWh; 11:00 = 5+6 = 11 kWh
    assert out["energy_kwh"].tolist() == [pytest.approx(10.0, rel=1e-12), pytest.approx(11.0, rel=1e-12)]


def test_dst_interval_is_split_in_utc_not_wall_clock():
    # 2026-10-25 Europe/London: 00:30+01:00 (23:30Z) to 01:30+00:00 (01:30Z) is 2 hours, though the wall
    # clock moved only 1 hour. 20 kWh over 120 min: 23:00Z 30 min -> 5, 00:00Z 60 min -> 10, 01:00Z 30 min -> 5
    iv = pd.DataFrame({"start": [T("2026-10-25T00:30:00+01:00")], "end": [T("2026-10-25T01:30:00+00:00")],
                       "energy_kwh": [20.0]})
    out = _hours_of(iv)
    assert out["hour_start_utc"].tolist() == [T("2026-10-24T23:00:00Z"), T("2026-10-25T00:00:00Z"),
                                              T("2026-10-25T01:00:00Z")]
    assert out["energy_kwh"].tolist() == [pytest.approx(v, rel=1e-12) for v in (5.0, 10.0, 5.0)]


def test_zero_length_interval_and_bad_input():
    iv = pd.DataFrame({"start": [T("2026-07-01T10:20:00Z")], "end": [T("2026-07-01T10:20:00Z")], "energy_kwh": [3.0]})
    out = _hours_of(iv)
    assert out["energy_kwh"].tolist() == [3.0] and out["hour_start_utc"].tolist() == [T("2026-07-01T10:00:00Z")]
    backwards = iv.assign(end=[T("2026-07-01T10:00:00Z")])
    with pytest.raises(ValueError, match="end before they start"):
        _hours_of(backwards)
    naive = pd.DataFrame({"start": [pd.Timestamp("2026-07-01 10:00")], "end": [pd.Timestamp("2026-07-01 11:00")],
                          "energy_kwh": [1.0]})
    with pytest.raises(TypeError, match="timezone-aware"):
        _hours_of(naive)


_MIN = 60_000_000_000  # ns


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5 * 24 * 60), st.integers(0, 3 * 24 * 60),
                          st.floats(0, 1e6, allow_nan=False)), min_size=1, max_size=20))
def test_to_hours_preserves_each_interval_energy(items):
    base = T("2026-03-29T00:07:00Z").value
    iv = pd.DataFrame({
        "job": [f"j{n}" for n in range(len(items))],
        "start": pd.to_datetime([base + a * _MIN for a, _, _ in items], utc=True),
        "end": pd.to_datetime([base + (a + d) * _MIN for a, d, _ in items], utc=True),
        "energy_kwh": [e for _, _, e in items]})
    out = _hours_of(iv, keys=["job"])
    got = out.groupby("job")["energy_kwh"].sum()
    for n, (_, _, e) in enumerate(items):
        assert got[f"j{n}"] == pytest.approx(e, rel=1e-12, abs=1e-9)
    assert (out["hour_start_utc"] == out["hour_start_utc"].dt.floor("h")).all()
    assert (out["energy_kwh"] >= -1e-9).all()


# --- hourly_location ------------------------------------------------------------------------------------

def test_night_run_versus_midday_run():
    energy_h = _hours_of(_runs(), keys=["site_id"])
    res = hourly.hourly_location(energy_h, _day_profile(), zone_of={"night": "GB", "noon": "GB"})
    assert res.missing.empty
    by_site = res.hourly.groupby("site_id")["emissions_kg_co2e"].sum()
    # night: 4 h x 100 kWh x 0.100 = 40 kg; midday: 4 h x 100 kWh x 0.300 = 120 kg
    assert by_site["night"] == pytest.approx(40.0, rel=1e-12)
    assert by_site["noon"] == pytest.approx(120.0, rel=1e-12)
    # provenance: each hour names the intensity row it used (12:00Z is the 13th hour -> line 14)
    noon12 = res.hourly[(res.hourly["site_id"] == "noon") & (res.hourly["hour_start_utc"] == T("2026-07-01T12:00Z"))]
    assert noon12["ci_source_row"].tolist() == [14] and noon12["ci_source_file"].tolist() == ["ci.csv"]

    cmp = hourly.compare_annual(res, annual_kg_per_kwh={"GB": 0.200}).set_index("site_id")
    # annual factor: 400 kWh x 0.200 = 80 kg for both runs
    assert cmp.loc["night", "annual_emissions_kg_co2e"] == pytest.approx(80.0, rel=1e-12)
    assert cmp.loc["noon", "annual_emissions_kg_co2e"] == pytest.approx(80.0, rel=1e-12)
    # night 40 - 80 = -40 kg (-50 %); midday 120 - 80 = +40 kg (+50 %)
    assert cmp.loc["night", "difference_kg_co2e"] == pytest.approx(-40.0, rel=1e-12)
    assert cmp.loc["night", "difference_pct"] == pytest.approx(-50.0, rel=1e-12)
    assert cmp.loc["noon", "difference_kg_co2e"] == pytest.approx(40.0, rel=1e-12)
    assert cmp.loc["noon", "difference_pct"] == pytest.approx(50.0, rel=1e-12)
    assert cmp.loc["noon", "month"] == "2026-07"
    assert cmp.loc["noon", "energy_kwh"] == pytest.approx(400.0, rel=1e-12)
    assert cmp["kwh_without_hourly_intensity"].tolist() == [0.0, 0.0]
    assert cmp["flags"].tolist() == ["", ""]


def test_missing_hours_are_reported_not_invented():
    ci = _day_profile()
    ci = ci[ci["hour_start_utc"] != T("2026-07-01T03:00:00Z")]                 # 03:00Z absent
    ci = pd.concat([ci[ci["hour_start_utc"] != T("2026-07-01T02:00:00Z")],     # 02:00Z lifecycle only
                    _intensity("GB", {}, lifecycle={"2026-07-01T02:00:00Z": 0.150})], ignore_index=True)
    energy_h = _hours_of(_runs().iloc[[0]], keys=["site_id"])
    res = hourly.hourly_location(energy_h, ci, zone_of={"night": "GB"})
    assert res.hourly["hour_start_utc"].tolist() == [T("2026-07-01T00:00Z"), T("2026-07-01T01:00Z")]
    assert res.missing["hour_start_utc"].tolist() == [T("2026-07-01T02:00Z"), T("2026-07-01T03:00Z")]
    assert res.missing["reason"].tolist() == [
        "only a lifecycle intensity for this zone and hour (not usable for Scope 2)",
        "no hourly intensity for this zone and hour"]
    assert res.missing["flags"].tolist() == ["hourly_intensity_missing"] * 2
    assert res.missing["energy_kwh"].sum() == pytest.approx(200.0, rel=1e-12)

    cmp = hourly.compare_annual(res, annual_kg_per_kwh=0.200).iloc[0]
    # hourly: 2 h x 100 x 0.100 = 20 kg + 2 missing h x 100 x 0.200 (annual) = 40 kg -> 60 kg; annual 80 kg
    assert cmp["hourly_emissions_kg_co2e"] == pytest.approx(60.0, rel=1e-12)
    assert cmp["kwh_without_hourly_intensity"] == pytest.approx(200.0, rel=1e-12)
    assert cmp["difference_kg_co2e"] == pytest.approx(-20.0, rel=1e-12)
    assert cmp["difference_pct"] == pytest.approx(-25.0, rel=1e-12)
    assert cmp["flags"] == "hourly_intensity_missing"


def test_estimated_hours_flagged_and_zone_matched_ignoring_case():
    ci = _intensity("gb", {"2026-07-01T00:00:00Z": 0.1, "2026-07-01T01:00:00Z": 0.2},
                    estimated={"2026-07-01T01:00:00Z"})
    energy_h = pd.DataFrame({"zone_col": ["GB", "GB"],
                             "hour_start_utc": [T("2026-07-01T00:00Z"), T("2026-07-01T01:00Z")],
                             "energy_kwh": [10.0, 10.0]})
    res = hourly.hourly_location(energy_h, ci, zone_of="zone_col")
    assert res.hourly["flags"].tolist() == ["", "hourly_intensity_estimated"]
    # 10 x 0.1 + 10 x 0.2 = 3 kg
    assert res.hourly["emissions_kg_co2e"].sum() == pytest.approx(3.0, rel=1e-12)


def test_dst_day_through_the_adapters():
    # intensities from the plain-CSV fixture: 23:00Z 0.200, 00:00Z 0.210, 01:00Z 0.220 (direct), 02:00Z 0.230
    raw = grid_intensity_hourly.read_raw(FIXTURES / "grid_intensity_hourly" / "plain_london_dst.csv")
    ci = grid_intensity_hourly.to_canonical(raw, source_label="dst.csv").frame
    # hourly meter readings in local time with their offsets: 10 kWh in each of 4 consecutive real hours
    starts = pd.to_datetime(["2026-10-25T00:00:00+01:00", "2026-10-25T01:00:00+01:00",
                             "2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00"], utc=True)
    meter = pd.DataFrame({"site_id": "lon", "start": starts, "end": starts + pd.Timedelta(hours=1), "energy_kwh": 10.0})
    energy_h = _hours_of(meter, keys=["site_id"])
    assert len(energy_h) == 4                          # local 01:00 twice = two UTC hours, nothing merged
    res = hourly.hourly_location(energy_h, ci, zone_of={"lon": "GB"})
    # 10 x (0.200 + 0.210 + 0.220 + 0.230) = 8.6 kg; the lifecycle 0.250 at 01:00Z is not used
    assert res.hourly["emissions_kg_co2e"].sum() == pytest.approx(8.6, rel=1e-12)
    assert res.missing.empty


def test_location_input_errors():
    ci = _day_profile()
    off = pd.DataFrame({"site_id": ["s"], "hour_start_utc": [T("2026-07-01T00:30Z")], "energy_kwh": [1.0]})
    with pytest.raises(ValueError, match="not UTC hour starts"):
        hourly.hourly_location(off, ci, zone_of={"s": "GB"})
    ok = off.assign(hour_start_utc=[T("2026-07-01T00:00Z")])
    with pytest.raises(ValueError, match="no grid zone for site_id value"):
        hourly.hourly_location(ok, ci, zone_of={"other": "GB"})
    with pytest.raises(ValueError, match="duplicated zone-hour"):
        hourly.hourly_location(ok, pd.concat([ci, ci.iloc[[0]]], ignore_index=True), zone_of={"s": "GB"})


# --- hourly_market --------------------------------------------------------------------------------------

def test_ppa_at_noon_does_not_cover_a_night_run():
    raw = certificate_generation_hourly.read_raw(FIXTURES / "instrument_hourly" / "ppa_solar_noon.csv")
    gen = certificate_generation_hourly.to_canonical(raw, source_label="ppa.csv").frame   # 10:00-13:00Z
    energy_h = _hours_of(_runs().iloc[[0]], keys=["site_id"])                              # 00:00-03:00Z
    res = hourly.hourly_market(energy_h, gen, instruments_of={"night": ["PPA-SOLAR-1"]}, residual_kg_per_kwh=0.350)
    assert res.hourly["matched_kwh"].sum() == 0.0
    site = res.sites.set_index("site_id").loc["night"]
    # 400 kWh unmatched x 0.350 residual = 140 kg
    assert site["emissions_kg_co2e"] == pytest.approx(140.0, rel=1e-12)
    assert site["cfe_score"] == 0.0 and site["unmatched_basis"] == "residual_mix" and site["flags"] == ""
    inst = res.instruments.set_index("instrument_id").loc["PPA-SOLAR-1"]
    # 50 + 80 + 120 + 90 = 340 kWh generated, none used, none carried to the night
    assert inst["generation_kwh"] == pytest.approx(340.0, rel=1e-12)
    assert inst["unused_kwh"] == pytest.approx(340.0, rel=1e-12)
    # the same run at midday (12:00-16:00Z) is covered at 12:00 (120 of 100 -> 100) and 13:00 (90 of 100)
    noon = _hours_of(_runs().iloc[[1]], keys=["site_id"])
    res2 = hourly.hourly_market(noon, gen, instruments_of={"noon": ["PPA-SOLAR-1"]}, residual_kg_per_kwh=0.350)
    s2 = res2.sites.iloc[0]
    # matched 100 + 90 = 190 of 400 kWh -> CFE 0.475; unmatched 210 x 0.350 = 73.5 kg
    assert s2["matched_kwh"] == pytest.approx(190.0, rel=1e-12)
    assert s2["cfe_score"] == pytest.approx(0.475, rel=1e-12)
    assert s2["emissions_kg_co2e"] == pytest.approx(73.5, rel=1e-12)
    # unused: 50 (10:00) + 80 (11:00) + 20 (excess at 12:00) = 150 kWh
    assert res2.instruments.iloc[0]["unused_kwh"] == pytest.approx(150.0, rel=1e-12)


def test_excess_generation_is_not_carried_to_later_hours():
    energy_h = pd.DataFrame({"site_id": "s1", "hour_start_utc": [T(f"2026-07-01T0{h}:00Z") for h in (1, 2, 3)],
                             "energy_kwh": [100.0, 100.0, 100.0]})
    gen = _generation([("P", "2026-07-01T01:00Z", 60.0), ("P", "2026-07-01T02:00Z", 150.0)])
    res = hourly.hourly_market(energy_h, gen, instruments_of={"s1": ["P"]}, residual_kg_per_kwh=0.400)
    # hour 1: min(100, 60) = 60; hour 2: min(100, 150) = 100 (50 excess); hour 3: min(100, 0) = 0
    assert res.hourly["matched_kwh"].tolist() == [pytest.approx(60.0), pytest.approx(100.0), 0.0]
    # CFE 160 / 300; emissions: unmatched 40 + 0 + 100 = 140 kWh x 0.400 = 56 kg
    assert res.cfe_score == pytest.approx(160 / 300, rel=1e-12)
    assert res.sites.iloc[0]["emissions_kg_co2e"] == pytest.approx(56.0, rel=1e-12)
    assert res.instruments.iloc[0]["unused_kwh"] == pytest.approx(50.0, rel=1e-12)


def test_shared_instrument_split_pro_rata_and_rates():
    energy_h = pd.DataFrame({"site_id": ["a", "b", "b"], "project": ["x", "y", "z"],
                             "hour_start_utc": [T("2026-07-01T12:00Z")] * 3, "energy_kwh": [30.0, 60.0, 30.0]})
    gen = _generation([("P1", "2026-07-01T12:00Z", 40.0), ("P2", "2026-07-01T12:00Z", 20.0)])
    res = hourly.hourly_market(energy_h, gen, instruments_of={"a": ["P1", "P2"], "b": ["P2", "P1"]},
                               residual_kg_per_kwh={"a": 0.5, "b": 0.5},
                               instrument_kg_per_kwh={"P1": 0.0, "P2": 0.030})
    # pool consumption 120, generation 60 -> matched 60 = half of every row: a/x 15, b/y 30, b/z 15
    assert res.hourly["matched_kwh"].tolist() == [pytest.approx(v, rel=1e-12) for v in (15.0, 30.0, 15.0)]
    # pool rate: (40 x 0 + 20 x 0.030) / 60 = 0.01 kg/kWh; a: 15 x 0.01 + 15 x 0.5 = 7.65 kg
    a = res.sites.set_index("site_id").loc["a"]
    assert a["emissions_kg_co2e"] == pytest.approx(7.65, rel=1e-12)
    assert a["instruments"] == "P1+P2"
    assert res.hourly["project"].tolist() == ["x", "y", "z"]
    assert res.instruments.set_index("instrument_id")["sites"].tolist() == ["a;b", "a;b"]
    with pytest.raises(ValueError, match="different instrument sets"):
        hourly.hourly_market(energy_h, gen, instruments_of={"a": ["P1"], "b": ["P1", "P2"]}, residual_kg_per_kwh=0.5)


def test_fallback_when_no_residual_mix_is_flagged():
    energy_h = pd.DataFrame({"site_id": ["s1", "s2"], "hour_start_utc": [T("2026-07-01T00:00Z")] * 2,
                             "energy_kwh": [10.0, 10.0]})
    empty = _generation([])
    res = hourly.hourly_market(energy_h, empty, instruments_of={}, residual_kg_per_kwh={"s1": 0.4, "s2": None},
                               fallback_kg_per_kwh=0.2)
    s = res.sites.set_index("site_id")
    # s1 residual 10 x 0.4 = 4 kg; s2 fallback 10 x 0.2 = 2 kg, flagged
    assert s.loc["s1", "emissions_kg_co2e"] == pytest.approx(4.0, rel=1e-12) and s.loc["s1", "flags"] == ""
    assert s.loc["s2", "emissions_kg_co2e"] == pytest.approx(2.0, rel=1e-12)
    assert s.loc["s2", "flags"] == "mb_grid_average_fallback" and s.loc["s2", "unmatched_basis"] == "fallback"
    with pytest.raises(ValueError, match="no residual mix and no fallback"):
        hourly.hourly_market(energy_h, empty, instruments_of={}, residual_kg_per_kwh=None)
