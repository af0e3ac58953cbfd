"""pipeline/sources/aws_cur.py: AWS Cost and Usage Reports (legacy CSV / CSV.gz, CUR 2.0 Parquet) -> canonical usage."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import config_from_dict
from pipeline.errors import DisclosureError, InputError
from pipeline.sources import aws_cur

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "aws-cur" / "sample-anonymous-aws-export-dataset.csv"

HEADER = ["identity/LineItemId", "identity/TimeInterval", "bill/PayerAccountId", "lineItem/UsageAccountId",
          "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
          "lineItem/UsageType", "lineItem/AvailabilityZone", "lineItem/UsageAmount", "lineItem/CurrencyCode",
          "lineItem/UnblendedCost", "product/ProductName", "product/instanceType", "product/region",
          "product/regionCode", "product/productFamily", "pricing/unit", "resourceTags/user:project",
          "resourceTags/user:workload"]

DAY = "2026-07-01T00:00:00Z/2026-07-02T00:00:00Z"
EC2 = "Amazon Elastic Compute Cloud"


def _row(lid: str, line_type: str, usage_type: str, amount: str, cost: str, unit: str, **kw) -> dict:
    base = {"identity/LineItemId": lid, "identity/TimeInterval": DAY, "bill/PayerAccountId": "111111111111",
            "lineItem/UsageAccountId": "222222222222", "lineItem/LineItemType": line_type,
            "lineItem/UsageStartDate": "2026-07-01T00:00:00Z", "lineItem/UsageEndDate": "2026-07-02T00:00:00Z",
            "lineItem/ProductCode": "AmazonEC2", "lineItem/UsageType": usage_type, "lineItem/AvailabilityZone": "",
            "lineItem/UsageAmount": amount, "lineItem/CurrencyCode": "USD", "lineItem/UnblendedCost": cost,
            "product/ProductName": EC2, "product/instanceType": "", "product/region": "", "product/regionCode": "us-east-1",
            "product/productFamily": "", "pricing/unit": unit, "resourceTags/user:project": "",
            "resourceTags/user:workload": ""}
    base.update(kw)
    return base


# The fixture: one row per case; expected values written by hand next to each.
ROWS = [
    # 0 line 2: on-demand GPU hours, instance type in product/instanceType, both tags
    _row("box-1", "Usage", "USE1-BoxUsage:p4d.24xlarge", "24", "786.48", "Hrs", **{
        "product/instanceType": "p4d.24xlarge", "product/productFamily": "Compute Instance",
        "resourceTags/user:project": "llm", "resourceTags/user:workload": "training"}),
    # 1 line 3: instance type only in the usage type; region only from the availability zone
    _row("box-2", "Usage", "USE1-BoxUsage:p4d.24xlarge", "3.5", "114.695", "Hrs", **{
        "product/regionCode": "", "lineItem/AvailabilityZone": "us-east-1b", "resourceTags/user:project": "llm"}),
    # 2 line 4: instance on a dedicated host
    _row("host-1", "Usage", "USE1-HostBoxUsage:p4d.24xlarge", "10", "0", "Hrs",
         **{"product/instanceType": "p4d.24xlarge"}),
    # 3 line 5: ECS task share of an EC2 instance
    _row("ecs-1", "Usage", "USE1-ECS-EC2-vCPU-Hours", "96", "0", "vCPU-Hours",
         **{"lineItem/ProductCode": "AmazonECS", "product/ProductName": "Amazon Elastic Container Service"}),
    # 4 line 6: EMR on EKS uplift
    _row("emreks-1", "Usage", "USE1-EMR-EKS-EC2-vCPUHours", "48", "0.48", "vCPU-Hours",
         **{"lineItem/ProductCode": "ElasticMapReduce", "product/ProductName": "Amazon Elastic MapReduce"}),
    # 5 line 7: Savings Plan covered usage (product/region only)
    _row("sp-1", "SavingsPlanCoveredUsage", "EUW2-BoxUsage:g5.xlarge", "5", "6.06", "Hrs", **{
        "product/regionCode": "", "product/region": "eu-west-2", "resourceTags/user:workload": "inference"}),
    # 6 line 8: its negation
    _row("spn-1", "SavingsPlanNegation", "EUW2-BoxUsage:g5.xlarge", "5", "-6.06", "Hrs", **{
        "product/regionCode": "", "product/region": "eu-west-2"}),
    # 7 line 9: tax
    _row("tax-1", "Tax", "", "1", "12.5", "", **{"product/ProductName": "", "product/regionCode": ""}),
    # 8 line 10: reserved-instance usage
    _row("ri-1", "DiscountedUsage", "APN1-BoxUsage:m5.large", "24", "0", "Hrs",
         **{"product/regionCode": "ap-northeast-1"}),
    # 9 line 11: EBS volume
    _row("ebs-1", "Usage", "USE1-EBS:VolumeUsage.gp3", "100", "8", "GB-Mo",
         **{"product/productFamily": "Storage", "resourceTags/user:project": "llm"}),
    # 10 line 12: data transfer
    _row("dt-1", "Usage", "USE1-DataTransfer-Out-Bytes", "50", "4.5", "GB",
         **{"product/productFamily": "Data Transfer"}),
    # 11 line 13: the first row again (same LineItemId and TimeInterval): re-delivered
    None,
    # 12 line 14: RI recurring fee
    _row("rifee-1", "RIFee", "APN1-HeavyUsage:m5.large", "744", "50", "Hrs"),
    # 13 line 15: credit
    _row("credit-1", "Credit", "", "0", "-100", "", **{"product/ProductName": "", "product/regionCode": ""}),
]
ROWS[11] = dict(ROWS[0])

TRAP_ROWS = {2, 3, 4, 6}
EXPECTED = {
    # i: (charge_category, usage_kind, instance_type, usage_amount, region, service_category, tags)
    0: ("Usage", "instance_hours", "p4d.24xlarge", 24.0, "us-east-1", "Compute", {"project": "llm", "workload": "training"}),
    1: ("Usage", "instance_hours", "p4d.24xlarge", 3.5, "us-east-1", "Compute", {"project": "llm"}),
    2: ("Usage", "instance_hours", "p4d.24xlarge", 10.0, "us-east-1", "Compute", {}),
    3: ("Usage", "other", None, None, "us-east-1", "Compute", {}),
    4: ("Usage", "other", None, None, "us-east-1", "Analytics", {}),
    5: ("Usage", "instance_hours", "g5.xlarge", 5.0, "eu-west-2", "Compute", {"workload": "inference"}),
    6: ("Adjustment", "instance_hours", "g5.xlarge", 5.0, "eu-west-2", "Compute", {}),
    7: ("Tax", "other", None, None, None, "Compute", {}),
    8: ("Usage", "instance_hours", "m5.large", 24.0, "ap-northeast-1", "Compute", {}),
    9: ("Usage", "storage_gb_months", None, 100.0, "us-east-1", "Storage", {"project": "llm"}),
    10: ("Usage", "network_gb", None, 50.0, "us-east-1", "Networking", {}),
    11: ("Usage", "instance_hours", "p4d.24xlarge", 24.0, "us-east-1", "Compute", {"project": "llm", "workload": "training"}),
    12: ("Purchase", "other", None, None, "us-east-1", "Compute", {}),
    13: ("Credit", "other", None, None, None, "Compute", {}),
}


def _write(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or HEADER
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return path


def _gzip(src: Path, dst: Path) -> Path:
    with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    return dst


def _canon(path: Path) -> pd.DataFrame:
    return aws_cur.to_canonical(aws_cur.read_raw(path), source_label=path.name).frame


def _cfg(tmp_path: Path, path: str, period: str = "2026-Q3") -> object:
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD", "timezone": "UTC"},
        "period": period,
        "contracts": [{"id": "c-aws", "kind": "cloud", "provider": "aws"}],
        "sources": [{"id": "cur", "kind": "aws_cur", "path": path, "contracts": ["c-aws"]}],
    }, base_dir=tmp_path)


def _none(v):
    return None if pd.isna(v) else v


# --- the legacy fixture ----------------------------------------------------------------------------------

@pytest.fixture
def legacy_csv(tmp_path) -> Path:
    return _write(tmp_path / "cur.csv", ROWS)


@pytest.mark.parametrize("compressed", [False, True])
def test_legacy_rows_mapped(tmp_path, legacy_csv, compressed):
    path = _gzip(legacy_csv, tmp_path / "cur.csv.gz") if compressed else legacy_csv
    frame = _canon(path)
    assert len(frame) == len(ROWS)
    assert frame["source_row"].tolist() == list(range(2, len(ROWS) + 2))
    for i, (cat, kind, itype, amount, region, scat, tags) in EXPECTED.items():
        row = frame.loc[i]
        assert row["charge_category"] == cat, i
        assert row["usage_kind"] == kind, i
        assert _none(row["instance_type"]) == itype, i
        if amount is None:
            assert pd.isna(row["usage_amount"]), i
        else:
            assert row["usage_amount"] == pytest.approx(amount, rel=1e-12), i
        assert _none(row["region"]) == region, i
        assert _none(row["service_category"]) == scat, i
        assert row["tags_json"] == json.dumps(tags, sort_keys=True), i
        # energy exclusion set exactly on the trap rows
        assert pd.notna(row["energy_exclusion"]) == (i in TRAP_ROWS), i
        assert row["provider"] == "aws"
        assert row["line_item_id"] == f"{ROWS[i]['identity/LineItemId']}|{DAY}"
        assert row["cost"] == pytest.approx(float(ROWS[i]["lineItem/UnblendedCost"]), rel=1e-12)
        assert row["quantity"] == pytest.approx(float(ROWS[i]["lineItem/UsageAmount"]), rel=1e-12)
        assert row["billing_account_id"] == "111111111111" and row["account_id"] == "222222222222"
    assert frame.loc[2, "energy_exclusion"].startswith("double counted: instance running on a Dedicated Host")
    assert frame.loc[3, "energy_exclusion"].startswith("double counted: ECS task share")
    assert frame.loc[4, "energy_exclusion"].startswith("double counted: EMR on EKS")
    assert frame.loc[6, "energy_exclusion"].startswith("negation:")
    assert frame.loc[0, "service"] == EC2 and frame.loc[7, "service"] == "AmazonEC2"   # ProductName, else ProductCode
    assert frame.loc[0, "usage_start_utc"] == pd.Timestamp("2026-07-01T00:00:00Z")
    assert frame.loc[0, "usage_end_utc"] == pd.Timestamp("2026-07-02T00:00:00Z")
    # tag keys sorted, without the "user:" prefix
    assert list(json.loads(frame.loc[0, "tags_json"])) == ["project", "workload"]


def test_legacy_ingest_quarantines_duplicate(tmp_path, legacy_csv, ingest):
    ing = ingest(_cfg(tmp_path, legacy_csv.name))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (len(ROWS), len(ROWS) - 1, 1)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    # the second copy (row index 11, line 13) goes; the first (line 2) stays
    assert q["source_row"].astype(int).tolist() == [13]
    assert q["failed_expectations"].tolist() == ["duplicate_line_item"]
    assert q.loc[0, "reasons"] == f"line item box-1|{DAY} appears again in this file (first kept; re-delivered or duplicated export?)"
    assert 2 in set(ing.frame["source_row"])
    # trap rows are accepted (valid data), only excluded from energy
    kept = ing.frame.set_index("source_row")
    for i in TRAP_ROWS:
        assert pd.notna(kept.loc[i + 2, "energy_exclusion"])


def test_gzip_and_plain_give_same_frame(tmp_path, legacy_csv):
    plain = _canon(legacy_csv).drop(columns=["source_file"])
    packed = _canon(_gzip(legacy_csv, tmp_path / "cur.csv.gz")).drop(columns=["source_file"])
    pd.testing.assert_frame_equal(plain, packed)


def test_unknown_and_empty_line_item_type(tmp_path, ingest):
    _write(tmp_path / "u.csv", [
        _row("a", "Usage", "USE1-BoxUsage:m5.large", "1", "0.096", "Hrs"),
        _row("b", "SomethingNew", "USE1-BoxUsage:m5.large", "1", "0.096", "Hrs"),
        _row("c", "", "USE1-BoxUsage:m5.large", "1", "0.096", "Hrs"),
        _row("d", "EdpDiscount", "", "0", "-3", ""),
        _row("e", "Refund", "", "0", "-1", ""),
        _row("f", "SavingsPlanRecurringFee", "ComputeSP:1yrNoUpfront", "1", "10", ""),
    ])
    ing = ingest(_cfg(tmp_path, "u.csv"))
    q = pd.read_csv(tmp_path / "out" / ing.report.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
    assert reasons == {
        3: "charge category is not one of Usage, Purchase, Tax, Credit, Adjustment (lineItem/LineItemType = 'SomethingNew')",
        4: "line item type is empty (lineItem/LineItemType = '')",
    }
    kept = ing.frame.set_index("source_row")["charge_category"].to_dict()
    assert kept == {2: "Usage", 5: "Adjustment", 6: "Credit", 7: "Purchase"}


def test_missing_required_column_stops(tmp_path, ingest):
    from pipeline.errors import ValidationFailed

    header = [h for h in HEADER if h != "lineItem/UnblendedCost"]
    _write(tmp_path / "m.csv", [_row("a", "Usage", "", "1", "1", "")], header)
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "m.csv"))
    assert any("required column 'lineItem/UnblendedCost' is missing" in p for p in ei.value.problems)


def test_usage_outside_period_quarantined(tmp_path, ingest):
    _write(tmp_path / "p.csv", [
        _row("a", "Usage", "", "1", "1", "", **{"lineItem/UsageStartDate": "2026-10-01T00:00:00Z"}),
        _row("b", "Usage", "", "1", "1", "", **{"lineItem/UsageStartDate": "2026-09-30T23:00:00"}),  # no zone: UTC
    ])
    ing = ingest(_cfg(tmp_path, "p.csv"))
    assert ing.report.rows_quarantined == 1
    assert ing.frame["source_row"].tolist() == [3]


# --- CUR 2.0 Parquet ----------------------------------------------------------------------------------

SNAKE = {"identity/LineItemId": "identity_line_item_id", "identity/TimeInterval": "identity_time_interval",
         "bill/PayerAccountId": "bill_payer_account_id", "lineItem/UsageAccountId": "line_item_usage_account_id",
         "lineItem/LineItemType": "line_item_line_item_type", "lineItem/ProductCode": "line_item_product_code",
         "lineItem/UsageType": "line_item_usage_type", "lineItem/AvailabilityZone": "line_item_availability_zone",
         "lineItem/CurrencyCode": "line_item_currency_code", "product/instanceType": "product_instance_type",
         "product/regionCode": "product_region_code", "product/productFamily": "product_product_family",
         "pricing/unit": "pricing_unit"}


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _cur2_table(rows: list[dict]) -> pa.Table:
    """The same rows as CUR 2.0 (Data Exports) writes them: snake_case, typed numbers and timestamps,
    product attributes and resource tags as map<string, string> columns."""
    data = {snake: [r[legacy] or None for r in rows] for legacy, snake in SNAKE.items()}
    data["line_item_usage_start_date"] = pa.array([_ts(r["lineItem/UsageStartDate"]) for r in rows], pa.timestamp("ms"))
    data["line_item_usage_end_date"] = pa.array([_ts(r["lineItem/UsageEndDate"]) for r in rows], pa.timestamp("ms"))
    data["line_item_usage_amount"] = pa.array([float(r["lineItem/UsageAmount"]) for r in rows], pa.float64())
    data["line_item_unblended_cost"] = pa.array([float(r["lineItem/UnblendedCost"]) for r in rows], pa.float64())
    maptype = pa.map_(pa.string(), pa.string())
    data["product"] = pa.array([[(k, v) for k, v in (("product_name", r["product/ProductName"]),
                                                      ("region", r["product/region"])) if v] for r in rows], maptype)
    data["resource_tags"] = pa.array([[(f"user_{k.split(':', 1)[1]}", r[k])
                                       for k in ("resourceTags/user:project", "resourceTags/user:workload") if r[k]]
                                      for r in rows], maptype)
    return pa.table(data)


def test_cur2_parquet_same_as_legacy(tmp_path, legacy_csv):
    rows = [r for r in ROWS]
    path = tmp_path / "cur2-00001.snappy.parquet"
    pq.write_table(_cur2_table(rows), path)
    assert pa.types.is_map(pq.read_schema(path).field("resource_tags").type)
    raw = aws_cur.read_raw(path)
    # renamed to the legacy names, so the one header suite serves both
    assert set(aws_cur.REQUIRED) <= set(raw.columns)
    cur2 = aws_cur.to_canonical(raw, source_label="x").frame
    legacy = aws_cur.to_canonical(aws_cur.read_raw(legacy_csv), source_label="x").frame
    # Parquet has no header line: rows numbered from 1
    assert cur2["source_row"].tolist() == list(range(1, len(rows) + 1))
    pd.testing.assert_frame_equal(cur2.drop(columns=["source_row"]), legacy.drop(columns=["source_row"]))
    # spot checks against the hand-written expectations
    assert cur2.loc[0, "tags_json"] == json.dumps({"project": "llm", "workload": "training"}, sort_keys=True)
    assert cur2.loc[5, "region"] == "eu-west-2"          # from product['region']
    assert cur2.loc[0, "service"] == EC2                  # from product['product_name']


def test_cur2_parquet_ingest(tmp_path, ingest):
    path = tmp_path / "cur2.parquet"
    pq.write_table(_cur2_table(ROWS), path)
    ing = ingest(_cfg(tmp_path, path.name))
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (14, 13, 1)
    q = pd.read_csv(tmp_path / "out" / ing.report.quarantine_file, dtype=str, keep_default_na=False)
    assert q["source_row"].astype(int).tolist() == [12]   # 12th data row (index 11), Parquet numbering
    assert q["failed_expectations"].tolist() == ["duplicate_line_item"]


def test_cur2_csv_with_json_tags(tmp_path):
    header = ["identity_line_item_id", "identity_time_interval", "bill_payer_account_id", "line_item_usage_account_id",
              "line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date",
              "line_item_product_code", "line_item_usage_type", "line_item_usage_amount", "line_item_currency_code",
              "line_item_unblended_cost", "pricing_unit", "product", "resource_tags"]
    row = {"identity_line_item_id": "x", "identity_time_interval": DAY, "bill_payer_account_id": "1",
           "line_item_usage_account_id": "2", "line_item_line_item_type": "Usage",
           "line_item_usage_start_date": "2026-07-01T00:00:00Z", "line_item_usage_end_date": "2026-07-01T01:00:00Z",
           "line_item_product_code": "AmazonEC2", "line_item_usage_type": "BoxUsage:g6.xlarge",
           "line_item_usage_amount": "1", "line_item_currency_code": "USD", "line_item_unblended_cost": "0.8",
           "pricing_unit": "Hrs", "product": '{"region": "us-west-2", "product_name": "Amazon Elastic Compute Cloud"}',
           "resource_tags": '{"user_team": "ml", "user_empty": ""}'}
    p = _write(tmp_path / "c.csv", [row], header)
    frame = _canon(p)
    assert frame.loc[0, "tags_json"] == '{"team": "ml"}'
    assert frame.loc[0, "region"] == "us-west-2"
    assert (frame.loc[0, "usage_kind"], frame.loc[0, "instance_type"]) == ("instance_hours", "g6.xlarge")


def test_legacy_parquet_snake_case_tag_columns(tmp_path):
    table = pa.table({
        "identity_line_item_id": ["x"], "identity_time_interval": [DAY], "bill_payer_account_id": ["1"],
        "line_item_usage_account_id": ["2"], "line_item_line_item_type": ["Usage"],
        "line_item_usage_start_date": ["2026-07-01T00:00:00Z"], "line_item_usage_end_date": ["2026-07-01T01:00:00Z"],
        "line_item_product_code": ["AmazonEC2"], "line_item_usage_type": ["BoxUsage:g6.xlarge"],
        "line_item_usage_amount": [1.0], "line_item_currency_code": ["USD"], "line_item_unblended_cost": [0.8],
        "product_product_name": [EC2], "product_region": ["us-west-2"], "pricing_unit": ["Hrs"],
        "resource_tags_user_project": ["p1"]})
    path = tmp_path / "legacy.parquet"
    pq.write_table(table, path)
    frame = _canon(path)
    assert frame.loc[0, "tags_json"] == '{"project": "p1"}'
    assert (frame.loc[0, "service"], frame.loc[0, "region"]) == (EC2, "us-west-2")


def test_broken_parquet_is_input_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError):
        aws_cur.read_raw(path)


FOCUS_HEADER = ["BillingAccountId", "SubAccountId", "ProviderName", "BillingCurrency", "ChargePeriodStart",
                "ChargePeriodEnd", "ChargeCategory", "ServiceName", "ServiceCategory", "RegionId", "ConsumedQuantity",
                "ConsumedUnit", "BilledCost", "Tags", "x_UsageType"]


# --- sniffing --------------------------------------------------------------------------------------------

def test_sniff():
    assert aws_cur.sniff(HEADER)
    assert aws_cur.sniff(list(SNAKE.values()) + ["line_item_usage_start_date", "line_item_unblended_cost"])
    assert not aws_cur.sniff(FOCUS_HEADER)
    assert not aws_cur.sniff([])


def test_auto_kind_recognises_cur(tmp_path, legacy_csv, ingest):
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD", "timezone": "UTC"},
        "period": "2026-Q3",
        "contracts": [{"id": "c-aws", "kind": "cloud", "provider": "aws"}],
        "sources": [{"id": "cur", "kind": "auto", "path": legacy_csv.name, "contracts": ["c-aws"]}],
    }, base_dir=tmp_path)
    ing = ingest(cfg)
    assert ing.kind == "aws_cur"


# --- the real anonymised CUR sample ------------------------------------------------------------------

@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared sample data not available")
def test_real_cur_sample(tmp_path, ingest):
    with open(SAMPLE, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for r in reader:
            rows.append((reader.line_num, r))
    # the data's period: every usage start is in 2023-11 (reporting period 2023-Q4)
    starts = {r["lineItem/UsageStartDate"][:7] for _, r in rows}
    assert starts == {"2023-11"}

    # what must be quarantined, by the rules, computed here from the text
    table = {"Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage", "Tax": "Tax",
             "Credit": "Credit", "Refund": "Credit", "Fee": "Purchase", "RIFee": "Purchase",
             "SavingsPlanNegation": "Adjustment"}
    expect_q = set()
    seen = set()
    for line, r in rows:
        cat = table.get(r["lineItem/LineItemType"])
        amount = r["lineItem/UsageAmount"]
        key = (r["identity/LineItemId"], r["identity/TimeInterval"])
        if cat is None or r["lineItem/UnblendedCost"] == "" or \
                (cat == "Usage" and (amount == "" or float(amount) < 0)) or key in seen:
            expect_q.add(line)
        seen.add(key)

    cfg = _cfg(tmp_path, str(SAMPLE), period="2023-Q4")
    ing = ingest(cfg)
    rep = ing.report
    assert rep.rows_read == len(rows) == 1281
    assert rep.rows_read == rep.rows_accepted + rep.rows_quarantined
    assert rep.rows_quarantined == len(expect_q)
    assert set(ing.frame["source_row"]) == {line for line, _ in rows} - expect_q

    frame = aws_cur.to_canonical(aws_cur.read_raw(SAMPLE), source_label="s").frame.set_index("source_row")
    # line types normalised by the table
    by_line = dict(rows)
    assert {line: frame.loc[line, "charge_category"] for line in by_line} == \
        {line: table[r["lineItem/LineItemType"]] for line, r in rows}
    # instance-hour rows: EC2 instance usage types billed in hours (this sample has none: S3, Glue, SQS, ...)
    inst = {line for line, r in rows
            if re.search("BoxUsage|SpotUsage|DedicatedUsage", r["lineItem/UsageType"]) and r["pricing/unit"] == "Hrs"}
    assert set(frame.index[frame["usage_kind"] == "instance_hours"]) == inst
    # data transfer rows in GB
    net = {line for line, r in rows if "DataTransfer-" in r["lineItem/UsageType"] and r["pricing/unit"] == "GB"}
    assert len(net) > 0
    assert set(frame.index[frame["usage_kind"] == "network_gb"]) == net
    for line in net:
        assert frame.loc[line, "usage_amount"] == pytest.approx(float(by_line[line]["lineItem/UsageAmount"]), rel=1e-12)
    # no traps in this sample
    assert frame["energy_exclusion"].isna().all()
    # region: regionCode, else region (no availability zones in this sample)
    for line, r in rows:
        expected = r["product/regionCode"] or r["product/region"] or None
        assert _none(frame.loc[line, "region"]) == expected, line
    # cost and currency carried over
    assert frame["cost"].sum() == pytest.approx(sum(float(r["lineItem/UnblendedCost"]) for _, r in rows), rel=1e-9)
    assert set(frame["currency"]) == {"USD"}


# --- property: row accounting holds for any legacy CUR text ----------------------------------------------

CELL = st.one_of(st.sampled_from(["", "NULL", "0", "1.5", "-2", "abc", "1e400", "2026-07-01T00:00:00Z",
                                  "2026-07-15 12:00:00", "2026-13-45T99:00:00Z", "Usage", "Tax", "SavingsPlanNegation",
                                  "USE1-BoxUsage:p4d.24xlarge", "HostBoxUsage:m5.large", "Hrs", "GB", "{}", "a,b", 'q"t']),
                 st.text(max_size=8))
LINE_TYPES = st.sampled_from(["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "Tax",
                              "Credit", "Refund", "RIFee", "Fee", "EdpDiscount", "Weird", ""])
ROW = st.fixed_dictionaries({
    "identity/LineItemId": st.sampled_from(["a", "b", "c", ""]),
    "identity/TimeInterval": st.sampled_from([DAY, "", "x"]),
    "lineItem/LineItemType": LINE_TYPES,
    "lineItem/UsageStartDate": st.one_of(st.sampled_from(["2026-07-01T00:00:00Z", "2026-09-30T23:59:59",
                                                          "2026-10-01T00:00:00Z", "2025-01-01T00:00:00Z"]), CELL),
    "lineItem/UsageEndDate": CELL,
    "lineItem/UsageType": st.one_of(st.sampled_from(["USE1-BoxUsage:p4d.24xlarge", "USE1-ECS-EC2-GB-Hours",
                                                     "EBS:VolumeUsage.gp3", "DataTransfer-Out-Bytes"]), CELL),
    "lineItem/UsageAmount": CELL,
    "lineItem/UnblendedCost": CELL,
    "pricing/unit": st.sampled_from(["Hrs", "GB", "GB-Mo", "", "Requests"]),
    "resourceTags/user:project": CELL,
    "product/regionCode": CELL,
    "lineItem/AvailabilityZone": CELL,
})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=12), drop=st.sampled_from([None, None, None, "lineItem/UsageAmount"]),
       ragged=st.booleans())
def test_property_row_accounting(validator, rows, drop, ragged):
    from pipeline.ingest import ingest_source
    from pipeline.period import bounds

    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        header = [h for h in HEADER if h != drop]
        path = _write(base / "cur.csv", rows, header)
        if ragged and rows:   # a truncated last line
            text = path.read_text(encoding="utf-8").rstrip("\n")
            path.write_text(text.rsplit(",", 3)[0] + "\n", encoding="utf-8")
        cfg = _cfg(base, "cur.csv")
        out = base / "out"
        out.mkdir()
        try:
            ing = ingest_source(cfg, cfg.sources[0], "cur", path, validator, bounds(cfg), out)
        except DisclosureError:
            return
        r = ing.report
        assert r.rows_read == r.rows_accepted + r.rows_quarantined
        assert len(ing.frame) == r.rows_accepted
