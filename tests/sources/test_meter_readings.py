"""pipeline/sources/meter_readings.py: interval meter readings CSV -> canonical meter frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import config_from_dict
from pipeline.errors import ValidationFailed
from pipeline.sources import meter_readings


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("meter_id,timestamp,energy,unit\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cfg(tmp_path: Path, path: str, meters=("M1", "M2"), other_site_meters=(), interval: int = 60):
    sites = [{"id": "s1", "grid_zone": "GB", "timezone": "Europe/London", "pue": 1.2,
              "meters": [{"id": m} for m in meters]}]
    if other_site_meters:
        sites.append({"id": "s2", "grid_zone": "DE", "pue": 1.3, "meters": [{"id": m} for m in other_site_meters]})
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR",
                   "timezone": "Europe/London"},
        "period": "2026-Q3",
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "Colo", "site": "s1"}],
        "sites": sites,
        "sources": [{"id": "meters", "kind": "meter_readings", "path": path, "site": "s1",
                     "interval_minutes": interval}],
    }, base_dir=tmp_path)


def _canon(path: Path, interval: int = 60):
    return meter_readings.to_canonical(meter_readings.read_raw(path), source_label=path.name,
                                       meter_sites={"M1": "s1", "M2": "s1"}, interval_minutes=interval).frame


def test_unit_conversion(tmp_path):
    p = _write(tmp_path / "m.csv", [
        "M1,2026-07-01T00:00:00+01:00,1500,Wh",      # 1500 Wh = 1.5 kWh
        "M1,2026-07-01T01:00:00+01:00,2.25,kWh",     # 2.25 kWh
        "M1,2026-07-01T02:00:00+01:00,0.004,MWh",    # 0.004 MWh = 4 kWh
        "M1,2026-07-01T03:00:00+01:00,7200000,J",    # 7.2e6 J / 3.6e6 J/kWh = 2 kWh
        "M1,2026-07-01T04:00:00+01:00,36000,kJ",     # 36000 kJ / 3600 kJ/kWh = 10 kWh
        "M1,2026-07-01T05:00:00+01:00,18,MJ",        # 18 MJ / 3.6 MJ/kWh = 5 kWh
        "M1,2026-07-01T06:00:00+01:00,3,KWH",        # case-insensitive: 3 kWh
    ])
    frame = _canon(p)
    assert frame["energy_kwh"].tolist() == [pytest.approx(v, rel=1e-9) for v in (1.5, 2.25, 4.0, 2.0, 10.0, 5.0, 3.0)]
    assert frame["unit_known"].all()


def test_interval_bounds_in_utc(tmp_path):
    p = _write(tmp_path / "m.csv", ["M1,2026-07-01T00:00:00+01:00,1,kWh", "M1,2026-07-01T00:15:00Z,1,kWh"])
    frame = _canon(p, interval=15)
    # 00:00+01:00 = 2026-06-30T23:00Z; 15-minute interval ends 23:15Z
    assert frame["interval_start_utc"].tolist() == [pd.Timestamp("2026-06-30T23:00:00Z"),
                                                    pd.Timestamp("2026-07-01T00:15:00Z")]
    assert frame["interval_end_utc"].tolist() == [pd.Timestamp("2026-06-30T23:15:00Z"),
                                                  pd.Timestamp("2026-07-01T00:30:00Z")]
    assert frame["site_id"].tolist() == ["s1", "s1"]


def test_row_quarantine_reasons_and_accounting(tmp_path, ingest):
    _write(tmp_path / "m.csv", [
        "M1,2026-07-01T00:00:00+01:00,10,kWh",     # line 2: ok
        "M1,2026-07-01T01:00:00,10,kWh",           # line 3: no offset -> quarantined
        "M1,2026-07-01T02:00:00+01:00,10,BTU",     # line 4: unknown unit
        "M1,2026-07-01T03:00:00+01:00,-5,kWh",     # line 5: negative
        "M1,2026-07-01T00:00:00+01:00,99,kWh",     # line 6: duplicate of line 2 -> second copy quarantined
        "M2,2026-07-01T00:00:00+01:00,abc,kWh",    # line 7: not a number
        "M2,2026-07-01T00:00:00+01:00,5000,Wh",    # line 8: ok (other meter, same interval)
    ])
    ing = ingest(_cfg(tmp_path, "m.csv"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (7, 2, 5)
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    kept = ing.frame.set_index("source_row")
    assert sorted(kept.index) == [2, 8]
    # first copy kept with its own value (10 kWh), not the duplicate's 99
    assert kept.loc[2, "energy_kwh"] == pytest.approx(10.0, rel=1e-9)
    assert kept.loc[8, "energy_kwh"] == pytest.approx(5.0, rel=1e-9)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
    # each reason names the raw column and the value found there
    assert reasons[3] == ("timestamp is missing, unparseable or has no UTC offset (give e.g. 2026-07-01T00:00:00+01:00)"
                          " (timestamp = '2026-07-01T01:00:00')")
    assert reasons[4] == "unit is not one of Wh, kWh, MWh, J, kJ, MJ (unit = 'BTU')"
    assert reasons[5] == "energy is negative (energy = '-5')"
    assert reasons[6] == "duplicate reading for the same meter and interval (first kept)"
    assert reasons[7] == "energy is missing or not a number (energy = 'abc')"
    # the quarantine file shows the original text
    assert q.set_index(q["source_row"].astype(int)).loc[3, "timestamp"] == "2026-07-01T01:00:00"
    dup = [f for f in r.failed_expectations if f.expectation == "duplicate_reading"]
    assert len(dup) == 1 and dup[0].unexpected_count == 1


def test_duplicate_of_a_quarantined_row_is_not_a_duplicate(tmp_path, ingest):
    _write(tmp_path / "m.csv", [
        "M1,2026-07-01T00:00:00+01:00,-1,kWh",     # line 2: negative -> quarantined
        "M1,2026-07-01T00:00:00+01:00,4,kWh",      # line 3: the only valid reading for the interval: kept
    ])
    ing = ingest(_cfg(tmp_path, "m.csv"))
    assert ing.frame["source_row"].tolist() == [3]
    assert ing.report.rows_quarantined == 1


def test_reading_outside_period_quarantined(tmp_path, ingest):
    _write(tmp_path / "m.csv", [
        "M1,2026-06-30T23:00:00+01:00,1,kWh",   # 22:00Z: before the London period start (23:00Z)
        "M1,2026-06-30T23:00:00Z,1,kWh",        # exactly the start: kept
        "M1,2026-10-01T00:00:00+01:00,1,kWh",   # 2026-09-30T23:00Z: the exclusive end -> out
    ])
    ing = ingest(_cfg(tmp_path, "m.csv"))
    assert ing.frame["source_row"].tolist() == [3]


def test_meter_not_in_config_stops(tmp_path, ingest):
    _write(tmp_path / "m.csv", ["M1,2026-07-01T00:00:00+01:00,1,kWh", "M9,2026-07-01T00:00:00+01:00,1,kWh"])
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "m.csv"))
    assert "M9" in ei.value.message and "not listed under any site" in ei.value.message
    assert ei.value.file == "m.csv"


def test_meter_of_another_site_stops(tmp_path, ingest):
    _write(tmp_path / "m.csv", ["M1,2026-07-01T00:00:00+01:00,1,kWh", "X1,2026-07-01T00:00:00+01:00,1,kWh"])
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "m.csv", other_site_meters=("X1",)))
    assert "X1" in ei.value.message and "'s1'" in ei.value.message


def test_missing_column_stops(tmp_path, ingest):
    (tmp_path / "m.csv").write_text("meter,timestamp,energy,unit\nM1,2026-07-01T00:00:00Z,1,kWh\n")
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "m.csv"))
    assert any("'meter_id'" in p and "found 'meter'" in p for p in ei.value.problems)
