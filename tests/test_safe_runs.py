"""Orchestrator-ready runs: idempotent reruns, one writer per output, no half pack after a kill, JSON logs,
byte-identical outputs for the same inputs, copied inputs, and restatements against a previous pack."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import OutputError
from pipeline.run import run
from pipeline.safe_output import output_lock

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("safe") / "pack"
    run(load_config(DEMO / "disclosure.yaml"), out)
    return out


def _cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT, **kw)


def test_rerun_of_an_unchanged_quarter_is_a_no_op(pack):
    before = {p: p.stat().st_mtime_ns for p in pack.rglob("*") if p.is_file()}
    result = run(load_config(DEMO / "disclosure.yaml"), pack)
    assert result.unchanged and result.disclosure is None
    assert {p: p.stat().st_mtime_ns for p in pack.rglob("*") if p.is_file()} == before   # nothing rewritten
    assert result.summary["run"]["id"] == json.loads((pack / "manifest.json").read_text())["run_id"]


def test_a_different_pack_in_the_way_needs_force(tmp_path, pack):
    other = tmp_path / "other"
    shutil.copytree(pack, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["run_id"] = "0000000000000000"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError) as ei:
        run(load_config(DEMO / "disclosure.yaml"), other)
    assert "not empty" in str(ei.value) and "--force" in ei.value.render()


def test_second_writer_of_the_same_output_is_refused(tmp_path):
    out = tmp_path / "pack"
    with output_lock(out.resolve()):
        with pytest.raises(OutputError) as ei:
            run(load_config(DEMO / "disclosure.yaml"), out)
    assert "another run is writing" in str(ei.value)
    assert not out.exists()


def test_killed_run_leaves_no_pack_and_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "pack"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "demo", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    # wait until the run is writing its staging directory (ingest has started), then kill it hard
    while time.time() < deadline and not any(p.name.startswith(".pack.staging-") and any(p.iterdir())
                                              for p in tmp_path.iterdir()):
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()                                  # no half-written pack at the output path
    assert any(p.name.startswith(".pack.staging-") for p in tmp_path.iterdir())
    done = _cli("--quiet", "demo", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "manifest.json").is_file()
    assert not any(p.name.startswith(".pack.staging-") for p in tmp_path.iterdir())   # stale staging removed


def test_json_logs_on_stderr_and_quiet(tmp_path, pack):
    r = _cli("--log-format", "json", "run", str(DEMO / "disclosure.yaml"), "--out", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "ingested" in kinds and kinds[-1] == "written"
    ing = [e for e in events if e["event"] == "ingested"]
    assert all(e["rows_read"] == e["rows_accepted"] + e["rows_quarantined"] for e in ing)
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    # an error is a JSON event too, with the exit code
    bad = _cli("--log-format", "json", "run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "q"))
    assert bad.returncode == 2
    (err,) = [json.loads(line) for line in bad.stderr.splitlines() if line.strip()]
    assert err["level"] == "error" and err["exit_code"] == 2 and "missing.yaml" in err["message"]
    # not a terminal and not json: no progress lines; --quiet: nothing on stderr either
    q = _cli("--quiet", "run", str(DEMO / "disclosure.yaml"), "--out", str(pack))
    assert q.returncode == 0 and q.stderr == "" and q.stdout.startswith("unchanged:")


def test_same_inputs_give_byte_identical_outputs(tmp_path, pack):
    again = tmp_path / "again"
    run(load_config(DEMO / "disclosure.yaml"), again)
    for name in ("summary.json", "ledger.csv", "factors_used.csv", "disclosure.xlsx", "disclosure.pdf", "index.html",
                 "site_allocation.csv", "job_allocation_keys.csv", "methodology.md"):
        assert (again / name).read_bytes() == (pack / name).read_bytes(), name
    a, b = (json.loads((p / "manifest.json").read_text()) for p in (pack, again))
    # documented differences: the manifest's generated_at, and Great Expectations' own run records under
    # validation/gx/ (they carry GX's run time and ids); every other file is byte-identical
    a.pop("generated_at"), b.pop("generated_at")
    fa, fb = ({f["path"]: f["sha256"] for f in m.pop("files") if not f["path"].startswith("validation/gx/")}
              for m in (a, b))
    assert a == b and fa == fb


def test_copy_inputs_puts_every_input_in_the_pack(tmp_path):
    out = tmp_path / "with-inputs"
    run(load_config(DEMO / "disclosure.yaml"), out, copy_inputs=True)
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    for i in manifest["inputs"]:
        copy = f"inputs/{i['path']}"
        assert listed[copy] == i["sha256"], copy          # the copy is the very file that was read


def test_restatement_names_the_corrected_source_and_the_change(tmp_path, pack):
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    meters = demo / "data" / "meters" / "lon-colo-1_2026Q3.csv"
    lines = meters.read_text().splitlines()
    meter, ts, value, unit = lines[1].split(",")
    assert unit == "kWh"
    lines[1] = ",".join([meter, ts, repr(float(value) + 500.0), unit])   # a corrected reading: +500 kWh IT
    meters.write_text("\n".join(lines) + "\n")
    res = run(load_config(demo / "disclosure.yaml"), tmp_path / "restated", previous=pack)
    c = res.summary["comparison"]
    assert c["kind"] == "restatement" and c["restated"] is True
    assert [x["cause"] for x in c["causes"]] == ["corrected data"]
    assert "lon-colo-1-meters" in c["causes"][0]["detail"]
    fig = {f["figure"]: f for f in c["figures"]}
    # +500 kWh IT x PUE 1.35 = 675 kWh facility; location-based at GB 0.177 kg/kWh = 119.475 kg
    assert fig["Energy, own operations"]["change"] == pytest.approx(0.675, rel=1e-9)
    assert fig["Scope 2, location-based"]["change"] == pytest.approx(675 * 0.177 / 1000, rel=1e-9)
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "restated" / "disclosure.pdf"), "-"],
                              capture_output=True, text=True).stdout if shutil.which("pdftotext") else ""
    if pdf_text:
        assert "Restatement of 2026-Q3" in pdf_text and "corrected data" in pdf_text


def test_period_option_reports_another_quarter_with_the_same_config(tmp_path):
    # the demo's meters cover only 2026-Q3: asking for Q2 with the same config must stop on meter coverage
    r = _cli("run", str(DEMO / "disclosure.yaml"), "--period", "2026-Q2", "--out", str(tmp_path / "q2"))
    assert r.returncode == 1
    assert "covers 0.00% of the period" in r.stderr and not (tmp_path / "q2").exists()
    cfg_q3 = load_config(DEMO / "disclosure.yaml")
    cfg_q4 = load_config(DEMO / "disclosure.yaml", period="2026-Q4")
    assert (cfg_q4.period.start.isoformat(), cfg_q4.period.end.isoformat()) == ("2026-10-01", "2026-12-31")
    from pipeline.run import run_id_for
    assert run_id_for(cfg_q3, "v", ["a"]) != run_id_for(cfg_q4, "v", ["a"])   # same file, another run
