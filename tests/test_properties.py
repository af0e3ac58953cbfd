"""Property tests for the invariants: rows in = rows accepted + rows quarantined (through the real adapters
and Great Expectations suites), and totals that add up for any ledger."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.canonical import ACTIVITY, conform
from pipeline.config import config_from_dict
from pipeline.ingest import ingest_source
from pipeline.period import bounds
from pipeline.report.summary import build_summary
from pipeline.result import Disclosure
from pipeline.validate.great_expectations import Validator

CFG = config_from_dict({
    "entity": {"name": "P", "consolidation_approach": "operational_control", "currency": "EUR"},
    "period": "2026-Q3",
    "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}],
    "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.2, "meters": [{"id": "M1"}, {"id": "M2"}]}],
    "sources": [{"id": "b", "kind": "focus", "path": "b.csv", "contracts": ["aws"]},
                {"id": "m", "kind": "meter_readings", "path": "m.csv", "site": "s1"}],
})

FOCUS_HEADER = ["BillingAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
                "ConsumedQuantity", "ConsumedUnit", "BilledCost", "BillingCurrency", "ServiceName", "RegionId", "Tags"]

numbers = st.one_of(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.6g}"),
                    st.sampled_from(["NULL", "", "abc", "1.2E+05", "N/A", "-0"]))
stamps = st.one_of(st.sampled_from(["2026-07-01T00:00:00Z", "2026-08-15 13:00:00", "2026-09-30T23:00:00Z",
                                    "2026-06-30T00:00:00Z", "2026-10-02T00:00:00Z", "31/08/2026 25:00", "NULL", ""]),
                   st.datetimes().map(lambda d: d.isoformat()))
focus_rows = st.lists(st.fixed_dictionaries({
    "BillingAccountId": st.sampled_from(["1", "2"]),
    "ProviderName": st.sampled_from(["AWS", "Amazon Web Services", "NULL"]),
    "ChargePeriodStart": stamps, "ChargePeriodEnd": stamps,
    "ChargeCategory": st.sampled_from(["Usage", "Tax", "Credit", "Bogus", "NULL"]),
    "ConsumedQuantity": numbers, "ConsumedUnit": st.sampled_from(["Hours", "GB", "NULL"]),
    "BilledCost": numbers, "BillingCurrency": st.just("USD"),
    "ServiceName": st.text(max_size=8), "RegionId": st.sampled_from(["us-east-1", "eu-west-2", "NULL"]),
    "Tags": st.sampled_from(["", "{\"a\": \"b\"}", "{not json", "[1,2]"]),
}), min_size=0, max_size=25)


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return Validator(tmp_path_factory.mktemp("gx"))


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=focus_rows)
def test_focus_rows_in_equal_accepted_plus_quarantined(rows, validator, tmp_path):
    path = tmp_path / "b.csv"
    _write(path, FOCUS_HEADER, rows)
    ing = ingest_source(CFG, CFG.sources[0], "b", path, validator, bounds(CFG), tmp_path)
    r = ing.report
    assert r.rows_read == len(rows)
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    assert len(ing.frame) == r.rows_accepted
    if r.rows_quarantined:
        q = pd.read_csv(tmp_path / r.quarantine_file, dtype=str, keep_default_na=False)
        assert len(q) == r.rows_quarantined and (q["reasons"] != "").all()


meter_rows = st.lists(st.fixed_dictionaries({
    "meter_id": st.sampled_from(["M1", "M2"]),
    "timestamp": st.sampled_from(["2026-07-01T00:00:00+01:00", "2026-07-01T01:00:00+01:00", "2026-08-01T00:00:00Z",
                                  "2026-07-01T00:00:00", "2026-12-01T00:00:00Z", "garbage", ""]),
    "energy": numbers,
    "unit": st.sampled_from(["kWh", "Wh", "MWh", "J", "BTU", ""]),
}), min_size=0, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=meter_rows)
def test_meter_rows_in_equal_accepted_plus_quarantined(rows, validator, tmp_path):
    path = tmp_path / "m.csv"
    _write(path, ["meter_id", "timestamp", "energy", "unit"], rows)
    ing = ingest_source(CFG, CFG.sources[1], "m", path, validator, bounds(CFG), tmp_path)
    r = ing.report
    assert r.rows_read == len(rows) == r.rows_accepted + r.rows_quarantined
    # accepted rows are exactly the clean, unique, in-period ones
    assert (ing.frame["energy_kwh"] >= 0).all()
    assert not ing.frame.duplicated(["meter_id", "interval_start_utc"]).any()


ledger_rows = st.lists(st.tuples(
    st.sampled_from(["2026-07", "2026-08", "2026-09"]),
    st.sampled_from([("2", ""), ("3", "1"), ("3", "8")]),
    st.sampled_from(["training", "fine_tuning", "inference", "evaluation", "unallocated"]),
    st.floats(0, 1e7, allow_nan=False), st.floats(0, 2, allow_nan=False), st.floats(0, 2, allow_nan=False),
), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows=ledger_rows)
def test_summary_totals_add_up_for_any_ledger(rows):
    recs = []
    for month, (scope, cat), phase, kwh, f_lb, f_mb in rows:
        f_mb = f_mb if scope == "2" else f_lb
        recs.append({"month": month, "scope": scope, "category": cat, "phase": phase, "energy_kwh": kwh,
                     "own_operations": scope == "2", "site_or_region": "s1", "energy_basis": "metered",
                     "contract_kind": "colocation" if scope == "2" else "cloud",
                     "factor_lb_kg_per_kwh": f_lb, "factor_mb_kg_per_kwh": f_mb,
                     "emissions_lb_kg_co2e": kwh * f_lb, "emissions_mb_kg_co2e": kwh * f_mb})
    ledger = conform(pd.DataFrame(recs), ACTIVITY)
    d = Disclosure(config=CFG, run_id="r", config_sha256="", code_version="t", factor_library_version="t",
                   ledger=ledger, factors=pd.DataFrame(), decisions=pd.DataFrame(), allocation=pd.DataFrame(),
                   inputs=[], data_quality={})
    s = build_summary(d)
    e = s["emissions_tco2e"]
    lb_by_hand = sum(r["emissions_lb_kg_co2e"] for r in recs) / 1000
    mb_by_hand = sum(r["emissions_mb_kg_co2e"] for r in recs) / 1000
    assert e["total_location_based"] == pytest.approx(lb_by_hand, rel=1e-9, abs=1e-9)
    assert e["total_market_based"] == pytest.approx(mb_by_hand, rel=1e-9, abs=1e-9)
    assert e["total_location_based"] == pytest.approx(e["scope1"] + e["scope2_location_based"] + e["scope3_total"], rel=1e-9, abs=1e-9)
    assert e["scope3_total"] == pytest.approx(sum(e["scope3_by_category"].values()), rel=1e-9, abs=1e-9)
    assert sum(s["by_phase_tco2e"].values()) == pytest.approx(e["total_location_based"], rel=1e-9, abs=1e-9)
    assert s["energy_mwh"]["total_own_operations"] == pytest.approx(
        sum(r["energy_kwh"] for r in recs if r["scope"] == "2") / 1000, rel=1e-9, abs=1e-9)
