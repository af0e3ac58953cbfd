"""``make bench`` end to end on a tiny generated quarter: the generator, the timed run and its report still
fit the pipeline (the stage timers wrap library functions by name, so a renamed stage breaks the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_on_a_tiny_quarter(tmp_path):
    data = tmp_path / "bench"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--billing-rows", "20000",
                    "--power-samples", "30000", "--out", str(data)], check=True, capture_output=True, timeout=600)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), str(data), "--skip-duckdb"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pipeline: completed" in proc.stdout, proc.stdout[-3000:]
    result = json.loads((data / "benchmark_result.json").read_text(encoding="utf-8"))
    text = json.dumps(result)
    # the stages a reader of benchmarks/README.md looks for were timed
    for stage in ("ingest focus", "usage groups (sum chunk)", "telemetry stream", "render PDF", "render XLSX"):
        assert stage in text, f"stage '{stage}' missing from the benchmark result"
    summary = json.loads((data / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["inputs"][0]["rows_read"] == 20000
