"""pipeline/check_inputs.py and `carbon-disclosure validate`: ingest and validation only, a readable summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT)


def test_validate_prints_row_accounting_and_reasons(tmp_path):
    r = _cli("validate", str(DEMO / "disclosure.yaml"), "--out", str(tmp_path / "checked"))
    assert r.returncode == 0, r.stderr
    meters = (DEMO / "data" / "meters" / "lon-colo-1_2026Q3.csv").read_text().splitlines()
    n = len(meters) - 1                      # data rows below the header
    assert f"lon-colo-1-meters (meter_readings, data/meters/lon-colo-1_2026Q3.csv): {n:,} rows read, {n:,} accepted, 0 quarantined" in r.stdout
    # the demo's two deliberately broken FOCUS rows, each with its reason
    assert "aws-focus (focus, data/billing/aws_focus_2026Q3.csv): 647 rows read, 645 accepted, 2 quarantined" in r.stdout
    assert "1 x usage quantity is missing or not a number on a usage row" in r.stdout
    assert (tmp_path / "checked" / "quarantine" / "aws-focus.csv").is_file()
    assert (tmp_path / "checked" / "validation" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()
    assert not (tmp_path / "checked" / "disclosure.pdf").exists()          # validation only: no outputs


def test_validate_stops_on_what_would_stop_the_run(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    meters = demo / "data" / "meters" / "lon-colo-1_2026Q3.csv"
    meters.write_text(meters.read_text().replace("meter_id,timestamp,energy,unit", "meter,timestamp,energy,unit", 1))
    r = _cli("validate", str(demo / "disclosure.yaml"))
    assert r.returncode == 1
    assert "data/meters/lon-colo-1_2026Q3.csv" in r.stderr and "meter_id" in r.stderr
