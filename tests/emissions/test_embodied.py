"""pipeline/emissions/embodied.py: SCI embodied emissions of cloud hardware, reported apart from the totals."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.emissions.embodied import aws_size_vcpus, embodied_kg, host_share
from pipeline.evidence import load_library


def _est(rows):
    base = {"usage_kind": "instance_hours", "energy_kwh": 1.0, "contract_id": "c", "provider": "aws"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_aws_size_names():
    assert [aws_size_vcpus(s) for s in ("large", "xlarge", "2xlarge", "24xlarge", "metal", "medium")] == [2, 4, 8, 96, None, None]


def test_p4d_day_is_a_whole_host_share():
    lib = load_library()
    # CCF coefficient for p4d.24xlarge: 4676.79 kg per host; 24 h of a 4-year (35040 h) life; whole host (96/96)
    out = embodied_kg(_est([{"instance_type": "p4d.24xlarge", "usage_amount": 24.0}]), lib, {"c"})
    assert out["cloud_category_1_tco2e"] == pytest.approx(4676.79 * 24 / 35040 / 1000, rel=1e-9)
    assert out["instance_hours_covered_share"] == 1.0 and out["included_in_totals"] is False


def test_partial_host_and_missing_coefficient():
    lib = load_library()
    # m5.2xlarge: 8 of the m5 host's 96 vCPUs (m5.24xlarge); 1610.79 kg per host; 10 h
    assert host_share(lib, "aws", "m5.2xlarge") == pytest.approx(8 / 96, rel=1e-12)
    out = embodied_kg(_est([{"instance_type": "m5.2xlarge", "usage_amount": 10.0},
                            {"instance_type": "p5.48xlarge", "usage_amount": 30.0},        # no CCF coefficient
                            {"instance_type": "m5.2xlarge", "usage_amount": 5.0, "contract_id": "other"}]),
                      lib, {"c"})
    assert out["cloud_category_1_tco2e"] == pytest.approx(1610.79 * 10 / 35040 * 8 / 96 / 1000, rel=1e-9)
    assert out["instance_hours_covered_share"] == pytest.approx(10 / 40, rel=1e-12)   # the other contract opted out
    assert out["instance_types_without_coefficient"] == "aws/p5.48xlarge"
