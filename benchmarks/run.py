#!/usr/bin/env python3
"""Run the pipeline on generated benchmark inputs and print where time and memory go, beside a DuckDB reference.

    python benchmarks/run.py DIR [--engine pandas] [--json RESULT.json] [--max-rss-gb 20] [--timeout-min 60]

DIR is a folder written by benchmarks/generate.py. In one invocation:

1. the pipeline (``pipeline.run.run`` on DIR/disclosure.yaml, in-process in a child Python process, timers around
   every stage - see benchmarks/_stages.py); its RSS is sampled from /proc every 20 ms and its peak taken from
   the kernel (ru_maxrss); a run over --max-rss-gb or --timeout-min is killed and reported up to where it got;
2. the DuckDB reference on the same files, each query in its own child process (see benchmarks/_duckdb_ref.py):
   billing Parquet read + group-by, and telemetry JSON read + power integration;
3. a table on stdout and a JSON with every figure (default DIR/benchmark_result.json).

``--show`` prints the table of an earlier run from its JSON. The pipeline's row counts, per-stage CPU seconds and
RSS are in the JSON too, with the RSS timeline (peak per second).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAGE = 4096


# ------------------------------------------------------------------------------------------------------------
# measuring a child process
# ------------------------------------------------------------------------------------------------------------

@dataclass
class Measured:
    returncode: int | None
    wall_s: float
    peak_rss_kb: int                 # ru_maxrss of the child (kernel high-water mark)
    samples: list[tuple[float, int]] = field(default_factory=list)   # (time.monotonic(), VmRSS kB, all processes)
    killed: str | None = None        # "rss_limit" / "timeout" when this script stopped it
    t_start: float = 0.0
    t_end: float = 0.0
    cpu_s: float = 0.0               # user + system CPU of the child
    peak_by_process_kb: list[int] = field(default_factory=list)   # each process's sampled peak, largest first
    load_max: float = 0.0            # highest 1-minute load average seen while it ran (other processes included)


def _vmrss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE // 1024
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    """The process's children, started by any of its threads."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as fh:
                out += [int(c) for c in fh.read().split()]
    except (OSError, ValueError):
        pass
    return out


_CMDLINES: dict[int, str] = {}


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return ""


def _tree_rss_kb(pid: int, peaks: dict[int, int]) -> int | None:
    """VmRSS of the process and all its descendants (worker processes), summed: pages they share (libraries)
    count once per process, so this is an upper bound of the memory the run takes. ``peaks``: each process's
    highest VmRSS seen so far (updated)."""
    total = _vmrss_kb(pid)
    if total is None:
        return None
    peaks[pid] = max(peaks.get(pid, 0), total)
    if pid not in _CMDLINES:
        _CMDLINES[pid] = _cmdline(pid)
    todo = _children(pid)
    while todo:
        child = todo.pop()
        rss = _vmrss_kb(child) or 0
        cmd = _cmdline(child)
        if cmd == _CMDLINES[pid]:
            # forked and not yet exec'd (a library running ld / gcc while WeasyPrint loads): it shares every page
            # of the parent until it execs, so adding its RSS would count the parent twice
            continue
        _CMDLINES.setdefault(child, cmd)
        peaks[child] = max(peaks.get(child, 0), rss)
        total += rss
        todo += _children(child)
    return total


