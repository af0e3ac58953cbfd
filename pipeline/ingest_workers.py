"""Input files read in worker processes beside the main one (``workers`` in the config, ``--workers``).

Why: a quarter of a large AI company is CPU-bound work in Python and pandas (tens of millions of billing rows,
hundreds of millions of GPU power samples), and one Python process uses one core. The files are independent up
to the point where their rows are summed, so they are read, mapped, validated (Great Expectations) and
quarantined in whichever process is free; what depends on order stays in the main process.

Who does what:
- **billing files** (usage family, pandas engine): a worker reads the whole file chunk by chunk, writes its
  quarantine file and row map, and sends back the file's ``Ingested`` (its usage groups: small).
- **GPU telemetry files** (power family): read by a worker *or* by the main process, whichever is free; the
  accepted samples come back to the main process, which feeds them, in file order, into the site's telemetry
  stream (``run._StreamSink``: its job attribution runs across file edges). At most ``AHEAD`` files per worker
  are read ahead of the stream, so memory stays bounded however many files there are.
- every other file (jobs, meters, factors, certificates: small) is read by the main process.

Results are the same as with ``workers: 0``: each file is read by the same code (``ingest.ingest_source``) with
the same adapter and suite; only where it runs differs (tested file by file, ``tests/test_ingest_workers.py``).
Each worker has its own Great Expectations project (in a scratch folder, names prefixed ``w<n>-``); its
validation results are copied into the run's project before the Data Docs are built
(``WorkerPool.merge_results``), so the Data Docs list every file's runs. ``run`` starts the workers before it
hashes the inputs, so their start-up (imports, GX project) overlaps the main process's own.

Workers are started with ``spawn`` (a fresh interpreter: forking a process that holds Arrow's thread pools is
unsafe), so a script calling ``pipeline.run`` must guard its entry point with ``if __name__ == "__main__":``
(Python's rule for any multiprocessing program). A worker that dies (killed by the system) stops the run with
``WorkerFailed`` instead of leaving it waiting for a file that never comes.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from pipeline.config import Config
from pipeline.period import PeriodBounds

AHEAD = 2                    # power files a worker may have read ahead of the stream (each ~50 MB of samples)
WAIT_BEFORE_READING = 0.25  # the main process reads a file itself once it has waited this share of a read
#   (10 M billing rows + 100 M samples: reading whenever it would wait made it the bottleneck, waiting a whole
#   read left it idle 23 s; 0.25 and 0.5 within noise of each other)
AUTO_MIN_BYTES = 256 << 20   # 'auto': workers only pay off (~3 s to start each) from this much billing + telemetry
# measured with one 10 M / 30 M-row billing file and little else: a worker made the run 12 % faster / 5 % slower and
# the memory +67 % / +100 % (1,346 / 1,642 MB against 804 / 820 MB): hence no workers when one file dominates

_WORKER: dict = {}           # in a worker process: its Validator


def worker_count(workers: int | str, paths: list[Path], families: list[str | None]) -> int:
    """How many worker processes to start: ``workers``, or for ``auto`` one fewer than the CPUs this process may
    use (at most 4) when there is work to share: billing and telemetry files of 256 MB or more together, none of
    them more than two thirds of the total (a file is read by one process: with one file that large, the others
    would wait for it, and each worker costs its own ~350 MB of libraries)."""
    if workers != "auto":
        return int(workers)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:          # not Linux
        cpus = os.cpu_count() or 1
    sizes = []
    for path, family in zip(paths, families):
        if family in ("usage", "power"):
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                pass
    total = sum(sizes)
    shared = total >= AUTO_MIN_BYTES and max(sizes) <= total * 2 / 3
    return min(cpus - 1, 4) if cpus > 1 and shared else 0


def start_pool(cfg: Config, workers: int | str | None = None) -> WorkerPool | None:
    """The worker processes for a run of ``cfg`` (``workers``: instead of ``cfg.workers``), or None for none.
    Started before anything is read, so their start (imports, GX project: ~5 s) overlaps the main process's."""
    from pipeline.ingest import ADAPTERS, expand_paths

    paths, families = [], []
    for index, src in enumerate(cfg.sources):
        adapter = ADAPTERS.get(src.kind)            # 'auto' sources are not counted (recognised later, per file)
        for path in expand_paths(cfg, src, index):
            paths.append(path)
            families.append(adapter.FAMILY if adapter is not None else None)
    n = worker_count(cfg.workers if workers is None else workers, paths, families)
    return WorkerPool(n) if n else None


