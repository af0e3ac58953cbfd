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


# --- cumulative registers -------------------------------------------------------------------------------

def _register(path: Path, rollover=None):
    return meter_readings.to_canonical(meter_readings.read_raw(path), source_label=path.name,
                                       meter_sites={"M1": "s1", "M2": "s1"}, interval_minutes=60,
                                       register="cumulative", rollover_kwh=rollover)


def test_register_readings_become_intervals_out_of_order_ok(tmp_path):
    p = _write(tmp_path / "r.csv", [
        "M1,2026-07-01T02:00:00+01:00,1250,kWh",   # line 2 (out of order)
        "M1,2026-07-01T00:00:00+01:00,1000,kWh",   # line 3: opening reading
        "M1,2026-07-01T01:00:00+01:00,1100,kWh",   # line 4
    ])
    parsed = _register(p)
    fr = parsed.frame.set_index("source_row")
    # 00:00 -> 01:00: 1100 - 1000 = 100 kWh; 01:00 -> 02:00: 1250 - 1100 = 150 kWh
    assert fr.loc[4, "energy_kwh"] == pytest.approx(100.0, rel=1e-12)
    assert fr.loc[2, "energy_kwh"] == pytest.approx(150.0, rel=1e-12)
    assert str(fr.loc[2, "interval_start_utc"]) == "2026-07-01 00:00:00+00:00"   # 01:00 BST
    assert str(fr.loc[2, "interval_end_utc"]) == "2026-07-01 01:00:00+00:00"
    assert list(parsed.folded) == [1] and parsed.folded[1][1] == "opening register reading of the meter"


def test_register_reset_and_rollover(tmp_path):
    p = _write(tmp_path / "r.csv", [
        "M1,2026-07-01T00:00:00Z,99990,kWh",
        "M1,2026-07-01T01:00:00Z,99998,kWh",
        "M1,2026-07-01T02:00:00Z,5,kWh",           # went down
    ])
    reset = _register(p).frame.set_index("source_row")
    # without a rollover value: a reset to zero -> 5 kWh, flagged
    assert reset.loc[4, "energy_kwh"] == pytest.approx(5.0, rel=1e-12)
    assert reset.loc[4, "flags"] == "meter_register_reset"
    roll = _register(p, rollover=100000.0).frame.set_index("source_row")
    # rollover at 100000: 100000 - 99998 + 5 = 7 kWh
    assert roll.loc[4, "energy_kwh"] == pytest.approx(7.0, rel=1e-12)
    assert roll.loc[4, "flags"] == "meter_register_rollover"
    assert roll.loc[3, "energy_kwh"] == pytest.approx(8.0, rel=1e-12)


def test_register_row_accounting_through_ingest(tmp_path, ingest):
    _write(tmp_path / "m.csv", [
        "M1,2026-07-01T00:00:00+01:00,1000,kWh",
        "M1,2026-07-01T01:00:00+01:00,1100,kWh",
        "M1,2026-07-01T02:00:00,1200,kWh",          # no offset: quarantined, not used as a reading
        "M1,2026-07-01T03:00:00+01:00,1400,kWh",
    ])
    cfg = _cfg(tmp_path, "m.csv")
    cfg = cfg.model_copy(update={"sources": [cfg.sources[0].model_copy(update={"reading_kind": "cumulative"})]})
    ing = ingest(cfg)
    r = ing.report
    # 4 read = 1 opening (folded, accepted) + 2 intervals + 1 quarantined
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (4, 3, 1)
    # 1100 - 1000 = 100; then 01:00 -> 03:00: 1400 - 1100 = 300 (the broken 02:00 reading is skipped)
    assert sorted(ing.frame["energy_kwh"].tolist()) == [pytest.approx(100.0), pytest.approx(300.0)]
