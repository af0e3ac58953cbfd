"""Long tables are shortened in the PDF only (pipeline/report/pdf.py capped / grouped_inputs / grouped_failed):
the PDF's length must not grow with the number of instance types, projects or input files."""

from __future__ import annotations

import pytest

from pipeline.report.pdf import capped, grouped_failed, grouped_inputs


def test_short_tables_are_unchanged():
    rows = [{"project": "a", "lb_t": 1.0, "mb_t": 1.0, "energy_mwh": 2.0}]
    assert capped(rows, "XLSX", limit=3) is rows


def test_long_table_keeps_the_largest_rows_in_order_and_sums_the_rest():
    # lb_t 5, 1, 4, 2, 3 with limit 3: keep the two largest (5 and 4, in table order), sum 1 + 2 + 3 = 6
    rows = [{"project": p, "lb_t": v, "mb_t": v / 2, "energy_mwh": 10 * v} for p, v in zip("abcde", [5, 1, 4, 2, 3])]
    out = capped(rows, "XLSX sheet Ledger", limit=3)
    assert [r["project"] for r in out[:2]] == ["a", "c"]
    assert out[2]["other_rows"].startswith("3 more rows") and "XLSX sheet Ledger" in out[2]["other_rows"]
    assert out[2]["lb_t"] == 6 and out[2]["mb_t"] == 3 and out[2]["energy_mwh"] == 60
    assert sum(r["lb_t"] for r in out) == sum(r["lb_t"] for r in rows)


def test_costs_of_the_rest_are_summed_only_in_one_currency():
    rows = [{"contract_id": "x", "lb_t": 3.0, "mb_t": 0, "energy_mwh": 0, "cost": 1.0, "cost_currency": "USD"},
            {"contract_id": "y", "lb_t": 1.0, "mb_t": 0, "energy_mwh": 0, "cost": 2.0, "cost_currency": "USD"},
            {"contract_id": "z", "lb_t": 0.5, "mb_t": 0, "energy_mwh": 0, "cost": 4.0, "cost_currency": "EUR"}]
    out = capped(rows, "XLSX", limit=2)
    assert out[1]["cost_currency"] == "mixed" and out[1]["cost"] != out[1]["cost"]     # NaN: never added
    out = capped(rows[:2] + [dict(rows[2], cost_currency="USD")], "XLSX", limit=2)
    assert out[1]["cost"] == 6.0 and out[1]["cost_currency"] == "USD"


def _input(source, read, q=0, qfile=None, notes=()):
    return {"source": source, "kind": "dcgm", "path": source, "sha256": "", "rows_read": read,
            "rows_accepted": read - q, "rows_quarantined": q, "quarantine_file": qfile, "notes": list(notes)}


def test_files_of_one_glob_source_become_one_row_when_there_are_many():
    inputs = [_input(f"dcgm:day{d}.json", 100, q=d % 2, qfile=f"quarantine/day{d}.csv" if d % 2 else None)
              for d in range(1, 6)] + [_input("bill", 7)]
    assert grouped_inputs(inputs, limit=10) is inputs
    out = grouped_inputs(inputs, limit=4)
    assert [r["source"] for r in out] == ["dcgm (5 files)", "bill"]
    # days 1..5: 500 rows read, days 1, 3, 5 quarantine one row each
    assert out[0]["rows_read"] == 500 and out[0]["rows_quarantined"] == 3 and out[0]["rows_accepted"] == 497
    assert out[0]["quarantine_file"] == "3 file(s) in quarantine/"
    assert out[1]["rows_read"] == 7 and out[1]["quarantine_file"] is None


def test_failed_expectations_follow_the_grouping():
    failed = [{"source": f"dcgm:day{d}.json", "expectation": "e", "column": "power_w", "unexpected_count": d,
               "stops_run": False} for d in range(1, 4)]
    assert grouped_failed(failed, n_inputs=3, limit=10) is failed
    (row,) = grouped_failed(failed, n_inputs=50, limit=10)
    assert row["source"] == "dcgm" and row["unexpected_count"] == 6


def test_a_report_with_long_tables_renders_with_the_rest_summed():
    """Every breakdown table and the inputs table beyond their PDF length, through the real template."""
    import dataclasses

    import pandas as pd
    from synthetic import make_disclosure

    from pipeline.report.pdf import render_html
    from pipeline.report.summary import build_summary

    d = make_disclosure()
    cloud = d.ledger[d.ledger["contract_kind"] == "cloud"].iloc[[1]]
    # 60 cloud rows of 1 kWh x 0.3 kg/kWh, each its own instance type and project: 0.0003 t each
    many = pd.concat([cloud.assign(instance_type=f"t{k}.large", project=f"proj{k}", energy_kwh=1.0, quantity=1.0,
                                   emissions_lb_kg_co2e=0.3, emissions_mb_kg_co2e=0.3,
                                   activity_id=f"B{k:05d}") for k in range(60)], ignore_index=True)
    d.ledger = pd.concat([d.ledger, many], ignore_index=True)
    d.inputs = d.inputs + [dataclasses.replace(d.inputs[1], source_id=f"dcgm:day{k}.json") for k in range(45)]
    d.summary = build_summary(d)
    html = render_html(d)
    # instance table: 2 original cloud rows + 60 = 62 rows -> 39 shown + 23 summed;
    # projects: p1, "" and "<img src=x>" + 60 = 63 -> 39 + 24
    assert "23 more rows with less location-based tCO2e each" in html
    assert "24 more rows with less location-based tCO2e each" in html
    assert "dcgm (45 files)" in html