def _start(numbers, scratch: Path) -> None:
    """A worker process's initialiser: the libraries imported and its own Validator (a GX project in
    ``scratch/<n>``), collecting after each suite run, before it is given a file."""
    import pipeline.ingest  # noqa: F401  (every adapter)
    from pipeline.validate.great_expectations import Validator, collected_runs

    number = numbers.get()
    scope = collected_runs()
    scope.__enter__()               # for the process's life: GX cycles collected on a frozen heap
    _WORKER["validator"] = Validator(scratch / f"{number}", name_prefix=f"w{number}-")


def _read(cfg: Config, bounds: PeriodBounds, out_dir: Path, index: int, src_id: str, path: Path,
          row_map: Path | None, known_sha: dict):
    """In a worker: one file of ``cfg.sources[index]`` through ``ingest_source``; its ``Ingested`` (for a billing
    file with ``row_map``: its usage groups; else its accepted rows). ``known_sha``: the file's digest, if the
    main process has computed it."""
    from pipeline.ingest import ingest_source
    from pipeline.sources._text import remember_sha256
    from pipeline.usage_groups import UsageGroups

    remember_sha256(known_sha)
    usage_sink = None
    if row_map is not None:
        usage_sink = lambda: UsageGroups(cfg.entity.timezone, row_map)  # noqa: E731
    return ingest_source(cfg, cfg.sources[index], src_id, path, _WORKER["validator"], bounds, out_dir,
                         usage_sink_factory=usage_sink)


class WorkerPool:
    """``n`` worker processes (``spawn``), each with its own GX project under ``gx_root`` (a scratch folder,
    removed by ``close``). ``busy``: tasks given and not finished; ``on_free`` (if set) is called, with ``lock``
    held, whenever a task finishes."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.gx_root = Path(tempfile.mkdtemp(prefix="carbon-disclosure-workers-"))
        self.lock = threading.Condition()
        self.busy = 0
        self.finished: set = set()          # keys of the tasks that have ended
        self.on_free = None
        ctx = multiprocessing.get_context("spawn")
        numbers = ctx.Queue()
        for k in range(1, n + 1):
            numbers.put(k)
        self._pool = ctx.Pool(n, initializer=_start, initargs=(numbers, self.gx_root))
        self._pids = self._pids_now()

    def _pids_now(self) -> set[int]:
        return {p.pid for p in getattr(self._pool, "_pool", [])}

    def check_alive(self) -> None:
        """Raises ``WorkerFailed`` when a worker process has died: ``multiprocessing.Pool`` replaces it, but the
        file it was reading would never come back (the run would wait for ever)."""
        if self._pids_now() != self._pids:
            from pipeline.errors import WorkerFailed

            raise WorkerFailed(
                "a worker process reading input files stopped unexpectedly (killed by the system, often for lack "
                "of memory)", fix="run again with --workers 0 (one process, less memory), or with more memory")

    def wait(self, task) -> object:
        """``task.get()``, checking every second that no worker has died."""
        while not task.ready():
            self.check_alive()
            task.wait(1.0)
        return task.get()

    def submit(self, key, cfg: Config, bounds: PeriodBounds, out_dir: Path, index: int, src_id: str, path: Path,
               row_map: Path | None = None):
        """Reads ``cfg.sources[index]``'s file ``path`` in a worker (an AsyncResult of its ``Ingested``)."""
        from pipeline.sources._text import known_sha256_of

        with self.lock:
            self.busy += 1
        done = lambda _result: self._finished(key)  # noqa: E731
        return self._pool.apply_async(_read, (cfg, bounds, out_dir, index, src_id, path, row_map,
                                              known_sha256_of(path)), callback=done, error_callback=done)

    def _finished(self, key) -> None:               # the pool's result thread
        with self.lock:
            self.busy -= 1
            self.finished.add(key)
            if self.on_free is not None:
                self.on_free()
            self.lock.notify_all()

    def close(self, ok: bool) -> None:
        """Waits for the workers to finish (``ok``), or stops them at once (an error: their work is not needed);
        removes their GX projects."""
        if ok:
            self._pool.close()
        else:
            # Pool.terminate first takes the task queue's lock, which a worker holds while it waits for a task:
            # one killed by the system holds it for ever and terminate would hang. So: stop every worker, then
            # give the lock back if a dead one kept it (releasing a free lock raises ValueError: nothing held it)
            for process in list(getattr(self._pool, "_pool", [])):
                process.kill()
                process.join(timeout=10)
            lock = getattr(getattr(self._pool, "_inqueue", None), "_rlock", None)
            if lock is not None:
                try:
                    lock.release()
                except ValueError:
                    pass
            self._pool.terminate()
        self._pool.join()
        shutil.rmtree(self.gx_root, ignore_errors=True)

    def merge_results(self, validator) -> None:
        """Copies the validation results the workers stored so far into ``validator``'s GX project (for its Data
        Docs). Each task stores its results before it returns, so after its last task nothing is missing."""
        target = validator.validations_dir
        for project in sorted(p for p in self.gx_root.iterdir() if p.is_dir()):
            stored = project / "gx" / "uncommitted" / "validations"
            if stored.is_dir():
                shutil.copytree(stored, target, dirs_exist_ok=True)


