"""pipeline/sources/azure_cost.py: Azure cost details exports (EA / MCA) -> canonical usage frame."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import config_from_dict
from pipeline.errors import DisclosureError, InputError, ValidationFailed
from pipeline.ingest import ingest_source
from pipeline.period import bounds
from pipeline.sources import azure_cost, focus, gcp_billing

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
AZURE_DIR = SHARED_DATA / "azure"
SAMPLES = ["EA_ActualCost_Small.csv", "EA_AmortizedCost_Small.csv", "EA_NoRows.csv",
           "sample-anonymous-ea-export-dataset.csv"]

EA_HEADER = ["BillingAccountId", "SubscriptionId", "Date", "ServiceFamily", "MeterCategory", "MeterSubCategory",
             "MeterName", "Quantity", "Cost", "BillingCurrency", "ResourceLocation", "AdditionalInfo", "Tags",
             "UnitOfMeasure", "ChargeType", "PricingModel"]
# the MCA spelling of the same columns (camelCase; costInBillingCurrency instead of the EA "Cost")
MCA_NAMES = {"BillingAccountId": "billingAccountId", "SubscriptionId": "subscriptionId", "Date": "date",
             "ServiceFamily": "serviceFamily", "MeterCategory": "meterCategory", "MeterSubCategory": "meterSubCategory",
             "MeterName": "meterName", "Quantity": "quantity", "Cost": "costInBillingCurrency",
             "BillingCurrency": "billingCurrency", "ResourceLocation": "resourceLocation",
             "AdditionalInfo": "additionalInfo", "Tags": "tags", "UnitOfMeasure": "unitOfMeasure",
             "ChargeType": "chargeType", "PricingModel": "pricingModel"}


def _row(**kw) -> dict:
    base = {"BillingAccountId": "8611537", "SubscriptionId": "sub-1", "Date": "09/21/2023", "ServiceFamily": "Compute",
            "MeterCategory": "Virtual Machines", "MeterSubCategory": "Dv3/DSv3 Series", "MeterName": "D2 v3/D2s v3",
            "Quantity": "24", "Cost": "2.64", "BillingCurrency": "USD", "ResourceLocation": "EastUS",
            "AdditionalInfo": "", "Tags": "", "UnitOfMeasure": "1 Hour", "ChargeType": "Usage",
            "PricingModel": "OnDemand"}
    base.update(kw)
    return base


def _write(path: Path, rows: list[dict], header: list[str] | None = None, names: dict | None = None) -> Path:
    header = header or EA_HEADER
    names = names or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([names.get(h, h) for h in header])
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _canon(path: Path) -> pd.DataFrame:
    return azure_cost.to_canonical(azure_cost.read_raw(path), source_label=path.name).frame


def _cfg(tmp_path: Path, path: str, period: str = "2023-Q3"):
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": "UTC"},
        "period": period,
        "contracts": [{"id": "c-azure", "kind": "cloud", "provider": "azure"}],
        "sources": [{"id": "bill", "kind": "azure_cost", "path": path, "contracts": ["c-azure"]}],
    }, base_dir=tmp_path)


def _csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# --- real samples ------------------------------------------------------------------------------------------

def _require_samples() -> None:
    if not AZURE_DIR.is_dir():
        pytest.skip(f"shared sample data not present ({AZURE_DIR})")


@pytest.mark.parametrize("name", SAMPLES)
def test_real_sample_parses_and_counts(name, tmp_path, ingest):
    _require_samples()
    path = AZURE_DIR / name
    rows = _csv_rows(path)
    raw = azure_cost.read_raw(path)
    assert azure_cost.sniff(raw.columns)
    frame = azure_cost.to_canonical(raw, source_label=name).frame
    assert len(frame) == len(rows)
    assert (frame["provider"] == "azure").all()

    # Virtual Machines hour rows counted by hand from the CSV
    def is_vm_usage(r):
        return (r["MeterCategory"] == "Virtual Machines" and r["ChargeType"] == "Usage"
                and r["UnitOfMeasure"].split()[-1] in ("Hour", "Hours"))
    vm_rows = [r for r in rows if is_vm_usage(r)]
    assert int((frame["usage_kind"] == "instance_hours").sum()) == len(vm_rows)
    assert frame.loc[frame["usage_kind"] == "instance_hours", "instance_type"].notna().all()
    hours_by_hand = sum(float(r["Quantity"]) * float(r["UnitOfMeasure"].split()[0]) for r in vm_rows)
    assert frame.loc[frame["usage_kind"] == "instance_hours", "usage_amount"].sum() == pytest.approx(hours_by_hand,
                                                                                                     rel=1e-9)
    purchases = sum(1 for r in rows if r["ChargeType"] == "Purchase")
    assert int((frame["charge_category"] == "Purchase").sum()) == purchases
    # every sample row is dated in September 2023
    assert (frame["usage_start_utc"].dt.strftime("%Y-%m") == "2023-09").all()

    # row accounting through ingest: rows that must be quarantined, decided by hand from the raw text
    def bad(r):
        cost = r.get("CostInBillingCurrency", r.get("Cost"))
        try:
            float(cost)
        except ValueError:
            return True
        if r["ChargeType"] not in ("Usage", "Purchase", "Refund", "Tax", "RoundingAdjustment"):
            return True
        return r["ChargeType"] == "Usage" and float(r["Quantity"]) < 0
    expected_bad = sum(1 for r in rows if bad(r))
    ing = ingest(_cfg(tmp_path, str(path)))
    rep = ing.report
    assert rep.rows_read == len(rows)
    assert rep.rows_quarantined == expected_bad
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert len(ing.frame) == rep.rows_accepted


def test_no_rows_sample_gives_empty_frame(tmp_path, ingest):
    _require_samples()
    path = AZURE_DIR / "EA_NoRows.csv"
    frame = _canon(path)
    assert len(frame) == 0
    assert list(frame.columns[:3]) == ["source_file", "source_row", "line_item_id"]
    ing = ingest(_cfg(tmp_path, str(path)))
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (0, 0, 0)


def test_real_sample_reservation_purchase_and_tags():
    _require_samples()
    frame = _canon(AZURE_DIR / "EA_ActualCost_Small.csv")
    # line 2 is the reservation purchase (ChargeType Purchase, "Reserved VM Instance, Standard_B1s"), region uksouth
    row = frame[frame["source_row"] == 2].iloc[0]
    assert row["charge_category"] == "Purchase"
    assert row["usage_kind"] == "other" and pd.isna(row["usage_amount"])
    assert row["region"] == "uksouth"
    # line 3 has brace-less tags
    tags = json.loads(frame.loc[frame["source_row"] == 3, "tags_json"].iloc[0])
    assert tags == {"CostCenter": "1234", "env": "prod", "org": "trey", "application": "databricks",
                    "databricks-environment": "true"}


def test_real_amortized_reservation_usage_is_usage():
    _require_samples()
    frame = _canon(AZURE_DIR / "EA_AmortizedCost_Small.csv")
    # line 2: reservation-covered D2 v2 usage, 8 hours, cost 0.493152, AdditionalInfo ServiceType Standard_DS2_v2
    row = frame[frame["source_row"] == 2].iloc[0]
    assert row["charge_category"] == "Usage"
    assert row["usage_kind"] == "instance_hours"
    assert row["instance_type"] == "Standard_DS2_v2"
    assert row["usage_amount"] == pytest.approx(8.0, rel=1e-9)
    assert row["cost"] == pytest.approx(0.493152, rel=1e-9)


def test_real_anonymous_sample_month_first_dates():
    _require_samples()
    frame = _canon(AZURE_DIR / "sample-anonymous-ea-export-dataset.csv")
    # "9/2/2023" is 2 September (month first), never 9 February
    assert (frame["usage_start_utc"] == pd.Timestamp("2023-09-02T00:00:00Z")).all()
    assert (frame["usage_end_utc"] == pd.Timestamp("2023-09-03T00:00:00Z")).all()
    assert set(frame["currency"]) == {"CAD"}
    # CostInBillingCurrency "5.64902E-05" on line 3
    assert frame.loc[frame["source_row"] == 3, "cost"].iloc[0] == pytest.approx(5.64902e-05, rel=1e-9)
    # Spot VM meter without a size in AdditionalInfo: "DS4 v2 Spot" -> Standard_DS4_v2 (line 4)
    assert frame.loc[frame["source_row"] == 4, "instance_type"].iloc[0] == "Standard_DS4_v2"


# --- fixtures written here ---------------------------------------------------------------------------------

def test_gpu_vm_size_and_unit_multiplier(tmp_path):
    info = json.dumps({"UsageType": "ComputeHR", "ServiceType": "Standard_ND96asr_v4", "VMName": "gpu-node-0",
                       "VCPUs": 96})
    p = _write(tmp_path / "a.csv", [
        _row(MeterSubCategory="NDasr A100 v4 Series", MeterName="ND96asr A100 v4", Quantity="3",
             UnitOfMeasure="10 Hours", AdditionalInfo=info, Cost="816.0"),
        _row(MeterSubCategory="NDasr A100 v4 Series", MeterName="ND96asr A100 v4", Quantity="2",
             UnitOfMeasure="1 Hour"),
        _row(MeterSubCategory="NCads A100 v4 Series", MeterName="NC24ads A100 v4 Spot", Quantity="1.5",
             UnitOfMeasure="100 Hours"),
        _row(),                                                         # D2 v3/D2s v3 -> first name
        _row(MeterName="Standard Throughput Unit"),                     # no digit: not a size
    ])
    f = _canon(p)
    assert f["usage_kind"].tolist() == ["instance_hours"] * 5
    # 3 x "10 Hours" = 30 hours; 2 x "1 Hour" = 2; 1.5 x "100 Hours" = 150; 24 x "1 Hour" = 24
    assert f["usage_amount"].tolist()[:4] == [pytest.approx(30.0), pytest.approx(2.0), pytest.approx(150.0),
                                              pytest.approx(24.0)]
    assert f["quantity"].tolist()[0] == pytest.approx(3.0)      # the raw quantity stays as exported
    assert f["unit"].tolist()[0] == "10 Hours"
    got = [None if pd.isna(v) else v for v in f["instance_type"]]
    assert got == ["Standard_ND96asr_v4", "Standard_ND96asr_v4", "Standard_NC24ads_A100_v4", "Standard_D2_v3", None]
    assert f["accelerator_model"].isna().all()


@pytest.mark.parametrize("info, meter, expected", [
    ('{"ServiceType":"Standard_D2s_v3","UsageType":"ComputeHR"}', "D2 v3/D2s v3", "Standard_D2s_v3"),
    ('{"VMSize":"NC6s_v3"}', "NC6s v3", "Standard_NC6s_v3"),
    ('{"ServiceType":"SQLThreatDetection"}', "B1s", "Standard_B1s"),  # not a VM size: meter name used
    ("not json", "F2/F2s", "Standard_F2"),
    ("", "L4s Spot", "Standard_L4s"),
    ("", "ND96isr H100 v5", "Standard_ND96isr_H100_v5"),
    ("", "vCore", None),
])
def test_vm_size_rule(info, meter, expected):
    got = azure_cost.vm_size(info or None, meter)
    assert (None if pd.isna(got) else got) == expected


def test_charge_types_purchase_refund_tax_rounding_unused(tmp_path, ingest):
    p = _write(tmp_path / "a.csv", [
        _row(ChargeType="Purchase", PricingModel="Reservation", Quantity="1", Cost="3.25",
             MeterName="B1s", MeterSubCategory="BS Series"),                                      # line 2
        _row(ChargeType="Refund", Quantity="-1", Cost="-3.25"),                                   # line 3
        _row(ChargeType="Tax", Quantity="", Cost="0.5", MeterCategory="", UnitOfMeasure=""),      # line 4
        _row(ChargeType="RoundingAdjustment", Quantity="", Cost="0.01", MeterCategory="",
             UnitOfMeasure=""),                                                                   # line 5
        _row(ChargeType="UnusedReservation", Quantity="5", Cost="0.4"),                           # line 6
        _row(ChargeType="Usage"),                                                                 # line 7
        _row(ChargeType="Bogus"),                                                                 # line 8
        _row(ChargeType=""),                                                                      # line 9
    ])
    f = _canon(p)
    assert f["charge_category"].tolist()[:6] == ["Purchase", "Credit", "Tax", "Adjustment", "Usage", "Usage"]
    assert f["charge_category"].iloc[6:].isna().all()
    # the purchase is never usage; only the real usage row gets instance hours
    assert f["usage_kind"].tolist()[:6] == ["other", "other", "other", "other", "other", "instance_hours"]
    assert f["energy_exclusion"].iloc[4] == "unused commitment: no resource ran"
    assert f["energy_exclusion"].drop(index=4).isna().all()
    assert f["cost"].iloc[1] == pytest.approx(-3.25)

    ing = ingest(_cfg(tmp_path, "a.csv"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (8, 6, 2)
    assert sorted(ing.frame["source_row"]) == [2, 3, 4, 5, 6, 7]
    assert ing.frame.set_index("source_row")["is_usage"].to_dict() == {2: False, 3: False, 4: False, 5: False,
                                                                       6: True, 7: True}
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["failed_expectations"]))
    assert reasons == {8: "unknown_charge_type", 9: "unknown_charge_type"}


def test_no_charge_type_column_means_usage(tmp_path):
    header = [h for h in EA_HEADER if h != "ChargeType"]
    f = _canon(_write(tmp_path / "a.csv", [_row()], header))
    assert f["charge_category"].tolist() == ["Usage"]


def test_storage_network_and_other_kinds(tmp_path):
    p = _write(tmp_path / "a.csv", [
        _row(MeterCategory="Storage", MeterName="Hot LRS Data Stored", UnitOfMeasure="100 GB/Month",
             Quantity="0.5"),                                                                     # 50 GB-months
        _row(MeterCategory="Bandwidth", MeterName="Standard Data Transfer Out", UnitOfMeasure="1 GB",
             Quantity="12.5"),
        _row(MeterCategory="Virtual Network", MeterName="Intra-Region Egress", UnitOfMeasure="10 GB",
             Quantity="2"),                                                                       # 20 GB
        _row(MeterCategory="Log Analytics", MeterName="Data Ingestion", UnitOfMeasure="1 GB", Quantity="3"),
        _row(MeterCategory="Storage", MeterName="All Other Operations", UnitOfMeasure="10K", Quantity="4"),
        _row(MeterCategory="Storage", MeterName="P30 LRS Disk", UnitOfMeasure="1/Month", Quantity="0.033336"),
        _row(MeterCategory="SQL Managed Instance", MeterName="vCore", UnitOfMeasure="1 Hour", Quantity="2"),
    ])
    f = _canon(p)
    assert f["usage_kind"].tolist() == ["storage_gb_months", "network_gb", "network_gb", "other", "other", "other",
                                        "other"]
    assert f["usage_amount"].iloc[0] == pytest.approx(50.0)
    assert f["usage_amount"].iloc[1] == pytest.approx(12.5)
    assert f["usage_amount"].iloc[2] == pytest.approx(20.0)
    assert f["usage_amount"].iloc[3:].isna().all()


@pytest.mark.parametrize("unit, expected", [
    ("1 Hour", (1.0, "hour")), ("10 Hours", (10.0, "hours")), ("100 Hours", (100.0, "hours")),
    ("1 GB/Month", (1.0, "gb/month")), ("10K", (10000.0, "")), ("1/Month", (1.0, "/month")),
    ("1 MB", (1.0, "mb")), ("Hours", (1.0, "hours")),
])
def test_parse_unit(unit, expected):
    assert azure_cost.parse_unit(unit) == expected


def test_region_names_and_tags(tmp_path):
    p = _write(tmp_path / "a.csv", [
        _row(ResourceLocation="UK South", Tags='"env": "prod","team": "ml"'),
        _row(ResourceLocation="uksouth", Tags='{"env": "prod", "team": "ml"}'),
        _row(ResourceLocation="", Tags='"broken'),
    ])
    raw = azure_cost.read_raw(p)
    parsed = azure_cost.to_canonical(raw, source_label="a.csv")
    f = parsed.frame
    assert f["region"].tolist()[:2] == ["uksouth", "uksouth"]
    assert pd.isna(f["region"].iloc[2])
    assert f["tags_json"].tolist() == ['{"env": "prod", "team": "ml"}'] * 2 + ["{}"]
    assert any("1 row(s) with unreadable Tags" in n for n in parsed.notes)


def test_dates_are_month_first_and_cover_one_day(tmp_path, ingest):
    p = _write(tmp_path / "a.csv", [
        _row(Date="09/21/2023"),              # line 2
        _row(Date="7/4/2023"),                # line 3: 4 July
        _row(Date="2023-08-31"),              # line 4: ISO (MCA style)
        _row(Date="2023-13-01"),              # line 5: no 13th month
        _row(Date="Sep 21 2023"),             # line 6: unknown shape
        _row(Date="10/01/2023"),              # line 7: outside 2023-Q3
    ])
    f = _canon(p)
    assert f["usage_start_utc"].iloc[0] == pd.Timestamp("2023-09-21T00:00:00Z")
    assert f["usage_start_utc"].iloc[1] == pd.Timestamp("2023-07-04T00:00:00Z")
    assert f["usage_start_utc"].iloc[2] == pd.Timestamp("2023-08-31T00:00:00Z")
    assert f["usage_start_utc"].iloc[3:5].isna().all()
    assert (f["usage_end_utc"] - f["usage_start_utc"]).dropna().eq(pd.Timedelta(days=1)).all()
    ing = ingest(_cfg(tmp_path, "a.csv"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (6, 3, 3)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
    assert "(Date = '2023-13-01')" in reasons[5]
    assert "(Date = 'Sep 21 2023')" in reasons[6]
    assert "outside the reporting period" in reasons[7]


def test_mca_camel_case_equals_ea(tmp_path, ingest):
    rows = [
        _row(Date="2023-09-21", AdditionalInfo='{"ServiceType":"Standard_NC24ads_A100_v4"}',
             MeterName="NC24ads A100 v4", Quantity="5", UnitOfMeasure="10 Hours", Tags='{"project": "llm"}'),
        _row(Date="2023-09-22", MeterCategory="Bandwidth", MeterName="Standard Data Transfer Out",
             UnitOfMeasure="1 GB", Quantity="7", ResourceLocation="West Europe"),
    ]
    ea_rows = [{**r, "Date": pd.Timestamp(r["Date"]).strftime("%m/%d/%Y")} for r in rows]
    ea = _write(tmp_path / "ea.csv", ea_rows)
    mca = _write(tmp_path / "mca.csv", rows, names=MCA_NAMES)
    raw = azure_cost.read_raw(mca)
    assert azure_cost.sniff(raw.columns)
    assert {"Date", "MeterCategory", "CostInBillingCurrency", "UnitOfMeasure"} <= set(raw.columns)
    a, b = _canon(ea).drop(columns="source_file"), _canon(mca).drop(columns="source_file")
    pd.testing.assert_frame_equal(a, b)
    assert b["usage_amount"].tolist() == [pytest.approx(50.0), pytest.approx(7.0)]
    assert b["instance_type"].iloc[0] == "Standard_NC24ads_A100_v4"
    assert b["region"].tolist() == ["eastus", "westeurope"]
    # the header check passes on the camelCase file and both rows are accepted
    ing = ingest(_cfg(tmp_path, "mca.csv"))
    assert (ing.report.rows_read, ing.report.rows_accepted) == (2, 2)


def test_cost_in_billing_currency_preferred_over_cost(tmp_path):
    header = EA_HEADER + ["CostInBillingCurrency"]
    f = _canon(_write(tmp_path / "a.csv", [_row(Cost="1.0", CostInBillingCurrency="2.0")], header))
    assert f["cost"].tolist() == [pytest.approx(2.0)]


def test_missing_required_column_stops(tmp_path, ingest):
    header = [h for h in EA_HEADER if h != "MeterCategory"]
    _write(tmp_path / "a.csv", [_row()], header)
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "a.csv"))
    assert "required column 'MeterCategory' is missing" in str(ei.value)


def test_line_item_id_empty_so_identical_rows_are_not_duplicates(tmp_path, ingest):
    _write(tmp_path / "a.csv", [_row(), _row()])
    ing = ingest(_cfg(tmp_path, "a.csv"))
    assert (ing.report.rows_accepted, ing.report.rows_quarantined) == (2, 0)
    assert ing.frame["line_item_id"].isna().all()


# --- sniff -------------------------------------------------------------------------------------------------

def test_sniff():
    assert azure_cost.sniff(EA_HEADER)
    assert azure_cost.sniff([MCA_NAMES[h] for h in EA_HEADER])
    focus_header = ["BillingAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost",
                    "ConsumedQuantity", "ConsumedUnit", "ServiceName", "RegionId", "BillingCurrency"]
    gcp_header = ["billing_account_id", "service.description", "sku.description", "usage_start_time",
                  "usage_end_time", "project.id", "cost", "currency", "usage.amount", "usage.unit"]
    assert not azure_cost.sniff(focus_header)
    assert not azure_cost.sniff(gcp_header)
    assert not focus.sniff(EA_HEADER)
    assert not gcp_billing.sniff(EA_HEADER)


def test_kind_auto_recognises_azure(tmp_path, validator):
    _write(tmp_path / "a.csv", [_row()])
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD"},
        "period": "2023-Q3",
        "contracts": [{"id": "c-azure", "kind": "cloud", "provider": "azure"}],
        "sources": [{"id": "bill", "kind": "auto", "path": "a.csv", "contracts": ["c-azure"]}],
    }, base_dir=tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    ing = ingest_source(cfg, cfg.sources[0], "bill", tmp_path / "a.csv", validator, bounds(cfg), out)
    assert ing.kind == "azure_cost"


# --- property: rows in = accepted + quarantined ---------------------------------------------------------------

numbers = st.one_of(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.6g}"),
                    st.sampled_from(["", "NULL", "abc", "1.2E+05", "-0"]))
azure_rows = st.lists(st.fixed_dictionaries({
    "BillingAccountId": st.just("1"), "SubscriptionId": st.sampled_from(["s1", ""]),
    "Date": st.sampled_from(["09/21/2023", "9/2/2023", "2023-08-01", "13/40/2023", "", "06/30/2023", "garbage"]),
    "ServiceFamily": st.just("Compute"),
    "MeterCategory": st.sampled_from(["Virtual Machines", "Storage", "Bandwidth", ""]),
    "MeterSubCategory": st.text(max_size=6), "MeterName": st.sampled_from(["ND96asr A100 v4", "D2 v3", "x", ""]),
    "Quantity": numbers, "Cost": numbers, "BillingCurrency": st.just("USD"),
    "ResourceLocation": st.sampled_from(["UK South", "eastus", ""]),
    "AdditionalInfo": st.sampled_from(["", "{", '{"ServiceType":"Standard_ND96asr_v4"}', "[]"]),
    "Tags": st.sampled_from(["", '"a": "b"', "{", '{"a": 1}']),
    "UnitOfMeasure": st.sampled_from(["1 Hour", "10 Hours", "1 GB/Month", "1 GB", "10K", "", "abc"]),
    "ChargeType": st.sampled_from(["Usage", "Purchase", "Refund", "Tax", "UnusedReservation", "Bogus", ""]),
    "PricingModel": st.just("OnDemand"),
}), min_size=0, max_size=20)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=azure_rows)
def test_property_rows_in_equal_accepted_plus_quarantined(rows, validator, tmp_path):
    path = _write(tmp_path / "p.csv", rows)
    cfg = _cfg(tmp_path, "p.csv")
    try:
        ing = ingest_source(cfg, cfg.sources[0], "p", path, validator, bounds(cfg), tmp_path)
    except DisclosureError:
        return
    r = ing.report
    assert r.rows_read == len(rows)
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    assert len(ing.frame) == r.rows_accepted


def test_parquet_equals_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_row(Quantity="3", UnitOfMeasure="10 Hours", MeterName="ND96asr A100 v4"),
            _row(MeterCategory="Storage", UnitOfMeasure="1 GB/Month", Quantity="4", Cost="0.1")]
    csv_path = _write(tmp_path / "a.csv", rows)
    data = {h: [r[h] for r in rows] for h in EA_HEADER}
    data["Quantity"] = [3.0, 4.0]          # typed numbers, as a Parquet export has them
    data["Cost"] = [2.64, 0.1]
    pq.write_table(pa.table(data), tmp_path / "a.parquet")
    a = _canon(csv_path).drop(columns=["source_file", "source_row"])
    b = _canon(tmp_path / "a.parquet").drop(columns=["source_file", "source_row"])
    pd.testing.assert_frame_equal(a, b)
    assert b["usage_amount"].tolist() == [pytest.approx(30.0), pytest.approx(4.0)]


def test_a_file_resaved_day_first_is_read_day_first_with_a_note(tmp_path):
    """Every date column of the file is day first (a spreadsheet re-save): 08/09/2026 is 8 September."""
    from pipeline.sources import azure_cost as az

    src = Path(__file__).resolve().parents[1] / "corpus" / "billing" / "azure_cost_day_first_annual.csv"
    text = src.read_text(encoding="utf-8").replace("07/01/2026", "01/07/2026").replace("07/31/2026", "31/07/2026")
    p = tmp_path / "resaved.csv"
    p.write_text(text, encoding="utf-8")
    parsed = az.to_canonical(az.read_raw(p), source_label="resaved.csv")
    days = [str(d.date()) for d in parsed.frame["usage_start_utc"]]
    assert days == ["2026-08-31", "2026-09-08", "2026-02-03"]
    assert any("day first" in n for n in parsed.notes)


def test_a_file_with_both_date_orders_is_refused(tmp_path):
    # 09/21 can only be month first, 21/09 only day first: the file cannot be read one way, so it is refused
    p = _write(tmp_path / "a.csv", [_row(Date="09/21/2023"), _row(Date="21/09/2023")])
    with pytest.raises(InputError) as ei:
        _canon(p)
    assert "mixes day-first and month-first dates" in str(ei.value)
