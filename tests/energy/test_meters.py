"""pipeline/energy/meters.py: coverage, gaps listed one by one, optional neighbour-average fill, months and DST."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import Site, config_from_dict
from pipeline.energy import meters as meters_energy
from pipeline.errors import ValidationFailed
from pipeline.period import bounds as period_bounds

T = pd.Timestamp


def _bounds(period="2026-Q3", zone="Europe/London"):
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR", "timezone": zone},
        "period": period,
        "contracts": [{"id": "c", "kind": "cloud", "provider": "aws"}],
        "sources": [{"kind": "focus", "path": "x.csv", "contracts": ["c"]}],
    })
    return period_bounds(cfg)


def _hourly(meter_id: str, start: pd.Timestamp, n: int, kwh: float = 1.0, first_row: int = 2) -> pd.DataFrame:
    starts = pd.date_range(start, periods=n, freq="h", tz="UTC")
    return pd.DataFrame({"source_file": "m.csv", "source_row": range(first_row, first_row + n), "meter_id": meter_id,
                         "site_id": "s1", "interval_start_utc": starts,
                         "interval_end_utc": starts + pd.Timedelta(hours=1), "energy_kwh": kwh, "flags": ""})


def _site(fill="none"):
    return Site(id="s1", grid_zone="GB", pue=1.2, meters=[{"id": "M1", "gap_fill": fill}])


# --- coverage ---------------------------------------------------------------------------------------

def test_meter_coverage_threshold_and_the_gap_listed():
    b = _bounds()
    # Q3 = 92 days = 2208 h; 95 % = 2097.6 h
    assert b.hours == pytest.approx(2208.0, rel=1e-9)
    gaps, fills = meters_energy.check_meter_coverage(_hourly("M1", b.start_utc, 2098), _site(), b, "m.csv")
    # the last 2208 - 2098 = 110 h are missing: 2026-06-30T23:00Z + 2098 h = 2026-09-26T09:00Z
    assert gaps == [{"site": "s1", "meter": "M1", "gap_start_utc": "2026-09-26T09:00:00+00:00",
                     "gap_end_utc": "2026-09-30T23:00:00+00:00", "duration_h": 110.0, "fill_kwh": None,
                     "treatment": "not filled: the gap adds no energy (undercount)"}]
    assert fills.empty
    with pytest.raises(ValidationFailed) as ei:
        meters_energy.check_meter_coverage(_hourly("M1", b.start_utc, 2097), _site(), b, "m.csv")
    # 2097 / 2208 = 94.97 %; last interval ends 2026-06-30T23:00Z + 2097 h = 2026-09-26T08:00Z
    assert ei.value.problems == ["meter M1 at site s1 covers 94.97% of the period "
                                 "(2026-06-30 23:00Z..2026-09-26 08:00Z); at least 95% is needed"]
    assert ei.value.file == "m.csv"


def test_meter_without_readings_fails_coverage():
    b = _bounds()
    site = Site(id="s1", grid_zone="GB", pue=1.2, meters=[{"id": "M1"}, {"id": "M2"}])
    with pytest.raises(ValidationFailed) as ei:
        meters_energy.check_meter_coverage(_hourly("M1", b.start_utc, 2208), site, b, "m.csv")
    assert ei.value.problems == ["meter M2 at site s1 covers 0.00% of the period (no readings); at least 95% is needed"]


def test_full_coverage_no_gaps():
    b = _bounds()
    gaps, fills = meters_energy.check_meter_coverage(_hourly("M1", b.start_utc, 2208), _site(), b, "m.csv")
    assert gaps == [] and fills.empty


# --- gaps and fill ----------------------------------------------------------------------------------

def _with_hole(b, before_kwh=10.0, after_kwh=20.0):
    # hours 0..99 at 10 kWh, hours 100..104 missing (5 h), hours 105..2207 at 20 kWh
    head = _hourly("M1", b.start_utc, 100, kwh=before_kwh)
    tail = _hourly("M1", b.start_utc + pd.Timedelta(hours=105), 2208 - 105, kwh=after_kwh, first_row=102)
    return pd.concat([tail, head], ignore_index=True)    # out of order on purpose


def test_gap_between_readings_listed_with_duration():
    b = _bounds()
    g = meters_energy.meter_gaps(_with_hole(b), b)
    assert len(g) == 1
    assert g.iloc[0]["gap_start_utc"] == b.start_utc + pd.Timedelta(hours=100)
    assert g.iloc[0]["gap_end_utc"] == b.start_utc + pd.Timedelta(hours=105)
    assert g.iloc[0]["duration_h"] == pytest.approx(5.0, rel=1e-12)
    # neighbours: the last hour before (row 101, 10 kWh/h) and the first after (row 102, 20 kWh/h)
    assert (g.iloc[0]["before_kw"], g.iloc[0]["after_kw"]) == (pytest.approx(10.0), pytest.approx(20.0))
    assert (g.iloc[0]["before_row"], g.iloc[0]["after_row"]) == (101, 102)


def test_gap_fill_neighbour_average_is_flagged_and_hand_computed():
    b = _bounds()
    gaps, fills = meters_energy.check_meter_coverage(_with_hole(b), _site("neighbour_average"), b, "m.csv")
    # (10 + 20) / 2 = 15 kWh/h x 5 h = 75 kWh
    assert gaps[0]["fill_kwh"] == pytest.approx(75.0, rel=1e-12)
    assert "flagged meter_gap_filled" in gaps[0]["treatment"]
    assert fills["energy_kwh"].sum() == pytest.approx(75.0, rel=1e-12)
    assert set(fills["flags"]) == {"meter_gap_filled"}
    # the metered total with the fill: 100 x 10 + 2103 x 20 + 75 = 43,135 kWh
    total = _with_hole(b)["energy_kwh"].sum() + fills["energy_kwh"].sum()
    assert total == pytest.approx(1000.0 + 42060.0 + 75.0, rel=1e-12)


def test_overlapping_interval_does_not_hide_or_invent_a_gap():
    b = _bounds()
    m = _hourly("M1", b.start_utc, 2208)
    # a long interval (hours 10-20) reported next to the hourly ones: no gap, and none after it
    long = m.iloc[[10]].assign(interval_end_utc=b.start_utc + pd.Timedelta(hours=20), source_row=9999)
    assert meters_energy.meter_gaps(pd.concat([m, long]), b).empty


def test_fill_across_a_month_edge_is_split_by_time():
    b = _bounds()
    # July ends 2026-07-31T23:00Z (London). Missing: 2026-07-31T21:00Z .. 2026-08-01T01:00Z (4 h: 2 in July, 2 in August)
    gap_start = T("2026-07-31T21:00Z")
    n_before = int((gap_start - b.start_utc) / pd.Timedelta(hours=1))
    head = _hourly("M1", b.start_utc, n_before, kwh=8.0)
    tail = _hourly("M1", gap_start + pd.Timedelta(hours=4), int(b.hours) - n_before - 4, kwh=8.0, first_row=n_before + 2)
    _gaps, fills = meters_energy.check_meter_coverage(pd.concat([head, tail]), _site("neighbour_average"), b, "m.csv")
    months = meters_energy.meter_months(fills, _site(), b).groupby("month")["energy_kwh"].sum()
    # 8 kWh/h x 2 h each side of the month edge
    assert months.to_dict() == {"2026-07": pytest.approx(16.0), "2026-08": pytest.approx(16.0)}


def test_edge_gap_fill_uses_the_one_neighbour():
    b = _bounds()
    m = _hourly("M1", b.start_utc + pd.Timedelta(hours=3), 2205, kwh=6.0)
    gaps, fills = meters_energy.check_meter_coverage(m, _site("neighbour_average"), b, "m.csv")
    # the first 3 h of the period are missing; only the interval after exists: 6 kWh/h x 3 h = 18 kWh
    assert [g["duration_h"] for g in gaps] == [3.0]
    assert gaps[0]["fill_kwh"] == pytest.approx(18.0, rel=1e-12)


# --- months and DST ---------------------------------------------------------------------------------

def test_autumn_dst_day_has_25_hours_of_readings_and_no_gap():
    """2026-10-25 in London: clocks go back at 02:00 BST -> 01:00 GMT, so the local day has 25 hours.

    Hourly readings at 2 kWh each for the whole of Q4 (92 days = 2208 h + 1 h for the DST change = 2209 h):
    the 25-hour day totals 50 kWh and October 744 h + 1 = 745 h -> 1,490 kWh."""
    b = _bounds("2026-Q4")
    assert b.hours == pytest.approx(2209.0, rel=1e-12)
    m = _hourly("M1", b.start_utc, 2209, kwh=2.0)
    gaps, _ = meters_energy.check_meter_coverage(m, _site(), b, "m.csv")
    assert gaps == []
    mm = meters_energy.meter_months(m, _site(), b)
    by_month = mm.groupby("month")["energy_kwh"].sum().to_dict()
    assert by_month == {"2026-10": pytest.approx(1490.0), "2026-11": pytest.approx(1440.0),
                        "2026-12": pytest.approx(1488.0)}
    local_day = mm["interval_start_utc"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m-%d")
    assert mm.loc[local_day == "2026-10-25", "energy_kwh"].sum() == pytest.approx(50.0, rel=1e-12)


def test_spring_dst_day_has_23_hours():
    """2026-03-29 in London: clocks go forward at 01:00 GMT -> 02:00 BST; 23 hourly readings that day."""
    b = _bounds("2026-Q1")
    m = _hourly("M1", b.start_utc, int(b.hours), kwh=3.0)
    mm = meters_energy.meter_months(m, _site(), b)
    local_day = mm["interval_start_utc"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m-%d")
    assert mm.loc[local_day == "2026-03-29", "energy_kwh"].sum() == pytest.approx(69.0, rel=1e-12)  # 23 x 3
    # Q1 2026: 90 days x 24 - 1 = 2159 h
    assert b.hours == pytest.approx(2159.0, rel=1e-12)
