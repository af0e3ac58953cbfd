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


# ------------------------------------------------------------------------------------------ layout on the page

def _laid_out(d):
    from weasyprint import HTML

    from pipeline.report.pdf import TEMPLATES_DIR, render_html, templates_only_fetcher

    return HTML(string=render_html(d), base_url=TEMPLATES_DIR.as_uri() + "/",
                url_fetcher=templates_only_fetcher()).render()


def _boxes(box):
    from weasyprint.formatting_structure import boxes

    yield box
    if isinstance(box, boxes.ParentBox):
        for child in box.children:
            yield from _boxes(child)


def _long_factors(d):
    """Factor rows with texts as long as real ones (sources and notes of ~600 characters with hashes and paths,
    a 140-character URL, long licences), a value with five integer digits and a lifecycle factor on Scope 2."""
    digest = "8bfdb45b81ec4a88e3bdf4584637330f62e6bd09ce1940e654c5d7b7f736de94"
    source = ("UK DESNZ Greenhouse gas reporting: conversion factors 2025, flat file v1 (updated 2025-06-10), "
              f"row ID 13_402_4000_5_1 'Transmission and distribution'. Copy in github.com/x/y sha256 {digest}; ") * 3
    f = d.factors
    f["source"] = source
    f["note"] = ("SECONDARY copy of the publisher's file, re-checked against the publisher's figure before "
                 "reporting; data_year is the DESNZ reporting-year label. ") * 4
    f["licence"] = "OGL v3.0 (Crown copyright; licence statement read in the 2025 methodology paper, same copy)"
    f["edition"] = "DESNZ conversion factors 2025, version 1 (2025-06-10)"
    f["url"] = "https://www.gov.uk/government/publications/greenhouse-gas-reporting-conversion-factors-2025/" \
               "conversion-factors-2025-full-set-for-advanced-users.xlsx"
    f.loc[f["factor_id"] == "test-SRVC", "value"] = 98765.4321           # shown as 98,765.432
    f.loc[f["factor_id"] == "test-GB", "boundary"] = "lifecycle"         # flagged: used on Scope 2
    return d


def test_factor_table_has_fixed_columns_and_fits_the_page(monkeypatch):
    """The factors table is laid out with fixed column widths: WeasyPrint's automatic layout measured its long
    texts character by character (overflow-wrap: anywhere), seconds of CPU per report. Every table must still
    fit its page, and figures must neither wrap nor spill out of their cells."""
    import weasyprint.layout.table as wtable
    from synthetic import make_disclosure
    from weasyprint.formatting_structure import boxes

    measured = []
    real = wtable.table_and_columns_preferred_widths

    def spy(context, box, outer=True):
        measured.append(box.get_wrapped_table().element.get("class"))
        return real(context, box, outer)

    monkeypatch.setattr(wtable, "table_and_columns_preferred_widths", spy)
    doc = _laid_out(_long_factors(make_disclosure()))

    assert measured and not any("factors" in (c or "") for c in measured)
    factor_tables = 0
    for page in doc.pages:
        page_box = page._page_box
        right = page_box.content_box_x() + page_box.width
        for box in _boxes(page_box):
            if isinstance(box, boxes.TableBox):
                cls = box.element.get("class") or ""
                if "factors" in cls:
                    factor_tables += 1
                    assert box.style["table_layout"] == "fixed"
                assert box.position_x + box.margin_width() <= right + 0.5, f"table '{cls}' is wider than the page"
            if isinstance(box, boxes.TableCellBox) and box.element.tag == "td" \
                    and "num" in (box.element.get("class") or "").split():
                lines = [b for b in _boxes(box) if isinstance(b, boxes.LineBox)]
                assert len(lines) <= 1, f"figure wrapped: {''.join(box.element.itertext())!r}"
                cell_right = box.content_box_x() + box.width
                for text in (b for b in _boxes(box) if isinstance(b, boxes.TextBox)):
                    assert text.position_x + text.width <= cell_right + 0.5, f"figure {text.text!r} overflows its cell"
    assert factor_tables >= 2          # the table runs over more than one page with these texts