def measure(cmd: list[str], *, stdout_path: Path, stderr_path: Path, interval_s: float = 0.02,
            max_rss_kb: int | None = None, timeout_s: float | None = None) -> Measured:
    """Run cmd; sample its RSS every interval_s; kill it past max_rss_kb or timeout_s."""
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO)
        samples: list[tuple[float, int]] = []
        peaks: dict[int, int] = {}
        state = {"killed": None, "done": False, "load": os.getloadavg()[0], "load_t": t0}

        def sampler() -> None:
            while not state["done"]:
                if time.monotonic() - state["load_t"] >= 1.0:
                    state["load"] = max(state["load"], os.getloadavg()[0])
                    state["load_t"] = time.monotonic()
                rss = _tree_rss_kb(proc.pid, peaks)
                now = time.monotonic()
                if rss is not None:
                    samples.append((now, rss))
                    if max_rss_kb and rss > max_rss_kb and not state["killed"]:
                        state["killed"] = "rss_limit"
                        os.kill(proc.pid, signal.SIGKILL)
                if timeout_s and now - t0 > timeout_s and not state["killed"]:
                    state["killed"] = "timeout"
                    os.kill(proc.pid, signal.SIGKILL)
                time.sleep(interval_s)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        t1 = time.monotonic()
        state["done"] = True
        thread.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(returncode=proc.returncode, wall_s=t1 - t0, peak_rss_kb=int(usage.ru_maxrss), samples=samples,
                    killed=state["killed"], t_start=t0, t_end=t1,
                    # the run's Python processes (main, workers); a library's short-lived helpers (ld, gcc) are
                    # left out of this list but not out of the sampled sum
                    peak_by_process_kb=sorted((kb for pid, kb in peaks.items()
                                               if pid == proc.pid or "python" in _CMDLINES.get(pid, "")),
                                              reverse=True), cpu_s=usage.ru_utime + usage.ru_stime,
                    load_max=round(state["load"], 2))


# ------------------------------------------------------------------------------------------------------------
# events -> stages
# ------------------------------------------------------------------------------------------------------------

def _run_event(stderr: Path, name: str) -> dict | None:
    """The pipeline's own log event ``name`` (JSON lines on its stderr), if it was logged."""
    if not stderr.is_file():
        return None
    for line in stderr.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and f'"event": "{name}"' in line:
            try:
                return {k: v for k, v in json.loads(line).items() if k not in ("ts", "level", "event")}
            except ValueError:
                return None
    return None


def read_events(path: Path) -> list[dict]:
    events = []
    if not path.is_file():
        return events
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:          # a line cut by a kill
            break
    return events


def _rss_between(times: list[float], rss: list[int], t0: float, t1: float) -> tuple[int | None, int | None, int | None]:
    """(RSS at t0, peak RSS in [t0, t1], RSS at t1) from the samples, kB."""
    if not times:
        return None, None, None
    i0 = max(0, bisect.bisect_right(times, t0) - 1)
    i1 = min(len(times) - 1, bisect.bisect_left(times, t1))
    window = rss[i0:i1 + 1] or [rss[i0]]
    return rss[i0], max(window), rss[i1]


def build_stages(events: list[dict], m: Measured) -> list[dict]:
    calls: dict[str, list[tuple[float, float, int | None, bool]]] = {}
    cpu: dict[str, float] = {}
    open_: dict[str, list[float]] = {}
    open_cpu: dict[str, list[float]] = {}
    order: list[str] = []
    for e in events:
        if e.get("ev") == "start":
            open_.setdefault(e["path"], []).append(e["t"])
            open_cpu.setdefault(e["path"], []).append(e.get("cpu"))
            if e["path"] not in calls:
                calls[e["path"]] = []
                order.append(e["path"])
        elif e.get("ev") == "end" and open_.get(e["path"]):
            calls[e["path"]].append((open_[e["path"]].pop(), e["t"], e.get("rows"), bool(e.get("ok"))))
            c0 = open_cpu[e["path"]].pop()
            if c0 is not None and e.get("cpu") is not None:
                cpu[e["path"]] = cpu.get(e["path"], 0.0) + e["cpu"] - c0
    for path, starts in open_.items():           # stages cut short by a kill (or an exception)
        for t in starts:
            calls[path].append((t, m.t_end, None, False))
    times = [t for t, _ in m.samples]
    rss = [r for _, r in m.samples]
    out = []
    for path in order:
        cs = calls[path]
        seconds = sum(t1 - t0 for t0, t1, _, _ in cs)
        rows = [r for _, _, r, _ in cs if r is not None]
        peaks = [_rss_between(times, rss, t0, t1)[1] for t0, t1, _, _ in cs]
        start, _, _ = _rss_between(times, rss, cs[0][0], cs[0][0])
        _, _, end = _rss_between(times, rss, cs[-1][1], cs[-1][1])
        n_rows = sum(rows) if rows else None
        out.append({
            "stage": path, "name": path.rsplit("/", 1)[-1], "depth": path.count("/"), "calls": len(cs),
            "seconds": round(seconds, 3), "cpu_seconds": round(cpu[path], 3) if path in cpu else None,
            "rows": n_rows,
            "rows_per_s": round(n_rows / seconds) if n_rows and seconds > 0 else None,
            "rss_start_mb": _mb(start), "rss_peak_mb": _mb(max((p for p in peaks if p is not None), default=None)),
            "rss_end_mb": _mb(end), "completed": all(ok for *_, ok in cs),
            "first_start": cs[0][0],
        })
    # time of a stage not spent in its timed children
    for s in out:
        kids = [k for k in out if k["stage"].startswith(s["stage"] + "/") and k["depth"] == s["depth"] + 1]
        s["self_seconds"] = round(s["seconds"] - sum(k["seconds"] for k in kids), 3) if kids else None
    return out


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024.0, 1)


