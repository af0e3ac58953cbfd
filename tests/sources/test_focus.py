"""pipeline/sources/focus.py: FOCUS billing exports (CSV / Parquet) -> canonical usage frame."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.sources import focus
from pipeline.sources._text import nullify

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

HEADER = ["BillingAccountId", "SubAccountId", "ProviderName", "BillingCurrency", "ChargePeriodStart",
          "ChargePeriodEnd", "ChargeCategory", "ChargeDescription", "ServiceName", "ServiceCategory", "RegionId",
          "ConsumedQuantity", "ConsumedUnit", "BilledCost", "Tags", "x_UsageType"]


def _row(**kw) -> dict:
    base = {"BillingAccountId": "111", "SubAccountId": "222", "ProviderName": "AWS", "BillingCurrency": "USD",
            "ChargePeriodStart": "2026-07-01T00:00:00Z", "ChargePeriodEnd": "2026-07-02T00:00:00Z",
            "ChargeCategory": "Usage", "ChargeDescription": "", "ServiceName": "Amazon Elastic Compute Cloud",
            "ServiceCategory": "Compute", "RegionId": "eu-west-2", "ConsumedQuantity": "24",
            "ConsumedUnit": "Hours", "BilledCost": "10.5", "Tags": "{}", "x_UsageType": ""}
    base.update(kw)
    return base


def _write(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or HEADER
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return path


def _canon(path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """(canonical frame, per-row 'tags unreadable' mask computed here from the raw text)."""
    raw = focus.read_raw(path)
    parsed = focus.to_canonical(raw, source_label=path.name)
    tags = nullify(raw.frame["Tags"]) if "Tags" in raw.frame else None
    unreadable = tags.map(lambda t: not focus.normalise_tags(None if pd.isna(t) else t)[1]) if tags is not None else None
    return parsed.frame, unreadable


def _cfg(tmp_path: Path, path: str, period: str = "2026-Q3", providers=("aws",)) -> object:
    contracts = [{"id": f"c-{p}", "kind": "cloud", "provider": p} for p in providers]
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": "UTC"},
        "period": period,
        "contracts": contracts,
        "sources": [{"id": "bill", "kind": "focus", "path": path, "contracts": [c["id"] for c in contracts]}],
    }, base_dir=tmp_path)


# --- NULL literals ------------------------------------------------------------------------------------

def test_null_literals_become_missing(tmp_path):
    p = _write(tmp_path / "f.csv", [
        _row(RegionId="NULL", ConsumedQuantity="NULL", ChargeCategory="Credit", BilledCost="-5", Tags="NULL"),
        _row(RegionId="N/A", ConsumedQuantity="3.5"),
    ])
    frame, unreadable = _canon(p)
    assert frame["region"].isna().tolist() == [True, True]
    assert pd.isna(frame.loc[0, "quantity"])
    assert frame.loc[1, "quantity"] == pytest.approx(3.5, rel=1e-9)
    # text NULL in Tags is "no tags", which is readable
    assert frame.loc[0, "tags_json"] == "{}"
    assert unreadable.tolist() == [False, False]
    # BilledCost "-5" is a number; NULL handling did not swallow it
    assert frame.loc[0, "cost"] == pytest.approx(-5.0, rel=1e-9)


def test_null_quantity_quarantined_only_on_usage_rows(tmp_path, ingest):
    _write(tmp_path / "f.csv", [
        _row(ConsumedQuantity="NULL", ChargeCategory="Credit", BilledCost="-1"),   # line 2: kept
        _row(ConsumedQuantity="NULL", ChargeCategory="Usage"),                     # line 3: quarantined
        _row(ConsumedQuantity="-2", ChargeCategory="Usage"),                       # line 4: quarantined
        _row(ConsumedQuantity="-2", ChargeCategory="Adjustment", BilledCost="-3"),  # line 5: kept
        _row(),                                                                    # line 6: kept
    ])
    ing = ingest(_cfg(tmp_path, "f.csv"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (5, 3, 2)
    assert sorted(ing.frame["source_row"].tolist()) == [2, 5, 6]
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
    assert reasons == {3: "usage quantity is missing or not a number on a usage row (ConsumedQuantity = 'NULL')",
                       4: "usage quantity is negative on a usage row (ConsumedQuantity = '-2')"}
    # the quarantine file keeps the original text
    assert q.set_index(q["source_row"].astype(int)).loc[3, "ConsumedQuantity"] == "NULL"


# --- FOCUS 1.3: ServiceProviderName -----------------------------------------------------------------------

def test_focus_13_service_provider_name(tmp_path, ingest):
    header = [h if h != "ProviderName" else "ServiceProviderName" for h in HEADER]
    rows = [{("ServiceProviderName" if k == "ProviderName" else k): v for k, v in _row(ProviderName="Microsoft").items()}]
    p = _write(tmp_path / "f13.csv", rows, header)
    frame, _ = _canon(p)
    assert frame["provider"].tolist() == ["azure"]
    # passes the header check (ProviderName is required) and is accepted
    ing = ingest(_cfg(tmp_path, "f13.csv", providers=("azure",)))
    assert (ing.report.rows_read, ing.report.rows_accepted) == (1, 1)
    assert ing.frame["provider"].tolist() == ["azure"]


def test_provider_name_wins_when_both_present(tmp_path):
    header = HEADER + ["ServiceProviderName"]
    p = _write(tmp_path / "f.csv", [_row(ProviderName="AWS", ServiceProviderName="Microsoft")], header)
    frame, _ = _canon(p)
    assert frame["provider"].tolist() == ["aws"]


# --- Parquet ----------------------------------------------------------------------------------------------

def test_parquet_input(tmp_path):
    rows = [_row(x_UsageType="BoxUsage:p5.48xlarge", ConsumedQuantity="2", BilledCost="196.64"),
            _row(ProviderName="Google Cloud", ServiceCategory="Storage", ConsumedUnit="GB-Mo",
                 ConsumedQuantity="100", BilledCost="2.3", ChargePeriodStart="2026-07-03 00:00:00")]
    data = {h: [r[h] for r in rows] for h in HEADER}
    # typed columns, as a real Parquet export would have
    data["ConsumedQuantity"] = [2.0, 100.0]
    data["BilledCost"] = [196.64, 2.3]
    table = pa.table(data)
    path = tmp_path / "f.parquet"
    pq.write_table(table, path)
    frame, _ = _canon(path)
    assert frame["provider"].tolist() == ["aws", "gcp"]
    assert frame["quantity"].tolist() == [pytest.approx(2.0, rel=1e-9), pytest.approx(100.0, rel=1e-9)]
    assert frame["cost"].tolist() == [pytest.approx(196.64, rel=1e-9), pytest.approx(2.3, rel=1e-9)]
    assert frame.loc[0, "instance_type"] == "p5.48xlarge"
    assert pd.isna(frame.loc[1, "instance_type"])
    assert frame.loc[1, "usage_start_utc"] == pd.Timestamp("2026-07-03T00:00:00Z")
    # Parquet has no header line: rows are numbered from 1
    assert frame["source_row"].tolist() == [1, 2]


def test_parquet_typed_timestamps(tmp_path):
    table = pa.table({h: ["x"] for h in HEADER}).set_column(
        HEADER.index("ChargePeriodStart"), "ChargePeriodStart",
        pa.array([pd.Timestamp("2026-07-01T05:00:00Z")], type=pa.timestamp("us", tz="UTC")))
    table = table.set_column(HEADER.index("ConsumedQuantity"), "ConsumedQuantity", pa.array([1.5]))
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    frame, _ = _canon(path)
    assert frame.loc[0, "usage_start_utc"] == pd.Timestamp("2026-07-01T05:00:00Z")
    assert frame.loc[0, "quantity"] == pytest.approx(1.5, rel=1e-9)


def test_broken_parquet_is_input_error(tmp_path):
    from pipeline.errors import InputError

    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError) as ei:
        focus.read_raw(path)
    assert "broken.parquet" in str(ei.value)


# --- instance type extraction --------------------------------------------------------------------------

def test_instance_type_extraction(tmp_path):
    p = _write(tmp_path / "f.csv", [
        _row(x_UsageType="BoxUsage:p5.48xlarge"),
        _row(x_UsageType="EUW2-BoxUsage:g5.12xlarge"),
        _row(ChargeDescription="$1.6240 per On Demand Linux g5.4xlarge Instance Hour"),
        _row(ServiceCategory="Storage", ConsumedUnit="GB-Mo", x_UsageType="EBS:VolumeUsage.gp3",
             ChargeDescription="$0.08 per GB-month of General Purpose (gp3) provisioned storage"),
        # a storage row billed in hours that mentions an instance type is still not an instance-hour row
        _row(ServiceCategory="Storage", ConsumedUnit="Hours",
             ChargeDescription="snapshot for p4d.24xlarge volume"),
        # compute but not in hours (e.g. requests) -> none
        _row(ConsumedUnit="Requests", x_UsageType="BoxUsage:m5.large"),
        _row(ChargeDescription="Azure VM Standard_ND96asr_v4 hours", ProviderName="Microsoft"),
    ])
    frame, _ = _canon(p)
    got = [None if pd.isna(v) else v for v in frame["instance_type"]]
    assert got == ["p5.48xlarge", "g5.12xlarge", "g5.4xlarge", None, None, None, "Standard_ND96asr_v4"]


@pytest.mark.parametrize("texts, expected", [
    (("BoxUsage:p4d.24xlarge",), "p4d.24xlarge"),
    ((None, "", "per On Demand Linux g5.xlarge Instance Hour"), "g5.xlarge"),
    (("DataTransfer-Out-Bytes",), None),
    ((None,), None),
])
def test_extract_instance_type_function(texts, expected):
    assert focus.extract_instance_type(*texts) == expected


# --- provider normalisation -------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("AWS", "aws"), ("Amazon Web Services, Inc.", "aws"), ("Microsoft", "azure"), ("Microsoft Azure", "azure"),
    ("Google Cloud", "gcp"), ("GCP", "gcp"), ("Oracle", "oracle"), ("OCI", "oracle"),
    ("  CoreWeave ", "coreweave"), ("", None), (None, None),
])
def test_normalise_provider(name, expected):
    assert focus.normalise_provider(name) == expected


@pytest.mark.parametrize("name, expected", [
    ("Dawson Cloud", "dawson cloud"),
    ("Crusoe Associates", "crusoe associates"),
])
def test_normalise_provider_substring_false_positive(name, expected):
    assert focus.normalise_provider(name) == expected


# --- tags ------------------------------------------------------------------------------------------------

def test_tags_normalised_to_sorted_json(tmp_path):
    p = _write(tmp_path / "f.csv", [
        _row(Tags='{"workload": "training", "project": "p1", "n": 3, "empty": null}'),
        _row(Tags='{"project": "p1",'),      # invalid JSON
        _row(Tags='["a", "b"]'),            # JSON, but not an object
        _row(Tags=""),
    ])
    frame, unreadable = _canon(p)
    expected0 = json.dumps({"empty": "", "n": "3", "project": "p1", "workload": "training"}, sort_keys=True)
    assert frame.loc[0, "tags_json"] == expected0
    assert list(json.loads(frame.loc[0, "tags_json"])) == ["empty", "n", "project", "workload"]
    assert frame["tags_json"].tolist()[1:] == ["{}", "{}", "{}"]
    assert unreadable.tolist() == [False, True, True, False]


def test_unreadable_tags_noted_not_quarantined(tmp_path, ingest):
    _write(tmp_path / "f.csv", [_row(Tags="{bad"), _row(Tags="{bad too"), _row()])
    ing = ingest(_cfg(tmp_path, "f.csv"))
    assert ing.report.rows_quarantined == 0
    assert any(n.startswith("2 row(s) with unreadable Tags JSON") for n in ing.report.notes)


def test_oversized_tags_unreadable():
    text = json.dumps({"k": "x" * (focus.MAX_TAGS_CHARS + 10)})
    assert focus.normalise_tags(text) == ("{}", False)


# --- timestamps ---------------------------------------------------------------------------------------

def test_timestamps_without_zone_read_as_utc(tmp_path):
    p = _write(tmp_path / "f.csv", [
        _row(ChargePeriodStart="2024-09-18 22:00:00", ChargePeriodEnd="2024-09-18 23:00:00"),
        _row(ChargePeriodStart="2026-07-01T00:00:00+02:00", ChargePeriodEnd="2026-07-01T01:00:00Z"),
        _row(ChargePeriodStart="not a time"),
    ])
    frame, _ = _canon(p)
    assert frame.loc[0, "usage_start_utc"] == pd.Timestamp("2024-09-18T22:00:00Z")
    assert frame.loc[0, "usage_end_utc"] == pd.Timestamp("2024-09-18T23:00:00Z")
    # +02:00 -> two hours earlier in UTC
    assert frame.loc[1, "usage_start_utc"] == pd.Timestamp("2026-06-30T22:00:00Z")
    assert pd.isna(frame.loc[2, "usage_start_utc"])
    assert str(frame["usage_start_utc"].dtype) == "datetime64[ns, UTC]"


def test_row_outside_period_quarantined(tmp_path, ingest):
    _write(tmp_path / "f.csv", [_row(ChargePeriodStart="2026-10-01T00:00:00Z", ChargePeriodEnd="2026-10-02T00:00:00Z"),
                                _row(ChargePeriodStart="2026-09-30T23:00:00Z")])
    ing = ingest(_cfg(tmp_path, "f.csv"))
    # period 2026-Q3 in UTC ends 2026-10-01T00:00Z exclusive: line 2 out, line 3 in
    assert ing.report.rows_quarantined == 1
    assert ing.frame["source_row"].tolist() == [3]


# --- the real FinOps Foundation sample ----------------------------------------------------------------

SAMPLE = SHARED_DATA / "focus" / "focus-1.0-sample.csv"


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared sample data not available")
def test_real_focus_10_sample(tmp_path, ingest):
    # count independently with the csv module; line numbers: header = line 1
    with open(SAMPLE, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for r in reader:
            rows.append((reader.line_num, r))
    negative_usage = {line for line, r in rows
                      if r["ChargeCategory"] == "Usage" and r["ConsumedQuantity"] != "NULL"
                      and float(r["ConsumedQuantity"]) < 0}
    null_qty_not_usage = {line for line, r in rows
                          if r["ConsumedQuantity"] == "NULL" and r["ChargeCategory"] != "Usage"}
    null_qty_usage = {line for line, r in rows if r["ConsumedQuantity"] == "NULL" and r["ChargeCategory"] == "Usage"}
    assert len(rows) == 1000
    assert len(negative_usage) > 0 and len(null_qty_not_usage) > 0 and not null_qty_usage

    cfg = _cfg(tmp_path, str(SAMPLE), period="2024-Q3", providers=("aws", "azure", "oracle"))
    ing = ingest(cfg)
    r = ing.report
    assert r.rows_read == 1000
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    assert r.rows_quarantined == len(negative_usage)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    assert set(q["source_row"].astype(int)) == negative_usage
    assert all(r.startswith("usage quantity is negative on a usage row (ConsumedQuantity = '-") for r in q["reasons"])
    # NULL ConsumedQuantity on non-usage rows is kept (and read as missing)
    kept = ing.frame.set_index("source_row")
    for line in null_qty_not_usage:
        assert line in kept.index
        assert pd.isna(kept.loc[line, "quantity"])
    # providers normalised: AWS -> aws, Microsoft -> azure, Oracle -> oracle
    by_provider = {"AWS": "aws", "Microsoft": "azure", "Oracle": "oracle"}
    expected = {}
    for line, row in rows:
        if line not in negative_usage:
            p = by_provider[row["ProviderName"]]
            expected[p] = expected.get(p, 0) + 1
    assert ing.frame["provider"].value_counts().to_dict() == expected
