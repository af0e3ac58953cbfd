"""pipeline/sources/grid_intensity_hourly.py: Electricity Maps / plain hourly intensity CSV -> GRID_INTENSITY."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.canonical import GRID_INTENSITY
from pipeline.errors import InputError
from pipeline.sources import grid_intensity_hourly as gi

FIXTURES = Path(__file__).parent / "fixtures" / "grid_intensity_hourly"
EM_HEADER = ("Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
             "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
             "Data Estimated,Data Estimation Method")


def _parse(path: Path, **kw):
    return gi.to_canonical(gi.read_raw(path), source_label=path.name, **kw)


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.glob("*.csv") if "refused" not in p.name),
                         ids=lambda p: p.name)
def test_every_fixture_conforms_and_accounts_for_every_row(path):
    raw = gi.read_raw(path)
    assert gi.sniff(raw.columns)
    parsed = gi.to_canonical(raw, source_label=path.name)
    assert list(parsed.frame.columns)[:len(GRID_INTENSITY)] == list(GRID_INTENSITY)
    assert {c: str(parsed.frame[c].dtype) for c in GRID_INTENSITY} == GRID_INTENSITY
    # nothing dropped: the frame has every raw row, quarantined ones are listed, none folded
    assert list(parsed.frame.index) == list(raw.frame.index)
    assert parsed.folded == {}
    assert set(parsed.quarantine) <= set(raw.frame.index)


def test_electricity_maps_2022_headers():
    parsed = _parse(FIXTURES / "electricity_maps_hourly_2022_headers.csv")
    fr = parsed.frame.set_index("source_row")
    assert parsed.quarantine == {}
    # 'Datetime (UTC)' values carry no offset: the column is UTC by its header
    assert fr.loc[2, "hour_start_utc"] == _ts("2026-07-01T00:00:00Z")
    assert fr.loc[5, "hour_start_utc"] == _ts("2026-07-01T03:00:00Z")
    assert fr["zone"].tolist() == ["DE", "DE", "DE", "DE", "FR", "FR"]
    # g/kWh -> kg/kWh: 110.5 g = 0.1105 kg; LCA 161.25 g = 0.16125 kg
    assert fr.loc[3, "ci_direct_kg_per_kwh"] == pytest.approx(0.1105, rel=1e-12)
    assert fr.loc[3, "ci_lifecycle_kg_per_kwh"] == pytest.approx(0.16125, rel=1e-12)
    # line 4: direct empty, LCA 140 -> accepted as lifecycle-only (not usable for Scope 2)
    assert pd.isna(fr.loc[4, "ci_direct_kg_per_kwh"])
    assert fr.loc[4, "ci_lifecycle_kg_per_kwh"] == pytest.approx(0.140, rel=1e-12)
    assert fr["estimated"].tolist() == [False, False, True, True, False, False]
    assert fr.loc[5, "estimation_method"] == "ESTIMATED_FORECASTS_HIERARCHY"
    assert fr.loc[6, "data_source"] == "opendata.reseaux-energies.fr"
    assert any("1 row(s) give only a lifecycle intensity" in n for n in parsed.notes)


def test_electricity_maps_later_header_spelling():
    # 'Zone id', 'Carbon intensity gCO2eq/kWh (Life cycle)' (ASCII 2), 'Data estimated': same columns
    raw = gi.read_raw(FIXTURES / "electricity_maps_hourly_2024_headers.csv")
    assert {"zone", "datetime", gi.EM_DIRECT, gi.EM_LIFECYCLE, gi.EM_ESTIMATED} <= set(raw.columns)
    fr = gi.to_canonical(raw, source_label="x").frame
    # 2.75 g = 0.00275 kg; 31 g = 0.031 kg
    assert fr["ci_direct_kg_per_kwh"].tolist() == [pytest.approx(0.0025, rel=1e-12), pytest.approx(0.00275, rel=1e-12)]
    assert fr["ci_lifecycle_kg_per_kwh"].tolist() == [pytest.approx(0.030, rel=1e-12), pytest.approx(0.031, rel=1e-12)]
    assert fr["estimated"].tolist() == [True, False]


def test_plain_layout_dst_offsets_are_distinct_hours():
    parsed = _parse(FIXTURES / "plain_london_dst.csv")
    fr = parsed.frame.set_index("source_row")
    assert parsed.quarantine == {}   # 01:00+01:00 and 01:00+00:00 are not duplicates
    # London clocks go back at 02:00 BST on 2026-10-25: 01:00+01:00 = 00:00Z, 01:00+00:00 = 01:00Z
    assert fr.loc[2, "hour_start_utc"] == _ts("2026-10-24T23:00:00Z")
    assert fr.loc[3, "hour_start_utc"] == _ts("2026-10-25T00:00:00Z")
    assert fr.loc[4, "hour_start_utc"] == _ts("2026-10-25T01:00:00Z")
    assert fr.loc[5, "hour_start_utc"] == _ts("2026-10-25T02:00:00Z")
    assert fr.loc[4, "ci_direct_kg_per_kwh"] == pytest.approx(0.220, rel=1e-12)
    # the lifecycle row for the same hour fills only the lifecycle column
    assert pd.isna(fr.loc[6, "ci_direct_kg_per_kwh"])
    assert fr.loc[6, "ci_lifecycle_kg_per_kwh"] == pytest.approx(0.250, rel=1e-12)
    assert fr["estimated"].isna().all()     # the plain layout states nothing about estimation


def test_plain_layout_row_reasons():
    parsed = _parse(FIXTURES / "plain_broken_rows.csv")
    fr = parsed.frame
    by_line = {int(fr.at[i, "source_row"]): rs for i, rs in parsed.quarantine.items()}
    assert sorted(by_line) == [4, 5, 6, 7, 8]
    assert by_line[4] == [("not_on_hour_boundary", ("datetime is not the start of a UTC clock hour (hourly "
                                                   "intensities must cover UTC hours, e.g. 10:00Z) "
                                                   "(datetime = '2026-07-01T02:30:00Z')"))]
    assert by_line[5] == [("intensity_missing",
                           "carbon intensity is missing or not a number (carbon_intensity_g_per_kwh = 'abc')")]
    assert by_line[6][0][0] == "boundary_unknown" and "(boundary = 'marginal')" in by_line[6][0][1]
    assert by_line[7] == [("boundary_unknown",
                           "boundary is empty and the source sets no default (give direct or lifecycle)")]
    assert by_line[8] == [("duplicate_hour", ("another row already gives the direct intensity (line 2) with a "
                                             "different value (175 vs 150 gCO2e/kWh) of zone GB for "
                                             "2026-07-01T00:00Z (first kept)"))]
    # left to the grid_intensity.rows suite: naive time (NaT), empty zone (NA), negative value
    s = fr.set_index("source_row")
    assert pd.isna(s.loc[3, "hour_start_utc"])
    assert pd.isna(s.loc[9, "zone"])
    assert s.loc[10, "ci_direct_kg_per_kwh"] == pytest.approx(-0.005, rel=1e-12)


def test_plain_layout_default_boundary_fills_empty_cells_only():
    parsed = _parse(FIXTURES / "plain_broken_rows.csv", default_boundary="direct")
    s = parsed.frame.set_index("source_row")
    lines = {int(parsed.frame.at[i, "source_row"]) for i in parsed.quarantine}
    assert 7 not in lines and 6 in lines                   # empty cell takes the default; 'marginal' still refused
    assert s.loc[7, "ci_direct_kg_per_kwh"] == pytest.approx(0.150, rel=1e-12)


def test_plain_without_boundary_column_needs_a_default(tmp_path):
    p = _write(tmp_path / "g.csv", "zone,datetime,carbon_intensity_g_per_kwh",
               ["GB,2026-07-01T00:00:00Z,150", "GB,2026-07-01T01:00:00Z,160"])
    with pytest.raises(InputError) as ei:
        _parse(p)
    assert "states no boundary" in ei.value.message and "direct" in ei.value.fix
    fr = _parse(p, default_boundary="lifecycle").frame
    assert fr["ci_direct_kg_per_kwh"].isna().all()
    assert fr["ci_lifecycle_kg_per_kwh"].tolist() == [pytest.approx(0.150, rel=1e-12), pytest.approx(0.160, rel=1e-12)]


def test_electricity_maps_row_problems(tmp_path):
    p = _write(tmp_path / "em.csv", EM_HEADER, [
        "2026-07-01 00:00:00,Germany,Germany,DE,100,150,,,entsoe.eu,false,",        # line 2 ok
        "2026-07-01 01:00:00,Germany,Germany,DE,,,,,entsoe.eu,true,",               # line 3 no value at all
        "01/07/2026 02:00,Germany,Germany,DE,120,170,,,entsoe.eu,false,",           # line 4 re-saved by a spreadsheet
        "2026-07-01 02:30:00,Germany,Germany,DE,120,170,,,entsoe.eu,false,",        # line 5 half hour
        "2026-07-01 00:00:00,Germany,Germany,DE,100,150,,,entsoe.eu,false,",        # line 6 same values again
        "2026-07-01T03:00:00+02:00,Germany,Germany,DE,130,180,,,entsoe.eu,false,",  # line 7 offset given: honoured
    ])
    parsed = _parse(p)
    fr = parsed.frame.set_index("source_row")
    by_line = {int(parsed.frame.at[i, "source_row"]): [c for c, _ in rs] for i, rs in parsed.quarantine.items()}
    assert by_line == {3: ["intensity_missing"], 5: ["not_on_hour_boundary"], 6: ["duplicate_hour"]}
    # one reason for both boundaries of the repeated row
    assert parsed.quarantine[4][0][1] == ("another row already gives the direct intensity (line 2) and the "
                                          "lifecycle intensity (line 2) of zone DE for 2026-07-01T00:00Z (first kept)")
    assert pd.isna(fr.loc[4, "hour_start_utc"])                  # DD/MM/YYYY is not guessed
    assert fr.loc[7, "hour_start_utc"] == _ts("2026-07-01T01:00:00Z")   # 03:00+02:00 = 01:00Z


def test_daily_export_refused():
    with pytest.raises(InputError) as ei:
        _parse(FIXTURES / "electricity_maps_daily_refused.csv")
    assert "not an hourly grid intensity series" in ei.value.message
    assert "daily / monthly / yearly" in ei.value.message


def test_five_minute_export_refused(tmp_path):
    lines = [f"2026-07-01 00:{m:02d}:00,Cyprus,Cyprus,CY,600,650,,,x,false," for m in range(0, 60, 5)]
    p = _write(tmp_path / "cy.csv", EM_HEADER, lines)
    with pytest.raises(InputError) as ei:
        _parse(p)
    assert "5 minutes apart" in ei.value.message


def test_hourly_file_with_gaps_and_a_stray_row_is_not_refused(tmp_path):
    p = _write(tmp_path / "g.csv", "zone,datetime,carbon_intensity_g_per_kwh,boundary", [
        "GB,2026-07-01T00:00:00Z,100,direct", "GB,2026-07-01T05:00:00Z,100,direct",
        "GB,2026-07-01T05:30:00Z,100,direct", "GB,2026-07-01T06:00:00Z,100,direct",
    ])
    parsed = _parse(p)
    assert [c for rs in parsed.quarantine.values() for c, _ in rs] == ["not_on_hour_boundary"]


def test_quarter_hour_offset_zone_hours_are_refused_row_by_row(tmp_path):
    # India's local hours start at :30 UTC: they cannot be matched to UTC clock hours
    p = _write(tmp_path / "g.csv", "zone,datetime,carbon_intensity_g_per_kwh,boundary",
               ["IN-WE,2026-07-01T10:00:00+05:30,700,direct", "IN-WE,2026-07-01T11:00:00+05:30,690,direct"])
    parsed = _parse(p)
    assert [c for rs in parsed.quarantine.values() for c, _ in rs] == ["not_on_hour_boundary"] * 2


def test_kg_values_in_a_g_column_are_noted(tmp_path):
    p = _write(tmp_path / "g.csv", "zone,datetime,carbon_intensity_g_per_kwh,boundary",
               ["GB,2026-07-01T00:00:00Z,0.15,direct", "GB,2026-07-01T01:00:00Z,0.16,direct"])
    assert any("not kgCO2e/kWh" in n for n in _parse(p).notes)


def test_sniff():
    assert gi.sniff(["zone", "datetime", "carbon_intensity_g_per_kwh"])
    assert gi.sniff(["datetime", "zone", gi.EM_DIRECT])
    assert not gi.sniff(["meter_id", "timestamp", "energy", "unit"])
    assert not gi.sniff(["zone", "datetime"])
    # the raw Electricity Maps header is recognised after read_raw's renaming
    raw = gi.read_raw(FIXTURES / "electricity_maps_hourly_2022_headers.csv")
    assert set(gi.REQUIRED) <= set(raw.columns)