def timeline(m: Measured, every_s: float = 1.0) -> list[list[float]]:
    """Peak RSS (MB) per every_s seconds since the start."""
    buckets: dict[int, int] = {}
    for t, r in m.samples:
        k = int((t - m.t_start) / every_s)
        buckets[k] = max(buckets.get(k, 0), r)
    return [[round(k * every_s, 1), _mb(v)] for k, v in sorted(buckets.items())]


# ------------------------------------------------------------------------------------------------------------
# machine
# ------------------------------------------------------------------------------------------------------------

def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            cpu = next((l.split(":", 1)[1].strip() for l in fh if l.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for name in ("pandas", "pyarrow", "numpy", "duckdb", "great-expectations", "weasyprint", "openpyxl"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "pipeline"], cwd=REPO,
                                    capture_output=True, text=True, check=False).stdout.strip())
    except OSError:
        commit, dirty = "", False
    return {"cores": os.cpu_count(), "ram_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu,
            "platform": platform.platform(), "python": platform.python_version(), "packages": versions,
            "git_commit": commit, "pipeline_dirty": dirty}


# ------------------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------------------

def _fmt_n(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:,.1f}"
    return f"{x:,}"


def print_report(res: dict) -> None:
    info, mach, pl, ref = res["inputs"], res["machine"], res.get("pipeline"), res.get("duckdb", {})
    print()
    print(f"carbon-disclosure benchmark - {res['dir']}")
    print(f"  inputs: {info['billing_rows']:,} FOCUS rows" + (f" + {info['cur_rows']:,} CUR 2.0 rows" if info.get("cur_rows") else "")
          + f", {info['power_samples']:,} DCGM power samples ({info['dcgm']['files']} files, step "
          f"{info['dcgm']['step_s']} s), {info['sacct_rows']:,} sacct rows, {info['meter_rows']:,} meter rows")
    print(f"  machine: {mach['cores']} cores, {mach['ram_gib']} GiB RAM, {mach['cpu']}; Python {mach['python']}, "
          + ", ".join(f"{k} {v}" for k, v in mach["packages"].items() if v))
    print(f"  pipeline code: {mach['git_commit']}{' + uncommitted changes in pipeline/' if mach['pipeline_dirty'] else ''}"
          f", engine {res.get('engine') or 'from config'}")
    if pl:
        print()
        head = (f"{'stage':<50}{'calls':>6}{'rows':>13}{'wall s':>9}{'CPU s':>9}{'rows/s':>11}{'RSS start':>11}"
                f"{'peak':>9}{'end MB':>9}")
        print(head)
        print("-" * len(head))
        for s in pl["stages"]:
            name = "  " * s["depth"] + s["name"] + ("" if s["completed"] else " (cut)")
            cpu_s = "" if s["cpu_seconds"] is None else f"{s['cpu_seconds']:.2f}"
            mb = lambda v: "" if v is None else f"{v:,.0f}"
            print(f"{name[:49]:<50}{s['calls']:>6}{_fmt_n(s['rows']):>13}{s['seconds']:>9.2f}{cpu_s:>9}"
                  f"{_fmt_n(s['rows_per_s']):>11}{mb(s['rss_start_mb']):>11}{mb(s['rss_peak_mb']):>9}"
                  f"{mb(s['rss_end_mb']) if s['completed'] else '':>9}")
            if s["self_seconds"] is not None and s["self_seconds"] >= max(0.2, 0.05 * s["seconds"]):
                print(f"{'  ' * (s['depth'] + 1) + '(not in a timed sub-stage)':<50}{'':>6}{'':>13}"
                      f"{s['self_seconds']:>9.2f}")
        if pl["frames"]:
            print()
            print("accepted canonical frames held after ingest (pandas memory_usage(deep=True)):")
            for kind, f in pl["frames_by_kind"].items():
                print(f"  {kind:<16}{f['files']:>4} file(s){f['rows']:>14,} rows{f['bytes'] / 2**20:>10,.1f} MB"
                      f"{f['bytes'] / max(f['rows'], 1):>8.0f} B/row")
        print()
        status = "completed" if pl["returncode"] == 0 else (
            f"KILLED ({pl['killed']})" if pl["killed"] else f"FAILED (exit {pl['returncode']}, see {pl['stderr']})")
        run_s = "n/a" if pl["run_seconds"] is None else f"{pl['run_seconds']:.1f} s"
        print(f"pipeline: {status}; wall {pl['wall_s']:.1f} s (process), run() {run_s}; "
              f"CPU {pl['cpu_s']:.1f} s (all processes); peak RSS {pl['peak_rss_mb']:,.0f} MB (all processes: sum "
              f"sampled; largest one {pl['peak_rss_largest_process_mb']:,.0f} MB; "
              f"each process's peak: {', '.join(f'{x:,.0f}' for x in pl.get('peak_rss_by_process_mb', []))} MB)")
        if pl.get("workers"):
            w = pl["workers"]
            print(f"  worker processes: {w['workers']}; telemetry files read by workers {w['files_read_by_workers']}, "
                  f"by the main process {w['files_read_here']}; the main process waited {w['seconds_waited']:.1f} s "
                  f"for workers' files and {w['seconds_waited_for_billing']:.1f} s for billing files")
        if pl["load_max"] > (res["machine"]["cores"] or 1):
            print(f"  NOTE: the 1-minute load average reached {pl['load_max']} on {res['machine']['cores']} cores: "
                  "other processes competed for the CPU, so wall times are inflated; CPU seconds are not")
        if pl.get("render_seconds") is not None:
            print(f"  rendering: XLSX {pl['render_xlsx_seconds']:.2f} s + PDF {pl['render_pdf_seconds']:.2f} s = "
                  f"{pl['render_seconds']:.2f} s")
    if ref:
        print()
        for what, r in ref.items():
            if r.get("error"):
                print(f"DuckDB {what}: FAILED ({r['error']})")
                continue
            extra = f", {r['rows_in']:,} rows" if "rows_in" in r else f", {r['intervals']:,} intervals"
            print(f"DuckDB {what:<10} {r['seconds']:8.2f} s query, {r['wall_s']:7.2f} s process ({r['cpu_s']:.2f} s CPU, "
                  f"load max {r['load_max']}), peak RSS "
                  f"{r['peak_rss_mb']:,.0f} MB{extra} -> {r['groups']:,} groups ({r['threads']} threads, "
                  f"duckdb {r['duckdb']})")
    t = res.get("targets")
    if t:
        print()
        print("issue targets (the 3x and 2 GB targets are stated for 10M billing rows + 100M power samples):")
        for k, v in t.items():
            verdict = "" if v["ok"] is None else "PASS" if v["ok"] else "FAIL"
            print(f"  {k:<48} {v['value']:>10}  target {v['target']:<10} {verdict}")
    print()
    print(f"figures written to {res['json']}")


