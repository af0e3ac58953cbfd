"""The PDF disclosure: figures as hand-computed in conftest, hostile text escaped, structure and sandboxing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.report.charts import monthly_phase_chart_svg
from pipeline.report.pdf import (ResourceRefused, TEMPLATES_DIR, breakdowns, defaults_shares, render_html,
                                 t3, templates_only_fetcher, write_pdf)

# ESRS order: E1-5 energy, E1-6 emissions, breakdowns, ..., methodology, factors, data quality, reconciliations
SECTION_IDS = ["cover", "contents", "e1-5", "e1-6", "by-month", "breakdowns", "decisions",
               "methodology", "factors", "data-quality", "allocation", "evidence"]


@pytest.fixture
def html(synthetic_disclosure) -> str:
    return render_html(synthetic_disclosure)


@pytest.fixture(scope="module")
def pdf_file(tmp_path_factory) -> Path:
    from synthetic import make_disclosure  # module-scoped: render the PDF once for the PDF checks

    path = tmp_path_factory.mktemp("pdf") / "disclosure.pdf"
    write_pdf(make_disclosure(), path)
    return path


def _row_text(html: str, label: str) -> str:
    """Text of the table row whose first cell starts with ``label`` (tags stripped)."""
    for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S):
        cells = re.findall(r"<td\b[^>]*>(.*?)</td>", row, flags=re.S)
        if cells and re.sub(r"<[^>]+>", " ", cells[0]).strip().startswith(label):
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    raise AssertionError(f"no row starting with {label!r}")


def _e16(html: str) -> str:
    return html[html.index('id="e1-6"'):html.index('id="by-month"')]


# ------------------------------------------------------------------------------------------ figures

@pytest.mark.parametrize("label, figure", [
    ("Scope 1", "0.000"),
    ("Scope 2, location-based", "0.350"),
    ("Scope 2, market-based", "0.270"),
    ("Scope 3 Cat. 1 Purchased goods and services — cloud computing and data centre services", "0.045"),
    ("Scope 3 total", "0.045"),
    ("Total GHG emissions, location-based", "0.395"),
    ("Total GHG emissions, market-based", "0.315"),
])
def test_e1_6_figures_as_hand_computed(html, label, figure):
    assert _row_text(_e16(html), label).rstrip().endswith(figure)


def test_e1_6_states_both_totals_and_no_netting(html):
    text = re.sub(r"\s+", " ", _e16(html))
    assert "paragraph 52" in text
    assert "never netted" in text


def test_e1_5_energy_own_operations_and_cloud_separately(html):
    section = html[html.index('id="e1-5"'):html.index('id="by-month"')]
    # own operations: lon-colo-1 1000 + 500 + 250 kWh = 1.750 MWh; cloud 150 kWh = 0.150 MWh, shown apart
    assert _row_text(section, "Total energy consumption related to own operations").rstrip().endswith("1.750")
    assert _row_text(section, "lon-colo-1").rstrip().endswith("1.750")
    assert "value-chain estimate, not own operations" in section
    assert _row_text(section, "Estimated electricity used by cloud providers").rstrip().endswith("0.150")


def test_headline_figures_come_from_summary(synthetic_disclosure):
    d = synthetic_disclosure
    d.summary["emissions_tco2e"]["total_location_based"] = 123456.789  # the PDF shows summary.json, nothing else
    assert "123,456.789" in render_html(d)


def test_breakdowns_add_up_to_summary(synthetic_disclosure):
    d = synthetic_disclosure
    em = d.summary["emissions_tco2e"]
    for name, block in breakdowns(d.ledger).items():
        if name == "instance":  # cloud only: Scope 3
            assert block["total"]["lb_t"] == pytest.approx(em["scope3_total"], rel=1e-12)
            continue
        assert block["total"]["lb_t"] == pytest.approx(em["total_location_based"], rel=1e-12), name
        assert block["total"]["mb_t"] == pytest.approx(em["total_market_based"], rel=1e-12), name
        assert block["total"]["energy_mwh"] == pytest.approx(1.9, rel=1e-12), name


def test_defaults_share_of_location_based_total(synthetic_disclosure):
    d = synthetic_disclosure
    shares = {f["flag"]: f for f in defaults_shares(d)}
    # utilisation_default on both cloud rows: (100 + 50) kWh x 0.3 = 45 kg of 395 kg
    assert shares["utilisation_default"]["share"] == pytest.approx(45 / 395, rel=1e-12)
    # pue_provider_default on the 100 kWh row only: 30 kg of 395 kg
    assert shares["pue_provider_default"]["share"] == pytest.approx(30 / 395, rel=1e-12)


def test_month_phase_table(html):
    section = html[html.index('id="by-month"'):html.index('id="breakdowns"')]
    # 2026-07: fine-tuning 1000 kWh x 0.2 = 0.200 t, inference 100 x 0.3 = 0.030 t
    assert _row_text(section, "2026-07").split() == ["2026-07", "0.000", "0.200", "0.030", "0.000", "0.000", "0.230"]
    assert "<svg" in section and "Fine-tuning" in section


@pytest.mark.parametrize("value, text", [(0.0, "0.000"), (-0.0001, "0.000"), (1234.5678, "1,234.568"),
                                         (None, "—"), (float("nan"), "—")])
def test_t3_filter(value, text):
    assert t3(value) == text


# ------------------------------------------------------------------------------------------ escaping

def test_hostile_text_is_escaped(html):
    assert "&lt;img src=x&gt;" in html
    assert "<img src=x>" not in html
    assert "<img" not in html
    assert "Test &lt;Entity&gt; &amp; Co" in html
    assert "=HYPERLINK(&#34;http://evil&#34;)" in html


def test_sections_in_order(html):
    positions = [html.index(f'id="{sid}"') for sid in SECTION_IDS]
    assert positions == sorted(positions)
    headings = re.findall(r"<h1\b[^>]*>(.*?)</h1>", html, flags=re.S)
    assert [re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in headings][:4] == [
        "GHG emissions disclosure — AI compute", "Contents", "E1-5 Energy consumption", "E1-6 Gross GHG emissions"]


def test_html_is_deterministic(synthetic_disclosure):
    assert render_html(synthetic_disclosure) == render_html(synthetic_disclosure)


# ------------------------------------------------------------------------------------------ chart

def test_chart_is_deterministic_vector_text(synthetic_disclosure):
    svg = monthly_phase_chart_svg(synthetic_disclosure.summary)
    assert svg.startswith("<svg")
    assert svg == monthly_phase_chart_svg(synthetic_disclosure.summary)
    assert "<dc:date>" not in svg
    assert "tCO2e (location-based)" in svg and "Fine-tuning" in svg  # text stays text


def test_chart_all_zero_and_empty():
    zero = {"by_month_phase_tco2e": {m: {p: 0.0 for p in ("training", "fine_tuning", "inference", "evaluation",
                                                            "unallocated")} for m in ("2026-07", "2026-08")}}
    assert "<svg" in monthly_phase_chart_svg(zero)
    assert "<svg" in monthly_phase_chart_svg({"by_month_phase_tco2e": {}})


# ------------------------------------------------------------------------------------------ PDF

def test_pdf_structure(pdf_file):
    reader = PdfReader(str(pdf_file))
    assert len(reader.pages) >= 5
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Test <Entity> & Co" in text
    assert "0.395" in text
    assert re.search(r"Page 1 of \d+", text)
    outline = reader.outline
    assert outline
    titles = [o.title for o in outline if not isinstance(o, list)]
    assert "E1-6 Gross GHG emissions" in titles
    assert reader.metadata.title.startswith("GHG emissions disclosure")
    assert reader.metadata.author == "Test <Entity> & Co"


def test_pdf_is_deterministic(synthetic_disclosure, pdf_file, tmp_path):
    again = tmp_path / "again.pdf"
    write_pdf(synthetic_disclosure, again)
    assert again.read_bytes() == pdf_file.read_bytes()


# ------------------------------------------------------------------------------------------ sandbox

@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://example.com", "https://example.com/x.css",
                                 "data:text/css,body{}", (TEMPLATES_DIR / ".." / "pyproject.toml").as_uri(),
                                 (TEMPLATES_DIR / "missing.css").as_uri()])
def test_url_fetcher_refuses_outside_templates(url):
    with pytest.raises(ResourceRefused):
        templates_only_fetcher().fetch(url)


def test_url_fetcher_serves_the_stylesheet():
    response = templates_only_fetcher().fetch((TEMPLATES_DIR / "report.css").as_uri())
    try:
        assert b"@page" in response.read()
        assert response.content_type == "text/css"
    finally:
        response.close()


def test_rendering_stops_on_a_refused_resource(synthetic_disclosure, tmp_path, monkeypatch):
    import pipeline.report.pdf as pdf

    monkeypatch.setattr(pdf, "render_html", lambda d: '<html><body><img src="file:///etc/passwd"></body></html>')
    with pytest.raises(ResourceRefused):
        pdf.write_pdf(synthetic_disclosure, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists() or (tmp_path / "x.pdf").stat().st_size == 0


# ------------------------------------------------------------------------------------------ flags and generic data quality

def test_lifecycle_factor_on_scope2_is_flagged(synthetic_disclosure):
    d = synthetic_disclosure
    assert 'class="flagged"' not in render_html(d)
    d.factors.loc[d.factors["factor_id"] == "test-GB", "boundary"] = "lifecycle"
    html = render_html(d)
    row = _row_text(html[html.index('id="factors"'):], "test-GB")
    assert "lifecycle on Scope 2" in row
    assert html.count('class="flagged"') == 1


def test_data_quality_rendered_generically(synthetic_disclosure):
    d = synthetic_disclosure
    d.data_quality = {**d.data_quality,
                      "coverage": {"billing_spend_covered_share": 0.97, "note": "<b>x</b>"},
                      "unknown_instance_types": [{"instance_type": "zz.9", "rows": 2, "cost": 3.5}],
                      "empty_list": []}
    html = render_html(d)
    section = html[html.index('id="data-quality"'):html.index('id="evidence"')]
    assert "Billing rows not turned into energy" in section
    assert _row_text(section, "non-usage charge (Tax)").split() == ["non-usage", "charge", "(Tax)", "3", "12.50"]
    assert "Unknown instance types" in section and "zz.9" in section
    assert "97.0 %" in section and "&lt;b&gt;x&lt;/b&gt;" in section
