"""pipeline/sources/oci_cost.py: Oracle Cloud (OCI) cost reports -> canonical usage frame."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline import ingest as ingest_mod
from pipeline.config import config_from_dict
from pipeline.sources import focus, oci_cost

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
OCI_FILE = SHARED_DATA / "oci" / "reports_cost-csv_0000000030000269.csv"

HEADER = ["lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart", "lineItem/intervalUsageEnd",
          "product/service", "product/compartmentId", "product/region", "usage/billedQuantity", "cost/productSku",
          "product/Description", "cost/myCost", "cost/currencyCode", "cost/billingUnitReadable",
          "cost/skuUnitDescription", "lineItem/isCorrection", "lineItem/backreferenceNo",
          "tags/Oracle-Tags.CreatedBy", "tags/DevRel\\x.release"]
FOCUS_HEADER = ["BillingAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost",
                "ConsumedQuantity", "ConsumedUnit", "ServiceName", "RegionId", "BillingCurrency", "ChargeCategory"]


def _row(**kw) -> dict:
    base = {"lineItem/referenceNo": "r1", "lineItem/tenantId": "ocid1.tenancy.oc1..t", "lineItem/intervalUsageStart":
            "2023-11-13T10:00Z", "lineItem/intervalUsageEnd": "2023-11-13T11:00:00Z", "product/service": "COMPUTE",
            "product/compartmentId": "ocid1.compartment.oc1..c", "product/region": "us-sanjose-1",
            "usage/billedQuantity": "1", "cost/productSku": "B88514", "product/Description": "Standard - E4",
            "cost/myCost": "0.025", "cost/currencyCode": "USD", "cost/billingUnitReadable": "1 NONE HOURS OCPUS",
            "cost/skuUnitDescription": "OCPU Hours", "lineItem/isCorrection": "false",
            "lineItem/backreferenceNo": "", "tags/Oracle-Tags.CreatedBy": "", "tags/DevRel\\x.release": ""}
    base.update(kw)
    return base


def _write(path: Path, rows: list[dict]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow([r.get(h, "") for h in HEADER])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _canon(path: Path):
    return oci_cost.to_canonical(oci_cost.read_raw(path), source_label=path.name)


def _cfg(tmp_path: Path, path: str, kind: str = "oci_cost", period: str = "2023-Q4"):
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": "UTC"},
        "period": period,
        "contracts": [{"id": "c-oci", "kind": "cloud", "provider": "oracle"}],
        "sources": [{"id": "bill", "kind": kind, "path": path, "contracts": ["c-oci"]}],
    }, base_dir=tmp_path)


def _csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _require_sample() -> None:
    if not OCI_FILE.is_file():
        pytest.skip(f"shared sample data not present ({OCI_FILE})")


@pytest.fixture(autouse=True)
def _registered():
    ingest_mod.register(oci_cost)


# --- the real report -----------------------------------------------------------------------------------------

def test_real_report_ingests_and_counts(tmp_path, ingest):
    _require_sample()
    rows = _csv_rows(OCI_FILE)
    ing = ingest(_cfg(tmp_path, str(OCI_FILE)))
    rep = ing.report
    assert rep.rows_read == len(rows) == 506
    assert rep.rows_read == rep.rows_accepted + rep.rows_quarantined
    assert len(ing.frame) == rep.rows_accepted
    assert rep.rows_quarantined == 0
    f = ing.frame
    assert (f["provider"] == "oracle").all()
    assert set(f["region"]) == {"us-sanjose-1"} and set(f["currency"]) == {"USD"}

    # corrections counted by hand (the sample has none); every correction row, and only those, is excluded
    corrections = sum(1 for r in rows if r["lineItem/isCorrection"].strip().lower() == "true")
    frame = _canon(OCI_FILE).frame
    assert int(frame["energy_exclusion"].notna().sum()) == corrections
    assert int((frame["charge_category"] == "Adjustment").sum()) == corrections
    assert (frame["charge_category"].isin(["Usage", "Adjustment"])).all()

    # storage rows by hand: billingUnitReadable "<n> GiB|TiB MONTHS STORAGE_SIZE"
    def storage_gb(r):
        n, size, time, measure = r["cost/billingUnitReadable"].split()
        if measure != "STORAGE_SIZE" or time != "MONTHS":
            return None
        return float(r["usage/billedQuantity"]) * float(n) * (1024.0 if size == "TiB" else 1.0)
    by_hand = [g for g in map(storage_gb, rows) if g is not None]
    kinds = frame["usage_kind"]
    assert int((kinds == "storage_gb_months").sum()) == len(by_hand)
    assert frame.loc[kinds == "storage_gb_months", "usage_amount"].sum() == pytest.approx(sum(by_hand), rel=1e-9)
    # OCPU hours stay "other"; no GPU rows in the sample
    assert (frame.loc[frame["unit"] == "OCPU Hours", "usage_kind"] == "other").all()
    assert (kinds != "accelerator_hours").all()


def test_real_report_times_tags_and_ids():
    _require_sample()
    frame = _canon(OCI_FILE).frame
    row = frame[frame["source_row"] == 2].iloc[0]
    # start written without seconds ("2023-11-13T10:00Z"), end with them
    assert row["usage_start_utc"] == pd.Timestamp("2023-11-13T10:00:00Z")
    assert row["usage_end_utc"] == pd.Timestamp("2023-11-13T11:00:00Z")
    assert frame["usage_start_utc"].notna().all() and frame["usage_end_utc"].notna().all()
    assert row["line_item_id"] == "7108a1f83bdbad70487bf0cf99cbe260"
    assert row["sku"] == "B92911 / Oracle APEX Application Development"
    assert row["cost"] == pytest.approx(0.012264277499950943, rel=1e-12)
    tags = json.loads(row["tags_json"])
    # the value is read from the file here (it is a real person's address: not repeated in this repository)
    with open(OCI_FILE, newline="", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert tags["Oracle-Tags.CreatedBy"] == first["tags/Oracle-Tags.CreatedBy"] != ""
    assert "DevRel\\redbull-analytics-hol-4cb4.release" not in tags      # empty cell: no tag
    assert not any(k.startswith("tags/") for k in tags)


def test_real_report_sniffed(tmp_path, validator):
    _require_sample()
    raw = oci_cost.read_raw(OCI_FILE)
    assert oci_cost.sniff(raw.columns)
    assert "tags/DevRel\\redbull-analytics-hol-4cb4.release" in raw.columns
    assert ingest_mod.sniff(OCI_FILE, OCI_FILE.name) == "oci_cost"


# --- fixtures written here -------------------------------------------------------------------------------------

def test_corrections_gpu_storage_and_network(tmp_path, ingest):
    p = _write(tmp_path / "a.csv", [
        _row(),                                                                                 # OCPU hours
        _row(**{"lineItem/referenceNo": "r2", "lineItem/isCorrection": "TRUE", "lineItem/backreferenceNo": "r1",
                "usage/billedQuantity": "-1", "cost/myCost": "-0.025"}),                        # correction
        _row(**{"lineItem/referenceNo": "r3", "product/Description": "Compute - GPU - H100",
                "cost/billingUnitReadable": "1 NONE HOURS GPUS", "cost/skuUnitDescription": "GPU Per Hour",
                "usage/billedQuantity": "8", "cost/myCost": "80"}),                             # BM.GPU.H100.8 hour
        _row(**{"lineItem/referenceNo": "r4", "product/Description": "GPU Standard - A10",
                "cost/billingUnitReadable": "1 NONE HOURS GPUS", "usage/billedQuantity": "4"}),  # A10: not catalogued
        _row(**{"lineItem/referenceNo": "r5", "product/service": "DATABASE",
                "product/Description": "Exadata Storage", "cost/billingUnitReadable": "1 TiB MONTHS STORAGE_SIZE",
                "cost/skuUnitDescription": "TB", "usage/billedQuantity": "0.002"}),
        _row(**{"lineItem/referenceNo": "r6", "product/service": "NETWORK",
                "product/Description": "Outbound Data Transfer Zone 1",
                "cost/billingUnitReadable": "1 GiB HOURS DATA_TRANSFERRED", "cost/skuUnitDescription": "GB Months",
                "usage/billedQuantity": "3"}),
        _row(**{"lineItem/referenceNo": "r7", "lineItem/intervalUsageStart": "2023-11-13T10:00:00Z",
                "tags/Oracle-Tags.CreatedBy": "default/a@b.c"}),
    ])
    parsed = _canon(p)
    f = parsed.frame
    assert f["charge_category"].tolist() == ["Usage", "Adjustment"] + ["Usage"] * 5
    assert f["energy_exclusion"].iloc[1] == oci_cost.CORRECTION_REASON
    assert f["energy_exclusion"].drop(index=1).isna().all()
    assert f["usage_kind"].tolist() == ["other", "other", "accelerator_hours", "other", "storage_gb_months",
                                        "network_gb", "other"]
    assert f["accelerator_model"].iloc[2] == "H100-SXM"
    assert f["accelerator_model"].drop(index=2).isna().all()
    assert f["usage_amount"].iloc[2] == pytest.approx(8.0)
    assert f["usage_amount"].iloc[4] == pytest.approx(2.048)
    assert f["usage_amount"].iloc[5] == pytest.approx(3.0)
    assert (f["usage_start_utc"] == pd.Timestamp("2023-11-13T10:00:00Z")).all()
    assert json.loads(f["tags_json"].iloc[6]) == {"Oracle-Tags.CreatedBy": "default/a@b.c"}
    assert json.loads(f["tags_json"].iloc[0]) == {}
    assert any("correction" in n for n in parsed.notes)
    ing = ingest(_cfg(tmp_path, "a.csv"))
    assert (ing.report.rows_read, ing.report.rows_accepted, ing.report.rows_quarantined) == (7, 7, 0)


@pytest.mark.parametrize("description, expected", [
    ("Compute - GPU - H100", "H100-SXM"), ("GPU - A100 - v2", "A100-SXM-80GB"), ("GPU Standard - A100", "A100-SXM-40GB"),
    ("GPU Standard - X7 - Tesla V100", "V100"), ("Compute - GPU - L40S", "L40S"), ("GPU Standard - A10", None),
    ("Standard - H100 lookalike", None),   # no "GPU" in the description
])
def test_gpu_model_rule(description, expected):
    got = oci_cost.gpu_model(description)
    assert (None if pd.isna(got) else got) == expected


def test_duplicate_reference_and_bad_rows_quarantined(tmp_path, ingest):
    _write(tmp_path / "a.csv", [_row(), _row(), _row(**{"lineItem/referenceNo": "r3", "cost/myCost": "x"}),
                                _row(**{"lineItem/referenceNo": "r4", "lineItem/intervalUsageStart": "13/11/2023"})])
    rep = ingest(_cfg(tmp_path, "a.csv")).report
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (4, 1, 3)


def test_sniff():
    assert oci_cost.sniff(HEADER)
    assert not oci_cost.sniff(FOCUS_HEADER)
    assert not focus.sniff(HEADER)