class PowerFeed:
    """Which process reads each power file (``files``: (index, submit) in stream order) while the main process
    streams them.

    A worker is given the earliest file nobody has taken as soon as it is idle (from the pool's result thread, so
    no worker waits for the main process to look), as long as fewer than ``AHEAD`` files per worker are read and
    not yet streamed. A file is never queued behind a busy worker (a billing file takes minutes): while the
    workers are busy, the main process reads the next file itself.

    When the next file is being read by a worker, the main process waits for it, unless it has already waited,
    since it last read a file itself, a quarter of what its own reads take (``WAIT_BEFORE_READING``): then it
    reads the next file nobody has taken (held, at most one, until its turn in the stream). Streaming is faster than reading, so without this the
    main process would idle part of every file; reading every time it would wait makes it the bottleneck (it
    streams every file and reads half of them). Converting waited time into reads balances the two by itself."""

    def __init__(self, pool: WorkerPool, files: list[int], submit) -> None:
        self._pool, self._submit = pool, submit
        self._cond = pool.lock
        self._waiting = deque(files)
        self._order = list(files)
        self._futures: dict = {}          # file -> AsyncResult given to a worker, not yet streamed
        self._held: dict = {}             # file -> Ingested read by the main process ahead of the stream
        self._limit = AHEAD * pool.n
        self._waited = 0.0                # seconds waited for workers since the main process last read a file
        self._read_s: list[float] = []    # the main process's own read times
        self.stats = {"files_read_by_workers": 0, "files_read_here": 0, "seconds_waited": 0.0}
        with self._cond:
            pool.on_free = self._give
            self._give()

    def _give(self) -> None:              # called with the lock held
        while self._waiting and self._pool.busy < self._pool.n and len(self._futures) < self._limit:
            n = self._waiting.popleft()
            self._futures[n] = self._submit(n)

    def files(self, read_here):
        """Yields ``(file, Ingested, streamed)`` in stream order. ``read_here(file, keep)``: the main process reads
        the file itself, straight into the stream (``keep=False``, then ``streamed``) or ahead of it (its rows
        kept in the ``Ingested``, like a worker's)."""
        try:
            yield from self._files(read_here)
        finally:
            with self._cond:
                self._pool.on_free = None

    def _files(self, read_here):
        for n in self._order:
            while True:
                with self._cond:
                    task = self._futures.get(n)
                    if task is not None and n in self._pool.finished:
                        del self._futures[n]
                        self._give()
                        action = "worker"
                    elif n in self._held:
                        action = "held"
                    elif task is None:                       # nobody has taken it: it is next in line
                        self._waiting.remove(n)
                        action = "here"
                    elif not self._held and self._waiting and self._waited >= WAIT_BEFORE_READING * self._typical_read():
                        ahead = self._waiting.popleft()
                        action = "ahead"
                    else:
                        self._pool.check_alive()
                        t0 = time.monotonic()
                        self._cond.wait(timeout=1.0)
                        self._waited += time.monotonic() - t0
                        self.stats["seconds_waited"] += time.monotonic() - t0
                        continue
                if action == "worker":
                    self.stats["files_read_by_workers"] += 1
                    yield n, self._pool.wait(task), False    # a worker's error is raised here
                    break
                if action == "held":
                    yield n, self._held.pop(n), False
                    break
                if action == "here":
                    yield n, self._timed(read_here, n, False), True
                    break
                self._held[ahead] = self._timed(read_here, ahead, True)

    def _timed(self, read_here, n: int, keep: bool):
        t0 = time.monotonic()
        ing = read_here(n, keep=keep)
        self._read_s.append(time.monotonic() - t0)
        self.stats["files_read_here"] += 1
        self._waited = 0.0
        return ing

    def _typical_read(self) -> float:
        """The median of the main process's read times so far (0 before its first read)."""
        return statistics.median(self._read_s) if self._read_s else 0.0
