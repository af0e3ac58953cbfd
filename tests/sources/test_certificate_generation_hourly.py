"""pipeline/sources/certificate_generation_hourly.py: hourly PPA / CFE generation CSV -> INSTRUMENT_HOURLY."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.canonical import INSTRUMENT_HOURLY
from pipeline.errors import InputError
from pipeline.sources import certificate_generation_hourly as cg

FIXTURE = Path(__file__).parent / "fixtures" / "instrument_hourly" / "ppa_solar_noon.csv"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("instrument_id,hour_start,energy,unit\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _parse(path: Path):
    return cg.to_canonical(cg.read_raw(path), source_label=path.name)


def test_units_and_utc_hours():
    raw = cg.read_raw(FIXTURE)
    assert cg.sniff(raw.columns)
    parsed = cg.to_canonical(raw, source_label="ppa.csv")
    fr = parsed.frame
    assert {c: str(fr[c].dtype) for c in INSTRUMENT_HOURLY} == INSTRUMENT_HOURLY
    assert parsed.quarantine == {}
    # 0.05 MWh = 50 kWh; 80000 Wh = 80 kWh; 120 kWh; 90 'kwh' = 90 kWh
    assert fr["energy_kwh"].tolist() == [pytest.approx(v, rel=1e-12) for v in (50.0, 80.0, 120.0, 90.0)]
    # 11:00+01:00 = 10:00Z ... 14:00+01:00 = 13:00Z
    assert fr["hour_start_utc"].tolist() == [pd.Timestamp(f"2026-07-01T{h:02d}:00:00Z") for h in (10, 11, 12, 13)]


def test_row_problems(tmp_path):
    p = _write(tmp_path / "g.csv", [
        "P1,2026-07-01T00:00:00Z,10,kWh",      # line 2 ok
        "P1,2026-07-01T01:00:00,10,kWh",       # line 3 no offset -> NaT, for the suite
        "P1,2026-07-01T02:00:00Z,10,GJ",       # line 4 unit unknown -> unit_known False, for the suite
        "P1,2026-07-01T03:15:00Z,10,kWh",      # line 5 not on the hour
        "P1,2026-07-01T00:00:00Z,12,kWh",      # line 6 second row for 00:00Z
        "P2,2026-07-01T00:00:00Z,5,kWh",       # line 7 other instrument, same hour: fine
    ])
    parsed = _parse(p)
    fr = parsed.frame.set_index("source_row")
    by_line = {int(parsed.frame.at[i, "source_row"]): rs for i, rs in parsed.quarantine.items()}
    assert sorted(by_line) == [5, 6]
    assert by_line[5] == [("not_on_hour_boundary",
                           "hour_start is not the start of a UTC clock hour (hour_start = '2026-07-01T03:15:00Z')")]
    assert by_line[6] == [("duplicate_hour",
                           "instrument P1 already has a row for 2026-07-01T00:00Z (line 2, first kept)")]
    assert pd.isna(fr.loc[3, "hour_start_utc"])
    assert not fr.loc[4, "unit_known"] and pd.isna(fr.loc[4, "energy_kwh"])


def test_quarter_hour_generation_refused(tmp_path):
    p = _write(tmp_path / "g.csv", [f"P1,2026-07-01T10:{m:02d}:00Z,1,kWh" for m in (0, 15, 30, 45)]
               + [f"P1,2026-07-01T11:{m:02d}:00Z,1,kWh" for m in (0, 15, 30, 45)])
    with pytest.raises(InputError) as ei:
        _parse(p)
    assert "15 minutes apart" in ei.value.message
