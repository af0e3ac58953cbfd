"""Billing and GPU telemetry files read in worker processes (``workers``): the pack is the same as with every
file read in one process, every file is validated once, and a worker's error reaches the user as it would
without workers."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.errors import InputError, ValidationFailed
from pipeline.ingest_workers import AUTO_MIN_BYTES, worker_count
from pipeline.run import run

ROOT = Path(__file__).resolve().parents[1]
BILLING_ROWS, CUR_ROWS, DAYS = 12_000, 3_000, 92      # what the generator is asked for; 2026-Q3 has 92 days


@pytest.fixture(scope="module")
def quarter(tmp_path_factory) -> Path:
    """A generated quarter: a FOCUS and a CUR 2.0 Parquet (several row groups each), Slurm, meters and a DCGM
    range-query file per day."""
    data = tmp_path_factory.mktemp("workers") / "q"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--billing-rows", str(BILLING_ROWS),
                    "--cur-rows", str(CUR_ROWS), "--chunk-rows", "4000", "--power-samples", "40000",
                    "--out", str(data)], check=True, capture_output=True, timeout=600)
    return data


@pytest.fixture(scope="module")
def packs(quarter, tmp_path_factory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("packs")
    cfg = load_config(quarter / "disclosure.yaml")
    packs = {}
    for n in (0, 2):
        packs[n] = out / f"w{n}"
        run(cfg.model_copy(update={"workers": n}), packs[n])
    return packs


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_inputs_are_what_the_generator_was_asked_for(quarter):
    assert len(list((quarter / "data" / "telemetry").glob("dcgm_*.json"))) == DAYS
    assert pq.ParquetFile(next((quarter / "data" / "billing").glob("focus_*.parquet"))).metadata.num_rows == BILLING_ROWS


def test_workers_give_the_same_pack(packs):
    one, two = packs[0], packs[2]
    for name in ("ledger.csv", "summary.json", "site_allocation.csv", "factors_used.csv", "job_allocation_keys.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    assert _files(one / "quarantine") == _files(two / "quarantine")
    assert _files(one / "quarantine"), "the generated quarter has rows to quarantine"
    maps = sorted(p.relative_to(one).as_posix() for p in (one / "drilldown").rglob("*.parquet"))
    assert len(maps) == 2                     # the FOCUS and the CUR file's row -> group maps
    for rel in maps:
        pd.testing.assert_frame_equal(pd.read_parquet(one / rel), pd.read_parquet(two / rel))


def test_every_row_is_accounted_for_with_workers(packs):
    inputs = json.loads((packs[2] / "summary.json").read_text(encoding="utf-8"))["inputs"]
    by_kind = {}
    for i in inputs:
        assert i["rows_read"] == i["rows_accepted"] + i["rows_quarantined"], i["source_id"]
        by_kind.setdefault(i["kind"], []).append(i)
    assert [i["rows_read"] for i in by_kind["focus"]] == [BILLING_ROWS]
    assert [i["rows_read"] for i in by_kind["aws_cur"]] == [CUR_ROWS]
    assert len(by_kind["dcgm"]) == DAYS


def _stored_runs(pack: Path, suite: str) -> list[str]:
    stored = pack / "validation" / "gx" / "uncommitted" / "validations" / Path(*suite.split("."))
    return sorted(p.name for p in stored.rglob("*.json"))


def test_every_file_is_validated_once_and_listed_in_the_data_docs(packs):
    for n, pack in packs.items():
        power = _stored_runs(pack, "power.rows")
        assert len(power) == DAYS, n                  # one row-suite run per day file, wherever it was read
        usage = _stored_runs(pack, "usage.rows")
        assert len(usage) == 2, n                     # one per billing file (each under the 100,000-row chunk)
    # with workers, some runs were stored by them (named w<k>-...) and copied into the run's project
    assert any(name.startswith("inputs-w") for name in _stored_runs(packs[2], "usage.rows"))
    assert not (packs[2] / "validation" / "workers").exists()
    assert (packs[2] / "validation" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()


def test_a_workers_error_reaches_the_user_unchanged(quarter, tmp_path):
    bad = tmp_path / "q"
    shutil.copytree(quarter, bad, symlinks=True)
    focus = next((bad / "data" / "billing").glob("focus_*.parquet"))
    table = pq.read_table(focus)
    pq.write_table(table.drop_columns(["BilledCost"]), focus)
    cfg = load_config(bad / "disclosure.yaml")
    errors = {}
    for n in (0, 1):
        with pytest.raises(ValidationFailed) as exc:
            run(cfg.model_copy(update={"workers": n}), tmp_path / f"out{n}")
        errors[n] = exc.value
        assert not (tmp_path / f"out{n}").exists()       # nothing half-written
    assert str(errors[1]) == str(errors[0])
    assert errors[1].file == errors[0].file == "data/billing/" + focus.name
    assert "BilledCost" in str(errors[1])
    assert not multiprocessing.active_children()         # the workers were stopped


def test_errors_keep_their_fields_across_processes():
    error = InputError("cannot read", file="a.csv", row=7, fix="export again")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.file, again.row, again.fix, str(again)) == (InputError, "a.csv", 7, "export again",
                                                                          "a.csv, row 7: cannot read\n  fix: export again")
    failed = pickle.loads(pickle.dumps(ValidationFailed("bad", problems=["p1"], file="b.csv")))
    assert failed.problems == ["p1"] and failed.exit_code == 1


def test_auto_starts_workers_only_when_large_files_can_be_shared(tmp_path):
    import os
    cpus = len(os.sched_getaffinity(0))

    def sized(name, size):
        path = tmp_path / name
        with open(path, "wb") as fh:
            fh.truncate(size)                     # sparse: its size is what counts
        return path

    day = AUTO_MIN_BYTES // 8
    days = [sized(f"dcgm_{k}.json", day) for k in range(8)]             # 8 day files: the whole threshold
    billing = sized("focus.parquet", AUTO_MIN_BYTES // 2)
    assert worker_count("auto", days + [billing], ["power"] * 8 + ["usage"]) == min(cpus - 1, 4)
    # the same bytes as a job log do not count; half of them are not enough
    assert worker_count("auto", days, ["job"] * 8) == 0
    assert worker_count("auto", days[:4], ["power"] * 4) == 0
    # one billing file that is most of the input: it would be read by one process anyway
    big = sized("big.parquet", AUTO_MIN_BYTES * 3)
    assert worker_count("auto", [big] + days, ["usage"] + ["power"] * 8) == 0            # 3/4 of the total
    assert worker_count("auto", [big] + days + days, ["usage"] + ["power"] * 16) == (
        min(cpus - 1, 4))                                                                  # 3/5 of it
    assert worker_count(3, [billing], ["usage"]) == 3 and worker_count(0, days, ["power"] * 8) == 0


def test_a_worker_killed_by_the_system_stops_the_run_with_a_message(quarter, tmp_path):
    import os
    import signal
    import threading
    import time

    from pipeline.errors import EXIT_INTERNAL, WorkerFailed
    from pipeline.ingest_workers import WorkerPool
    from pipeline.period import bounds

    cfg = load_config(quarter / "disclosure.yaml")
    pool = WorkerPool(1)
    try:
        focus = next((quarter / "data" / "billing").glob("focus_*.parquet"))
        first = pool.wait(pool.submit(0, cfg, bounds(cfg), tmp_path / "a", 0, "aws-focus", focus))
        assert first.report.rows_read == BILLING_ROWS           # the worker is up and has read a file
        (worker,) = pool._pids
        os.kill(worker, signal.SIGKILL)          # as the kernel's out-of-memory killer would, once it is working
        task = pool.submit(1, cfg, bounds(cfg), tmp_path / "b", 0, "aws-focus", focus)
        t0 = time.monotonic()
        raised: list = []

        def wait():                              # in a thread: without the check it would wait for ever
            try:
                pool.wait(task)                  # never answered: the replacement worker never gets the file
            except WorkerFailed as error:
                raised.append(error)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(timeout=60)
        assert raised, "pool.wait neither returned nor raised WorkerFailed within 60 s"
        assert time.monotonic() - t0 < 30
        assert raised[0].exit_code == EXIT_INTERNAL and "--workers 0" in str(raised[0])
    finally:
        pool.close(False)
    assert not multiprocessing.active_children()
