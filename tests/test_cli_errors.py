"""The CLI on broken inputs: documented exit codes, messages naming the file / key / fix, never a traceback.

Each case copies examples/demo into tmp_path, breaks one thing and runs ``python -m pipeline run``.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
FOCUS = Path("data") / "billing" / "aws_focus_2026Q3.csv"
METERS = Path("data") / "meters" / "lon-colo-1_2026Q3.csv"


@pytest.fixture
def demo(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("*.py", "README.md"))
    return target


def _run(demo: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(demo / "disclosure.yaml"),
                           "--out", str(demo.parent / "out")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    return proc


def _rewrite_csv(path: Path, edit) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows = edit(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def test_renamed_focus_column(demo):
    def rename(rows):
        rows[0] = ["ChargeStart" if h == "ChargePeriodStart" else h for h in rows[0]]
        return rows

    _rewrite_csv(demo / FOCUS, rename)
    proc = _run(demo)
    assert proc.returncode == 1
    err = proc.stderr
    assert err.startswith("error (ValidationFailed): ")
    assert str(FOCUS) in err
    assert "required column 'ChargePeriodStart' is missing" in err
    assert "found 'ChargeStart': rename it to 'ChargePeriodStart'" in err
    assert not (demo.parent / "out").exists()   # a failed run leaves no pack behind


def test_non_numeric_usage_quarantined(demo):
    def break_row(rows):
        h = rows[0]
        assert rows[1][h.index("ChargeCategory")] == "Usage"
        rows[1][h.index("ConsumedQuantity")] = "twenty-four"
        return rows

    _rewrite_csv(demo / FOCUS, break_row)
    proc = _run(demo)
    assert proc.returncode == 0, proc.stderr
    q = pd.read_csv(demo.parent / "out" / "quarantine" / "aws-focus.csv", dtype=str, keep_default_na=False)
    row = q[q["source_row"] == "2"]    # first data row = line 2
    assert len(row) == 1
    assert row["reasons"].iloc[0] == ("usage quantity is missing or not a number on a usage row "
                                      "(ConsumedQuantity = 'twenty-four')")
    assert row["ConsumedQuantity"].iloc[0] == "twenty-four"
    assert "input row(s) quarantined" in proc.stdout


def test_meter_timestamps_unparseable_for_a_month(demo):
    # every August reading of LON1-PDU-A loses its offset -> quarantined -> the meter covers < 95 % of Q3
    changed = []

    def strip_offset(rows):
        for i, r in enumerate(rows[1:], start=2):
            if r[0] == "LON1-PDU-A" and r[1].startswith("2026-08-"):
                r[1] = r[1][:19]
                changed.append(i)
        return rows

    _rewrite_csv(demo / METERS, strip_offset)
    # 31 days x 24 h = 744 readings (one per hour; DST does not change in August)
    assert len(changed) == 744
    proc = _run(demo)
    assert proc.returncode == 1
    assert "the reporting period is not covered by meter readings" in proc.stderr
    assert "meter LON1-PDU-A at site lon-colo-1" in proc.stderr
    assert str(METERS) in proc.stderr


def test_config_naming_missing_file(demo):
    cfg = (demo / "disclosure.yaml").read_text(encoding="utf-8")
    cfg = cfg.replace("path: data/slurm/lon-colo-1_sacct_2026Q3.txt", "path: data/slurm/missing.txt")
    (demo / "disclosure.yaml").write_text(cfg, encoding="utf-8")
    proc = _run(demo)
    assert proc.returncode == 2
    # the slurm source is the fourth one: sources[3]
    assert "key 'sources[3].path'" in proc.stderr
    assert "file 'data/slurm/missing.txt' not found" in proc.stderr


def test_config_unknown_key(demo):
    cfg = (demo / "disclosure.yaml").read_text(encoding="utf-8")
    cfg = cfg.replace("    kind: colocation\n", "    kind: colocation\n    colour: blue\n")
    (demo / "disclosure.yaml").write_text(cfg, encoding="utf-8")
    proc = _run(demo)
    assert proc.returncode == 2
    assert "error (ConfigError)" in proc.stderr
    assert "contracts[2].colour: unknown key" in proc.stderr
    assert str(demo / "disclosure.yaml") in proc.stderr


def test_short_row_in_sacct_quarantined(demo):
    # a truncated line is kept visible in quarantine (with its reason), not dropped and not fatal
    path = demo / "data" / "slurm" / "lon-colo-1_sacct_2026Q3.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    n_fields = len(lines[0].split("|"))
    assert not lines[4].split("|")[0].count(".")      # line 5 is a job row, not a step
    lines[4] = "|".join(lines[4].split("|")[:5])        # line 5 truncated to 5 fields
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _run(demo)
    assert proc.returncode == 0, proc.stderr
    q = pd.read_csv(demo.parent / "out" / "quarantine" / "lon-colo-1-sacct.csv", dtype=str, keep_default_na=False)
    row = q[q["source_row"] == "5"]
    assert len(row) == 1
    assert "row_has_wrong_field_count" in row["failed_expectations"].iloc[0].split(";")
    assert f"has 5 fields where the header has {n_fields}" in row["reasons"].iloc[0]
