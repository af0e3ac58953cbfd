"""One input file read, validated and quarantined chunk by chunk (``read_file``), and the checks it runs.

Billing files come as chunks of rows (``pipeline.sources._chunks.iter_raw``), other files as one chunk. Each
chunk is mapped to its canonical frame by its adapter, validated by the family's Great Expectations suite, checked
across rows (duplicates, overlaps), and its quarantined rows appended to the file's quarantine file; accepted rows
go to a sink (``pipeline.ingest``: kept, summed into usage groups, or streamed into the telemetry reduction).
Duplicate line items across chunks are found exactly: ids are spilled to disk (``validate.cross_chunk``) and,
when a file repeats an id across chunks, it is read again with the repeats known (``read_file`` returns them).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.canonical import is_currency_code
from pipeline.config import Config, Source
from pipeline.errors import ValidationFailed
from pipeline.period import PeriodBounds
from pipeline.result import FailedExpectation, InputReport
from pipeline.sources import Parsed
from pipeline.sources._chunks import iter_raw
from pipeline.sources._text import RawTable, sha256_file
from pipeline.validate.cross_chunk import LineItemSpill
from pipeline.validate.great_expectations import Validator
from pipeline.validate.quarantine import QuarantineWriter


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


@dataclass(frozen=True)
class FileJob:
    """One input file of one config source, and how it is read."""

    cfg: Config
    src: Source
    src_id: str                # the source's id (``id:file name`` for a file of a glob)
    path: Path
    label: str                 # path as shown in reports
    kind: str                  # adapter kind (resolved when the source says 'auto')
    adapter: object            # the adapter module
    out_dir: Path              # where quarantine files and spill partitions go


def header_check(validator: Validator, src_id: str, adapter, raw: RawTable, label: str) -> None:
    """The kind's header suite on the raw columns; a failure stops the run, naming close column names."""
    kind = adapter.KIND
    header_frame = raw.frame.head(0).drop(columns=["source_row"])
    outcome = validator.run(src_id, f"{kind}.header", header_frame)
    if outcome.success:
        return
    present = raw.columns
    # a rename is suggested only from columns the format does not document under their own name: the adapter's
    # REQUIRED, SOURCE_COLUMNS and KNOWN_COLUMNS (its documented columns) are never candidates, so a close name
    # that is another column of the format (cost/myCostOverage for cost/myCost) is not offered as the fix
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


def parse(cfg: Config, src: Source, adapter, raw: RawTable, label: str) -> Parsed:
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


def raw_value_note(adapter, raw: RawTable, index, column: str | None) -> str:
    raw_col = getattr(adapter, "SOURCE_COLUMNS", {}).get(column or "")
    if not raw_col or raw_col not in raw.frame.columns:
        return ""
    value = raw.frame.at[index, raw_col]
    value = "" if pd.isna(value) else str(value)
    return f" ({raw_col} = '{value[:80]}')"


def family_checks(family: str, frame: pd.DataFrame, parsed: Parsed, reasons: dict) -> None:
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


_COUNTED_NOTE = re.compile(r"^(\d[\d,]*) (.+)$", re.S)


def merge_notes(notes: list[str]) -> list[str]:
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


def merge_failed(suite: list[FailedExpectation], extra: dict[str, int]) -> list[FailedExpectation]:
    """The suite's failed expectations summed over chunks, then the checks outside the suite (sorted)."""
    counts: dict[tuple, int] = {}
    for f in suite:
        key = (f.expectation, f.column, f.stops_run)
        counts[key] = counts.get(key, 0) + f.unexpected_count
    return ([FailedExpectation(e, c, n, t) for (e, c, t), n in counts.items()]
            + [FailedExpectation(e, None, n, False) for e, n in sorted(extra.items())])


def read_file(job: FileJob, validator: Validator, bounds: PeriodBounds, sink_factory, chunk_rows: int,
              repeats: dict[int, tuple[str, int]]) -> Ingested | dict[int, tuple[str, int]]:
    """Reads one file chunk by chunk into ``sink_factory()``; returns its ``Ingested``, or, when line-item ids
    repeat across chunks (and ``repeats`` was not given), those repeats: read the file again with them."""
    cfg, src, src_id, path, label, kind, adapter, out_dir = (job.cfg, job.src, job.src_id, job.path, job.label,
                                                             job.kind, job.adapter, job.out_dir)
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
                    header_check(validator, src_id, adapter, raw, label)
                    validator.passed_headers.add(seen)
            elif n_chunks == 1 and family == "usage" and not repeats:
                spill = LineItemSpill(partitions=max(64, file_rows(path) // max(chunk_rows, 1)), workdir=out_dir)
                if first_ids is not None:
                    spill.add(*first_ids)
            n_chunks += 1
            parsed = parse(cfg, src, adapter, raw, label)
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
                    reasons.setdefault(i, []).append((exp, reason + raw_value_note(adapter, raw, i, column)))
            family_checks(family, frame, parsed, reasons)
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
                template = empty_like(accepted)
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
        quarantine_file=qfile, failed_expectations=tuple(merge_failed(failed, extra_fails)), notes=tuple(merge_notes(notes)))
    frame = sink.frame(template)
    extra = {"row_map": sink.row_map_path} if getattr(sink, "row_map_path", None) else {}
    return Ingested(source=src, kind=kind, family=family, path=path, label=label, frame=frame, report=report,
                    extra=extra)


def empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """No rows, the same columns and dtypes. Built from the dtypes: a slice (head(0), even copied) of Arrow-backed
    columns keeps the whole frame's buffers alive (~300 MB per DCGM day file kept by every Ingested)."""
    return pd.DataFrame({c: pd.Series(dtype=frame[c].dtype) for c in frame.columns})


def file_rows(path: Path) -> int:
    """Rows of a Parquet file from its footer (sizes the duplicate-check partitions); 0 when unknown."""
    try:
        import pyarrow.parquet as pq
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - only a size hint
        return 0


