"""``verify_pack``: one real demo pack, copied per test and altered in exactly one way; every alteration must
fail verification with a check naming the altered file, and the untouched pack must verify."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from pipeline import verify
from pipeline.canonical import ACTIVITY
from pipeline.config import load_config
from pipeline.errors import EXIT_USAGE, InputError
from pipeline.run import run
from pipeline.verify import render, verify_pack

ROOT = Path(__file__).resolve().parents[1]
GX_DOC = "validation/gx/uncommitted/data_docs/local_site/index.html"
CONFIG_COPY = "config/disclosure.yaml"
QUARANTINE = "quarantine/aws-focus.csv"


@pytest.fixture(scope="module")
def demo_pack(tmp_path_factory) -> Path:
    cfg = load_config(ROOT / "examples" / "demo" / "disclosure.yaml")
    out = tmp_path_factory.mktemp("verify") / "pack"
    run(cfg, out)
    return out


@pytest.fixture
def pack(demo_pack: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "pack"
    shutil.copytree(demo_pack, copy)
    return copy


# --- ways to alter one file ------------------------------------------------------------------------

def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _scale_cell(path: Path, column: str, factor: float, row: int = 1, where: Callable[[dict], bool] | None = None
                ) -> None:
    """Multiply one number of a CSV: the ``row``-th data row (or the first row ``where`` accepts)."""
    rows = _rows(path)
    header = rows[0]
    i = row if where is None else next(n for n, r in enumerate(rows[1:], start=1) if where(dict(zip(header, r))))
    c = header.index(column)
    rows[i][c] = repr(float(rows[i][c]) * factor)
    _write_rows(path, rows)


def alter_ledger_emissions(pack: Path) -> None:
    _scale_cell(pack / "ledger.csv", "emissions_lb_kg_co2e", 1.01)


def alter_ledger_consistently(pack: Path) -> None:
    """Quantity, energy and both emissions of one row scaled together: each row still re-performs."""
    path = pack / "ledger.csv"
    rows = _rows(path)
    for col in ("energy_kwh", "quantity", "emissions_lb_kg_co2e", "emissions_mb_kg_co2e"):
        c = rows[0].index(col)
        rows[1][c] = repr(float(rows[1][c]) * 2)
    _write_rows(path, rows)


def alter_factor(pack: Path) -> None:
    _scale_cell(pack / "factors_used.csv", "value_kg_per_kwh", 1.1, where=lambda r: r["factor_id"] == "desnz-2025-GB")


def alter_summary_total(pack: Path) -> None:
    path = pack / "summary.json"
    s = json.loads(path.read_text(encoding="utf-8"))
    s["emissions_tco2e"]["total_location_based"] += 1.0
    path.write_text(json.dumps(s, indent=2) + "\n", encoding="utf-8")


def alter_xlsx_cell(pack: Path) -> None:
    path = pack / "disclosure.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["E1-6 Emissions"]
    assert ws["F1"].value == "summary.json (tCO2e)" and ws["D3"].value == "location"
    ws["F3"] = ws["F3"].value + 1.0          # Scope 2 location-based as summary.json has it
    wb.save(path)


def flip_pdf_byte(pack: Path) -> None:
    path = pack / "disclosure.pdf"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def alter_manifest_hash(pack: Path) -> None:
    path = pack / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    entry = next(f for f in m["files"] if f["path"] == "methodology.md")
    entry["sha256"] = "0" * 64
    path.write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")


def append_text(rel: str, text: str) -> Callable[[Path], None]:
    def alter(pack: Path) -> None:
        with (pack / rel).open("a", encoding="utf-8") as fh:
            fh.write(text)
    return alter


def alter_quarantine(pack: Path) -> None:
    path = pack / QUARANTINE
    path.write_text(path.read_text(encoding="utf-8").replace("twenty-four", "twenty-five"), encoding="utf-8")


def drop_quarantine_row(pack: Path) -> None:
    path = pack / QUARANTINE
    _write_rows(path, _rows(path)[:-1])


ROW_MAP = "drilldown/aws-focus.usage_rows.parquet"


def drop_row_map_row(pack: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(pack / ROW_MAP)
    pq.write_table(table.slice(0, table.num_rows - 1), pack / ROW_MAP)


def delete_file(pack: Path) -> None:
    (pack / "site_allocation.csv").unlink()


def add_file(pack: Path) -> None:
    (pack / "validation" / "notes.txt").write_text("added after the run\n", encoding="utf-8")


def rehash(pack: Path, rel: str) -> None:
    """Update manifest.json for ``rel`` as someone covering their tracks would."""
    path = pack / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    data = (pack / rel).read_bytes()
    entry = next(f for f in m["files"] if f["path"] == rel)
    entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    path.write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")


def _failed(result) -> list[dict]:
    return [c for c in result.checks if c["status"] == "failed"]


# --- the untouched pack ----------------------------------------------------------------------------

def test_untouched_pack_verifies(pack):
    result = verify_pack(pack)
    assert result.ok, render(result)
    assert not _failed(result)
    assert all(set(c) == {"check", "target", "status", "detail"} and c["status"] == "ok" for c in result.checks)
    kinds = {c["check"] for c in result.checks}
    assert {"manifest.read", "manifest.file", "manifest.coverage", "factors.ids", "ledger.factors",
            "ledger.reperform", "totals", "xlsx.ledger", "xlsx.factors", "xlsx.summary", "run.id",
            "config.sha256", "pdf.attachment", "inputs", "quarantine"} <= kinds
    files = json.loads((pack / "manifest.json").read_text())["files"]
    assert sum(c["check"] == "manifest.file" for c in result.checks) == len(files)
    # the headline figures are each re-aggregated and each compared with the workbook
    targets = {c["target"] for c in result.checks}
    for figure in ("emissions_tco2e.scope2_location_based", "emissions_tco2e.total_market_based",
                   "energy_mwh.total_own_operations", "by_phase_tco2e.training"):
        assert f"summary.json {figure}" in targets
    assert any("'E1-6 Emissions'!F9 (summary.json emissions_tco2e.total_location_based)" in t for t in targets)
    assert render(result).splitlines()[-1] == f"pack verified: {len(result.checks)} checks passed"


def test_verify_is_read_only(pack):
    def snapshot() -> dict[str, tuple[str, int]]:
        return {p.relative_to(pack).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "",
                                                 p.stat().st_mtime_ns) for p in pack.rglob("*")}

    before = snapshot()
    verify_pack(pack)
    assert snapshot() == before
    assert sorted(p.name for p in pack.parent.iterdir()) == ["pack"]


# --- one file altered: the manifest catches it, and the content checks catch what they can ------------

ALTERATIONS = [
    # (id, alter, file that a failed check must name, content checks that must fail besides the manifest)
    ("ledger-emissions", alter_ledger_emissions, "ledger.csv", {"ledger.reperform", "totals"}),
    ("factor-value", alter_factor, "factors_used.csv", {"ledger.factors", "ledger.reperform", "xlsx.factors"}),
    ("summary-total", alter_summary_total, "summary.json", {"totals", "xlsx.summary", "pdf.attachment"}),
    ("xlsx-cell", alter_xlsx_cell, "disclosure.xlsx", {"xlsx.summary", "pdf.attachment"}),
    ("pdf-byte", flip_pdf_byte, "disclosure.pdf", set()),
    ("quarantine-csv", alter_quarantine, QUARANTINE, set()),
    ("gx-data-docs", append_text(GX_DOC, "<!-- edited -->\n"), GX_DOC, set()),
    ("index-html", append_text("index.html", "<!-- edited -->\n"), "index.html", set()),
    ("methodology", append_text("methodology.md", "\nEdited after the run.\n"), "methodology.md", set()),
    ("config-copy", append_text(CONFIG_COPY, "# edited after the run\n"), CONFIG_COPY, {"config.sha256"}),
]


@pytest.mark.parametrize(("alter", "rel", "content_checks"), [a[1:] for a in ALTERATIONS],
                         ids=[a[0] for a in ALTERATIONS])
def test_one_altered_file_fails_naming_it(pack, alter, rel, content_checks):
    alter(pack)
    result = verify_pack(pack)
    failed = _failed(result)
    assert not result.ok
    assert {"check": "manifest.file", "target": rel} in [{"check": c["check"], "target": c["target"]} for c in failed]
    assert content_checks <= {c["check"] for c in failed}, render(result)
    for c in failed:
        assert rel in c["target"] or rel in c["detail"] or c["check"] in content_checks, c
    report = render(result)
    assert f"FAILED manifest.file: {rel}: sha256 is " in report
    assert report.splitlines()[-1] == f"pack NOT verified: {len(failed)} of {len(result.checks)} checks failed"


def test_manifest_with_a_changed_hash_fails_naming_the_listed_file(pack):
    alter_manifest_hash(pack)
    result = verify_pack(pack)
    (failed,) = _failed(result)
    assert failed["check"] == "manifest.file" and failed["target"] == "methodology.md"
    assert f"manifest.json lists {'0' * 64}" in failed["detail"]


def test_deleted_file_fails_naming_it(pack):
    delete_file(pack)
    result = verify_pack(pack)
    (failed,) = _failed(result)
    assert failed == {"check": "manifest.file", "target": "site_allocation.csv", "status": "failed",
                      "detail": "listed in manifest.json but missing from the pack"}


def test_added_file_fails_naming_it(pack):
    add_file(pack)
    result = verify_pack(pack)
    (failed,) = _failed(result)
    assert failed["check"] == "manifest.coverage" and failed["target"] == "validation/notes.txt"
    assert "not listed in manifest.json" in render(result)


# --- altered AND re-hashed in the manifest: the content checks must still catch it -----------------

CONSISTENT = [
    ("ledger-emissions", alter_ledger_emissions, "ledger.csv", {"ledger.reperform", "totals"}),
    ("ledger-row-scaled", alter_ledger_consistently, "ledger.csv", {"totals", "xlsx.ledger"}),
    ("factor-value", alter_factor, "factors_used.csv", {"ledger.factors", "ledger.reperform", "xlsx.factors"}),
    ("summary-total", alter_summary_total, "summary.json", {"totals", "xlsx.summary", "pdf.attachment"}),
    ("xlsx-cell", alter_xlsx_cell, "disclosure.xlsx", {"xlsx.summary", "pdf.attachment"}),
    ("quarantine-row", drop_quarantine_row, QUARANTINE, {"quarantine"}),
    ("row-map-row", drop_row_map_row, ROW_MAP, {"drilldown"}),
    ("config-copy", append_text(CONFIG_COPY, "# edited after the run\n"), CONFIG_COPY, {"config.sha256"}),
]


@pytest.mark.parametrize(("alter", "rel", "content_checks"), [a[1:] for a in CONSISTENT],
                         ids=[a[0] for a in CONSISTENT])
def test_alteration_with_updated_manifest_is_still_caught(pack, alter, rel, content_checks):
    alter(pack)
    rehash(pack, rel)
    result = verify_pack(pack)
    failed = _failed(result)
    assert not result.ok
    assert not [c for c in failed if c["check"].startswith("manifest.")]
    assert content_checks <= {c["check"] for c in failed}, render(result)


def test_ledger_and_manifest_changed_together_name_the_row_and_the_figure(pack):
    path = pack / "ledger.csv"
    first = dict(zip(*_rows(path)[:2]))
    alter_ledger_emissions(pack)
    rehash(pack, "ledger.csv")
    result = verify_pack(pack)
    by_check = {(c["check"], c["target"]): c for c in _failed(result)}
    reperform = by_check[("ledger.reperform", "ledger.csv emissions_lb_kg_co2e")]
    assert reperform["detail"].startswith(f"{first['activity_id']}: emissions_lb_kg_co2e is ")
    assert "quantity" in reperform["detail"] and first["factor_id_lb"] in reperform["detail"]
    scope = "scope2_location_based" if first["scope"] == "2" else "scope3_total"
    assert ("totals", f"summary.json emissions_tco2e.{scope}") in by_check
    assert ("totals", "summary.json emissions_tco2e.total_location_based") in by_check
    assert ("ledger.reperform", "ledger.csv emissions_mb_kg_co2e") not in by_check   # only LB was changed


# --- damaged packs are reported, not crashed on; paths that are not packs raise InputError ------------

def test_unreadable_manifest_is_a_failed_check(pack):
    (pack / "manifest.json").write_text("{not json", encoding="utf-8")
    result = verify_pack(pack)
    assert not result.ok
    assert any(c["check"] == "manifest.read" and c["target"] == "manifest.json" for c in _failed(result))


def test_manifest_entry_outside_the_pack_is_rejected(pack):
    path = pack / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["files"].append({"path": "../outside.txt", "sha256": "0" * 64, "bytes": 0})
    path.write_text(json.dumps(m), encoding="utf-8")
    result = verify_pack(pack)
    (failed,) = _failed(result)
    assert failed["check"] == "manifest.file" and "../outside.txt" in failed["detail"]


def test_workbook_that_is_not_a_workbook_is_a_failed_check(pack):
    (pack / "disclosure.xlsx").write_bytes(b"not a zip file")
    rehash(pack, "disclosure.xlsx")
    result = verify_pack(pack)
    checks = {(c["check"], c["target"]) for c in _failed(result)}
    assert ("read", "disclosure.xlsx") in checks
    assert ("pdf.attachment", "disclosure.pdf attachment disclosure.xlsx") in checks


def test_missing_ledger_is_a_failed_check(pack):
    (pack / "ledger.csv").unlink()
    result = verify_pack(pack)
    checks = {(c["check"], c["target"]) for c in _failed(result)}
    assert {("manifest.file", "ledger.csv"), ("read", "ledger.csv")} <= checks


@pytest.mark.parametrize("make", ["missing", "file", "no-manifest"])
def test_a_path_that_is_not_a_pack_raises_input_error(tmp_path, make):
    target = tmp_path / "pack"
    if make == "file":
        target.write_text("x")
    elif make == "no-manifest":
        target.mkdir()
        (target / "summary.json").write_text("{}")
    with pytest.raises(InputError) as info:
        verify_pack(target)
    assert info.value.file and str(target) in info.value.file
    assert info.value.fix and "manifest.json" in info.value.fix
    assert info.value.exit_code == EXIT_USAGE


def test_pdf_check_fails_when_pypdf_is_missing(pack, monkeypatch):
    """pypdf is what reads the attachments: without it the PDF is not verified (reported, never skipped)."""
    monkeypatch.setitem(sys.modules, "pypdf", None)
    result = verify_pack(pack)
    (failed,) = _failed(result)
    assert failed["check"] == "pdf.attachment" and failed["target"] == "disclosure.pdf"
    assert "pypdf is not installed" in failed["detail"]


def test_ledger_columns_read_are_canonical():
    assert set(verify._LEDGER_REQUIRED) <= set(ACTIVITY)


def _copy_inputs_into(pack: Path) -> list[str]:
    """What ``run(..., copy_inputs=True)`` adds: inputs/<path as in the config>, listed in the manifest."""
    m = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    added = []
    for i in m["inputs"]:
        rel = f"inputs/{i['path']}"
        (pack / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "examples" / "demo" / i["path"], pack / rel)
        data = (pack / rel).read_bytes()
        m["files"].append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
        added.append(rel)
    (pack / "manifest.json").write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")
    return added


def test_copied_inputs_must_be_the_files_the_run_read(pack):
    added = _copy_inputs_into(pack)
    result = verify_pack(pack)
    assert result.ok, render(result)
    assert {c["target"] for c in result.checks if c["check"] == "inputs.copy"} == set(added)

    rel = next(r for r in added if r.endswith(".csv"))
    append_text(rel, "\n")(pack)
    rehash(pack, rel)
    (failed,) = _failed(verify_pack(pack))
    assert failed["check"] == "inputs.copy" and failed["target"] == rel
