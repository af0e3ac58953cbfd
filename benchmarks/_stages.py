"""The measured pipeline run: ``pipeline.run.run`` in-process, with a timer around each stage.

Run by ``benchmarks/run.py`` as a child process (so its RSS is its own and a run killed at the memory limit
still leaves its events):

    python benchmarks/_stages.py CONFIG --out OUT --events EVENTS.jsonl [--engine pandas]

Timers are installed by replacing library functions with timed wrappers (module attributes, looked up at call
time by the pipeline); nothing in pipeline/ is changed. Each call appends two JSON lines to EVENTS
(``start`` / ``end`` with time.monotonic(), process CPU time, the stage path and rows handled), flushed at once. After ingest,
one ``frame`` event per input gives the size of the accepted canonical frame kept in memory.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_events = None
_stack: list[str] = []


def emit(record: dict) -> None:
    _events.write(json.dumps(record, default=str) + "\n")
    _events.flush()


def _wrap(fn: Callable, name: str | Callable[..., str], rows: Callable[..., Any] | None) -> Callable:
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        stage = name(*args, **kwargs) if callable(name) else name
        path = "/".join([*_stack, stage])
        _stack.append(stage)
        emit({"ev": "start", "path": path, "t": time.monotonic(), "cpu": time.process_time()})
        ok, result = False, None
        try:
            result = fn(*args, **kwargs)
            ok = True
            return result
        finally:
            _stack.pop()
            t1 = time.monotonic()
            n = None
            if ok and rows is not None:
                try:
                    n = int(rows(result, *args, **kwargs))
                except Exception:  # noqa: BLE001 - a row count is information, never a failure of the run
                    n = None
            emit({"ev": "end", "path": path, "t": t1, "cpu": time.process_time(), "rows": n, "ok": ok})
    timed.__wrapped_by_bench__ = True
    return timed


def patch(obj: Any, attr: str, name: str | Callable[..., str], rows: Callable[..., Any] | None = None) -> None:
    fn = getattr(obj, attr)
    if getattr(fn, "__wrapped_by_bench__", False):
        return
    setattr(obj, attr, _wrap(fn, name, rows))


def _len(i: int) -> Callable[..., int]:
    return lambda result, *args, **kwargs: len(args[i])


def install() -> None:
    """Timers around the stages of pipeline.run.run (see the module docstring)."""
    import pipeline.report.index as report_index
    import pipeline.report.pdf as report_pdf
    import pipeline.report.xlsx as report_xlsx
    import pipeline.run as prun
    from pipeline import ingest, ingest_file
    from pipeline.emissions import provider_reported
    from pipeline.energy import cloud, meters, site, site_telemetry, telemetry
    from pipeline.sources import _chunks
    from pipeline.usage_groups import UsageGroups
    from pipeline.validate.cross_chunk import LineItemSpill
    from pipeline.validate.great_expectations import Validator
    from pipeline.validate.quarantine import QuarantineWriter

    # --- run()
    patch(prun, "input_fingerprint", "input_fingerprint (sha256 of inputs)")
    patch(prun, "compute", "compute")
    patch(prun, "_write_outputs", "write_outputs")
    patch(prun, "publish", "publish")
    # --- compute(): set-up and ingest
    patch(prun, "load_library", "load_library")
    patch(Validator, "__init__", "GX context")
    patch(prun, "ingest_all", "ingest_all", lambda r, *a, **k: sum(i.report.rows_read for i in r))
    patch(ingest, "ingest_source", lambda cfg, src, *a, **k: f"ingest {src.kind}",
          lambda r, *a, **k: r.report.rows_read)
    for adapter in set(ingest.ADAPTERS.values()):
        patch(adapter, "read_raw", "read_raw", lambda r, *a, **k: len(r.frame))
    patch(ingest_file, "header_check", "header check")
    patch(ingest_file, "parse", "to_canonical", lambda r, cfg, src, adapter, raw, label: len(raw.frame))
    patch(Validator, "run", lambda self, source_id, suite, *a, **k: f"GX {suite}",
          lambda r, self, source_id, suite, frame, *a, **k: len(frame))
    patch(ingest_file, "family_checks", "family checks", lambda r, family, frame, *a, **k: len(frame))
    patch(QuarantineWriter, "add", "quarantine", lambda r, self, raw, index, *a, **k: len(index))
    patch(_chunks, "batch_to_text", "read chunk (Parquet batch -> text)", lambda r, *a, **k: len(r))
    patch(UsageGroups, "add", "usage groups (sum chunk)", lambda r, self, chunk, *a, **k: len(chunk))
    patch(LineItemSpill, "add", "line-item spill", lambda r, self, ids, *a, **k: len(ids))
    patch(ingest_file, "sha256_file", "sha256")
    # --- compute(): cloud
    patch(prun, "assign_contracts", "assign_contracts", _len(0))
    patch(cloud, "estimate", "cloud energy estimate", _len(0))
    patch(prun, "cloud_slices", "cloud_slices", _len(0))
    patch(prun, "embodied_kg", "embodied_kg", _len(0))
    # --- compute(): sites
    patch(meters, "check_meter_coverage", "meter coverage", _len(0))
    patch(meters, "meter_months", "meter months", _len(0))
    patch(site_telemetry.TelemetryStream, "add", "telemetry stream (integrate + attribute, per file)",
          lambda r, self, samples, *a, **k: len(samples))
    patch(site_telemetry.TelemetryStream, "result", "telemetry stream result")
    patch(site_telemetry, "workloads", "workloads (job ids)", _len(0))
    patch(telemetry, "integrate_power", "integrate_power", _len(0))
    patch(telemetry, "counter_energy", "counter_energy", _len(0))
    patch(telemetry, "attribute_to_jobs", "attribute_to_jobs", _len(0))
    patch(site_telemetry, "job_hosts", "job_hosts", _len(0))
    patch(site, "job_month_keys", "job_month_keys", _len(0))
    patch(site, "allocate", "site allocate")
    patch(prun, "site_slices", "site_slices", _len(0))
    # --- compute(): emissions and report model
    patch(prun, "apply_factors", "apply_factors", _len(0))
    patch(provider_reported, "apply", "provider_reported", _len(0))
    patch(prun, "_value_chain", "value chain (Scope 3 cat. 2, 3)", _len(0))
    patch(prun, "renumber", "renumber", _len(0))
    patch(prun, "_hourly", "hourly scope 2")
    patch(prun, "energy_mix", "energy_mix", _len(0))
    patch(prun, "_projections", "projections")
    patch(prun, "methodology", "methodology")
    patch(prun, "build_summary", "build_summary")
    patch(prun, "run_id_for", "run_id")
    # --- outputs
    patch(prun, "write_csv", "write_csv", _len(0))
    patch(Validator, "build_data_docs", "GX data docs")
    patch(report_xlsx, "write_xlsx", "render XLSX")
    patch(report_pdf, "write_pdf", "render PDF")
    patch(report_index, "write_index", "write_index")
    patch(prun, "_write_manifest", "write_manifest")

    # after ingest: how big is what it keeps (the accepted canonical frames live until the end of compute)
    timed_ingest_all = prun.ingest_all

    def ingest_all_and_sizes(*args, **kwargs):
        result = timed_ingest_all(*args, **kwargs)
        t0 = time.monotonic()
        for ing in result:
            emit({"ev": "frame", "source": ing.report.source_id, "kind": ing.kind, "rows": len(ing.frame),
                  "bytes": int(ing.frame.memory_usage(deep=True).sum())})
        emit({"ev": "overhead", "what": "frame sizes", "seconds": time.monotonic() - t0})
        return result

    ingest_all_and_sizes.__wrapped_by_bench__ = True
    prun.ingest_all = ingest_all_and_sizes


def main(argv: list[str] | None = None) -> int:
    global _events
    ap = argparse.ArgumentParser(description="one measured pipeline run (used by benchmarks/run.py)")
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--events", type=Path, required=True)
    ap.add_argument("--engine", default=None)
    args = ap.parse_args(argv)
    with open(args.events, "w", encoding="utf-8") as events:
        _events = events
        _measured_run(args)
    return 0


def _measured_run(args: argparse.Namespace) -> None:
    emit({"ev": "start", "path": "import pipeline", "t": time.monotonic(), "cpu": time.process_time()})
    import yaml

    import pipeline.run as prun
    from pipeline.config import config_from_dict, load_config

    emit({"ev": "end", "path": "import pipeline", "t": time.monotonic(), "cpu": time.process_time(), "rows": None,
          "ok": True})
    install()
    from pipeline.log import configure

    configure("json", stream=sys.stderr)        # the run's own events (e.g. "workers") go to pipeline.stderr
    load = _wrap(load_config, "load_config", None)
    cfg = load(args.config)
    if args.engine:
        data = yaml.safe_load(args.config.read_text(encoding="utf-8"))
        data["engine"] = args.engine
        cfg = config_from_dict(data, file=str(args.config), base_dir=args.config.resolve().parent)
    run = _wrap(prun.run, "run", None)
    result = run(cfg, args.out, force=True)
    d = result.disclosure
    emit({"ev": "done", "t": time.monotonic(), "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          "engine": cfg.engine, "ledger_rows": len(d.ledger) if d is not None else None,
          "emissions_tco2e": result.summary.get("emissions_tco2e"), "energy_mwh": result.summary.get("energy_mwh")})


if __name__ == "__main__":
    sys.exit(main())
