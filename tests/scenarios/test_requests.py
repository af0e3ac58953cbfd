"""pipeline/scenarios/requests.py: request-count CSV and measured energy per request."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.scenarios.requests import (
    measured_intensity,
    measured_per_model,
    read_request_counts,
)


def _read(text: str) -> pd.DataFrame:
    return read_request_counts(io.StringIO(text), label="requests.csv")


def test_reads_counts_with_line_numbers():
    df = _read("model,month,requests,successful_requests\n"
               "ft,2026-07,200000,190000\n"
               "\n"
               "base,2026-07,1.5E+05,\n")
    assert list(df["model"]) == ["ft", "base"]
    assert list(df["requests"]) == [200000.0, 150000.0]
    assert df["successful_requests"].iloc[0] == 190000.0 and math.isnan(df["successful_requests"].iloc[1])
    assert list(df["source_row"]) == [2, 4]          # the blank line 3 is skipped, line numbers kept
    assert set(df["source_file"]) == {"requests.csv"}


def test_optional_column_may_be_absent():
    df = _read("month,model,requests\n2026-08,ft,10\n")
    assert df["requests"].iloc[0] == 10.0 and math.isnan(df["successful_requests"].iloc[0])


def test_reads_a_path_with_bom(tmp_path):
    p = tmp_path / "req.csv"
    p.write_bytes("\ufeffmodel,month,requests\nft,2026-07,5\n".encode("utf-8"))
    df = read_request_counts(p)
    assert df["requests"].iloc[0] == 5.0 and df["source_file"].iloc[0] == str(p)


@pytest.mark.parametrize("text, row, message, fix", [
    ("", 1, "the file is empty", "header"),
    ("model,month\nft,2026-07\n", 1, "lacks column(s) requests", "model,month,requests"),
    ("model,month,requests,note\nft,2026-07,1,x\n", 1, "unknown column(s) note", "only model"),
    ("model,month,requests\nft,2026-07,100\nft,2026-7,100\n", 3, "not YYYY-MM", "2026-07"),
    ("model,month,requests\nft,2026-07,100\nft,2026-08,\"100,000\"\n", 3, "not a number", "thousands"),
    ("model,month,requests\nft,2026-07,-5\n", 2, "not a whole number", "plain digits"),
    ("model,month,requests\nft,2026-07,12.5\n", 2, "not a whole number", "plain digits"),
    ("model,month,requests\nft,2026-07,\n", 2, "'requests' is empty", "plain digits"),
    ("model,month,requests\n,2026-07,5\n", 2, "'model' is empty", "measured_key"),
    ("model,month,requests\nft,2026-07,5,6\n", 2, "has 4 fields", "comma"),
    ("model,month,requests,successful_requests\nft,2026-07,5,6\n", 2, "exceeds requests", "failed ones"),
    ("model,month,requests\nft,2026-07,5\nb,2026-07,5\nft,2026-07,6\n", 4, "first on row 2", "one row per"),
])
def test_bad_rows_raise_input_error_with_file_row_fix(text, row, message, fix):
    with pytest.raises(InputError) as exc:
        _read(text)
    err = exc.value
    assert err.file == "requests.csv" and err.row == row
    assert message in err.message and fix in err.fix


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as exc:
        read_request_counts(tmp_path / "nope.csv")
    assert "projections.request_counts" in exc.value.fix


def test_non_utf8_file(tmp_path):
    p = tmp_path / "req.csv"
    p.write_bytes(b"model,month,requests\nmod\xe8le,2026-07,5\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_request_counts(p)


REQUESTS = pd.DataFrame({
    "model": ["ft", "ft", "ft", "base"],
    "month": ["2026-07", "2026-08", "2026-09", "2026-07"],
    "requests": [200_000.0, 100_000.0, 0.0, 50_000.0],
    "successful_requests": [190_000.0, 95_000.0, math.nan, math.nan],
})

# ledger-like energy: two inference slices for ft in July (60 + 24 = 84 kWh), a training row for ft that must
# not count, 30 kWh for ft in August, nothing for base
ENERGY = pd.DataFrame({
    "project": ["ft", "ft", "ft", "ft", "other"],
    "month": ["2026-07", "2026-07", "2026-07", "2026-08", "2026-07"],
    "phase": ["inference", "inference", "fine_tuning", "inference", "inference"],
    "energy_kwh": [60.0, 24.0, 500.0, 30.0, 7.0],
})


def test_measured_intensity_per_month():
    out = measured_intensity(REQUESTS, ENERGY).set_index(["model", "month"])
    jul = out.loc[("ft", "2026-07")]
    assert jul["energy_kwh"] == 84.0 and jul["energy_rows"] == 2
    assert jul["wh_per_request"] == pytest.approx(0.42, rel=1e-12)       # 84 kWh x 1000 / 200,000
    assert jul["success_rate"] == pytest.approx(0.95, rel=1e-12)         # 190,000 / 200,000
    assert out.loc[("ft", "2026-08"), "wh_per_request"] == pytest.approx(0.3, rel=1e-12)
    sep = out.loc[("ft", "2026-09")]
    assert math.isnan(sep["wh_per_request"]) and "no inference energy" in sep["note"]
    assert "no inference energy" in out.loc[("base", "2026-07"), "note"]


def test_measured_intensity_all_phases_when_asked():
    out = measured_intensity(REQUESTS.iloc[:1], ENERGY, phases=None)
    assert out["energy_kwh"].iloc[0] == 584.0


def test_measured_intensity_accepts_model_column_and_zero_requests():
    energy = pd.DataFrame({"model": ["ft"], "month": ["2026-09"], "energy_kwh": [5.0]})
    out = measured_intensity(REQUESTS[REQUESTS["month"] == "2026-09"], energy)
    assert math.isnan(out["wh_per_request"].iloc[0]) and out["note"].iloc[0] == "no requests counted in this month"


def test_measured_per_model_sums_matched_months():
    per = measured_per_model(measured_intensity(REQUESTS, ENERGY)).set_index("model")
    ft = per.loc["ft"]
    # July + August: (84 + 30) kWh x 1000 / (200,000 + 100,000) = 0.38 Wh/request; success 285,000 / 300,000
    assert ft["months_matched"] == 2 and ft["months_unmatched"] == 1
    assert ft["wh_per_request"] == pytest.approx(0.38, rel=1e-12)
    assert ft["success_rate"] == pytest.approx(0.95, rel=1e-12)
    assert per.loc["base", "months_matched"] == 0 and math.isnan(per.loc["base", "wh_per_request"])