def targets(res: dict) -> dict | None:
    """The issue's targets from a run's figures (wall-clock ratio to DuckDB, peak RSS, rendering), with the CPU
    figures beside them."""
    pl, ref = res.get("pipeline"), res.get("duckdb")
    if not pl or pl["run_seconds"] is None:
        return None
    t = {}
    if ref and all("seconds" in r for r in ref.values()):
        ref_s = sum(r["seconds"] for r in ref.values())
        ratio = pl["run_seconds"] / ref_s
        t["end-to-end / DuckDB reference"] = {"value": f"{ratio:,.1f}x", "target": "<= 3x", "ok": ratio <= 3}
        # the same in CPU seconds (both use several cores): for comparing runs on a loaded machine and per core;
        # the target above is the wall-clock one. All the pipeline's processes, start-up included.
        run_cpu = pl["cpu_s"]
        ref_cpu = sum(r["cpu_s"] for r in ref.values())
        if run_cpu and ref_cpu:
            t["  (CPU seconds: run() / DuckDB, not the target)"] = {
                "value": f"{run_cpu / ref_cpu:,.2f}x", "target": "-", "ok": None}
    t["peak RSS"] = {"value": f"{pl['peak_rss_mb']:,.0f} MB", "target": "< 2048 MB",
                     "ok": pl["peak_rss_mb"] < 2048}
    if pl["render_seconds"] is not None:
        t["PDF + XLSX rendering"] = {"value": f"{pl['render_seconds']:.1f} s", "target": "< 10 s",
                                     "ok": pl["render_seconds"] < 10}
        render_cpu = sum(s["cpu_seconds"] or 0 for s in pl["stages"] if s["name"] in ("render XLSX", "render PDF"))
        t["  (rendering in CPU seconds)"] = {"value": f"{render_cpu:.1f} s", "target": "-", "ok": None}
    return t


