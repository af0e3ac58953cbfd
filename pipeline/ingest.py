"""Ingest + validate stage: for every configured source file, read it with its adapter, run its Great
Expectations suites, split accepted from quarantined rows and write the quarantine file.

Row accounting invariant, per input file: rows_read = rows_accepted + rows_quarantined.
Nothing is dropped silently: Slurm step rows are counted as accepted and folded into their job.
"""

from __future__ import annotations

import difflib
import glob
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import Config, Source
from pipeline.errors import ConfigError, ValidationFailed
from pipeline.period import PeriodBounds
from pipeline.result import FailedExpectation, InputReport
from pipeline.sources import focus, meter_readings, slurm_sacct
from pipeline.sources._text import RawTable, sha256_file
from pipeline.validate.great_expectations import Validator
from pipeline.validate.quarantine import write_quarantine

ADAPTERS = {"focus": focus, "slurm_sacct": slurm_sacct, "meter_readings": meter_readings}


@dataclass
class Ingested:
    source: Source
    path: Path
    label: str                 # path as shown in reports (relative to the config folder when possible)
    frame: pd.DataFrame        # accepted canonical rows
    report: InputReport
    extra: dict = field(default_factory=dict)


def expand_paths(cfg: Config, src: Source, index: int) -> list[Path]:
    pattern = cfg.resolve(src.path)
    if any(ch in src.path for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(str(pattern)))
        if not paths:
            raise ConfigError(f"no file matches '{src.path}'", file=str(cfg.config_path or "config"),
                              key=f"sources[{index}].path", fix="check the glob and the folder it is relative to")
        return paths
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


def _header_check(validator: Validator, src_id: str, kind: str, raw: RawTable, label: str) -> list[FailedExpectation]:
    header_frame = raw.frame.head(0).drop(columns=["source_row"])
    outcome = validator.run(src_id, f"{kind}.header", header_frame)
    if outcome.success:
        return []
    present = raw.columns
    problems = []
    for p in outcome.table_problems:
        missing = p.split("'")[1] if "'" in p else ""
        close = difflib.get_close_matches(missing, present, n=1, cutoff=0.6)
        problems.append(p + (f" (found '{close[0]}': rename it to '{missing}')" if close else ""))
    raise ValidationFailed(
        f"{len(problems)} required column(s) missing; this file cannot be read as {kind}",
        file=label, problems=problems + [f"columns found: {', '.join(present[:40])}"],
        fix=f"export the file in the {kind} format, or correct the source's 'kind' in the config")


def ingest_source(cfg: Config, src: Source, src_id: str, path: Path, validator: Validator,
                  bounds: PeriodBounds, out_dir: Path) -> Ingested:
    adapter = ADAPTERS[src.kind]
    label = _label(cfg, path)
    raw = adapter.read_raw(path)
    _header_check(validator, src_id, src.kind, raw, label)
    notes: list[str] = []
    extra: dict = {}
    pre_quarantine: dict[object, list[tuple[str, str]]] = {
        i: [("row_has_wrong_field_count", reason)] for i, reason in raw.malformed.items()}

    if src.kind == "focus":
        frame, unreadable_tags = focus.to_canonical(raw, source_label=label)
        frame["is_usage"] = (frame["charge_category"].fillna("") == "Usage").astype(bool)
        n_bad_tags = int(unreadable_tags.sum())
        if n_bad_tags:
            notes.append(f"{n_bad_tags} row(s) with unreadable Tags JSON kept with no tags (phase: unallocated)")
        step_rows = pd.Index([])
    elif src.kind == "slurm_sacct":
        site = cfg.site(src.site)
        frame, n_steps = slurm_sacct.to_canonical(raw, source_label=label, site_id=site.id, site_zone=site.timezone,
                                                 default_gpu_model=src.gpu_model or site.gpu_model,
                                                 gres_gpu_types=site.gres_gpu_types)
        step_rows = raw.frame.index.difference(frame.index)
        if n_steps:
            notes.append(f"{n_steps} job-step row(s) (.batch/.extern/...) folded into their jobs; step energy never summed")
        # a step whose job row is missing is kept visible instead of vanishing
        job_ids = set(frame["job_id"].dropna())
        for i in step_rows:
            parent = str(raw.frame.at[i, "JobID"]).split(".", 1)[0]
            if parent not in job_ids:
                pre_quarantine.setdefault(i, []).append(("job_step_without_job", f"step of job {parent}, whose job row is missing"))
    else:
        meter_sites = {m.id: s.id for s in cfg.sites for m in s.meters}
        frame = meter_readings.to_canonical(raw, source_label=label, meter_sites=meter_sites,
                                            interval_minutes=src.interval_minutes)
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
        step_rows = pd.Index([])

    params = {"period_start_utc": bounds.start_utc.isoformat(), "period_end_utc": bounds.end_utc.isoformat()}
    outcome = validator.run(src_id, f"{src.kind}.rows", frame, params)
    if outcome.table_problems:
        raise ValidationFailed("validation could not be completed", file=label, problems=outcome.table_problems,
                               fix="this is likely a bug or an unsupported file variant; please report it with the file")

    reasons = dict(pre_quarantine)
    for i, rs in outcome.row_reasons.items():
        reasons.setdefault(i, []).extend(rs)

    if src.kind == "slurm_sacct" and len(step_rows):
        # steps of a quarantined job go with it (they only repeat its figures)
        bad_jobs = set(frame.loc[frame.index.intersection(list(reasons)), "job_id"].dropna())
        for i in step_rows:
            parent = str(raw.frame.at[i, "JobID"]).split(".", 1)[0]
            if parent in bad_jobs and i not in reasons:
                reasons[i] = [("job_step_of_quarantined_job", f"step of job {parent}, which is quarantined")]

    if src.kind == "meter_readings":
        ok = frame.drop(index=list(reasons), errors="ignore")
        dup = ok.duplicated(subset=["meter_id", "interval_start_utc"], keep="first")
        for i in ok.index[dup]:
            reasons.setdefault(i, []).append(("duplicate_reading", "duplicate reading for the same meter and interval (first kept)"))

    quarantined = pd.Index(sorted(reasons, key=lambda x: int(x)))
    accepted = frame.drop(index=quarantined, errors="ignore")
    rows_read = len(raw.frame)
    qfile = None
    if len(quarantined):
        qfile = write_quarantine(out_dir, src_id, raw, quarantined, reasons)
    failed = list(outcome.failed)
    extra_fails = {}
    suite_types = {f.expectation for f in outcome.failed}
    for rs in reasons.values():
        for exp, _ in rs:
            if exp not in suite_types:
                extra_fails[exp] = extra_fails.get(exp, 0) + 1
    failed += [FailedExpectation(e, None, n, False) for e, n in extra_fails.items()]
    report = InputReport(
        source_id=src_id, kind=src.kind, path=label, sha256=sha256_file(path), rows_read=rows_read,
        rows_accepted=rows_read - len(quarantined), rows_quarantined=len(quarantined),
        quarantine_file=qfile, failed_expectations=tuple(failed), notes=tuple(notes))
    return Ingested(source=src, path=path, label=label, frame=accepted, report=report, extra=extra)


def ingest_all(cfg: Config, validator: Validator, bounds: PeriodBounds, out_dir: Path) -> list[Ingested]:
    results = []
    for index, src in enumerate(cfg.sources):
        paths = expand_paths(cfg, src, index)
        for path in paths:
            src_id = src.id or path.stem
            if src.id and len(paths) > 1:
                src_id = f"{src.id}:{path.name}"
            results.append(ingest_source(cfg, src, src_id, path, validator, bounds, out_dir))
    return results
