"""Ingest + validate stage: for every configured source file, read it with its adapter, run its Great
Expectations suites, split accepted from quarantined rows and write the quarantine file.

Row accounting invariant, per input file: rows_read = rows_accepted + rows_quarantined.
Nothing is dropped silently: rows an adapter folds into another (Slurm job steps) count as accepted.
"""

from __future__ import annotations

import difflib
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.canonical import is_currency_code
from pipeline.config import Config, Source
from pipeline.errors import ConfigError, InputError, ValidationFailed
from pipeline.period import PeriodBounds
from pipeline.result import FailedExpectation, InputReport
from pipeline.sources import Parsed, focus, meter_readings, slurm_sacct
from pipeline.sources._chunks import DEFAULT_CHUNK_ROWS, iter_raw
from pipeline.sources._text import InputLimitExceeded, RawTable, read_delimited, sha256_file
from pipeline.validate.great_expectations import Validator
from pipeline.validate.cross_chunk import LineItemSpill
from pipeline.usage_groups import ROW_MAP_DIR, UsageGroups
from pipeline.validate.quarantine import QuarantineWriter, safe_name

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


@dataclass
class Ingested:
    source: Source
    kind: str                  # the adapter used (resolved when the source says 'auto')
    family: str                # usage, job, meter, provider_carbon
    path: Path
    label: str                 # path as shown in reports (relative to the config folder when possible)
    frame: pd.DataFrame        # accepted canonical rows
    report: InputReport
    extra: dict = field(default_factory=dict)


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


def _header_check(validator: Validator, src_id: str, kind: str, raw: RawTable, label: str) -> None:
    header_frame = raw.frame.head(0).drop(columns=["source_row"])
    outcome = validator.run(src_id, f"{kind}.header", header_frame)
    if outcome.success:
        return
    present = raw.columns
    # a rename is suggested only from columns the format does not document under their own name: the adapter's
    # REQUIRED, SOURCE_COLUMNS and KNOWN_COLUMNS (its documented columns) are never candidates, so a close name
    # that is another column of the format (cost/myCostOverage for cost/myCost) is not offered as the fix
    adapter = ADAPTERS.get(kind)
    known = (set(getattr(adapter, "REQUIRED", [])) | set(getattr(adapter, "SOURCE_COLUMNS", {}).values())
             | set(getattr(adapter, "KNOWN_COLUMNS", [])))
    candidates = [c for c in present if c not in known]
    problems = []
    for p in outcome.table_problems:
        missing = p.split("'")[1] if "'" in p else ""
        close = difflib.get_close_matches(missing, candidates, n=1, cutoff=0.6)
        problems.append(p + (f" (found '{close[0]}': rename it to '{missing}')" if close else ""))
    raise ValidationFailed(
        f"{len(problems)} required column(s) missing; this file cannot be read as {kind}",
        file=label, problems=problems + [f"columns found: {', '.join(present[:40])}"],
        fix=f"export the file in the {kind} format, or correct the source's 'kind' in the config")


def _parse(cfg: Config, src: Source, adapter, raw: RawTable, label: str) -> Parsed:
    if adapter.FAMILY == "job":
        site = cfg.site(src.site)
        return adapter.to_canonical(raw, source_label=label, site_id=site.id, site_zone=site.timezone,
                                    default_gpu_model=src.gpu_model or site.gpu_model,
                                    gres_gpu_types=site.gres_gpu_types)
    if adapter.FAMILY == "meter":
        meter_sites = {m.id: s.id for s in cfg.sites for m in s.meters}
        parsed = adapter.to_canonical(raw, source_label=label, meter_sites=meter_sites,
                                      interval_minutes=src.interval_minutes, register=src.reading_kind,
                                      rollover_kwh=src.rollover_kwh)
        frame = parsed.frame
        unknown = sorted(set(frame["meter_id"].dropna()) - set(meter_sites))
        if unknown:
            raise ValidationFailed(
                f"meter(s) {', '.join(unknown)} are not listed under any site", file=label,
                fix="add each meter id under sites[].meters in the config (with measures: it_load or facility)")
        wrong_site = sorted(set(frame.loc[frame["site_id"] != src.site, "meter_id"].dropna()))
        if wrong_site:
            raise ValidationFailed(
                f"meter(s) {', '.join(wrong_site)} belong to another site than this source's site '{src.site}'",
                file=label, fix="split the file per site or correct the source's 'site'")
        return parsed
    if adapter.FAMILY == "power":
        kwargs = {"scraped_at": src.scraped_at} if src.scraped_at and adapter.KIND == "kepler" else {}
        return adapter.to_canonical(raw, source_label=label, site_zone=cfg.site(src.site).timezone, **kwargs)
    if adapter.FAMILY == "grid_intensity":
        return adapter.to_canonical(raw, source_label=label, default_boundary=src.boundary)
    parsed = adapter.to_canonical(raw, source_label=label)
    if adapter.FAMILY == "usage":
        parsed.frame["is_usage"] = (parsed.frame["charge_category"].fillna("") == "Usage").astype(bool)
    return parsed


