"""pipeline/sources/gcp_billing.py: Google Cloud Billing BigQuery export (CSV / JSON lines / Parquet) -> canonical
usage frame."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import config_from_dict
from pipeline.errors import DisclosureError, ValidationFailed
from pipeline.ingest import ingest_source
from pipeline.period import bounds
from pipeline.sources import azure_cost, focus, gcp_billing

GIB = 1024 ** 3


def _rec(sku: str, amount, unit: str | None, *, cost: float = 1.0, cost_type: str = "regular",
         service: str = "Compute Engine", labels=None, machine_spec: str | None = None, credits=None,
         region: str | None = "us-central1", project: str | None = "p-train", in_pricing=None,
         pricing_unit: str | None = None, start: str = "2026-07-01 00:00:00", end: str = "2026-07-01 01:00:00") -> dict:
    """One export record, nested as BigQuery writes it."""
    return {
        "billing_account_id": "01ABCD-234567-89EF01",
        "service": {"id": "6F81-5844-456A", "description": service},
        "sku": {"id": "SKU-" + str(abs(hash(sku)) % 10000), "description": sku},
        "usage_start_time": start, "usage_end_time": end,
        "project": None if project is None else {"id": project, "number": "123", "name": project.upper()},
        "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
        "system_labels": ([{"key": "compute.googleapis.com/machine_spec", "value": machine_spec},
                           {"key": "compute.googleapis.com/cores", "value": "12"}] if machine_spec else []),
        "location": {"location": region or "us", "country": "US", "region": region, "zone": None},
        "cost": cost, "currency": "USD",
        "usage": {"amount": amount, "unit": unit, "amount_in_pricing_units": in_pricing, "pricing_unit": pricing_unit},
        "credits": credits or [],
        "cost_type": cost_type,
    }


RAM_BYTE_SECONDS = 85 * GIB * 3600          # 85 GiB for one hour
STORAGE_BYTE_SECONDS = 1000 * GIB * 3600
RECORDS = [
    # 0: 7200 s of one A100 = 2.0 accelerator hours of A100-SXM-40GB
    _rec("Nvidia Tesla A100 GPU running in Americas", 7200, "seconds", cost=5.87, labels={"team": "ml", "phase": "train"},
         machine_spec="a2-highgpu-1g", credits=[{"name": "Sustained Usage Discount", "amount": -0.5,
                                                 "type": "SUSTAINED_USAGE_DISCOUNT"}]),
    # 1: 43200 vCPU-seconds = 12 vCPU hours
    _rec("A2 Instance Core running in Americas", 43200, "seconds", cost=0.38, machine_spec="a2-highgpu-1g"),
    # 2: 85 GiB x 3600 s = 85 GiB-hours
    _rec("A2 Instance Ram running in Americas", RAM_BYTE_SECONDS, "byte-seconds", cost=0.36,
         machine_spec="a2-highgpu-1g"),
    # 3: rounding error row: kept, Adjustment, excluded from energy
    _rec("Rounding error", None, None, cost=0.0001, cost_type="rounding_error", project=None, region=None),
    # 4: tax
    _rec("Tax", None, None, cost=1.2, cost_type="tax", service="Invoice", project=None, region=None),
    # 5: H100 80GB, 3600 s
    _rec("Nvidia H100 80GB GPU running in Americas", 3600, "seconds", cost=11.0, machine_spec="a3-highgpu-8g"),
    # 6: L4, 1800 s, EMEA
    _rec("Nvidia L4 GPU running in EMEA", 1800, "seconds", cost=0.3, machine_spec="g2-standard-4",
         region="europe-west4"),
    # 7: A100 80GB
    _rec("Nvidia A100 80GB GPU running in Americas", 3600, "seconds", cost=4.0),
    # 8: Cloud TPU v5e, 36000 s = 10 chip hours
    _rec("TPU v5e chip running in Americas", 36000, "seconds", cost=12.0, service="Cloud TPU"),
    # 9: storage, 2.5 GiB-months as priced
    _rec("Standard Storage US Multi-region", STORAGE_BYTE_SECONDS, "byte-seconds", cost=0.05, service="Cloud Storage",
         in_pricing=2.5, pricing_unit="gibibyte month", region=None),
    # 10: 5 GiB internet egress
    _rec("Network Internet Egress from Americas to EMEA", 5 * GIB, "bytes", cost=0.6),
    # 11: committed-use fee: not energy (the resources are on their own rows)
    _rec("Commitment v1: A2 Cpu in Americas for 1 Year", 3600, "seconds", cost=0.2),
    # 12: adjustment
    _rec("Billing correction", None, None, cost=-2.0, cost_type="adjustment"),
    # 13: requests: other
    _rec("Cloud Run Requests", 1000, "requests", cost=0.0004, service="Cloud Run"),
]

CSV_HEADER = ["billing_account_id", "service.id", "service.description", "sku.id", "sku.description",
              "usage_start_time", "usage_end_time", "project.id", "project.number", "project.name", "labels",
              "system_labels", "location.location", "location.country", "location.region", "location.zone", "cost",
              "currency", "usage.amount", "usage.unit", "usage.amount_in_pricing_units", "usage.pricing_unit",
              "credits", "cost_type"]


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _flat_for_csv(rec: dict) -> dict:
    out = {}
    for h in CSV_HEADER:
        if "." in h:
            top, sub = h.split(".", 1)
            out[h] = _cell((rec.get(top) or {}).get(sub))
        else:
            out[h] = _cell(rec.get(h))
    # BigQuery writes timestamps with a " UTC" suffix in CSV / JSON exports
    out["usage_start_time"] += " UTC"
    out["usage_end_time"] += " UTC"
    return out


def write_csv(path: Path, records: list[dict], header: list[str] | None = None) -> Path:
    header = header or CSV_HEADER
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in records:
        w.writerow(_flat_for_csv(r))
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    lines = []
    for r in records:
        r = dict(r, usage_start_time=r["usage_start_time"] + " UTC", usage_end_time=r["usage_end_time"] + " UTC")
        lines.append(json.dumps(r))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


KV = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
PARQUET_SCHEMA = pa.schema([
    ("billing_account_id", pa.string()),
    ("service", pa.struct([("id", pa.string()), ("description", pa.string())])),
    ("sku", pa.struct([("id", pa.string()), ("description", pa.string())])),
    ("usage_start_time", pa.timestamp("us", tz="UTC")),
    ("usage_end_time", pa.timestamp("us", tz="UTC")),
    ("project", pa.struct([("id", pa.string()), ("number", pa.string()), ("name", pa.string())])),
    ("labels", KV),
    ("system_labels", KV),
    ("location", pa.struct([("location", pa.string()), ("country", pa.string()), ("region", pa.string()),
                            ("zone", pa.string())])),
    ("cost", pa.float64()),
    ("currency", pa.string()),
    ("usage", pa.struct([("amount", pa.float64()), ("unit", pa.string()), ("amount_in_pricing_units", pa.float64()),
                         ("pricing_unit", pa.string())])),
    ("credits", pa.list_(pa.struct([("name", pa.string()), ("amount", pa.float64()), ("type", pa.string())]))),
    ("cost_type", pa.string()),
])


def write_parquet(path: Path, records: list[dict]) -> Path:
    rows = []
    for r in records:
        r = dict(r)
        r["usage_start_time"] = pd.Timestamp(r["usage_start_time"], tz="UTC").to_pydatetime()
        r["usage_end_time"] = pd.Timestamp(r["usage_end_time"], tz="UTC").to_pydatetime()
        r["usage"] = {k: (float(v) if k in ("amount", "amount_in_pricing_units") and v is not None else v)
                      for k, v in r["usage"].items()}
        rows.append(r)
    pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), path)
    return path


def _canon(path: Path):
    return gcp_billing.to_canonical(gcp_billing.read_raw(path), source_label=path.name)


def _cfg(tmp_path: Path, path: str, kind: str = "gcp_billing"):
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": "UTC"},
        "period": "2026-Q3",
        "contracts": [{"id": "c-gcp", "kind": "cloud", "provider": "gcp"}],
        "sources": [{"id": "bill", "kind": kind, "path": path, "contracts": ["c-gcp"]}],
    }, base_dir=tmp_path)


@pytest.fixture
def three_shapes(tmp_path):
    return {"csv": write_csv(tmp_path / "b.csv", RECORDS), "jsonl": write_jsonl(tmp_path / "b.jsonl", RECORDS),
            "parquet": write_parquet(tmp_path / "b.parquet", RECORDS)}


# --- the three shapes give the same canonical frame --------------------------------------------------------

def test_three_shapes_identical(three_shapes):
    frames = {k: _canon(p).frame for k, p in three_shapes.items()}
    n = len(RECORDS)
    assert frames["csv"]["source_row"].tolist() == list(range(2, n + 2))      # header is line 1
    assert frames["jsonl"]["source_row"].tolist() == list(range(1, n + 1))
    assert frames["parquet"]["source_row"].tolist() == list(range(1, n + 1))
    base = frames["csv"].drop(columns=["source_file", "source_row"])
    for k in ("jsonl", "parquet"):
        pd.testing.assert_frame_equal(base, frames[k].drop(columns=["source_file", "source_row"]), obj=k)


@pytest.mark.parametrize("shape", ["csv", "jsonl", "parquet"])
def test_mapping(three_shapes, shape):
    parsed = _canon(three_shapes[shape])
    f = parsed.frame
    assert (f["provider"] == "gcp").all()
    assert f["line_item_id"].isna().all()
    assert f["charge_category"].tolist() == ["Usage", "Usage", "Usage", "Adjustment", "Tax", "Usage", "Usage",
                                             "Usage", "Usage", "Usage", "Usage", "Usage", "Adjustment", "Usage"]
    assert f["usage_kind"].tolist() == [
        "accelerator_hours", "vcpu_hours", "memory_gb_hours", "other", "other", "accelerator_hours",
        "accelerator_hours", "accelerator_hours", "accelerator_hours", "storage_gb_months", "network_gb", "other",
        "other", "other"]
    amt = f["usage_amount"]
    assert amt[0] == pytest.approx(7200 / 3600)                               # 2.0 GPU hours
    assert amt[1] == pytest.approx(43200 / 3600)                              # 12 vCPU hours
    assert amt[2] == pytest.approx(RAM_BYTE_SECONDS / 1024 ** 3 / 3600)       # 85 GiB-hours
    assert amt[2] == pytest.approx(85.0)
    assert amt[5] == pytest.approx(1.0)
    assert amt[6] == pytest.approx(0.5)
    assert amt[7] == pytest.approx(1.0)
    assert amt[8] == pytest.approx(10.0)
    assert amt[9] == pytest.approx(2.5)                                       # amount in pricing units (GiB-month)
    assert amt[10] == pytest.approx(5.0)
    assert amt[[3, 4, 11, 12, 13]].isna().all()
    models = [None if pd.isna(v) else v for v in f["accelerator_model"]]
    assert models == ["A100-SXM-40GB", None, None, None, None, "H100-SXM", "L4", "A100-SXM-80GB", "TPU-v5e",
                      None, None, None, None, None]
    types = [None if pd.isna(v) else v for v in f["instance_type"]]
    assert types == ["a2-highgpu-1g", "a2-highgpu-1g", "a2-highgpu-1g", None, None, "a3-highgpu-8g",
                     "g2-standard-4", None, None, None, None, None, None, None]
    excl = [None if pd.isna(v) else v for v in f["energy_exclusion"]]
    assert excl[3] == "rounding error row"
    assert excl[11].startswith("committed-use fee")
    assert [e for i, e in enumerate(excl) if i not in (3, 11)] == [None] * 12
    # credits are not netted into cost
    assert f["cost"][0] == pytest.approx(5.87)
    assert any(n.startswith("credits total -0.5 USD on 1 row(s)") for n in parsed.notes)
    assert json.loads(f["tags_json"][0]) == {"team": "ml", "phase": "train"}
    assert f["tags_json"][1] == "{}"
    assert f["account_id"][0] == "p-train" and pd.isna(f["account_id"][4])
    assert f["region"][6] == "europe-west4"
    assert f["region"][9] == "us"                                               # location.location fallback
    assert f["service"][8] == "Cloud TPU" and f["sku"][0] == "Nvidia Tesla A100 GPU running in Americas"
    assert f["usage_start_utc"][0] == pd.Timestamp("2026-07-01T00:00:00Z")
    assert f["usage_end_utc"][0] == pd.Timestamp("2026-07-01T01:00:00Z")
    assert f["quantity"][0] == pytest.approx(7200.0) and f["unit"][0] == "seconds"


@pytest.mark.parametrize("shape", ["csv", "jsonl", "parquet"])
def test_ingest_accounting(three_shapes, shape, tmp_path, ingest):
    path = three_shapes[shape]
    ing = ingest(_cfg(tmp_path, path.name))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (len(RECORDS), len(RECORDS), 0)
    # the rounding row is accepted but is not usage; it carries its exclusion
    rounding = ing.frame[ing.frame["energy_exclusion"] == "rounding error row"]
    assert len(rounding) == 1 and rounding["charge_category"].iloc[0] == "Adjustment"
    assert not rounding["is_usage"].iloc[0]


@pytest.mark.parametrize("shape", ["jsonl", "parquet"])
def test_kind_auto_recognises_gcp(three_shapes, shape, tmp_path, validator):
    path = three_shapes[shape]
    cfg = _cfg(tmp_path, path.name, kind="auto")
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    ing = ingest_source(cfg, cfg.sources[0], "bill", path, validator, bounds(cfg), out)
    assert ing.kind == "gcp_billing"
    assert ing.report.rows_accepted == len(RECORDS)


def test_gzip_jsonl(tmp_path):
    plain = write_jsonl(tmp_path / "b.jsonl", RECORDS[:3])
    gz = tmp_path / "b.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    pd.testing.assert_frame_equal(_canon(plain).frame.drop(columns="source_file"),
                                  _canon(gz).frame.drop(columns="source_file"))


# --- rules -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sku, expected", [
    ("Nvidia Tesla A100 GPU running in Americas", "A100-SXM-40GB"),
    ("Nvidia A100 80GB GPU running in APAC", "A100-SXM-80GB"),
    ("Nvidia H100 80GB GPU running in Americas", "H100-SXM"),
    ("Nvidia H100 80GB Mega GPU running in Americas", "H100-SXM"),
    ("Nvidia H200 141GB GPU running in Americas", "H200-SXM"),
    ("Nvidia L4 GPU running in EMEA", "L4"),
    ("Nvidia Tesla T4 GPU running in Americas", "T4"),
    ("Spot Preemptible Nvidia Tesla V100 GPU running in Americas", "V100"),
    ("Nvidia Tesla P100 GPU running in EMEA", "P100"),
    ("Nvidia Tesla P4 GPU running in EMEA", "P4"),
    ("Nvidia Tesla K80 GPU running in Americas", "K80"),
    ("Nvidia Mystery GPU running in Americas", None),
])
def test_gpu_model_table(sku, expected, tmp_path):
    f = _canon(write_csv(tmp_path / "g.csv", [_rec(sku, 3600, "seconds")])).frame
    assert f["usage_kind"][0] == "accelerator_hours"
    assert (None if pd.isna(f["accelerator_model"][0]) else f["accelerator_model"][0]) == expected


@pytest.mark.parametrize("sku, expected", [
    ("TPU v4 chip running in Americas", "TPU-v4"), ("Tpu-v5p pod chip in Americas", "TPU-v5p"),
    ("TPU v5 lite pod chip in Americas", "TPU-v5e"), ("TPU v6e Trillium chip in Americas", "TPU-v6e"),
    ("TPU v3 device in EMEA", "TPU-v3"), ("TPU v2 device in EMEA", "TPU-v2"),
])
def test_tpu_model_table(sku, expected, tmp_path):
    f = _canon(write_csv(tmp_path / "t.csv", [_rec(sku, 7200, "seconds", service="Cloud TPU")])).frame
    assert f["usage_kind"][0] == "accelerator_hours"
    assert f["accelerator_model"][0] == expected
    assert f["usage_amount"][0] == pytest.approx(2.0)


def test_storage_without_pricing_units_uses_730_hour_month(tmp_path):
    f = _canon(write_csv(tmp_path / "s.csv", [
        _rec("Standard Storage US Multi-region", STORAGE_BYTE_SECONDS, "byte-seconds", service="Cloud Storage")])).frame
    # 1000 GiB for one hour = 1000 / 730 GiB-months
    assert f["usage_kind"][0] == "storage_gb_months"
    assert f["usage_amount"][0] == pytest.approx(1000 / 730)


def test_licence_and_bytes_not_network_are_other(tmp_path):
    f = _canon(write_csv(tmp_path / "o.csv", [
        _rec("Licensing Fee for Ubuntu Pro on VM with 4 VCPU", 3600, "seconds"),
        _rec("Analysis", 10 * GIB, "bytes", service="BigQuery"),
    ])).frame
    assert f["usage_kind"].tolist() == ["other", "other"]


def test_labels_as_json_object_and_unreadable(tmp_path):
    header = CSV_HEADER
    p = write_csv(tmp_path / "l.csv", [_rec("A2 Instance Core running in Americas", 3600, "seconds")] * 3, header)
    text = p.read_text(encoding="utf-8").splitlines()
    # replace the labels cell of rows 2 and 3 by an object and by broken JSON
    rows = list(csv.reader(text))
    li = rows[0].index("labels")
    rows[2][li] = '{"team": "ml"}'
    rows[3][li] = "[{"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    p.write_text(buf.getvalue(), encoding="utf-8")
    parsed = _canon(p)
    assert parsed.frame["tags_json"].tolist() == ["{}", '{"team": "ml"}', "{}"]
    assert any(n.startswith("1 row(s) with unreadable labels") for n in parsed.notes)


def test_unknown_cost_type_and_bad_json_line_quarantined(tmp_path, ingest):
    good = dict(RECORDS[1])
    good["usage_start_time"] += " UTC"
    good["usage_end_time"] += " UTC"
    lines = [json.dumps(good), "{not json", json.dumps(dict(good, cost_type="surprise")), "[1, 2]",
             json.dumps(dict(good, usage_start_time="2026-12-01 00:00:00 UTC"))]
    (tmp_path / "q.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ing = ingest(_cfg(tmp_path, "q.jsonl"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (5, 1, 4)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    by_row = dict(zip(q["source_row"].astype(int), q["failed_expectations"]))
    assert by_row[2].split(";")[0] == "invalid_json_line"
    assert by_row[3] == "unknown_cost_type"
    assert by_row[4].split(";")[0] == "invalid_json_line"
    assert "expect_column_values_to_be_between" in by_row[5]


def test_no_cost_type_column_means_regular(tmp_path):
    header = [h for h in CSV_HEADER if h != "cost_type"]
    f = _canon(write_csv(tmp_path / "n.csv", [RECORDS[0]], header)).frame
    assert f["charge_category"].tolist() == ["Usage"]


def test_underscore_headers_accepted(tmp_path, ingest):
    header = [h.replace(".", "_") for h in CSV_HEADER]
    p = write_csv(tmp_path / "u.csv", RECORDS[:3])
    text = p.read_text(encoding="utf-8").split("\n", 1)
    p.write_text(",".join(header) + "\n" + text[1], encoding="utf-8")
    raw = gcp_billing.read_raw(p)
    assert "service.description" in raw.columns and "usage.amount" in raw.columns
    ing = ingest(_cfg(tmp_path, "u.csv"))
    assert ing.report.rows_accepted == 3


def test_missing_required_column_stops(tmp_path, ingest):
    header = [h for h in CSV_HEADER if h != "usage.unit"]
    write_csv(tmp_path / "m.csv", RECORDS[:2], header)
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, "m.csv"))
    assert "required column 'usage.unit' is missing" in str(ei.value)


# --- sniff -------------------------------------------------------------------------------------------------

def test_sniff():
    assert gcp_billing.sniff(CSV_HEADER)
    focus_header = ["BillingAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost",
                    "ConsumedQuantity", "ConsumedUnit", "ServiceName", "RegionId", "BillingCurrency"]
    azure_header = ["BillingAccountId", "SubscriptionId", "Date", "MeterCategory", "Quantity", "Cost",
                    "UnitOfMeasure", "ResourceLocation", "BillingCurrency"]
    assert not gcp_billing.sniff(focus_header)
    assert not gcp_billing.sniff(azure_header)
    assert not focus.sniff(CSV_HEADER)
    assert not azure_cost.sniff(CSV_HEADER)


# --- property: rows in = accepted + quarantined ---------------------------------------------------------------

numbers = st.one_of(st.floats(-1e12, 1e12, allow_nan=False).map(lambda x: f"{x:.6g}"),
                    st.sampled_from(["", "NULL", "abc", "1.2E+05", "-0"]))
stamps = st.sampled_from(["2026-07-01 00:00:00 UTC", "2026-08-15T13:00:00Z", "2026-06-30 23:00:00 UTC",
                          "2026-10-01 00:00:00 UTC", "garbage", "", "2026-09-30 23:59:59"])
gcp_rows = st.lists(st.fixed_dictionaries({
    "billing_account_id": st.just("01"), "service.description": st.sampled_from(["Compute Engine", "Cloud TPU", ""]),
    "sku.description": st.sampled_from(["Nvidia Tesla A100 GPU running in Americas", "N1 Predefined Instance Core",
                                        "E2 Instance Ram running in EMEA", "Commitment v1: GPU", "TPU v9", "", "x"]),
    "usage_start_time": stamps, "usage_end_time": stamps, "project.id": st.sampled_from(["p", ""]),
    "labels": st.sampled_from(["", "[]", '[{"key":"a","value":"b"}]', '{"a": 1}', "[{", "3"]),
    "system_labels": st.sampled_from(["", '[{"key":"compute.googleapis.com/machine_spec","value":"a2-highgpu-1g"}]',
                                      "{"]),
    "location.region": st.sampled_from(["us-central1", ""]), "cost": numbers, "currency": st.just("USD"),
    "usage.amount": numbers, "usage.unit": st.sampled_from(["seconds", "byte-seconds", "bytes", "requests", ""]),
    "credits": st.sampled_from(["", "[]", '[{"amount": -1}]', '[{"amount": "x"}]', "{"]),
    "cost_type": st.sampled_from(["regular", "tax", "adjustment", "rounding_error", "bogus", ""]),
}), min_size=0, max_size=20)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=gcp_rows)
def test_property_rows_in_equal_accepted_plus_quarantined(rows, validator, tmp_path):
    header = ["billing_account_id", "service.description", "sku.description", "usage_start_time", "usage_end_time",
              "project.id", "labels", "system_labels", "location.region", "cost", "currency", "usage.amount",
              "usage.unit", "credits", "cost_type"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "p.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    cfg = _cfg(tmp_path, "p.csv")
    try:
        ing = ingest_source(cfg, cfg.sources[0], "p", path, validator, bounds(cfg), tmp_path)
    except DisclosureError:
        return
    r = ing.report
    assert r.rows_read == len(rows)
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    assert len(ing.frame) == r.rows_accepted
