"""pipeline/emissions/upstream.py: Scope 3 Category 3 (3b WTT, 3c T&D losses) for Scope 2 electricity.

All factor values here are synthetic (zones XA..XZ), chosen so the hand calculations are easy to follow.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.emissions.factors import FactorChoice
from pipeline.emissions.upstream import (
    CAT3_COLUMNS,
    NOT_ESTIMATED,
    category3,
    generation_factors,
)
from pipeline.errors import ConfigError, ValidationFailed
from pipeline.evidence import FACTOR_COLUMNS

YEAR = 2026


def _f(fid: str, zone: str, component: str, value: float, year: int = YEAR, *, unit: str = "kgCO2e/kWh",
       kg: float | None = None, boundary: str = "upstream") -> dict:
    row = {c: "" for c in FACTOR_COLUMNS}
    row.update(factor_id=fid, zone=zone, zone_name=zone, basis="upstream", value=value, unit=unit,
               value_kg_per_kwh=value if kg is None else kg, boundary=boundary, source="synthetic test", data_year=year,
               component=component)
    return row


def _table(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=FACTOR_COLUMNS + ["component"])


def _gen(fid: str, zone: str, value: float, boundary: str = "generation", flags=()) -> FactorChoice:
    row = {c: "" for c in FACTOR_COLUMNS}
    row.update(factor_id=fid, zone=zone, basis="location", value=value, value_kg_per_kwh=value, boundary=boundary,
               data_year=YEAR)
    return FactorChoice(row, tuple(flags))


def _elec(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": c, "grid_zone": z, "month": m, "energy_kwh": k} for c, z, m, k in rows],
                        columns=["contract_id", "grid_zone", "month", "energy_kwh"])


COMPONENTS_XA = [_f("xa-td", "XA", "td_losses", 0.02), _f("xa-wtt", "XA", "wtt_generation", 0.05),
                 _f("xa-wtt-td", "XA", "wtt_td_losses", 0.003)]


def test_published_components_are_summed():
    res = category3(_elec(("colo", "XA", "2026-07", 1000.0)), _table(*COMPONENTS_XA), reporting_year=YEAR,
                    generation={})
    r = res.rows.iloc[0]
    # 1,000 kWh x (0.02 + 0.05 + 0.003) = 20 + 50 + 3 = 73 kg
    assert r["cat3_kg_co2e"] == pytest.approx(73.0, rel=1e-12)
    assert (r["td_losses_kg_co2e"], r["wtt_generation_kg_co2e"], r["wtt_td_losses_kg_co2e"]) == (
        pytest.approx(20.0, rel=1e-12), pytest.approx(50.0, rel=1e-12), pytest.approx(3.0, rel=1e-12))
    assert math.isnan(r["upstream_combined_kg_co2e"])
    assert r["cat3_kg_per_kwh"] == pytest.approx(0.073, rel=1e-12)
    assert (r["factor_id_td_losses"], r["factor_id_wtt_generation"], r["factor_id_wtt_td_losses"]) == (
        "xa-td", "xa-wtt", "xa-wtt-td")
    assert (r["cat3_method"], r["cat3_flags"]) == ("components", "")
    assert res.not_estimated.empty
    assert res.total_kg_co2e == pytest.approx(73.0, rel=1e-12)
    assert sorted(res.factors["factor_id"]) == ["xa-td", "xa-wtt", "xa-wtt-td"]


def test_input_keys_kept_and_quantity_times_factor_holds_on_every_row():
    elec = _elec(("colo", "XA", "2026-07", 1000.0), ("colo", "XA", "2026-08", 250.0), ("own", "XA", "2026-08", 40.0))
    res = category3(elec, _table(*COMPONENTS_XA), reporting_year=YEAR, generation={})
    assert list(res.rows.columns) == list(elec.columns) + list(CAT3_COLUMNS)
    assert res.rows[["contract_id", "month"]].values.tolist() == elec[["contract_id", "month"]].values.tolist()
    for r in res.rows.itertuples(index=False):
        assert r.cat3_kg_co2e == pytest.approx(r.energy_kwh * r.cat3_kg_per_kwh, rel=1e-12)
    # (1,000 + 250 + 40) kWh x 0.073 = 94.17 kg
    assert res.total_kg_co2e == pytest.approx(94.17, rel=1e-12)


def test_combined_factor_alone_and_never_added_to_components():
    only_combined = _table(_f("xb-up", "XB", "upstream_combined", 0.09))
    res = category3(_elec(("c", "XB", "2026-07", 1000.0)), only_combined, reporting_year=YEAR, generation={})
    r = res.rows.iloc[0]
    # 1,000 kWh x 0.09 = 90 kg
    assert (r["cat3_method"], r["factor_id_upstream_combined"]) == ("combined", "xb-up")
    assert r["cat3_kg_co2e"] == pytest.approx(90.0, rel=1e-12)
    assert math.isnan(r["td_losses_kg_co2e"])

    both = _table(*COMPONENTS_XA, _f("xa-up", "XA", "upstream_combined", 0.5))
    r = category3(_elec(("c", "XA", "2026-07", 1000.0)), both, reporting_year=YEAR, generation={}).rows.iloc[0]
    # components win; the combined 0.5 is ignored: still 73 kg, not 73 + 500
    assert r["cat3_kg_co2e"] == pytest.approx(73.0, rel=1e-12)
    assert pd.isna(r["factor_id_upstream_combined"]) and math.isnan(r["upstream_combined_kg_co2e"])


def test_td_from_loss_rate_and_generation_factor():
    table = _table(_f("xc-rate", "XC", "td_loss_rate", 0.05, unit="fraction"))
    res = category3(_elec(("colo", "XC", "2026-07", 1000.0)), table, reporting_year=YEAR,
                    generation={"XC": _gen("xc-gen", "XC", 0.4)})
    r = res.rows.iloc[0]
    # 1,000 kWh x 0.05 / 0.95 x 0.4 kg/kWh = 21.052631... kg
    assert r["cat3_kg_co2e"] == pytest.approx(1000 * 0.05 / 0.95 * 0.4, rel=1e-12)
    assert r["cat3_kg_co2e"] == pytest.approx(21.0526, rel=1e-5)
    assert r["td_losses_kg_co2e"] == pytest.approx(r["cat3_kg_co2e"], rel=1e-12)
    assert math.isnan(r["wtt_generation_kg_co2e"])
    assert (r["factor_id_td_loss_rate"], r["factor_id_generation"], r["td_loss_rate"]) == ("xc-rate", "xc-gen", 0.05)
    assert r["cat3_method"] == "loss_rate"
    assert r["cat3_flags"] == "cat3_td_from_loss_rate;cat3_wtt_not_available"
    assert sorted(res.factors["factor_id"]) == ["xc-gen", "xc-rate"]
    assert res.factors.set_index("factor_id").loc["xc-gen", "component"] == "generation"


def test_loss_rate_in_percent_and_with_published_wtt():
    table = _table(_f("xd-rate", "XD", "td_loss_rate", 5.0, unit="%", kg=float("nan")),
                   _f("xd-wtt", "XD", "wtt_generation", 0.03))
    r = category3(_elec(("c", "XD", "2026-07", 1000.0)), table, reporting_year=YEAR,
                  generation={"XD": _gen("xd-gen", "XD", 0.4)}).rows.iloc[0]
    # T&D 1,000 x 0.05/0.95 x 0.4 = 21.0526...; WTT 1,000 x 0.03 = 30; no wtt_td_losses factor (flagged)
    assert r["td_loss_rate"] == pytest.approx(0.05, rel=1e-12)
    assert r["cat3_kg_co2e"] == pytest.approx(1000 * 0.05 / 0.95 * 0.4 + 30.0, rel=1e-12)
    assert r["cat3_method"] == "components"
    assert r["cat3_flags"] == "cat3_td_from_loss_rate;cat3_wtt_td_losses_not_available"


def test_zone_without_factors_is_not_estimated_never_invented():
    elec = _elec(("colo", "XA", "2026-07", 1000.0), ("colo", "XE", "2026-07", 300.0), ("colo", "XE", "2026-08", 200.0))
    res = category3(elec, _table(*COMPONENTS_XA), reporting_year=YEAR, generation={"XE": _gen("xe-gen", "XE", 0.3)})
    assert res.rows["grid_zone"].tolist() == ["XA"]
    ne = res.not_estimated
    assert list(ne.columns) == list(NOT_ESTIMATED)
    assert ne.to_dict("records")[0] | {"reason": ""} == {"grid_zone": "XE", "energy_kwh": 500.0, "input_rows": 2,
                                                        "months": "2026-07;2026-08", "reason": ""}
    assert ne.loc[0, "reason"].startswith("no published upstream (WTT) or T&D factor and no T&D loss rate")
    assert res.kwh_not_estimated == pytest.approx(500.0, rel=1e-12)
    assert res.total_kg_co2e == pytest.approx(73.0, rel=1e-12)


@pytest.mark.parametrize("generation,why", [
    ({}, "none is known"),
    ({"XF": _gen("xf-life", "XF", 0.3, boundary="lifecycle")}, "xf-life has boundary 'lifecycle'"),
])
def test_loss_rate_without_a_generation_factor_is_not_estimated(generation, why):
    table = _table(_f("xf-rate", "XF", "td_loss_rate", 0.05, unit="fraction"))
    res = category3(_elec(("c", "XF", "2026-07", 1000.0)), table, reporting_year=YEAR, generation=generation)
    assert res.rows.empty
    reason = res.not_estimated.loc[0, "reason"]
    assert "xf-rate" in reason and why in reason and "not estimated" in reason


def test_lifecycle_scope2_zone_is_zero_and_flagged():
    elec = _elec(("colo", "XA", "2026-07", 1000.0), ("colo", "XG", "2026-07", 800.0))
    # XA has published factors, but Scope 2 used a lifecycle factor there: its upstream is already in Scope 2.
    # XG has no factor at all: with a lifecycle Scope 2 it is zero, not "not estimated"
    res = category3(elec, _table(*COMPONENTS_XA), reporting_year=YEAR, generation={}, lifecycle_zones={"XA", "XG"})
    assert res.rows["cat3_kg_co2e"].tolist() == [0.0, 0.0]
    assert res.rows["cat3_flags"].tolist() == ["cat3_included_in_lifecycle_scope2"] * 2
    assert res.rows["cat3_method"].tolist() == ["lifecycle_scope2"] * 2
    assert res.rows["factor_id_td_losses"].isna().all()
    assert res.not_estimated.empty and res.factors.empty


def test_year_rule_latest_not_after_reporting_year_else_earliest_later():
    table = _table(
        _f("xh-td-2023", "XH", "td_losses", 0.03, 2023), _f("xh-td-2025", "XH", "td_losses", 0.02, 2025),
        _f("xh-td-2027", "XH", "td_losses", 0.01, 2027),
        _f("xh-wtt-2026", "XH", "wtt_generation", 0.05, 2026), _f("xh-wtt-td-2026", "XH", "wtt_td_losses", 0.002, 2026),
        _f("xi-up-2028", "XI", "upstream_combined", 0.07, 2028), _f("xi-up-2030", "XI", "upstream_combined", 0.06, 2030),
    )
    res = category3(_elec(("c", "XH", "2026-07", 1000.0), ("c", "XI", "2026-07", 1000.0)), table, reporting_year=YEAR,
                    generation={})
    xh, xi = res.rows.iloc[0], res.rows.iloc[1]
    # XH: 2025 T&D (latest <= 2026, flagged) + 2026 WTT: 1,000 x (0.02 + 0.05 + 0.002) = 72 kg
    assert xh["factor_id_td_losses"] == "xh-td-2025"
    assert xh["cat3_kg_co2e"] == pytest.approx(72.0, rel=1e-12)
    assert xh["cat3_flags"] == "factor_year_before_period"
    # XI: only later years: the earliest (2028), flagged: 1,000 x 0.07 = 70 kg
    assert (xi["factor_id_upstream_combined"], xi["cat3_flags"]) == ("xi-up-2028", "factor_year_after_period")
    assert xi["cat3_kg_co2e"] == pytest.approx(70.0, rel=1e-12)


def test_ignored_rows_do_not_flag():
    # the 2020 combined row is ignored (components present), so its old year must not flag the result
    table = _table(*COMPONENTS_XA, _f("xa-up-2020", "XA", "upstream_combined", 0.2, 2020))
    r = category3(_elec(("c", "XA", "2026-07", 10.0)), table, reporting_year=YEAR, generation={}).rows.iloc[0]
    assert r["cat3_flags"] == ""


def test_partial_components_are_flagged():
    only_td = _table(_f("xj-td", "XJ", "td_losses", 0.02))
    r = category3(_elec(("c", "XJ", "2026-07", 1000.0)), only_td, reporting_year=YEAR, generation={}).rows.iloc[0]
    # 1,000 x 0.02 = 20 kg of T&D; WTT not available
    assert r["cat3_kg_co2e"] == pytest.approx(20.0, rel=1e-12)
    assert r["cat3_flags"] == "cat3_wtt_not_available"
    only_wtt = _table(_f("xk-wtt", "XK", "wtt_generation", 0.05))
    r = category3(_elec(("c", "XK", "2026-07", 1000.0)), only_wtt, reporting_year=YEAR, generation={}).rows.iloc[0]
    assert r["cat3_kg_co2e"] == pytest.approx(50.0, rel=1e-12)
    assert r["cat3_flags"] == "cat3_td_not_available;cat3_wtt_td_losses_not_available"


def test_row_without_grid_zone_is_not_estimated():
    elec = _elec(("c", None, "2026-07", 12.0))
    res = category3(elec, _table(*COMPONENTS_XA), reporting_year=YEAR, generation={})
    assert res.rows.empty
    assert res.not_estimated.loc[0, "energy_kwh"] == 12.0
    assert res.not_estimated.loc[0, "reason"] == "the row has no grid zone: not estimated"


@pytest.mark.parametrize("row,match", [
    (_f("bad-rate", "XA", "td_loss_rate", 1.0, unit="fraction"), "bad-rate"),
    (_f("neg", "XA", "td_losses", -0.01), "neg"),
    (_f("odd", "XA", "wtt_everything", 0.01), "unknown component"),
    (_f("no-year", "XA", "td_losses", 0.01, year=None), "no-year"),
])
def test_broken_factor_rows_stop(row, match):
    with pytest.raises(ConfigError, match=match):
        category3(_elec(("c", "XA", "2026-07", 1.0)), _table(row), reporting_year=YEAR, generation={})


def test_missing_or_negative_energy_stops():
    with pytest.raises(ValidationFailed):
        category3(_elec(("c", "XA", "2026-07", -1.0)), _table(*COMPONENTS_XA), reporting_year=YEAR, generation={})


def test_empty_inputs():
    res = category3(_elec(), _table(), reporting_year=YEAR, generation={})
    assert res.rows.empty and res.not_estimated.empty and res.total_kg_co2e == 0.0


def test_generation_factors_from_a_grid_table_skip_lifecycle_rows():
    def g(fid, zone, year, value, boundary):
        row = {c: "" for c in FACTOR_COLUMNS}
        row.update(factor_id=fid, zone=zone, basis="location", value_kg_per_kwh=value, boundary=boundary, data_year=year)
        return row
    grid = pd.DataFrame([g("xl-2025", "XL", 2025, 0.3, "generation"), g("xl-2026-life", "XL", 2026, 0.5, "lifecycle"),
                         g("xm-2026-life", "XM", 2026, 0.5, "lifecycle")], columns=FACTOR_COLUMNS)
    got = generation_factors(["XL", "XM"], YEAR, grid)
    assert list(got) == ["XL"]                                  # XM has only a lifecycle row
    assert (got["XL"].id, got["XL"].flags) == ("xl-2025", ("factor_year_before_period",))