def _raw_value_note(adapter, raw: RawTable, index, column: str | None) -> str:
    raw_col = getattr(adapter, "SOURCE_COLUMNS", {}).get(column or "")
    if not raw_col or raw_col not in raw.frame.columns:
        return ""
    value = raw.frame.at[index, raw_col]
    value = "" if pd.isna(value) else str(value)
    return f" ({raw_col} = '{value[:80]}')"


def _family_checks(family: str, frame: pd.DataFrame, parsed: Parsed, reasons: dict) -> None:
    """Checks across rows, after the row suite, on the rows still accepted (first occurrence kept)."""
    ok = frame.drop(index=list(reasons), errors="ignore")
    if family == "meter":
        dup = ok.duplicated(subset=["meter_id", "interval_start_utc"], keep="first")
        for i in ok.index[dup]:
            reasons.setdefault(i, []).append(("duplicate_reading", "duplicate reading for the same meter and interval (first kept)"))
        # an interval that starts before an earlier interval of the same meter has ended would count energy twice
        rest = ok[~dup & ok["interval_start_utc"].notna() & ok["interval_end_utc"].notna() & ok["meter_id"].notna()]
        rest = rest.sort_values(["meter_id", "interval_start_utc"], kind="stable")
        frontier: dict = {}     # meter -> end of the latest kept interval (an overlapping one is not kept)
        for i, meter, start, end in zip(rest.index, rest["meter_id"], rest["interval_start_utc"], rest["interval_end_utc"]):
            last = frontier.get(meter)
            if last is not None and start < last:
                reasons.setdefault(i, []).append((
                    "overlapping_reading", f"interval starting {start:%Y-%m-%d %H:%M}Z overlaps an earlier reading of "
                    f"meter {meter} that runs to {last:%Y-%m-%d %H:%M}Z (the energy would be counted twice; earlier "
                    "kept)"))
            else:
                frontier[meter] = end
    elif family == "usage":
        ids = ok["line_item_id"]
        dup = ids.notna() & ids.duplicated(keep="first")
        for i in ok.index[dup]:
            reasons.setdefault(i, []).append(("duplicate_line_item", f"line item {ids[i]} appears again in this file (first kept; re-delivered or duplicated export?)"))
    elif family == "asset":
        ids = ok["asset_id"]
        dup = ids.notna() & ids.duplicated(keep="first")
        for i in ok.index[dup]:
            reasons.setdefault(i, []).append(("duplicate_asset_id", f"asset {ids[i]} appears again in this file (first kept; one line per asset id)"))

    # rows merged into another row (job steps, superseded refreshes, summed scope rows) follow that row
    for i, (target, note) in parsed.folded.items():
        if target in reasons and i not in reasons:
            reasons[i] = [("merged_into_quarantined_row", f"{note}; that row is quarantined")]


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


_COUNTED_NOTE = re.compile(r"^(\d[\d,]*) (.+)$", re.S)


def _merge_notes(notes: list[str]) -> list[str]:
    """Notes of several chunks as one list: "<n> row(s) ..." notes with the same text are summed."""
    merged: dict[str, int | None] = {}
    for note in notes:
        m = _COUNTED_NOTE.match(note)
        if m:
            key = m.group(2)
            merged[key] = (merged.get(key) or 0) + int(m.group(1).replace(",", ""))
        else:
            merged.setdefault(note, None)
    return [f"{n:,} {k}" if n is not None and n >= 1000 else (f"{n} {k}" if n is not None else k)
            for k, n in merged.items()]


def _merge_failed(suite: list[FailedExpectation], extra: dict[str, int]) -> list[FailedExpectation]:
    """The suite's failed expectations summed over chunks, then the checks outside the suite (sorted)."""
    counts: dict[tuple, int] = {}
    for f in suite:
        key = (f.expectation, f.column, f.stops_run)
        counts[key] = counts.get(key, 0) + f.unexpected_count
    return ([FailedExpectation(e, c, n, t) for (e, c, t), n in counts.items()]
            + [FailedExpectation(e, None, n, False) for e, n in sorted(extra.items())])


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
    while True:
        result = _read_chunks(cfg, src, src_id, path, validator, bounds, out_dir, label, kind, adapter,
                              sink_factory, chunk_rows, repeats)
        if isinstance(result, Ingested):
            return result
        repeats = result        # repeated line items across chunks: read again with them known


