"""Golden files: the demo's rendered report HTML (before WeasyPrint) and a normalised dump of its XLSX cells.

A change to either output shows up here as a diff to review. After an intended change, regenerate with
``pytest tests/report/test_golden.py --update-golden`` and commit the new files with the change.
Charts are replaced by a placeholder in the HTML (they are SVG drawn with the machine's font metrics; the chart
functions have tests of their own)."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from pipeline.config import load_config
from pipeline.report.pdf import render_html
from pipeline.report.xlsx import write_xlsx
from pipeline.run import compute

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cfg = load_config(ROOT / "examples" / "demo" / "disclosure.yaml")
    d, *_ = compute(cfg, tmp_path_factory.mktemp("golden"))
    return d


def normalised_html(html: str) -> str:
    """Charts become a placeholder; the checkout's absolute path (the evidence index names the config file
    where it was read) becomes <repo>, so the golden file does not depend on where the repository lives."""
    html = html.replace(str(ROOT), "<repo>")
    return re.sub(r"<svg\b.*?</svg>", "<svg><!-- chart --></svg>", html, flags=re.S)


def xlsx_dump(path: Path) -> str:
    """One line per non-empty cell: sheet!cell, then the formula or the value (numbers as repr)."""
    wb = openpyxl.load_workbook(path)
    lines = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                v = c.value
                lines.append(f"{ws.title}!{c.coordinate}\t{v!r}" if not isinstance(v, str) else f"{ws.title}!{c.coordinate}\t{v}")
    names = sorted(f"name {n}\t{wb.defined_names[n].attr_text}" for n in wb.defined_names)
    return "\n".join(lines + names) + "\n"


def _check(request, name: str, actual: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        pytest.skip(f"golden file {name} rewritten")
    assert path.is_file(), f"missing golden file {path}: run pytest with --update-golden"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        a, e = actual.splitlines(), expected.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, e)) if x != y), min(len(a), len(e)))
        pytest.fail(f"{name} differs from the golden file at line {first + 1}:\n"
                    f"  golden: {e[first] if first < len(e) else '<end>'}\n"
                    f"  actual: {a[first] if first < len(a) else '<end>'}\n"
                    "If the change is intended: pytest tests/report/test_golden.py --update-golden")


def test_report_html_matches_golden(request, demo):
    _check(request, "demo_report.html", normalised_html(render_html(demo)))


def test_workbook_cells_match_golden(request, demo, tmp_path):
    write_xlsx(demo, tmp_path / "d.xlsx")
    _check(request, "demo_workbook.txt", xlsx_dump(tmp_path / "d.xlsx"))
