"""pipeline/energy/cloud.py: instance-hours -> estimated energy with the CCF linear power model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import Contract
from pipeline.energy import cloud
from pipeline.evidence import load_library

HW = Path(__file__).resolve().parents[2] / "evidence" / "hardware"


def _table(name: str, key: str) -> dict[str, dict]:
    with open(HW / name, newline="", encoding="utf-8") as fh:
        return {r[key]: r for r in csv.DictReader(fh)}


def _expected_kwh(instance_type: str, hours: float, u: float, pue: float) -> float:
    """The documented model, computed from the evidence CSVs read here (not via the library)."""
    inst = {r["instance_type"]: r for r in csv.DictReader(open(HW / "instances.csv", newline="", encoding="utf-8"))
            if r["provider"] == "aws"}[instance_type]
    acc = _table("accelerators.csv", "accelerator_model")[inst["accelerator_model"]]
    cpu = _table("cpu_power.csv", "cpu_family")[inst["cpu_family"]]
    mem_coeff = float(_table("constants.csv", "name")["memory_kwh_per_gb_hour"]["value"])
    amin, amax = float(acc["min_w"]), float(acc["max_w"])
    g_w = int(inst["accelerator_count"]) * (amin + u * (amax - amin))
    cmin, cmax = float(cpu["min_w_per_vcpu"]), float(cpu["max_w_per_vcpu"])
    c_w = int(inst["vcpus"]) * (cmin + u * (cmax - cmin))
    m_kwh = float(inst["memory_gib"]) * hours * mem_coeff
    return ((g_w + c_w) / 1000.0 * hours + m_kwh) * pue


AWS_PUE = float(_table("pue.csv", "provider")["aws"]["pue"])
DEFAULT_U = float(_table("constants.csv", "name")["default_utilisation"]["value"])


def _usage(rows: list[dict]) -> pd.DataFrame:
    """Canonical usage rows as an adapter gives them: instance rows are usage_kind instance_hours."""
    base = {"contract_id": "aws", "provider": "aws", "charge_category": "Usage", "instance_type": pd.NA,
            "quantity": 1.0, "region": "us-east-1", "cost": 1.0, "energy_exclusion": pd.NA, "accelerator_model": pd.NA}
    out = []
    for r in rows:
        rec = {**base, **r}
        rec.setdefault("usage_kind", "instance_hours" if isinstance(rec["instance_type"], str) else "other")
        rec.setdefault("usage_amount", rec["quantity"])
        out.append(rec)
    return pd.DataFrame(out)


CONTRACTS = {"aws": Contract(id="aws", kind="cloud", provider="aws"),
             "aws-tuned": Contract(id="aws-tuned", kind="cloud", provider="aws", utilisation=0.8, pue=1.2)}


def test_evidence_values_used_in_this_test():
    # guard: the hand calculation below assumes these catalogue entries (p4d: 8 x A100 40GB, Cascade Lake)
    inst = {r["instance_type"]: r for r in csv.DictReader(open(HW / "instances.csv", encoding="utf-8"))}
    assert inst["p4d.24xlarge"]["accelerator_count"] == "8"
    assert inst["g5.xlarge"]["accelerator_count"] == "1"
    assert DEFAULT_U == 0.5


def test_p4d_one_hour():
    est = cloud.estimate(_usage([{"instance_type": "p4d.24xlarge", "quantity": 1.0}]), CONTRACTS, load_library())
    row = est.iloc[0]
    # A100-SXM-40GB min 46 W / max 407 W; Cascade Lake 0.64 / 3.97 W per vCPU; 1152 GiB x 0.000392 kWh/GB-h; PUE 1.135
    # GPU  8 x (46 + 0.5 x (407 - 46)) = 8 x 226.5 = 1812 W
    # CPU 96 x (0.64 + 0.5 x (3.97 - 0.64)) = 96 x 2.305 = 221.28 W
    # mem 1152 x 1 h x 0.000392 = 0.451584 kWh
    # (1.812 + 0.22128 + 0.451584) x 1.135 = 2.82032064 kWh
    assert row["energy_kwh"] == pytest.approx(_expected_kwh("p4d.24xlarge", 1.0, DEFAULT_U, AWS_PUE), rel=1e-9)
    assert row["energy_kwh"] == pytest.approx(2.82032064, rel=1e-9)  # literal, if the evidence is unchanged
    assert row["accelerator_it_kwh"] == pytest.approx(1.812, rel=1e-9)
    assert row["cpu_it_kwh"] == pytest.approx(0.22128, rel=1e-9)
    assert row["memory_it_kwh"] == pytest.approx(0.451584, rel=1e-9)
    assert row["defaults_used"] == "power_model_ccf_linear;pue_provider_default;utilisation_default"
    assert pd.isna(row["not_estimated_reason"])
    assert (row["utilisation"], row["pue"]) == (0.5, AWS_PUE)


def test_g5_xlarge_one_hour():
    est = cloud.estimate(_usage([{"instance_type": "g5.xlarge", "quantity": 1.0}]), CONTRACTS, load_library())
    # A10G 18/153 W; EPYC 2nd Gen 0.47/1.69 W per vCPU; 16 GiB
    # GPU 1 x (18 + 0.5 x 135) = 85.5 W; CPU 4 x (0.47 + 0.5 x 1.22) = 4.32 W; mem 16 x 0.000392 = 0.006272 kWh
    # (0.0855 + 0.00432 + 0.006272) x 1.135 = 0.096092 x 1.135 = 0.10906442 kWh
    expected = (0.0855 + 0.00432 + 0.006272) * 1.135
    assert est.iloc[0]["energy_kwh"] == pytest.approx(expected, rel=1e-9)
    assert est.iloc[0]["energy_kwh"] == pytest.approx(_expected_kwh("g5.xlarge", 1.0, DEFAULT_U, AWS_PUE), rel=1e-9)
    assert est.iloc[0]["energy_kwh"] == pytest.approx(0.10906442, rel=1e-9)


def test_hours_scale_linearly_and_contract_overrides():
    est = cloud.estimate(_usage([{"instance_type": "g5.xlarge", "quantity": 24.0, "contract_id": "aws-tuned"}]),
                         CONTRACTS, load_library())
    row = est.iloc[0]
    # u = 0.8: GPU 18 + 0.8 x 135 = 126 W; CPU 4 x (0.47 + 0.8 x 1.22) = 5.784 W; mem 16 x 24 x 0.000392 kWh
    expected = ((126 + 5.784) / 1000 * 24 + 16 * 24 * 0.000392) * 1.2
    assert row["energy_kwh"] == pytest.approx(expected, rel=1e-9)
    assert row["energy_kwh"] == pytest.approx(_expected_kwh("g5.xlarge", 24.0, 0.8, 1.2), rel=1e-9)
    assert row["defaults_used"] == "power_model_ccf_linear"


def test_cpu_only_instance_has_no_accelerator_energy():
    est = cloud.estimate(_usage([{"instance_type": "m5.large", "quantity": 2.0}]), CONTRACTS, load_library())
    row = est.iloc[0]
    assert row["accelerator_it_kwh"] == 0.0
    # Skylake 0.65/4.26: 2 vCPU x (0.65 + 0.5 x 3.61) = 4.91 W x 2 h; mem 8 GiB x 2 h x 0.000392
    assert row["energy_kwh"] == pytest.approx((4.91 / 1000 * 2 + 8 * 2 * 0.000392) * AWS_PUE, rel=1e-9)


def test_rows_not_estimated_keep_their_reason():
    est = cloud.estimate(_usage([
        {"instance_type": "p9.enormous"},
        {"charge_category": "Tax", "instance_type": "p4d.24xlarge"},
        {"instance_type": pd.NA},
    ]), CONTRACTS, load_library())
    assert est["energy_kwh"].isna().all()
    assert est["not_estimated_reason"].tolist() == [
        f"{cloud.UNKNOWN_TYPE}: p9.enormous",
        "non-usage charge (Tax)",
        cloud.NOT_ESTIMATED_KIND,
    ]
    assert est["defaults_used"].tolist() == ["", "", ""]


def test_type_known_for_other_provider_only_is_unknown():
    est = cloud.estimate(_usage([{"provider": "azure", "instance_type": "p4d.24xlarge"}]),
                         CONTRACTS, load_library())
    assert est.iloc[0]["not_estimated_reason"] == f"{cloud.UNKNOWN_TYPE}: p4d.24xlarge"
    assert math.isnan(est.iloc[0]["energy_kwh"])


def test_other_usage_kinds():
    """accelerator-hours (GCP GPU SKUs), vCPU-hours, memory GB-hours, storage GB-months, network GB."""
    lib = load_library()
    est = cloud.estimate(_usage([
        {"provider": "gcp", "usage_kind": "accelerator_hours", "accelerator_model": "A100-SXM-40GB", "usage_amount": 2.0},
        {"provider": "gcp", "usage_kind": "vcpu_hours", "usage_amount": 10.0},
        {"provider": "gcp", "usage_kind": "memory_gb_hours", "usage_amount": 100.0},
        {"usage_kind": "storage_gb_months", "usage_amount": 1000.0},
        {"usage_kind": "network_gb", "usage_amount": 50.0},
        {"usage_kind": "instance_hours", "instance_type": "g5.xlarge", "energy_exclusion": "double counted: test"},
    ]), {"aws": Contract(id="aws", kind="cloud", provider="aws")}, lib)
    gcp_pue = float(_table("pue.csv", "provider")["gcp"]["pue"])
    a100 = _table("accelerators.csv", "accelerator_model")["A100-SXM-40GB"]
    gcp_cpu = _table("cpu_power.csv", "cpu_family")["GCP median"]
    consts = _table("constants.csv", "name")
    # A100: 2 h x (46 + 0.5 x (407 - 46)) W = 2 x 226.5 W = 0.453 kWh IT
    assert est.iloc[0]["energy_kwh"] == pytest.approx(
        2 * (float(a100["min_w"]) + 0.5 * (float(a100["max_w"]) - float(a100["min_w"]))) / 1000 * gcp_pue, rel=1e-9)
    # vCPU: 10 h x GCP median (0.68 + 0.5 x (4.11 - 0.68)) W
    cmin, cmax = float(gcp_cpu["min_w_per_vcpu"]), float(gcp_cpu["max_w_per_vcpu"])
    assert est.iloc[1]["energy_kwh"] == pytest.approx(10 * (cmin + 0.5 * (cmax - cmin)) / 1000 * gcp_pue, rel=1e-9)
    assert est.iloc[2]["energy_kwh"] == pytest.approx(100 * float(consts["memory_kwh_per_gb_hour"]["value"]) * gcp_pue, rel=1e-9)
    # storage: 1000 GB-months x 730 h = 730 TB-hours x 1.2 Wh = 0.876 kWh IT
    assert est.iloc[3]["energy_kwh"] == pytest.approx(
        1000 * 730 / 1000 * float(consts["ssd_wh_per_tb_hour"]["value"]) / 1000 * AWS_PUE, rel=1e-9)
    assert "storage_assumed_ssd" in est.iloc[3]["defaults_used"]
    assert est.iloc[4]["energy_kwh"] == pytest.approx(50 * float(consts["network_kwh_per_gb"]["value"]) * AWS_PUE, rel=1e-9)
    assert math.isnan(est.iloc[5]["energy_kwh"]) and est.iloc[5]["not_estimated_reason"] == "double counted: test"


def test_ccf_compatible_profile_reproduces_ccf_p4d_hour():
    """Parity with Cloud Carbon Footprint's own estimator (npm @cloud-carbon-footprint/aws 0.15.0) for one
    p4d.24xlarge hour in us-east-1: compute 2.308 kWh and 0.469 kWh of memory above its per-chip baseline.
    By hand: GPU 8 x (46 + 0.5 x 361) = 1812 W; CPU 96 x (0.64 + 0.5 x 3.33) = 221.28 W;
    (1.812 + 0.22128) x 1.135 = 2.3077728 kWh. Memory: 1 chip (ceil(96 / 96)); Cascade Lake 98.12 GB per chip;
    (1152 - 98.12) x 0.000392 x 1.135 = 0.46889... kWh."""
    ccf = {"aws": Contract(id="aws", kind="cloud", provider="aws", energy_profile="ccf-compatible")}
    row = cloud.estimate(_usage([{"instance_type": "p4d.24xlarge", "quantity": 1.0}]), ccf, load_library()).iloc[0]
    compute = (row["accelerator_it_kwh"] + row["cpu_it_kwh"]) * row["pue"]
    memory = row["memory_it_kwh"] * row["pue"]
    assert compute == pytest.approx((1.812 + 0.22128) * 1.135, rel=1e-9)
    assert round(compute, 3) == 2.308
    assert memory == pytest.approx((1152 - 98.12) * 0.000392 * 1.135, rel=1e-9)
    assert round(memory, 3) == 0.469
    # the default profile counts every GiB: 1152 x 0.000392 x 1.135
    default = cloud.estimate(_usage([{"instance_type": "p4d.24xlarge"}]), CONTRACTS, load_library()).iloc[0]
    assert default["memory_it_kwh"] * default["pue"] == pytest.approx(1152 * 0.000392 * 1.135, rel=1e-9)
    # and the CCF emission factor for us-east-1 gives CCF's operational kg for compute + memory
    kg = (compute + memory) * 0.000379069 * 1000
    assert round(kg, 3) == pytest.approx(1.052, abs=0.001)   # CCF 1.054 kg includes its embodied-as-kWh term