def _read_chunks(cfg, src, src_id, path, validator, bounds, out_dir, label, kind, adapter, sink_factory,
                 chunk_rows, repeats):
    family = adapter.FAMILY
    chunks = iter_raw(adapter, path, chunk_rows=chunk_rows) if family == "usage" else iter([adapter.read_raw(path)])
    params = {"period_start_utc": bounds.start_utc.isoformat(), "period_end_utc": bounds.end_utc.isoformat()}
    sink = sink_factory()
    quarantine = QuarantineWriter(out_dir, src_id)
    spill = None
    notes: list[str] = []
    failed: list[FailedExpectation] = []
    extra_fails: dict[str, int] = {}
    rows_read = n_chunks = 0
    template = first_ids = None
    try:
        for raw in chunks:
            if n_chunks == 0:
                # a header already validated for this format (the other files of a glob) is not checked again
                seen = (kind, tuple(raw.columns))
                if seen not in validator.passed_headers:
                    _header_check(validator, src_id, kind, raw, label)
                    validator.passed_headers.add(seen)
            elif n_chunks == 1 and family == "usage" and not repeats:
                spill = LineItemSpill(partitions=max(64, _file_rows(path) // max(chunk_rows, 1)), workdir=out_dir)
                if first_ids is not None:
                    spill.add(*first_ids)
            n_chunks += 1
            parsed = _parse(cfg, src, adapter, raw, label)
            frame = parsed.frame
            notes += parsed.notes
            if family == "usage" and len(frame):
                cur = frame["currency"].fillna("")
                odd = ~is_currency_code(cur) & (frame["cost"].fillna(0) != 0)
                if odd.any():
                    shown = ", ".join(sorted({repr(c) for c in cur[odd]})[:5])
                    notes.append(f"{int(odd.sum())} row(s) with a cost but no three-letter currency code ({shown}): "
                                 "their cost is reported under currency 'unknown', never added to another currency's")
            outcome = validator.run(src_id, f"{family}.rows", frame, params)
            if outcome.table_problems:
                raise ValidationFailed("validation could not be completed", file=label, problems=outcome.table_problems,
                                       fix="this is likely a bug or an unsupported file variant; please report it with the file")
            reasons: dict = {i: list(r) for i, r in parsed.quarantine.items()}
            for i, code_reason in raw.malformed.items():
                reasons.setdefault(i, []).append(("row_has_wrong_field_count", code_reason))
            for i, rs in outcome.row_reasons.items():
                for exp, reason in rs:
                    column = outcome.reason_columns.get((exp, reason))
                    reasons.setdefault(i, []).append((exp, reason + _raw_value_note(adapter, raw, i, column)))
            _family_checks(family, frame, parsed, reasons)
            # after the within-chunk check, so a row repeated twice in a later chunk is caught both times
            for i in frame.index.intersection(pd.Index(list(repeats), dtype=frame.index.dtype)):
                oid, first_row = repeats[int(i)]
                reasons.setdefault(i, []).append((
                    "duplicate_line_item", f"line item {oid} appears again in this file (first kept, row {first_row}; "
                    "re-delivered or duplicated export?)"))

            quarantined = pd.Index(sorted(reasons, key=int))
            accepted = frame.drop(index=quarantined, errors="ignore")
            rows_read += len(raw.frame)
            quarantine.add(raw, quarantined, reasons)
            failed += list(outcome.failed)
            suite_types = {f.expectation for f in outcome.failed}
            for rs in reasons.values():
                for exp, _ in rs:
                    if exp not in suite_types:
                        extra_fails[exp] = extra_fails.get(exp, 0) + 1
            if template is None:
                # built from the dtypes: a slice (head(0), even copied) of Arrow-backed columns keeps the whole
                # chunk's buffers alive, ~300 MB per DCGM day file kept by every Ingested
                template = pd.DataFrame({c: pd.Series(dtype=accepted[c].dtype) for c in accepted.columns})
            if family == "usage" and "line_item_id" in accepted:
                ids = (accepted["line_item_id"], accepted.index.to_numpy(), accepted["source_row"].to_numpy())
                if spill is not None:
                    spill.add(*ids)
                elif n_chunks == 1:
                    first_ids = ids      # spilled only if the file has a second chunk
            sink.add(accepted)
            del raw, parsed, frame, accepted
        if spill is not None and not repeats:
            found = spill.repeats()
            if found:            # read again with the repeats known: this read's outputs are thrown away
                quarantine.discard()
                if hasattr(sink, "discard"):
                    sink.discard()
                return found
        qfile = quarantine.commit()
    except BaseException:
        quarantine.discard()
        raise
    finally:
        if spill is not None:
            spill.close()
    if n_chunks > 1:
        notes.insert(0, f"read in {n_chunks} chunks of up to {chunk_rows:,} rows")
    if src.kind == "auto":
        notes.insert(0, f"format recognised from the header: {kind}")
    report = InputReport(
        source_id=src_id, kind=kind, path=label, sha256=sha256_file(path), rows_read=rows_read,
        rows_accepted=rows_read - quarantine.rows, rows_quarantined=quarantine.rows,
        quarantine_file=qfile, failed_expectations=tuple(_merge_failed(failed, extra_fails)), notes=tuple(_merge_notes(notes)))
    frame = sink.frame(template)
    extra = {"row_map": sink.row_map_path} if getattr(sink, "row_map_path", None) else {}
    return Ingested(source=src, kind=kind, family=family, path=path, label=label, frame=frame, report=report,
                    extra=extra)


def _file_rows(path: Path) -> int:
    """Rows of a Parquet file from its footer (sizes the duplicate-check partitions); 0 when unknown."""
    try:
        import pyarrow.parquet as pq
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - only a size hint
        return 0


def _family(src: Source, path: Path, label: str) -> str | None:
    kind = sniff(path, label) if src.kind == "auto" else src.kind
    adapter = ADAPTERS.get(kind)
    return adapter.FAMILY if adapter is not None else None


def ingest_all(cfg: Config, validator: Validator, bounds: PeriodBounds, out_dir: Path, *,
               group_usage: bool = False, power_sink=None, sink_factory=RowCollector) -> list[Ingested]:
    """Every source file; the results are in config order.

    ``group_usage``: billing rows are summed into usage groups as they are read (``pipeline.usage_groups``; what
    a run does), with each row's group in ``out_dir/drilldown``. ``sink_factory``: where other accepted rows go
    (default: kept in ``Ingested.frame``; ``DiscardRows`` keeps none).
    ``power_sink(src, src_id, done) -> sink factory``: GPU telemetry files are read after every other source
    (``done``: those results) and their accepted samples go to the sink instead of being kept (a run reduces
    them file by file, ``pipeline.energy.site_telemetry.TelemetryStream``, which needs the site's jobs)."""
    # every path is checked before any file is read, so a typo is reported at once
    all_paths = [expand_paths(cfg, src, index) for index, src in enumerate(cfg.sources)]
    if cfg.projections.request_counts:       # read later, by the projections: the same folder rule applies
        cfg.check_inside(cfg.resolve(cfg.projections.request_counts), key="projections.request_counts",
                         given=cfg.projections.request_counts)
    files = []
    for src, paths in zip(cfg.sources, all_paths):
        for path in paths:
            src_id = src.id or path.stem
            if src.id and len(paths) > 1:
                src_id = f"{src.id}:{path.name}"
            files.append((src, src_id, path))
    later = set()
    if power_sink is not None:
        later = {n for n, (src, _, path) in enumerate(files) if _family(src, path, _label(cfg, path)) == "power"}
    results: dict[int, Ingested] = {}
    for n in [k for k in range(len(files)) if k not in later] + sorted(later):
        src, src_id, path = files[n]
        usage_sink = row_map = None
        if group_usage:
            row_map = out_dir / ROW_MAP_DIR / f"{safe_name(src_id)}.usage_rows.parquet"
            usage_sink = lambda row_map=row_map: UsageGroups(cfg.entity.timezone, row_map)  # noqa: E731
        if cfg.engine == "spark":        # billing files on Spark (docs/engines.md); other families below
            from pipeline.engines.spark import ingest_if_usage

            done = ingest_if_usage(cfg, src, src_id, path, validator, bounds, out_dir, row_map=row_map)
            if done is not None:
                results[n] = done
                continue
        kwargs = {"usage_sink_factory": usage_sink, "sink_factory": sink_factory}
        if n in later:
            kwargs["sink_factory"] = power_sink(src, src_id, [results[k] for k in sorted(results)])
        results[n] = ingest_source(cfg, src, src_id, path, validator, bounds, out_dir, **kwargs)
    return [results[k] for k in sorted(results)]