def summarise_frames(frames: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for f in frames:
        k = out.setdefault(f["kind"], {"files": 0, "rows": 0, "bytes": 0})
        k["files"] += 1
        k["rows"] += f["rows"]
        k["bytes"] += f["bytes"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="folder written by benchmarks/generate.py")
    ap.add_argument("--engine", default=None, help="config 'engine' to run with (default: the config's)")
    ap.add_argument("--json", type=Path, default=None, help="where to write the figures "
                                                             "(default DIR/benchmark_result.json)")
    ap.add_argument("--out", type=Path, default=None, help="evidence pack folder (default DIR/out)")
    ap.add_argument("--max-rss-gb", type=float, default=20.0, help="kill the pipeline above this RSS (default 20)")
    ap.add_argument("--timeout-min", type=float, default=60.0, help="kill the pipeline after this (default 60)")
    ap.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling interval (default 20 ms)")
    ap.add_argument("--skip-pipeline", action="store_true", help="only the DuckDB reference")
    ap.add_argument("--skip-duckdb", action="store_true", help="only the pipeline")
    ap.add_argument("--show", action="store_true", help="print the report of an earlier run from its JSON "
                                                         "(--json or DIR/benchmark_result.json); run nothing")
    args = ap.parse_args(argv)

    if args.show:
        path = args.json or args.dir / "benchmark_result.json"
        res = json.loads(path.read_text(encoding="utf-8"))
        res["targets"] = targets(res) or res.get("targets")
        print_report(res)
        return 0
    d = args.dir.resolve()
    info_path = d / "benchmark_inputs.json"
    if not info_path.is_file():
        ap.error(f"{info_path} not found: generate the inputs first (python benchmarks/generate.py --help)")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    work = d / "bench"
    work.mkdir(exist_ok=True)
    res: dict = {"dir": str(d), "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "inputs": info, "machine": machine(), "engine": args.engine,
                 "json": str((args.json or d / "benchmark_result.json").resolve())}

    if not args.skip_pipeline:
        events_path = work / "events.jsonl"
        cmd = [sys.executable, str(HERE / "_stages.py"), str(d / "disclosure.yaml"), "--out",
               str((args.out or d / "out").resolve()), "--events", str(events_path)]
        if args.engine:
            cmd += ["--engine", args.engine]
        print(f"running the pipeline on {d / 'disclosure.yaml'} (log: {work / 'pipeline.stderr'}) ...", flush=True)
        m = measure(cmd, stdout_path=work / "pipeline.stdout", stderr_path=work / "pipeline.stderr",
                    interval_s=args.sample_ms / 1000.0, max_rss_kb=int(args.max_rss_gb * 1024 * 1024),
                    timeout_s=args.timeout_min * 60)
        events = read_events(events_path)
        stages = build_stages(events, m)
        frames = [e for e in events if e.get("ev") == "frame"]
        done = next((e for e in events if e.get("ev") == "done"), None)
        by_name = {}
        for s in stages:
            by_name.setdefault(s["name"], 0.0)
            by_name[s["name"]] += s["seconds"]
        run_s = next((s["seconds"] for s in stages if s["stage"] == "run"), None)
        xlsx_s, pdf_s = by_name.get("render XLSX"), by_name.get("render PDF")
        res["pipeline"] = {
            "returncode": m.returncode, "killed": m.killed, "wall_s": round(m.wall_s, 2),
            "cpu_s": round(m.cpu_s, 2), "load_max": m.load_max,
            "run_seconds": run_s if done else None,
            # the target's figure: the sum over the run's processes (main + workers), sampled, or the kernel's
            # high-water mark of the largest one if higher (a peak between two samples)
            "peak_rss_mb": _mb(max([m.peak_rss_kb] + [r for _, r in m.samples])),
            "peak_rss_sum_sampled_mb": _mb(max((r for _, r in m.samples), default=0)),
            "peak_rss_largest_process_mb": _mb(m.peak_rss_kb),
            "peak_rss_by_process_mb": [_mb(k) for k in m.peak_by_process_kb if k > 50 * 1024],
            "render_xlsx_seconds": xlsx_s, "render_pdf_seconds": pdf_s,
            "render_seconds": round(xlsx_s + pdf_s, 3) if xlsx_s is not None and pdf_s is not None else None,
            "stages": [{k: v for k, v in s.items() if k != "first_start"} for s in stages],
            "frames": frames, "frames_by_kind": summarise_frames(frames), "result": done,
            "overhead_s": sum(e["seconds"] for e in events if e.get("ev") == "overhead"),
            "rss_timeline_mb": timeline(m), "stderr": str(work / "pipeline.stderr"),
            "workers": _run_event(work / "pipeline.stderr", "workers"),
        }

    if not args.skip_duckdb:
        res["duckdb"] = {}
        focus = info["focus"]["path"]
        jobs = [("billing", ["billing", focus] + (["--cur", info["cur2"]["path"]] if info.get("cur2") else [])),
                ("telemetry", ["telemetry", info["dcgm"]["glob"], "--max-gap-s", str(max(120, 3 * info["dcgm"]["step_s"]))])]
        for what, qargs in jobs:
            print(f"running the DuckDB reference: {what} ...", flush=True)
            m = measure([sys.executable, str(HERE / "_duckdb_ref.py"), *qargs], stdout_path=work / f"duckdb_{what}.stdout",
                        stderr_path=work / f"duckdb_{what}.stderr", interval_s=args.sample_ms / 1000.0,
                        max_rss_kb=int(args.max_rss_gb * 1024 * 1024), timeout_s=args.timeout_min * 60)
            try:
                r = json.loads((work / f"duckdb_{what}.stdout").read_text(encoding="utf-8"))
            except ValueError:
                r = {"error": f"exit {m.returncode}{' ' + m.killed if m.killed else ''}; see {work / f'duckdb_{what}.stderr'}"}
            r.update({"wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2), "peak_rss_mb": _mb(m.peak_rss_kb),
                      "load_max": m.load_max})
            res["duckdb"][what] = r

    t = targets(res)
    if t:
        res["targets"] = t
    Path(res["json"]).write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print_report(res)
    pl = res.get("pipeline")
    return 0 if not pl or pl["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
