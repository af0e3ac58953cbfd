"""index.html of the evidence pack: links to the PDF, XLSX, Data Docs, quarantine files and manifest, the key
figures and the inputs with their hashes. Relative links only, inline CSS, nothing fetched: readable offline."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipeline.report.pdf import TEMPLATES_DIR

DOCUMENTS = [
    ("disclosure.pdf", "The report (PDF/A-3b; summary.json, the XLSX and the input list are embedded)"),
    ("disclosure.xlsx", "Workbook: every total a live formula over the ledger sheet"),
    ("summary.json", "Machine-readable result"),
    ("ledger.csv", "Activity ledger: quantity x factor = emissions per row, with the source rows"),
    ("factors_used.csv", "Every factor applied, with source, edition, data year and licence"),
    ("classification_decisions.csv", "Scope / category per contract and the rule that fired"),
    ("site_allocation.csv", "Site energy per month: metered, allocated to jobs, unallocated, reconciliation"),
    ("job_allocation_keys.csv", "Per job and month: the allocation key and how it was obtained"),
    ("methodology.md", "The run's methodology text"),
    ("validation/gx/uncommitted/data_docs/local_site/index.html", "Great Expectations Data Docs"),
    ("manifest.json", "SHA-256 of every file, code and package versions"),
]


def write_index(d, stage: Path) -> None:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(default=True))
    e = d.summary["emissions_tco2e"]
    figures = [("Scope 2, location-based", e["scope2_location_based"]), ("Scope 2, market-based", e["scope2_market_based"]),
               ("Scope 3", e["scope3_total"]), ("Total, location-based", e["total_location_based"]),
               ("Total, market-based", e["total_market_based"])]
    docs = [{"path": p, "what": w} for p, w in DOCUMENTS if p == "manifest.json" or (stage / p).exists()]
    html = env.get_template("index.html.j2").render(
        entity=d.config.entity.name, period=d.config.period.label, run_id=d.run_id, code_version=d.code_version,
        factor_library_version=d.factor_library_version, documents=docs, figures=figures, inputs=d.inputs)
    (stage / "index.html").write_text(html, encoding="utf-8")
