"""pipeline/sources/{aws,gcp,azure}_carbon.py: provider-reported carbon exports -> canonical PROVIDER_CARBON frame.

Expected values are worked out by hand from the fixture cells (tests/sources/fixtures/provider_carbon/)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import ingest as ingest_mod
from pipeline.canonical import PROVIDER_CARBON
from pipeline.config import config_from_dict
from pipeline.errors import DisclosureError
from pipeline.ingest import ingest_source
from pipeline.period import bounds
from pipeline.sources import aws_carbon, azure_carbon, gcp_carbon

FIX = Path(__file__).parent / "fixtures" / "provider_carbon"
AWS_CSV = FIX / "aws_carbon_emissions.csv"
GCP_JSONL = FIX / "gcp_carbon_footprint.jsonl"
GCP_CSV = FIX / "gcp_carbon_footprint.csv"
AZURE_CSV = FIX / "azure_emissions.csv"
PROVIDER = {"aws_carbon": "aws", "gcp_carbon": "gcp", "azure_carbon": "azure"}
CANON = [c for c in PROVIDER_CARBON if c not in ("source_file", "source_row")]


def _parse(adapter, path: Path):
    return adapter.to_canonical(adapter.read_raw(path), source_label=path.name)


def _cfg(tmp_path: Path, kind: str, path: str, timezone: str = "UTC", period: str = "2026-Q3"):
    provider = PROVIDER[kind]
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": timezone},
        "period": period,
        "contracts": [{"id": f"c-{provider}", "kind": "cloud", "provider": provider}],
        "sources": [{"id": "carbon", "kind": kind, "path": path, "contracts": [f"c-{provider}"]}],
    }, base_dir=tmp_path)


def _copy(src: Path, tmp_path: Path, name: str | None = None) -> str:
    name = name or src.name
    shutil.copy(src, tmp_path / name)
    return name


def _quarantine(tmp_path: Path, ing) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "out" / ing.report.quarantine_file, dtype=str, keep_default_na=False)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_adapters_registered_with_ingest():
    for m in (aws_carbon, gcp_carbon, azure_carbon):
        assert ingest_mod.ADAPTERS[m.KIND] is m
        assert m.FAMILY == "provider_carbon"


# --- AWS CARBON_EMISSIONS -----------------------------------------------------------------------------------------

def test_aws_units_month_and_bases():
    p = _parse(aws_carbon, AWS_CSV)
    fr = p.frame.set_index("source_row")
    # line 2: EC2 us-east-1, 0.123 / 0.045 MTCO2e, usage_period_start 2026-07-01
    assert fr.loc[2, "location_based_kg_co2e"] == pytest.approx(0.123 * 1000, rel=1e-12)
    assert fr.loc[2, "market_based_kg_co2e"] == pytest.approx(0.045 * 1000, rel=1e-12)
    assert fr.loc[2, "month"] == "2026-07"
    assert (fr.loc[2, "provider"], fr.loc[2, "account_id"], fr.loc[2, "service"], fr.loc[2, "region"]) == \
        ("aws", "222222222222", "AmazonEC2", "us-east-1")
    assert fr.loc[2, "model_version"] == "v3.0.0"
    # line 4: 0.0021 MTCO2e -> 2.1 kg; market-based 0 stays 0 (not missing)
    assert fr.loc[4, "location_based_kg_co2e"] == pytest.approx(2.1, rel=1e-12)
    assert fr.loc[4, "market_based_kg_co2e"] == 0.0
    assert fr.loc[4, "month"] == "2026-08"
    # line 5: global service, region_code empty -> location "Global"; market-based value and unit empty -> NaN
    assert fr.loc[5, "region"] == "Global"
    assert fr.loc[5, "location_based_kg_co2e"] == pytest.approx(500.0, rel=1e-12)
    assert pd.isna(fr.loc[5, "market_based_kg_co2e"])
    assert bool(fr.loc[5, "has_figure"]) and bool(fr.loc[5, "unit_known"])
    assert fr.loc[5, "month_mid_utc"] == pd.Timestamp("2026-09-15T00:00:00Z")


def test_aws_latest_refresh_kept_earlier_folded():
    p = _parse(aws_carbon, AWS_CSV)
    # lines 2 and 3 are the same account/product/region/month; line 2 was refreshed 2026-08-05, line 3 on 2026-08-02
    assert 2 in p.frame["source_row"].tolist() and 3 not in p.frame["source_row"].tolist()
    assert p.folded == {1: (0, "superseded by the refresh of 2026-08-05 10:00:00Z (row 2)")}
    assert p.frame.set_index("source_row").loc[2, "source_rows"] == "2;3"
    assert any("superseded" in n for n in p.notes)
    assert set(p.frame.index) | set(p.folded) == set(range(5))


def test_aws_refresh_order_is_by_timestamp_not_file_order(tmp_path):
    lines = AWS_CSV.read_text(encoding="utf-8").splitlines()
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("\n".join([lines[0], lines[2], lines[1]] + lines[3:]) + "\n", encoding="utf-8")
    p = _parse(aws_carbon, swapped)
    kept = p.frame[p.frame["service"] == "AmazonEC2"].set_index("month")
    # the 2026-08-05 refresh (0.123 MTCO2e) is now on line 3 and still wins over the 2026-08-02 one (0.1)
    assert kept.loc["2026-07", "location_based_kg_co2e"] == pytest.approx(123.0, rel=1e-12)
    assert kept.loc["2026-07", "source_row"] == 3
    assert p.folded == {0: (1, "superseded by the refresh of 2026-08-05 10:00:00Z (row 3)")}


def test_aws_ingest_counts_folded_as_accepted_and_quarantines_outside_period(tmp_path, ingest):
    cfg = _cfg(tmp_path, "aws_carbon", _copy(AWS_CSV, tmp_path))
    ing = ingest(cfg)
    r = ing.report
    # 5 rows: line 3 folded (accepted, not in the frame), line 6 (usage 2026-10) outside 2026-Q3
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (5, 4, 1)
    assert sorted(ing.frame["source_row"]) == [2, 4, 5]
    q = _quarantine(tmp_path, ing)
    assert q["source_row"].tolist() == ["6"]
    assert "usage month is outside the reporting period" in q.loc[0, "reasons"]
    assert "usage_period_start = '2026-10-01 00:00:00Z'" in q.loc[0, "reasons"]
    assert any("superseded" in n for n in r.notes)
    # the accepted totals: 123 + 2.1 + 500 location-based, 45 + 0 market-based
    assert ing.frame["location_based_kg_co2e"].sum() == pytest.approx(625.1, rel=1e-12)
    assert ing.frame["market_based_kg_co2e"].sum() == pytest.approx(45.0, rel=1e-12)


def test_aws_conflicting_figures_in_same_refresh_quarantined(tmp_path, ingest):
    lines = AWS_CSV.read_text(encoding="utf-8").splitlines()
    twin = lines[1].replace(",0.123,", ",0.999,")          # same key and refresh as line 2, other figure
    path = tmp_path / "c.csv"
    path.write_text("\n".join([lines[0], lines[1], twin, lines[2]]) + "\n", encoding="utf-8")
    ing = ingest(_cfg(tmp_path, "aws_carbon", "c.csv"))
    # the two conflicting rows are quarantined, and the older refresh (line 4) that was folded into them follows
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (3, 0, 3)
    assert len(ing.frame) == 0
    q = _quarantine(tmp_path, ing)
    assert sorted(q["source_row"]) == ["2", "3", "4"]
    reasons = dict(zip(q["source_row"], q["reasons"]))
    assert "different figures" in reasons["2"] and "different figures" in reasons["3"]
    assert reasons["4"].startswith("superseded by the refresh") and reasons["4"].endswith("that row is quarantined")


def test_aws_identical_repeat_folded_and_newer_model_wins(tmp_path):
    lines = AWS_CSV.read_text(encoding="utf-8").splitlines()
    old_model = lines[1].replace("2026-08-05 10:00:00Z", "2026-08-20 10:00:00Z").replace("v3.0.0", "v2.1.0") \
        .replace(",0.123,", ",0.05,")
    path = tmp_path / "m.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[1], old_model]) + "\n", encoding="utf-8")
    p = _parse(aws_carbon, path)
    # the v2.1.0 row was refreshed later, but the v3.0.0 model supersedes it; line 3 repeats line 2 exactly
    assert p.frame["source_row"].tolist() == [2]
    assert p.frame["location_based_kg_co2e"].iloc[0] == pytest.approx(123.0, rel=1e-12)
    assert p.folded[1] == (0, "repeats row 2 (same refresh of 2026-08-05 10:00:00Z, same figures)")
    assert p.folded[2] == (0, "superseded by the refresh of 2026-08-05 10:00:00Z under model v3.0.0 (row 2)")
    assert p.frame["source_rows"].iloc[0] == "2;3;4"


def test_aws_unknown_unit_quarantined_kg_unit_converted(tmp_path, ingest):
    lines = AWS_CSV.read_text(encoding="utf-8").splitlines()
    lbs = lines[3].replace("MTCO2e,0.0021,MTCO2e,0", "lbCO2e,0.0021,lbCO2e,0")
    kg = lines[4].replace(",MTCO2e,0.5,,", ",kgCO2e,0.5,,")
    path = tmp_path / "u.csv"
    path.write_text("\n".join([lines[0], lbs, kg]) + "\n", encoding="utf-8")
    ing = ingest(_cfg(tmp_path, "aws_carbon", "u.csv"))
    assert ing.report.rows_quarantined == 1
    assert ing.frame["location_based_kg_co2e"].tolist() == pytest.approx([0.5])    # kgCO2e: no x1000
    q = _quarantine(tmp_path, ing)
    assert q["source_row"].tolist() == ["2"]
    assert "emissions unit is not one the adapter converts" in q.loc[0, "reasons"]
    assert "lbCO2e" in q.loc[0, "reasons"]


def test_aws_parquet_gives_the_csv_frame(tmp_path):
    csv_frame = _parse(aws_carbon, AWS_CSV).frame
    df = pd.read_csv(AWS_CSV, dtype=str, keep_default_na=False)
    table = pa.table({
        **{c: pa.array(df[c].tolist(), pa.string()) for c in df.columns if "value" not in c and "timestamp" not in c
           and "usage_period" not in c},
        **{c: pa.array([float(v) if v else None for v in df[c]], pa.float64()) for c in df.columns if "value" in c},
        **{c: pa.array(pd.to_datetime(df[c], utc=True), pa.timestamp("ms", tz="UTC"))
           for c in ("last_refresh_timestamp", "usage_period_start", "usage_period_end")},
    })
    pq.write_table(table, tmp_path / "aws.parquet")
    pq_frame = _parse(aws_carbon, tmp_path / "aws.parquet").frame
    # parquet rows are numbered 1..n (no header line), CSV rows 2..n+1
    assert pq_frame["source_row"].tolist() == [r - 1 for r in csv_frame["source_row"]]
    pd.testing.assert_frame_equal(pq_frame[CANON].reset_index(drop=True), csv_frame[CANON].reset_index(drop=True))


# --- GCP Carbon Footprint -----------------------------------------------------------------------------------------

def test_gcp_mapping_and_units():
    fr = _parse(gcp_carbon, GCP_CSV).frame.set_index("source_row")
    # kg CO2e already: no conversion
    assert fr.loc[2, "location_based_kg_co2e"] == pytest.approx(1587.3, rel=1e-12)
    assert fr.loc[2, "market_based_kg_co2e"] == pytest.approx(588.8, rel=1e-12)
    assert (fr.loc[2, "provider"], fr.loc[2, "account_id"], fr.loc[2, "service"], fr.loc[2, "region"],
            fr.loc[2, "month"], fr.loc[2, "model_version"]) == \
        ("gcp", "train-prj", "Compute Engine", "europe-west4", "2026-07", "12")
    assert pd.isna(fr.loc[3, "account_id"])                 # no project: kept, account empty
    assert pd.isna(fr.loc[4, "market_based_kg_co2e"])       # only the location-based basis given
    assert fr.loc[4, "location_based_kg_co2e"] == pytest.approx(100.0, rel=1e-12)


def test_gcp_dotted_csv_and_json_lines_give_the_same_frame():
    a = _parse(gcp_carbon, GCP_CSV).frame
    b = _parse(gcp_carbon, GCP_JSONL).frame
    assert b["source_row"].tolist() == [1, 2, 3, 4]          # JSON lines: line numbers
    assert a["source_row"].tolist() == [2, 3, 4, 5]          # CSV: header is line 1
    pd.testing.assert_frame_equal(a[CANON].reset_index(drop=True), b[CANON].reset_index(drop=True))


def test_gcp_nested_parquet_and_underscore_csv_give_the_same_frame(tmp_path):
    records = [json.loads(line) for line in GCP_JSONL.read_text(encoding="utf-8").splitlines()]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "gcp.parquet")
    df = pd.read_csv(GCP_CSV, dtype=str, keep_default_na=False)
    df.columns = [c.replace(".", "_") for c in df.columns]
    df.to_csv(tmp_path / "gcp_us.csv", index=False)
    ref = _parse(gcp_carbon, GCP_JSONL).frame[CANON].reset_index(drop=True)
    for name in ("gcp.parquet", "gcp_us.csv"):
        got = _parse(gcp_carbon, tmp_path / name).frame[CANON].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref)


def test_gcp_components_summed_only_when_total_column_absent(tmp_path):
    df = pd.read_csv(GCP_CSV, dtype=str, keep_default_na=False)
    df = df.drop(columns=["carbon_footprint_total_kgCO2e.market_based"])
    df.to_csv(tmp_path / "parts.csv", index=False)
    p = _parse(gcp_carbon, tmp_path / "parts.csv")
    # market-based from scope1 + scope2.market_based + scope3: 10 + 501.5 + 77.3; row 3 has no scope2 MB -> NaN
    assert p.frame["market_based_kg_co2e"].iloc[0] == pytest.approx(10.0 + 501.5 + 77.3, rel=1e-12)
    assert pd.isna(p.frame["market_based_kg_co2e"].iloc[2])
    assert any("summed from scope1" in n for n in p.notes)


def test_gcp_row_outside_period_quarantined(tmp_path, ingest):
    ing = ingest(_cfg(tmp_path, "gcp_carbon", _copy(GCP_JSONL, tmp_path)))
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (4, 3, 1)
    q = _quarantine(tmp_path, ing)
    assert q["source_row"].tolist() == ["4"]
    assert "usage month is outside the reporting period (usage_month = '2026-06-01')" in q.loc[0, "reasons"]
    assert ing.frame["location_based_kg_co2e"].sum() == pytest.approx(1587.3 + 12.5 + 100.0, rel=1e-12)


# --- Azure emissions ----------------------------------------------------------------------------------------------

def test_azure_scope_rows_summed_per_key():
    p = _parse(azure_carbon, AZURE_CSV)
    fr = p.frame.set_index("source_row")
    # lines 2-4: Scope 1 0.001 + Scope 2 0.0125 + Scope 3 0.2 mtCO2e = 0.2135 t = 213.5 kg, market-based
    assert fr.loc[2, "market_based_kg_co2e"] == pytest.approx((0.001 + 0.0125 + 0.2) * 1000, rel=1e-12)
    assert pd.isna(fr.loc[2, "location_based_kg_co2e"])
    assert (fr.loc[2, "scopes"], fr.loc[2, "source_rows"]) == ("1;2;3", "2;3;4")
    assert (fr.loc[2, "provider"], fr.loc[2, "account_id"], fr.loc[2, "service"], fr.loc[2, "region"],
            fr.loc[2, "month"]) == ("azure", "sub-a", "Virtual Machines", "West Europe", "2026-07")
    assert fr.loc[5, "market_based_kg_co2e"] == pytest.approx(50.0, rel=1e-12)
    assert p.folded == {1: (0, "Scope 2 figure summed into row 2 (Scope 1+2+3 total)"),
                        2: (0, "Scope 3 figure summed into row 2 (Scope 1+2+3 total)")}
    assert sorted(p.frame["source_row"]) == [2, 5, 6]


def test_azure_ingest_outside_period_and_counts(tmp_path, ingest):
    ing = ingest(_cfg(tmp_path, "azure_carbon", _copy(AZURE_CSV, tmp_path)))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (5, 4, 1)
    q = _quarantine(tmp_path, ing)
    assert q["source_row"].tolist() == ["6"]
    assert "usage month is outside the reporting period (dateKey = '20261001')" in q.loc[0, "reasons"]
    assert ing.frame["market_based_kg_co2e"].sum() == pytest.approx(213.5 + 50.0, rel=1e-12)


def test_azure_unreadable_scope_row_quarantines_its_whole_key(tmp_path, ingest):
    lines = AZURE_CSV.read_text(encoding="utf-8").splitlines()
    bad = lines[2].replace("Scope 2,2,", "Scope 9,9,")
    repeat = lines[4]                                       # Scope 3 of sub-b again
    path = tmp_path / "a.csv"
    path.write_text("\n".join([lines[0], lines[1], bad, lines[3], lines[4], repeat]) + "\n", encoding="utf-8")
    ing = ingest(_cfg(tmp_path, "azure_carbon", "a.csv"))
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (5, 1, 4)
    assert ing.frame["market_based_kg_co2e"].tolist() == pytest.approx([50.0])
    q = _quarantine(tmp_path, ing).set_index("source_row")
    assert "scope 'Scope 9' is not Scope 1, 2 or 3" in q.loc["3", "reasons"]
    assert "would be incomplete" in q.loc["2", "reasons"] and "would be incomplete" in q.loc["4", "reasons"]
    assert "repeats Scope 3 of row 5" in q.loc["6", "reasons"]


def test_azure_odata_json_gives_the_csv_frame(tmp_path):
    df = pd.read_csv(AZURE_CSV, dtype=str, keep_default_na=False)
    value = [{"dateKey": int(r.dateKey), "enrollmentId": r.enrollmentId, "orgName": r.orgName,
              "subscriptionId": r.subscriptionId, "subscriptionName": r.subscriptionName,
              "azureServiceName": r.azureServiceName, "subService": r.subService,
              "azureRegionName": r.azureRegionName, "scope": r.scope, "scopeId": int(r.scopeId),
              "totalEmissions": float(r.totalEmissions)} for r in df.itertuples()]
    (tmp_path / "az.json").write_text(json.dumps({"@odata.context": "x", "value": value}), encoding="utf-8")
    a = _parse(azure_carbon, AZURE_CSV).frame
    b = _parse(azure_carbon, tmp_path / "az.json").frame
    cols = CANON + ["scopes"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


# --- period membership, sniffing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Auckland"])
def test_month_membership_does_not_depend_on_entity_zone(tmp_path, ingest, zone):
    # 2026-Q3 in these zones starts at 07:00Z on 1 July / 12:00Z on 30 June: July is still in, October out
    ing = ingest(_cfg(tmp_path, "aws_carbon", _copy(AWS_CSV, tmp_path), timezone=zone))
    assert sorted(ing.frame["month"]) == ["2026-07", "2026-08", "2026-09"]
    assert ing.report.rows_quarantined == 1


def test_sniff():
    aws_cols = aws_carbon.read_raw(AWS_CSV).columns
    gcp_cols = gcp_carbon.read_raw(GCP_JSONL).columns
    az_cols = azure_carbon.read_raw(AZURE_CSV).columns
    assert aws_carbon.sniff(aws_cols) and not aws_carbon.sniff(gcp_cols) and not aws_carbon.sniff(az_cols)
    assert gcp_carbon.sniff(gcp_cols) and not gcp_carbon.sniff(aws_cols) and not gcp_carbon.sniff(az_cols)
    assert azure_carbon.sniff(az_cols) and not azure_carbon.sniff(aws_cols) and not azure_carbon.sniff(gcp_cols)
    focus_like = ["ChargePeriodStart", "BilledCost", "ProviderName", "RegionId"]
    assert not any(m.sniff(focus_like) for m in (aws_carbon, gcp_carbon, azure_carbon))


def test_missing_required_column_stops_the_run(tmp_path, ingest):
    df = pd.read_csv(AWS_CSV, dtype=str, keep_default_na=False).drop(columns=["usage_period_start"])
    df.to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DisclosureError, match="usage_period_start"):
        ingest(_cfg(tmp_path, "aws_carbon", "x.csv"))


# --- property: rows in = accepted + quarantined, and every accepted row is in the frame or folded -----------------

values = st.one_of(st.floats(-5, 5, allow_nan=False).map(lambda x: f"{x:.4g}"),
                   st.sampled_from(["", "NULL", "abc", "1.2E-03", "0"]))
months = st.sampled_from(["2026-07-01", "2026-09-01", "2026-10-01", "2026-06-01", "", "garbage", "2026-13-01"])


def _check(cfg, adapter, path, validator, tmp_path):
    try:
        ing = ingest_source(cfg, cfg.sources[0], "carbon", path, validator, bounds(cfg), tmp_path)
    except DisclosureError:
        return
    r = ing.report
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    raw = adapter.read_raw(path)
    folded = adapter.to_canonical(raw, source_label=ing.label).folded
    kept_rows = set(ing.frame["source_row"])
    # a folded row counts as accepted when the row it was merged into was accepted (else it is quarantined too)
    folded_accepted = sum(1 for target, _ in folded.values() if raw.frame.at[target, "source_row"] in kept_rows)
    assert len(ing.frame) + folded_accepted == r.rows_accepted      # nothing accepted disappears unaccounted
    assert ing.frame["has_figure"].all()
    assert (ing.frame[["location_based_kg_co2e", "market_based_kg_co2e"]].fillna(0) >= 0).all().all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["2026-08-05 10:00:00Z", "2026-08-02 09:00:00Z", "", "bad"]),
                               st.sampled_from(["A", "B"]), months, values, values,
                               st.sampled_from(["MTCO2e", "kgCO2e", "", "lbs"]),
                               st.sampled_from(["v3.0.0", "v2.0.0", ""])), max_size=12))
def test_property_aws(rows, validator, tmp_path):
    header = ["last_refresh_timestamp", "model_version", "payer_account_id", "product_code", "region_code",
              "total_lbm_emissions_unit", "total_lbm_emissions_value", "total_mbm_emissions_unit",
              "total_mbm_emissions_value", "usage_account_id", "usage_period_start"]
    path = _write_csv(tmp_path / "p.csv", header, [[ts, mv, "1", svc, "us-east-1", unit, lb, unit, mb, "2", m]
                                                  for ts, svc, m, lb, mb, unit, mv in rows])
    _check(_cfg(tmp_path, "aws_carbon", "p.csv"), aws_carbon, path, validator, tmp_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(months, st.sampled_from(["p1", "", "NULL"]), values, values), max_size=12),
       as_json=st.booleans())
def test_property_gcp(rows, as_json, validator, tmp_path):
    if as_json:
        path = tmp_path / "p.jsonl"
        path.write_text("".join(json.dumps({
            "usage_month": m, "billing_account_id": "B", "project": {"id": prj or None, "number": ""},
            "service": {"description": "Compute Engine"}, "location": {"region": "us-east4"},
            "carbon_model_version": 1,
            "carbon_footprint_total_kgCO2e": {"location_based": lb, "market_based": mb}}) + "\n"
            for m, prj, lb, mb in rows) + ("{broken\n" if rows else ""), encoding="utf-8")
        if not rows:
            path.write_text("", encoding="utf-8")
    else:
        path = _write_csv(tmp_path / "p.csv", gcp_carbon.REQUIRED + ["carbon_footprint_total_kgCO2e.market_based"],
                          [[m, "B", prj, "Compute Engine", "us-east4", "1", lb, mb] for m, prj, lb, mb in rows])
    _check(_cfg(tmp_path, "gcp_carbon", path.name), gcp_carbon, path, validator, tmp_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["20260701", "20260801", "20261001", "2026-09", "x", ""]),
                               st.sampled_from(["sub-a", "sub-b"]),
                               st.sampled_from(["Scope 1", "Scope 2", "Scope 3", "Scope 4", "", "2"]), values),
                     max_size=12))
def test_property_azure(rows, validator, tmp_path):
    path = _write_csv(tmp_path / "p.csv", azure_carbon.REQUIRED,
                      [[d, sub, "Virtual Machines", "West Europe", scope, v] for d, sub, scope, v in rows])
    _check(_cfg(tmp_path, "azure_carbon", "p.csv"), azure_carbon, path, validator, tmp_path)
