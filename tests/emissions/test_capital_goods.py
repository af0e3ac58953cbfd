"""pipeline/emissions/capital_goods.py: Scope 3 Category 2, full cradle-to-gate in the period of acquisition."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipeline.canonical import ASSET, conform
from pipeline.emissions.capital_goods import CAT2_ROWS, METHOD, OUTSIDE_ROWS, category2
from pipeline.errors import ValidationFailed
from pipeline.sources import asset_register

Q3 = (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
FIXTURE = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "asset_register_ok.csv"


def _asset(asset_id: str, date: str, quantity: float, factor: float, row: int, *, cls: str = "server",
           source: str = "Synthetic test factor", file: str = "assets.csv") -> dict:
    return {"source_file": file, "source_row": row, "asset_id": asset_id, "description": f"{asset_id} description",
            "asset_class": cls, "quantity": quantity, "acquisition_date": pd.Timestamp(date),
            "embodied_kg_co2e_per_unit": factor, "factor_source": source}


def _frame(*rows: dict) -> pd.DataFrame:
    return conform(pd.DataFrame(list(rows)), ASSET) if rows else conform(pd.DataFrame(), ASSET)


def test_full_cradle_to_gate_in_the_period_of_acquisition():
    assets = _frame(
        _asset("H100-SRV", "2026-08-03", 8, 2500.0, 2, cls="gpu"),   # 8 x 2,500 kg = 20,000 kg, all in Q3
        _asset("EARLY", "2026-06-30", 1, 1000.0, 3),                  # the day before Q3: excluded
    )
    res = category2(assets, *Q3)
    assert res.rows["asset_id"].tolist() == ["H100-SRV"]
    assert res.rows.loc[0, "emissions_kg_co2e"] == pytest.approx(20_000.0, rel=1e-12)
    assert res.total_kg_co2e == pytest.approx(20_000.0, rel=1e-12)
    assert res.units_acquired == pytest.approx(8.0, rel=1e-12)
    assert res.rows.loc[0, "method"] == METHOD
    # provenance: the figure can be traced to its register line and its factor's citation
    assert (res.rows.loc[0, "source_file"], res.rows.loc[0, "source_row"]) == ("assets.csv", 2)
    assert res.rows.loc[0, "factor_source"] == "Synthetic test factor"

    assert res.outside["asset_id"].tolist() == ["EARLY"]
    out = res.outside.iloc[0]
    assert out["reason"].startswith("acquired 2026-06-30, before the reporting period 2026-07-01 to 2026-09-30")
    assert "not depreciated" in out["reason"]
    assert out["emissions_kg_co2e_not_included"] == pytest.approx(1000.0, rel=1e-12)


def test_period_dates_are_inclusive():
    assets = _frame(
        _asset("FIRST-DAY", "2026-07-01", 1, 100.0, 2),
        _asset("LAST-DAY", "2026-09-30", 2, 100.0, 3),
        _asset("AFTER", "2026-10-01", 4, 100.0, 4),
    )
    res = category2(assets, *Q3)
    assert res.rows["asset_id"].tolist() == ["FIRST-DAY", "LAST-DAY"]
    # 1 x 100 + 2 x 100 = 300 kg
    assert res.total_kg_co2e == pytest.approx(300.0, rel=1e-12)
    assert res.outside["asset_id"].tolist() == ["AFTER"]
    assert "after the reporting period" in res.outside.loc[0, "reason"]


def test_never_spread_over_later_periods():
    assets = _frame(_asset("H100-SRV", "2026-08-03", 8, 2500.0, 2))
    # the whole 20,000 kg sits in the acquisition year; the same asset adds nothing to the next year
    assert category2(assets, dt.date(2026, 1, 1), dt.date(2026, 12, 31)).total_kg_co2e == pytest.approx(20_000.0)
    nxt = category2(assets, dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert nxt.rows.empty and nxt.total_kg_co2e == 0.0
    assert nxt.outside["reason"].iloc[0].startswith("acquired 2026-08-03, before the reporting period")


def test_every_asset_is_either_in_the_rows_or_outside():
    assets = _frame(*[_asset(f"A{i}", d, 1, 10.0, i + 2) for i, d in enumerate(
        ["2026-01-05", "2026-07-01", "2026-08-15", "2026-09-30", "2026-10-01", "2025-12-31"])])
    res = category2(assets, *Q3)
    assert len(res.rows) + len(res.outside) == len(assets)
    assert sorted(res.rows["asset_id"].tolist() + res.outside["asset_id"].tolist()) == sorted(assets["asset_id"])
    assert list(res.rows.columns) == list(CAT2_ROWS) and list(res.outside.columns) == list(OUTSIDE_ROWS)


def test_from_the_adapter_fixture():
    raw = asset_register.read_raw(FIXTURE)
    assets = asset_register.to_canonical(raw, source_label="asset_register_ok.csv").frame
    res = category2(assets, "2026-07-01", "2026-09-30")
    # in Q3: GPU-0001 4 x 150 = 600 (07-01), SRV-0001 8 x 2,500 = 20,000 (08-03), NET-0001 2 x 310.5 = 621 (09-30)
    assert res.rows["asset_id"].tolist() == ["GPU-0001", "SRV-0001", "NET-0001"]
    assert res.rows["emissions_kg_co2e"].tolist() == [pytest.approx(v, rel=1e-12) for v in (600.0, 20_000.0, 621.0)]
    assert res.total_kg_co2e == pytest.approx(21_221.0, rel=1e-12)
    assert res.rows.set_index("asset_id").loc["SRV-0001", "accelerator_model"] == "H100-SXM"
    # STO-0001 (2026-06-30) is counted as outside the period, not included
    assert res.outside["asset_id"].tolist() == ["STO-0001"]


def test_empty_register():
    res = category2(_frame(), *Q3)
    assert res.rows.empty and res.outside.empty and res.total_kg_co2e == 0.0


@pytest.mark.parametrize("field,value", [
    ("quantity", float("nan")), ("quantity", -1.0), ("quantity", 0.0),
    ("embodied_kg_co2e_per_unit", float("nan")), ("embodied_kg_co2e_per_unit", 0.0),
    ("acquisition_date", pd.NaT), ("factor_source", pd.NA),
])
def test_rows_ingest_should_have_quarantined_stop_the_calculation(field, value):
    assets = _frame(_asset("A", "2026-08-01", 1, 10.0, 7, file="reg.csv"))
    assets[field] = pd.Series([value], dtype=assets[field].dtype)
    with pytest.raises(ValidationFailed) as ei:
        category2(assets, *Q3)
    assert ei.value.problems == ["reg.csv row 7: asset A"]


def test_same_asset_in_two_registers_would_count_twice_and_stops():
    assets = _frame(_asset("SRV-1", "2026-08-01", 1, 10.0, 2, file="2026.csv"),
                    _asset("SRV-1", "2026-08-01", 1, 10.0, 5, file="q3.csv"))
    with pytest.raises(ValidationFailed) as ei:
        category2(assets, *Q3)
    assert ei.value.problems == [("asset SRV-1 appears more than once (2026.csv row 2, q3.csv row 5): "
                                  "it would be counted twice")]


def test_period_arguments_checked():
    with pytest.raises(ValueError, match="before start_date"):
        category2(_frame(), dt.date(2026, 9, 30), dt.date(2026, 7, 1))
    with pytest.raises(ValueError, match="without a time zone"):
        category2(_frame(), pd.Timestamp("2026-07-01", tz="UTC"), dt.date(2026, 9, 30))
