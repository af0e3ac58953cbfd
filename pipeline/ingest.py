"""Ingest + validate stage: for every configured source file, read it with its adapter, run its Great
Expectations suites, split accepted from quarantined rows and write the quarantine file (each file:
``pipeline.ingest_file``; here: the adapters, the paths, and the order and sinks of the files).

Row accounting invariant, per input file: rows_read = rows_accepted + rows_quarantined.
Nothing is dropped silently: rows an adapter folds into another (Slurm job steps) count as accepted.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

import pandas as pd

from pipeline.config import Config, Source
from pipeline.errors import ConfigError, InputError
from pipeline.log import log_event
from pipeline.ingest_file import FileJob, Ingested, empty_like, read_file
from pipeline.period import PeriodBounds
from pipeline.sources import focus, meter_readings, slurm_sacct
from pipeline.sources._chunks import DEFAULT_CHUNK_ROWS
from pipeline.sources._text import InputLimitExceeded, read_delimited
from pipeline.usage_groups import ROW_MAP_DIR, UsageGroups
from pipeline.validate.great_expectations import Validator
from pipeline.validate.quarantine import safe_name

ADAPTERS = {m.KIND: m for m in (focus, slurm_sacct, meter_readings)}


def register(module) -> None:
    """Adds an adapter module (see pipeline/sources/__init__.py for what it must provide)."""
    ADAPTERS[module.KIND] = module


def _register_optional() -> None:
    import importlib

    for name in ("aws_cur", "gcp_billing", "azure_cost", "oci_cost", "aws_carbon", "gcp_carbon", "azure_carbon",
                 "codecarbon", "nvidia_smi", "dcgm", "kepler", "asset_register", "grid_intensity_hourly",
                 "certificate_generation_hourly"):
        try:
            register(importlib.import_module(f"pipeline.sources.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"pipeline.sources.{name}":
                raise


_register_optional()


def _glob_root(pattern: Path) -> Path:
    """The fixed folder a glob starts from (``/cfg/data/*/x.csv`` -> ``/cfg/data``)."""
    parts = pattern.parts
    fixed = next((k for k, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts))
    return Path(*parts[:fixed]) if fixed else Path(".")


def expand_paths(cfg: Config, src: Source, index: int) -> list[Path]:
    """The files a source names. A path (or any file a glob matches) leading outside the config file's folder,
    symlinks followed, is a ConfigError unless the config allows it (``Config.check_inside``)."""
    key = f"sources[{index}].path"
    pattern = cfg.resolve(src.path)
    if any(ch in src.path for ch in "*?["):
        cfg.check_inside(_glob_root(pattern), key=key, given=src.path)
        paths = sorted(Path(p) for p in glob.glob(str(pattern)))
        if not paths:
            raise ConfigError(f"no file matches '{src.path}'", file=str(cfg.config_path or "config"),
                              key=f"sources[{index}].path", fix="check the glob and the folder it is relative to")
        for p in paths:
            cfg.check_inside(p, key=key, given=src.path)
        return paths
    cfg.check_inside(pattern, key=key, given=src.path)
    if not pattern.is_file():
        raise ConfigError(f"file '{src.path}' not found (looked for {pattern})", file=str(cfg.config_path or "config"),
                          key=f"sources[{index}].path",
                          fix="correct the path; relative paths are relative to the config file's folder")
    return [pattern]


def _label(cfg: Config, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(cfg.base_dir.resolve()))
    except ValueError:
        return str(path)


def sniff(path: Path, label: str) -> str:
    """The adapter whose header signature matches the file (``kind: auto``)."""
    matches = []
    for kind, adapter in ADAPTERS.items():
        try:
            raw = adapter.read_raw(path)
        except InputLimitExceeded:
            raise                   # over a size / nesting limit: no other format would read it either
        except InputError:
            continue
        # line-oriented formats (Prometheus text) read any file; they look at the content instead
        recognised = adapter.sniff_raw(raw) if hasattr(adapter, "sniff_raw") else adapter.sniff(raw.columns)
        if recognised:
            matches.append(kind)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        try:  # show the header as a plain CSV reader sees it
            cols = ", ".join(read_delimited(path, what="table").columns[:20])
        except InputError as exc:
            # the file itself is the problem (empty, not UTF-8, not gzip...): say that, not "no format matched"
            raise InputError(exc.message, file=label, row=exc.row, fix=exc.fix) from None
        raise InputError(f"the header matches no supported format (columns: {cols})", file=label, row=1,
                         fix="set the source's 'kind' explicitly to one of: " + ", ".join(sorted(ADAPTERS)))
    raise InputError(f"the header matches several formats ({', '.join(matches)})", file=label, row=1,
                     fix="set the source's 'kind' explicitly")


class RowCollector:
    """The default sink of ``ingest_source``: keeps every accepted canonical row (``Ingested.frame``)."""

    def __init__(self) -> None:
        self._frames: list[pd.DataFrame] = []

    def add(self, chunk: pd.DataFrame) -> None:
        self._frames.append(chunk)

    def frame(self, template: pd.DataFrame) -> pd.DataFrame:
        frames = [f for f in self._frames if len(f)] or [template]
        return frames[0] if len(frames) == 1 else pd.concat(frames)


class DiscardRows:
    """A sink that keeps no row (``validate``: only the reports, quarantine files and GX results are wanted)."""

    def add(self, chunk: pd.DataFrame) -> None:
        pass

    def frame(self, template: pd.DataFrame) -> pd.DataFrame:
        return template


def ingest_source(cfg: Config, src: Source, src_id: str, path: Path, validator: Validator,
                  bounds: PeriodBounds, out_dir: Path, *, sink_factory=RowCollector, usage_sink_factory=None,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Ingested:
    """Reads, validates and quarantines one file. Billing files are read in chunks of ``chunk_rows`` rows
    (Parquet record batches); every accepted chunk goes to a sink (``sink_factory()``, default: keep the rows;
    a run sums billing rows into usage groups, ``pipeline.usage_groups``), so the file is never whole in
    memory. Duplicate line items across chunks are found exactly (``pipeline.validate.cross_chunk``)."""
    label = _label(cfg, path)
    kind = sniff(path, label) if src.kind == "auto" else src.kind
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise ConfigError(f"no adapter for kind '{kind}' is installed", key="sources[].kind",
                          fix="use one of: " + ", ".join(sorted(ADAPTERS)))
    family = adapter.FAMILY
    if family in ("usage", "provider_carbon") and not src.contracts:
        raise ConfigError(f"{label} was recognised as {kind}: the source needs 'contracts'",
                          fix="list the cloud contracts the file's rows belong to")
    if family in ("job", "meter", "power") and not src.site:
        raise ConfigError(f"{label} was recognised as {kind}: the source needs 'site'", fix="name the site")

    if family == "usage" and usage_sink_factory is not None:
        sink_factory = usage_sink_factory
    repeats: dict[int, tuple[str, int]] = {}
    job = FileJob(cfg=cfg, src=src, src_id=src_id, path=path, label=label, kind=kind, adapter=adapter, out_dir=out_dir)
    while True:
        result = read_file(job, validator, bounds, sink_factory, chunk_rows, repeats)
        if isinstance(result, Ingested):
            return result
        repeats = result        # repeated line items across chunks: read again with them known


def _family(src: Source, path: Path, label: str) -> str | None:
    kind = sniff(path, label) if src.kind == "auto" else src.kind
    adapter = ADAPTERS.get(kind)
    return adapter.FAMILY if adapter is not None else None


def _declared_family(src: Source) -> str | None:
    adapter = ADAPTERS.get(src.kind)
    return adapter.FAMILY if adapter is not None else None


def ingest_all(cfg: Config, validator: Validator, bounds: PeriodBounds, out_dir: Path, *,
               group_usage: bool = False, power_sink=None, sink_factory=RowCollector,
               workers: int | str = 0, pool=None) -> list[Ingested]:
    """Every source file; the results are in config order.

    ``group_usage``: billing rows are summed into usage groups as they are read (``pipeline.usage_groups``; what
    a run does), with each row's group in ``out_dir/drilldown``. ``sink_factory``: where other accepted rows go
    (default: kept in ``Ingested.frame``; ``DiscardRows`` keeps none).
    ``power_sink(src, src_id, done) -> sink factory``: GPU telemetry files are read after every other source
    (``done``: the results of the files the main process read) and their accepted samples go to the sink instead
    of being kept (a run reduces them file by file, ``pipeline.energy.site_telemetry.TelemetryStream``, which
    needs the site's jobs).
    ``workers`` (a number or ``auto``, with ``group_usage`` and ``power_sink``): billing and telemetry files are
    also read in that many worker processes (``pipeline.ingest_workers``); the results are the same. ``pool``:
    worker processes already started (``ingest_workers.start_pool``; the caller closes them)."""
    # every path is checked before any file is read, so a typo is reported at once
    all_paths = [expand_paths(cfg, src, index) for index, src in enumerate(cfg.sources)]
    if cfg.projections.request_counts:       # read later, by the projections: the same folder rule applies
        cfg.check_inside(cfg.resolve(cfg.projections.request_counts), key="projections.request_counts",
                         given=cfg.projections.request_counts)
    files = []
    for index, (src, paths) in enumerate(zip(cfg.sources, all_paths)):
        for path in paths:
            src_id = src.id or path.stem
            if src.id and len(paths) > 1:
                src_id = f"{src.id}:{path.name}"
            files.append((src, src_id, path, index))
    later = set()
    if power_sink is not None:
        later = {n for n, (src, _, path, _) in enumerate(files) if _family(src, path, _label(cfg, path)) == "power"}
    own_pool = False
    if pool is None and group_usage and power_sink is not None and workers:
        from pipeline.ingest_workers import start_pool

        pool = start_pool(cfg, workers)
        own_pool = pool is not None
    results: dict[int, Ingested] = {}

    def row_map_of(src_id: str) -> Path | None:
        return out_dir / ROW_MAP_DIR / f"{safe_name(src_id)}.usage_rows.parquet" if group_usage else None

    def read_here(n: int, sink) -> Ingested:
        src, src_id, path, _ = files[n]
        row_map = row_map_of(src_id)
        usage_sink = None
        if row_map is not None:
            usage_sink = lambda: UsageGroups(cfg.entity.timezone, row_map)  # noqa: E731
        if cfg.engine == "spark":        # billing files on Spark (docs/engines.md); other families below
            from pipeline.engines.spark import ingest_if_usage

            done = ingest_if_usage(cfg, src, src_id, path, validator, bounds, out_dir, row_map=row_map)
            if done is not None:
                return done
        return ingest_source(cfg, src, src_id, path, validator, bounds, out_dir, usage_sink_factory=usage_sink,
                             sink_factory=sink)

    def power_sink_of(n: int):
        src, src_id, _, _ = files[n]
        return power_sink(src, src_id, [results[k] for k in sorted(results)])

    if pool is None or not (group_usage and power_sink is not None):
        for n in [k for k in range(len(files)) if k not in later] + sorted(later):
            results[n] = read_here(n, power_sink_of(n) if n in later else sink_factory)
        return [results[k] for k in sorted(results)]

    from pipeline.ingest_workers import PowerFeed

    in_workers = [n for n, f in enumerate(files)
                  if n not in later and cfg.engine == "pandas" and _declared_family(f[0]) == "usage"]

    def submit(n: int, row_map: Path | None = None):
        src, src_id, path, index = files[n]
        return pool.submit(n, cfg, bounds, out_dir, index, src_id, path, row_map)

    ok = False
    try:
        billing = {n: submit(n, row_map_of(files[n][1])) for n in in_workers}
        for n in range(len(files)):
            if n not in later and n not in billing:
                results[n] = read_here(n, sink_factory)
        main_done = [results[k] for k in sorted(results)]
        feed = PowerFeed(pool, sorted(later), submit)

        def stream_of(n: int):
            return power_sink(files[n][0], files[n][1], main_done)

        for n, ing, streamed in feed.files(lambda n, keep: read_here(n, RowCollector if keep else stream_of(n))):
            if not streamed:     # read by a worker, or ahead of the stream: its rows go to the stream now
                sink = stream_of(n)()
                sink.add(ing.frame)
                ing.frame = sink.frame(empty_like(ing.frame))
            ing.source = files[n][0]
            results[n] = ing
            for task in billing.values():
                if task.ready() and not task.successful():
                    task.get()          # a billing file failed in a worker: stop now, not after the telemetry
        t0 = time.monotonic()
        for n, task in billing.items():
            results[n] = pool.wait(task)
            results[n].source = files[n][0]
        pool.merge_results(validator)
        log_event("workers", workers=pool.n, billing_files_read_by_workers=len(billing),
                  seconds_waited_for_billing=round(time.monotonic() - t0, 2),
                  **{k: round(v, 2) if isinstance(v, float) else v for k, v in feed.stats.items()})
        ok = True
    finally:
        if own_pool:
            pool.close(ok)
    return [results[k] for k in sorted(results)]
