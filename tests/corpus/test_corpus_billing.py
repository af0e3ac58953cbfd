"""Bad-input corpus for the billing and provider-carbon adapters (files in tests/corpus/billing/).

Every file is run through ``pipeline.ingest.ingest_source`` the way a real run does (same call as the ``ingest``
fixture in tests/conftest.py), with a config built like the source tests build theirs. Its outcome must
be exactly the one in ``billing/expected.yaml``:

* ``error: InputError | ValidationFailed | ConfigError`` with ``message_contains`` (case-insensitive): the run
  stops with that error (never another exception), and the message names the file and says what to do;
* or ``accepted: N`` and ``quarantined: {source_row: reason substring(s)}``: exactly those rows are quarantined,
  each with a reason naming what is wrong, and rows_read = rows_accepted + rows_quarantined.

Optional checks: ``sums`` (column totals of the accepted canonical frame: no silently wrong number), ``values``
(a column's values for the accepted rows, in source-row order), ``notes_contain`` / ``notes_exclude``,
``message_excludes`` (message substrings are matched with the file name taken out). ``period`` defaults to 2026-Q3. ``also:`` lists variants of the same file (e.g.
``kind: auto``), each its own test case inheriting the entry. ``xfail:`` marks a known pipeline bug: the entry
states the correct outcome, so the case fails until the bug is fixed (strict: a fix makes it XPASS -> remove the
mark). ``derived:`` entries are built at test time from the vendor samples in /work/shared/data (skipped when
absent); two generated files, 100x the size of the others, are checked row by row by ``test_generated_*``.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from billing_config import billing_config

from pipeline.errors import DisclosureError

CORPUS = Path(__file__).resolve().parent / "billing"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPEC = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
NOT_CORPUS = {"expected.yaml", "_make_corpus.py", "__pycache__"}
PROVIDER = {"focus": "aws", "aws_cur": "aws", "azure_cost": "azure", "gcp_billing": "gcp", "oci_cost": "oracle",
            "aws_carbon": "aws", "gcp_carbon": "gcp", "azure_carbon": "azure"}
ERRORS = {"InputError", "ValidationFailed", "ConfigError"}
OUTCOME_KEYS = {"error", "message_contains", "message_excludes", "accepted", "quarantined", "sums", "values",
                "notes_contain", "notes_exclude"}


# fixtures validator / ingest: tests/conftest.py


def _cfg(base_dir: Path, name: str, kind: str, provider: str, period) -> object:
    return billing_config(base_dir, name, kind, provider, period, source_id="corpus", contract_id=f"c-{provider}")


# --- cases ---------------------------------------------------------------------------------------------------------

def _variants(name: str, entry: dict, prefix: str = ""):
    base = {k: v for k, v in entry.items() if k != "also"}
    yield f"{prefix}{name}", base
    for extra in entry.get("also", []):
        merged = {k: v for k, v in base.items() if k not in ("xfail", "what")}
        if "error" in extra or "accepted" in extra:   # a new outcome replaces the inherited one
            merged = {k: v for k, v in merged.items() if k not in OUTCOME_KEYS}
        merged.update(extra)
        merged["parent_kind"] = base["kind"]
        yield f"{prefix}{name}[{extra['id']}]", merged


def _params(section: str, prefix: str = ""):
    out = []
    for name, entry in (SPEC.get(section) or {}).items():
        for case_id, spec in _variants(name, entry, prefix):
            marks = [pytest.mark.xfail(reason=spec["xfail"], strict=True)] if spec.get("xfail") else []
            out.append(pytest.param(name, spec, id=case_id, marks=marks))
    return out


def _expand_rows(quarantined: dict | None) -> dict[int, list[str]]:
    """{2: "reason", "10-12": ["a", "b"]} -> {2: ["reason"], 10: [...], 11: [...], 12: [...]}"""
    out: dict[int, list[str]] = {}
    for key, subs in (quarantined or {}).items():
        subs = [subs] if isinstance(subs, str) else list(subs)
        if isinstance(key, str) and "-" in key:
            lo, hi = (int(x) for x in key.split("-"))
            for row in range(lo, hi + 1):
                out[row] = subs
        else:
            out[int(key)] = subs
    return out


def _check(spec: dict, path: Path, ingest, tmp_path: Path) -> None:
    kind = spec["kind"]
    provider = PROVIDER[spec.get("parent_kind", kind) if kind == "auto" else kind]
    cfg = _cfg(path.parent, path.name, kind, provider, spec.get("period", "2026-Q3"))

    if "error" in spec:
        assert spec["error"] in ERRORS, spec["error"]
        with pytest.raises(DisclosureError) as ei:
            ingest(cfg)
        err = ei.value
        text = str(err)
        assert type(err).__name__ == spec["error"], f"{type(err).__name__}: {text}"
        assert path.name in text, f"the message does not name the file: {text}"
        assert err.fix, f"the message says nothing about what to do: {text}"
        # the substrings must come from the message itself, not from the file name it quotes
        bare = text.replace(str(path), "<file>").replace(path.name, "<file>").lower()
        for s in spec.get("message_contains", []):
            assert s.lower() in bare, f"{s!r} not in: {text}"
        for s in spec.get("message_excludes", []):
            assert s.lower() not in bare, f"{s!r} should not be in: {text}"
        return

    ing = ingest(cfg)
    r = ing.report
    expected_q = _expand_rows(spec.get("quarantined"))
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    got_reasons: dict[int, str] = {}
    if r.quarantine_file:
        q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
        assert len(q) == r.rows_quarantined
        got_reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
        assert all(got_reasons.values()), "a quarantined row has no reason"
    assert (r.rows_accepted, r.rows_quarantined) == (spec["accepted"], len(expected_q)), \
        f"accepted/quarantined {r.rows_accepted}/{r.rows_quarantined}; quarantined rows: {got_reasons}"
    assert set(got_reasons) == set(expected_q), got_reasons
    for row, subs in expected_q.items():
        for s in subs:
            assert s in got_reasons[row], f"row {row}: {s!r} not in {got_reasons[row]!r}"
    frame = ing.frame.sort_values("source_row")
    assert not set(frame["source_row"]) & set(expected_q), "a row is both accepted and quarantined"
    for column, total in (spec.get("sums") or {}).items():
        assert float(frame[column].sum()) == pytest.approx(total, rel=1e-9, abs=1e-9), column
    for column, values in (spec.get("values") or {}).items():
        got = frame[column].tolist()
        assert len(got) == len(values), (column, got)
        for g, v in zip(got, values):
            if isinstance(v, (int, float)):
                assert g == pytest.approx(v, rel=1e-9), (column, got)
            elif v == "nan":
                assert pd.isna(g), (column, got)
            else:
                assert str(g) == v, (column, got)
    notes = " | ".join(r.notes)
    if kind == "auto":
        assert f"format recognised from the header: {spec['parent_kind']}" in notes
    for s in spec.get("notes_contain", []):
        assert s in notes, f"{s!r} not in notes: {notes}"
    for s in spec.get("notes_exclude", []):
        assert s not in notes, f"{s!r} should not be in notes: {notes}"


# --- the stored corpus ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, spec", _params("files"))
def test_corpus_file(name, spec, ingest, tmp_path):
    _check(spec, CORPUS / name, ingest, tmp_path)


def test_every_corpus_file_has_one_entry():
    files = {p.name for p in CORPUS.iterdir() if p.name not in NOT_CORPUS}
    entries = set(SPEC["files"])
    assert files - entries == set(), "corpus files without an entry in expected.yaml"
    assert entries - files == set(), "entries in expected.yaml without a file"
    for name, entry in SPEC["files"].items():
        assert entry["kind"] in PROVIDER, name
        assert ("error" in entry) != ("accepted" in entry), f"{name}: give either error or accepted"
        assert entry.get("what"), f"{name}: say what the file tests"


# --- derived at test time from the vendor samples ------------------------------------------------------------------

def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines(keepends=True)


def _derive(spec: dict, dst: Path) -> Path:
    src = SHARED_DATA / spec["from"]
    if not src.is_file():
        pytest.skip(f"shared sample {spec['from']} not available")
    how = spec["transform"]
    lines = _lines(src)
    if how == "rows_twice":                 # a re-delivered export appended to the first
        body = lines[1:]
        body[-1] = body[-1] if body[-1].endswith("\n") else body[-1] + "\n"
        dst.write_text(lines[0] + "".join(body + body), encoding="utf-8", newline="")
    elif how == "utf16_head":               # the first rows, saved as "Unicode text" by a spreadsheet
        dst.write_text("".join(lines[: spec.get("head", 11)]), encoding="utf-16", newline="")
    elif how == "eol_mix_truncated":        # every other line LF instead of CRLF, download cut in the last line
        mixed = [ln.rstrip("\r\n") + ("\r\n" if i % 2 else "\n") for i, ln in enumerate(lines)]
        mixed[-1] = mixed[-1][: len(mixed[-1]) // 3]
        dst.write_text("".join(mixed), encoding="utf-8", newline="")
    else:
        raise AssertionError(f"unknown transform {how}")
    return dst


@pytest.mark.parametrize("name, spec", _params("derived", "derived:"))
def test_derived_from_shared_sample(name, spec, ingest, tmp_path):
    src_dir = tmp_path / "derived"
    src_dir.mkdir()
    _check(spec, _derive(spec, src_dir / name), ingest, tmp_path)


# --- generated: 100x the size of the stored files, accounted row by row --------------------------------------------

def _maker():
    """The corpus writer's row builders (loaded without leaving a __pycache__ in the corpus folder)."""
    spec = importlib.util.spec_from_file_location("_make_corpus", CORPUS / "_make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    old, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.dont_write_bytecode = old
    return mod


def _generated(name: str) -> dict:
    return SPEC["generated"][name]


def _big_focus(path: Path, n: int) -> tuple[dict[int, str], float]:
    """n FOCUS rows with faults at fixed strides; returns ({source_row: expected reason}, accepted quantity)."""
    mk = _maker()
    header = mk.FOCUS_HEADER
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    row_level: dict[int, str] = {}
    ids: dict[int, str] = {}
    qty: dict[int, float] = {}
    for i in range(n):
        line = i + 2
        day = pd.Timestamp("2026-07-01T00:00:00Z") + pd.Timedelta(days=i % 92)
        kw = {"Id": f"big-{i:05d}", "ChargePeriodStart": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ChargePeriodEnd": (day + pd.Timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ConsumedQuantity": str(1 + i % 7)}
        if i % 17 == 0:
            kw.update(mk.FOCUS_CREDIT)                       # credit, NULL quantity: accepted
        elif i % 10 == 3:
            kw["ConsumedQuantity"] = "-1"
            row_level[line] = "usage quantity is negative on a usage row (ConsumedQuantity = '-1')"
        elif i % 29 == 13:
            kw["ConsumedQuantity"] = "NULL"
            row_level[line] = "usage quantity is missing or not a number on a usage row (ConsumedQuantity = 'NULL')"
        if i % 41 == 7:
            kw["ChargePeriodStart"], kw["ChargePeriodEnd"] = "2026-10-02T00:00:00Z", "2026-10-02T08:00:00Z"
            row_level.setdefault(line, "charge period starts outside the reporting period")
        if i % 37 == 5:
            kw["Id"] = f"big-{i - 1:05d}"                    # the previous row again
        cells = [mk.focus_row(1, **kw)[c] for c in header]
        if i % 53 == 11:
            cells = cells[:-1]                               # a short line, mid-file
            row_level.setdefault(line, "has 43 fields where the header has 44")
        w.writerow(cells)
        ids[line] = kw["Id"]
        q = kw["ConsumedQuantity"]
        qty[line] = float(q) if q not in ("NULL", "-1") else (0.0 if q == "NULL" else -1.0)
    path.write_text(buf.getvalue(), encoding="utf-8")
    # duplicate ids among the rows still accepted after the row checks, first kept (as documented in ingest)
    expected = dict(row_level)
    seen: set[str] = set()
    for line in sorted(ids):
        if line in row_level:
            continue
        if ids[line] in seen:
            expected[line] = f"line item {ids[line]} appears again in this file"
        seen.add(ids[line])
    accepted_qty = sum(v for line, v in qty.items() if line not in expected)
    return expected, accepted_qty


def _assert_rows(ing, tmp_path: Path, expected: dict[int, str], rows: int) -> None:
    r = ing.report
    assert r.rows_read == rows
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    assert r.rows_quarantined == len(expected)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    got = dict(zip(q["source_row"].astype(int), q["reasons"]))
    assert set(got) == set(expected)
    for line, reason in expected.items():
        assert reason in got[line], (line, got[line])
    accepted = set(ing.frame["source_row"])
    assert not accepted & set(expected)
    assert len(accepted) + len(expected) == rows


def test_generated_focus_100x(ingest, tmp_path):
    spec = _generated("focus_100x.csv")
    path = tmp_path / "focus_100x.csv"
    expected, accepted_qty = _big_focus(path, spec["rows"])
    assert path.stat().st_size > 100 * (CORPUS / "focus_baseline.csv").stat().st_size
    ing = ingest(_cfg(tmp_path, path.name, "focus", "aws", "2026-Q3"))
    _assert_rows(ing, tmp_path, expected, spec["rows"])
    assert (ing.report.rows_accepted, ing.report.rows_quarantined) == (spec["accepted"], spec["quarantined"])
    assert float(ing.frame["quantity"].fillna(0).sum()) == pytest.approx(accepted_qty, rel=1e-12)


def test_generated_aws_cur_redelivered_100x_gz(ingest, tmp_path):
    """A CUR .csv.gz where the whole export was appended a second time (same line items and hours)."""
    spec = _generated("aws_cur_redelivered_100x.csv.gz")
    mk = _maker()
    half = spec["rows"] // 2
    rows = []
    for i in range(half):
        start = pd.Timestamp("2026-07-01T00:00:00Z") + pd.Timedelta(hours=i)
        s, e = start.strftime("%Y-%m-%dT%H:%M:%SZ"), (start + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(mk.cur_row(1, **{"identity/LineItemId": f"big{i:05d}", "identity/TimeInterval": f"{s}/{e}",
                                     "lineItem/UsageStartDate": s, "lineItem/UsageEndDate": e}))
    text = mk.csv_text(mk.CUR_HEADER, rows + rows)
    path = tmp_path / "aws_cur_redelivered_100x.csv.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    assert len(text) > 100 * (CORPUS / "aws_cur_baseline.csv").stat().st_size
    expected = {half + 2 + i: f"line item big{i:05d}|" for i in range(half)}
    ing = ingest(_cfg(tmp_path, path.name, "aws_cur", "aws", "2026-Q3"))
    _assert_rows(ing, tmp_path, expected, spec["rows"])
    assert (ing.report.rows_accepted, ing.report.rows_quarantined) == (spec["accepted"], spec["quarantined"])
    assert float(ing.frame["quantity"].sum()) == pytest.approx(float(half), rel=1e-12)
    assert not math.isnan(float(ing.frame["cost"].sum()))
