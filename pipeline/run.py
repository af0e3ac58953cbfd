"""The pipeline, stage by stage: ingest -> validate -> energy -> classify -> emissions -> outputs.

``run(config, out_dir)`` is the library entry point (the CLI is a thin layer over it). Outputs are written
into a staging directory next to ``out_dir`` and moved into place only when complete, so a failed or killed
run never leaves a half-written pack that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import __version__
from pipeline.activities import assign_contracts, cloud_slices, site_slices
from pipeline.classify.scope import classify
from pipeline.comparison import compare
from pipeline.config import Config
from pipeline.csv_output import write_csv
from pipeline.emissions import provider_reported
from pipeline.emissions import hourly_scope2, value_chain
from pipeline.emissions.calculate import apply_factors, renumber
from pipeline.emissions.capital_goods import category2
from pipeline.emissions.factors import location_factor
from pipeline.emissions.upstream import category3
from pipeline.emissions.embodied import embodied_kg
from pipeline.energy import cloud as cloud_energy
from pipeline.energy import meters as meters_energy
from pipeline.energy.mix import energy_mix
from pipeline.energy import site as site_energy
from pipeline.energy.site_telemetry import TelemetryStream
from pipeline.errors import ValidationFailed
from pipeline.flags import defaults_shares
from pipeline.evidence import load_library
from pipeline.ingest import Ingested, expand_paths, ingest_all
from pipeline.ingest_workers import start_pool
from pipeline.log import log_event
from pipeline.safe_output import check_target, new_stage, output_lock, publish, remove_stale_staging
from pipeline.sources._text import sha256_files
from pipeline.period import bounds as period_bounds
from pipeline.report.methodology import methodology
from pipeline.report.summary import build_summary, json_safe
from pipeline.result import Disclosure
from pipeline.validate.great_expectations import Validator, collected_runs


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    pdf: Path
    xlsx: Path
    summary: dict
    disclosure: Disclosure | None     # None when the run was a no-op (unchanged)
    unchanged: bool = False           # out_dir already held this very run; nothing was written


def _config_sha(cfg: Config) -> str:
    if cfg.config_path and Path(cfg.config_path).is_file():
        return hashlib.sha256(Path(cfg.config_path).read_bytes()).hexdigest()
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()


def compute(cfg: Config, work_dir: Path, *, previous: Path | None = None, pool=None
            ) -> tuple[Disclosure, list[Ingested], Validator, dict]:
    """Runs every stage and returns the Disclosure (nothing is rendered yet). Quarantine files and the
    GX project are written under ``work_dir``. ``pool``: worker processes to read input files in
    (``pipeline.ingest_workers.start_pool``; else started here when ``cfg.workers`` asks for them)."""
    lib = load_library()
    bounds = period_bounds(cfg)
    validator = Validator(work_dir / "validation")
    log_event("start", config=str(cfg.config_path or ""), period=cfg.period.label, sources=len(cfg.sources))
    # GPU telemetry is reduced file by file as it is read (TelemetryStream), which needs the site's scheduler
    # jobs: power files are read after the other sources, each into its site's stream
    site_jobs = _SiteJobs(bounds)
    streams: dict[str, TelemetryStream] = {}

    def power_sink(src, src_id: str, done: list[Ingested]):
        if src.site not in streams:
            streams[src.site] = TelemetryStream(site_jobs.get(src.site, done)[0], cfg.entity.timezone)
        return lambda: _StreamSink(streams[src.site], src.max_gap_s, src.id or str(src.path))

    ingested = ingest_all(cfg, validator, bounds, work_dir, group_usage=True, power_sink=power_sink,
                          workers=cfg.workers, pool=pool)
    for ing in ingested:
        r = ing.report
        log_event("ingested", source=r.source_id, kind=r.kind, rows_read=r.rows_read, rows_accepted=r.rows_accepted,
                  rows_quarantined=r.rows_quarantined)
    months = cfg.period.months()
    decisions = {c.id: classify(c, cfg.entity.consolidation_approach) for c in cfg.contracts}

    # --- cloud billing -> estimated energy -> slices
    usage_frames = []
    for ing in ingested:
        if ing.family == "usage":
            f = ing.frame.copy()
            f["contract_id"] = assign_contracts(f, cfg, ing.source.contracts, ing.label)
            if "row_map" in ing.extra:
                f["row_map_file"] = str(ing.extra["row_map"])
                f["row_map"] = Path(ing.extra["row_map"]).relative_to(work_dir).as_posix()
            usage_frames.append(f)
    slices, unestimated, completeness, embodied = [], [], [], {}
    if usage_frames:
        usage = pd.concat(usage_frames, ignore_index=True)
        est = cloud_energy.estimate(usage, {c.id: c for c in cfg.contracts}, lib)
        cs, unestimated, completeness = cloud_slices(est, cfg, lib, decisions)
        embodied = embodied_kg(est, lib, {c.id for c in cfg.contracts if c.embodied_emissions})
        if not cs.empty:
            slices.append(cs)

    # --- sites: meters + jobs -> allocated slices
    board = {str(m).upper(): w for m, w in zip(lib.accelerators["accelerator_model"], lib.accelerators["board_power_w"])
             if pd.notna(w)}
    alloc_tables, job_keys_all, meter_gaps, telemetry_reports, codecarbon_nesting = [], [], [], [], []
    site_meter_rows: dict[str, pd.DataFrame] = {}
    for site in cfg.sites:
        contract = cfg.contract_for_site(site.id)
        meters = [i for i in ingested if i.family == "meter" and i.source.site == site.id]
        jobs = [i for i in ingested if i.family == "job" and i.source.site == site.id]
        has_power = any(i.family == "power" and i.source.site == site.id for i in ingested)
        if contract is None or (not meters and not jobs and not has_power):
            continue
        meter_rows = None
        if meters:
            mframe = pd.concat([m.frame for m in meters], ignore_index=True)
            gaps, fills = meters_energy.check_meter_coverage(mframe, site, bounds, ", ".join(m.label for m in meters))
            meter_gaps += gaps
            if not fills.empty:
                mframe = pd.concat([mframe, fills.astype({"source_row": "int64"})], ignore_index=True)
            meter_rows = meters_energy.meter_months(mframe, site, bounds)
            site_meter_rows[site.id] = meter_rows
        jframe, codecarbon_kwh, cc_matches = site_jobs.get(site.id, ingested)
        codecarbon_nesting += [{"site": site.id, **m} for m in cc_matches]
        telemetry_kwh, tele = {}, {}
        if site.id in streams:
            telemetry_kwh, tele = streams[site.id].result()
            telemetry_reports.append({"site": site.id, **{k: v for k, v in tele.items()
                                                           if k not in ("months", "workloads", "job_sources")},
                                      "kubernetes_workloads": len(tele["workloads"])})
        keys = site_energy.job_month_keys(
            jframe if jframe is not None else pd.DataFrame(columns=["start_utc", "job_id"]), bounds, board,
            cfg.phase_rules, cfg.project_rule.slurm if jframe is not None else "none", telemetry_kwh,
            codecarbon_kwh, tele.get("workloads"), cfg.project_rule.label, tele.get("job_sources"))
        keys.insert(0, "site_id", site.id)
        job_keys_all.append(keys)
        sl, alloc = site_energy.allocate(site, months, meter_rows, keys, tele.get("months"))
        alloc_tables.append(alloc)
        if not sl.empty:
            slices.append(site_slices(sl, cfg, contract.id, decisions))

    if not slices:
        raise ValidationFailed("no activity with energy was found in the inputs for the period",
                               fix="check the sources and the period in the config")
    all_slices = pd.concat(slices, ignore_index=True)
    log_event("energy", activity_slices=len(all_slices))
    ledger, factors, instruments = apply_factors(all_slices, cfg, lib)

    # --- provider-reported carbon (primary data) replaces the estimate of its account-months
    carbon_frames = []
    for ing in ingested:
        if ing.family == "provider_carbon":
            f = ing.frame.copy()
            f["contract_id"] = assign_contracts(f, cfg, ing.source.contracts, ing.label)
            carbon_frames.append(f)
    carbon = pd.concat(carbon_frames, ignore_index=True) if carbon_frames else pd.DataFrame()
    ledger, pseudo, reconciliation, primary = provider_reported.apply(ledger, carbon, cfg)
    if pseudo:
        factors = pd.concat([factors, pd.DataFrame(pseudo)], ignore_index=True).sort_values("factor_id").reset_index(drop=True)
    ledger, vc_factors, scope3_categories = _value_chain(ledger, ingested, cfg, lib)
    if vc_factors:
        factors = (pd.concat([factors, pd.DataFrame(vc_factors)], ignore_index=True)
                   .drop_duplicates("factor_id").sort_values("factor_id").reset_index(drop=True))
    ledger = renumber(ledger)
    scope2_hourly = _hourly(cfg, lib, ledger, ingested, site_meter_rows, bounds)

    decisions_df = pd.DataFrame([
        {"contract_id": c.id, "kind": c.kind, "provider": c.provider, "rule_id": decisions[c.id].rule_id,
         "scope": decisions[c.id].scope, "category": decisions[c.id].category,
         "explanation": decisions[c.id].explanation} for c in cfg.contracts])
    allocation = pd.concat(alloc_tables, ignore_index=True) if alloc_tables else pd.DataFrame()
    config_sha = _config_sha(cfg)
    run_id = run_id_for(cfg, lib.version, [i.report.sha256 for i in ingested])
    defaults = defaults_shares(ledger)
    data_quality = {
        "billing_completeness": completeness,
        "unestimated_billing": unestimated,
        "provider_reconciliation": reconciliation.to_dict("records") if not reconciliation.empty else [],
        "scope3_primary_data": primary,
        "scope3_categories_2_and_3": scope3_categories,
        "scope2_hourly": scope2_hourly,
        "embodied_cloud_hardware": embodied,
        "defaults_used": defaults,
        "meter_gaps": meter_gaps,
        "gpu_telemetry": telemetry_reports,
        "codecarbon_runs_in_slurm_jobs": codecarbon_nesting,
        "certificates": instruments,
        "input_notes": [{"source": i.report.source_id, "note": n} for i in ingested for n in i.report.notes],
    }
    d = Disclosure(config=cfg, run_id=run_id, config_sha256=config_sha, code_version=__version__,
                   factor_library_version=lib.version, ledger=ledger, factors=factors, decisions=decisions_df,
                   allocation=allocation, inputs=[i.report for i in ingested], data_quality=data_quality)
    d.energy_mix = energy_mix(ledger, cfg, lib.grid_mix)
    job_keys = pd.concat(job_keys_all, ignore_index=True) if job_keys_all else pd.DataFrame()
    d.projections = _projections(cfg, lib, ledger, job_keys)
    d.methodology = methodology(d, lib)
    d.summary = build_summary(d)
    if previous is not None:
        d.summary["comparison"] = compare(
            previous, d.summary, inputs=[{"source": i.report.source_id, "sha256": i.report.sha256} for i in ingested],
            factors={str(r.factor_id): float(r.value_kg_per_kwh) for r in d.factors.itertuples(index=False)},
            code_version=__version__, factor_library_version=lib.version, config_sha256=config_sha)
    extras = {"job_keys": job_keys}
    return d, ingested, validator, extras


def _projections(cfg: Config, lib, ledger: pd.DataFrame, job_keys: pd.DataFrame) -> list[dict]:
    """Scenario projections per model (expected reductions; never netted from the inventory)."""
    from pipeline.scenarios import (build_projection, measured_intensity, measured_per_model, read_request_counts,
                                    select_training)

    pj = cfg.projections
    if not pj.models:
        return []
    year = cfg.period.end.year
    zones = {s.grid_zone for m in pj.models for s in m.scenarios if s.grid_zone}
    zones |= {m.seed_check.grid_zone for m in pj.models if m.seed_check is not None and m.seed_check.grid_zone}
    zone_factors = {}
    for z in sorted(zones):
        choice = location_factor(z, year, lib.grid, cfg.factor_overrides)
        if choice is None:
            raise ValidationFailed(f"projections: no location-based factor for grid zone '{z}'",
                                   file=str(cfg.config_path or ""),
                                   fix="use a zone of the factor library, or give grid_factor_kg_per_kwh with its source")
        zone_factors[z] = (choice.kg_per_kwh, choice.id)
    # the projection compares electricity emissions (Scope 2 / cloud Cat. 1 at grid factors): Category 2 (hardware
    # bought) and Category 3 (upstream of the electricity) rows are not part of the training or inference figures
    ledger = ledger[~ledger["rule_id"].isin([value_chain.RULE_CAT2, value_chain.RULE_CAT3])]
    measured = None
    if pj.request_counts:
        req = read_request_counts(cfg.resolve(pj.request_counts))
        measured = measured_per_model(measured_intensity(req, ledger))
    out = []
    keys = job_keys if len(job_keys) else None
    for m in pj.models:
        proj = build_projection(m, ledger, job_keys=keys, measured_by_model=measured,
                                zone_factors=zone_factors).to_dict()
        rows = select_training(ledger, m.training_link, model=m.model, job_keys=keys).rows
        col = "emissions_lb_kg_co2e" if m.emissions_basis == "location" else "emissions_mb_kg_co2e"
        by_month = (rows[col] * rows["share"]).groupby(rows["month"]).sum()
        # the quarter's measured training emissions per month (the spike), for the chart and the table
        proj["training_by_month_kg_co2e"] = {str(k): float(v) for k, v in by_month.sort_index().items()}
        out.append(proj)
    return out


def _hourly(cfg: Config, lib, ledger: pd.DataFrame, ingested: list[Ingested], site_meter_rows: dict,
            bounds) -> dict:
    """Hourly Scope 2 beside the annual figures, when hourly intensities or instrument generation are given."""
    intensity = [i.frame for i in ingested if i.family == "grid_intensity"]
    generation = [i.frame for i in ingested if i.family == "instrument_hourly"]
    if not intensity and not generation:
        return {}
    energy_h = hourly_scope2.site_hourly_energy(site_meter_rows, bounds)
    s2 = ledger[ledger["scope"] == "2"]
    annual_mb = {str(k): float(v) for k, v in s2.groupby("site_or_region")["emissions_mb_kg_co2e"].sum().items()}
    return hourly_scope2.hourly_scope2(
        cfg, lib, energy_h, pd.concat(intensity, ignore_index=True) if intensity else None,
        pd.concat(generation, ignore_index=True) if generation else None, annual_mb, bounds)


def _value_chain(ledger: pd.DataFrame, ingested: list[Ingested], cfg: Config, lib) -> tuple[pd.DataFrame, list[dict], dict]:
    """Scope 3 Cat. 3 (upstream of the Scope 2 electricity) and Cat. 2 (assets bought in the period) as ledger
    rows, each included or excluded by config with the reason reported."""
    year = cfg.period.end.year
    parts, factor_rows, report = [ledger], [], {}
    sw3 = cfg.scope3.category3
    if sw3.include:
        elec = value_chain.scope2_electricity(ledger)
        gen = {}
        for z in elec["grid_zone"].unique():
            choice = location_factor(z, year, lib.grid, cfg.factor_overrides)
            if choice is not None and choice.row.get("boundary") == "generation":
                gen[z] = choice
        cat3 = category3(elec, lib.upstream, reporting_year=year, generation=gen,
                         lifecycle_zones=value_chain.lifecycle_zones(ledger))
        rows, frows = value_chain.category3_ledger_rows(cat3)
        parts.append(rows)
        factor_rows += frows
        r = cat3.rows
        report["category3"] = {
            "included": True, "tco2e": cat3.total_kg_co2e / 1000.0,
            "upstream_of_generation_3b_tco2e": float(r.get("wtt_generation_kg_co2e", pd.Series(dtype=float)).fillna(0).sum()) / 1000.0,
            "td_losses_3c_tco2e": float((r.get("td_losses_kg_co2e", pd.Series(dtype=float)).fillna(0)
                                         + r.get("wtt_td_losses_kg_co2e", pd.Series(dtype=float)).fillna(0)).sum()) / 1000.0,
            "combined_3b_3c_tco2e": float(r.get("upstream_combined_kg_co2e", pd.Series(dtype=float)).fillna(0).sum()) / 1000.0,
            "scope2_mwh_covered": float(r["energy_kwh"].sum()) / 1000.0 if len(r) else 0.0,
            "scope2_mwh_not_estimated": cat3.kwh_not_estimated / 1000.0,
            "not_estimated": cat3.not_estimated.to_dict("records"),
            "zones_with_lifecycle_scope2": sorted(value_chain.lifecycle_zones(ledger)),
        }
    else:
        report["category3"] = {"included": False, "exclude_reason": sw3.exclude_reason}
    sw2 = cfg.scope3.category2
    asset_frames = [i.frame for i in ingested if i.family == "asset"]
    if not sw2.include:
        report["category2"] = {"included": False, "exclude_reason": sw2.exclude_reason,
                               "asset_registers_read": len(asset_frames)}
    elif not asset_frames:
        report["category2"] = {"included": False, "exclude_reason": "no asset register among the sources: hardware "
                               "bought in the period is not reported (add an asset_register source, or set "
                               "scope3.category2.include: false with the reason)"}
    else:
        cat2 = category2(pd.concat(asset_frames, ignore_index=True), cfg.period.start, cfg.period.end)
        site_contract = {c.site: c.id for c in cfg.contracts if c.site}
        rows, frows = value_chain.category2_ledger_rows(cat2, lambda d: f"{d:%Y-%m}", site_contract)
        parts.append(rows)
        factor_rows += frows
        report["category2"] = {
            "included": True, "tco2e": cat2.total_kg_co2e / 1000.0, "assets_in_period": int(len(cat2.rows)),
            "units_acquired": cat2.units_acquired, "assets_outside_period": int(len(cat2.outside)),
            "method": "full cradle-to-gate emissions in the period of acquisition (not depreciated)",
            "factor_sources": sorted(set(cat2.rows["factor_source"].dropna().astype(str))),
        }
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else ledger, factor_rows, report


def _write_outputs(d: Disclosure, stage: Path, extras: dict, validator: Validator) -> None:
    log_event("emissions", ledger_rows=len(d.ledger), run_id=d.run_id)
    from pipeline.report.index import write_index
    from pipeline.report.pdf import write_pdf
    from pipeline.report.xlsx import write_xlsx

    write_csv(d.ledger, stage / "ledger.csv")
    write_csv(d.factors, stage / "factors_used.csv")
    write_csv(d.decisions, stage / "classification_decisions.csv")
    if not d.allocation.empty:
        write_csv(d.allocation, stage / "site_allocation.csv")
    if not extras["job_keys"].empty:
        write_csv(extras["job_keys"], stage / "job_allocation_keys.csv")
    (stage / "summary.json").write_text(json.dumps(json_safe(d.summary), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (stage / "methodology.md").write_text(
        "\n\n".join(f"## {h}\n\n{t}" for h, t in d.methodology) + "\n", encoding="utf-8")
    if d.config.config_path and Path(d.config.config_path).is_file():
        (stage / "config").mkdir(exist_ok=True)
        shutil.copy2(d.config.config_path, stage / "config" / Path(d.config.config_path).name)
    validator.build_data_docs()
    write_xlsx(d, stage / "disclosure.xlsx")
    write_pdf(d, stage / "disclosure.pdf", attachments=[
        ("summary.json", (stage / "summary.json").read_bytes(), "Machine-readable result of this run"),
        ("disclosure.xlsx", (stage / "disclosure.xlsx").read_bytes(), "Workbook with live formulas over the ledger")])
    write_index(d, stage)
    _write_manifest(d, stage)


def _write_manifest(d: Disclosure, stage: Path) -> None:
    import importlib.metadata as md

    files = []
    for p in sorted(stage.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            files.append({"path": p.relative_to(stage).as_posix(),
                          "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size})
    pkgs = {}
    for name in ("pandas", "pyarrow", "great-expectations", "weasyprint", "openpyxl", "pydantic", "jinja2"):
        try:
            pkgs[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    manifest = {
        "run_id": d.run_id,
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "code_version": d.code_version,
        "factor_library_version": d.factor_library_version,
        "config_sha256": d.config_sha256,
        "period": {"start": d.config.period.start.isoformat(), "end": d.config.period.end.isoformat(),
                   "label": d.config.period.label},
        "python": platform.python_version(),
        "packages": pkgs,
        "inputs": [{"source": i.source_id, "kind": i.kind, "path": i.path, "sha256": i.sha256,
                    "rows_read": i.rows_read, "rows_accepted": i.rows_accepted,
                    "rows_quarantined": i.rows_quarantined} for i in d.inputs],
        "files": files,
    }
    (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def input_fingerprint(cfg: Config) -> list[str]:
    """SHA-256 of every input file, in the order ingest reads them (cheap next to parsing)."""
    return sha256_files([p for i, src in enumerate(cfg.sources) for p in expand_paths(cfg, src, i)])


class _SiteJobs:
    """A site's scheduler jobs (Slurm, plus CodeCarbon runs inside no Slurm job), built once from the ingested
    job sources: the telemetry stream and the allocation must see the same frame."""

    def __init__(self, bounds) -> None:
        self.bounds = bounds
        self._done: dict[str, tuple] = {}

    def get(self, site_id: str, ingested: list[Ingested]) -> tuple[pd.DataFrame | None, dict, list]:
        if site_id not in self._done:
            jobs = [i for i in ingested if i.family == "job" and i.source.site == site_id]
            slurm = [j.frame for j in jobs if j.kind != "codecarbon"]
            runs = [j.frame for j in jobs if j.kind == "codecarbon"]
            jframe = pd.concat(slurm, ignore_index=True) if slurm else None
            codecarbon_kwh, matches = {}, []
            if runs:
                standalone, codecarbon_kwh, matches = site_energy.nest_codecarbon(
                    jframe, pd.concat(runs, ignore_index=True), self.bounds)
                if len(standalone):
                    jframe = standalone if jframe is None else pd.concat([jframe, standalone], ignore_index=True)
            self._done[site_id] = (jframe, codecarbon_kwh, matches)
        return self._done[site_id]


class _StreamSink:
    """Ingest sink of a power file: its accepted samples go to the site's TelemetryStream, none are kept."""

    def __init__(self, stream: TelemetryStream, max_gap_s: float, key: str) -> None:
        self.stream, self.max_gap_s, self.key = stream, max_gap_s, key

    def add(self, chunk: pd.DataFrame) -> None:
        self.stream.add(chunk, self.max_gap_s, self.key)

    def frame(self, template: pd.DataFrame) -> pd.DataFrame:
        return template


def run_id_for(cfg: Config, factor_library_version: str, input_sha256: list[str]) -> str:
    """The config file's bytes AND the validated config (a --period override changes the run), the code and
    factor-library versions and every input's SHA-256."""
    effective = hashlib.sha256(cfg.model_dump_json(exclude={"workers"}).encode()).hexdigest()   # same results
    return hashlib.sha256("|".join([_config_sha(cfg), effective, __version__, factor_library_version]
                                   + list(input_sha256)).encode()).hexdigest()[:16]


def run(cfg: Config, out_dir: Path, *, force: bool = False, copy_inputs: bool = False,
        previous: Path | None = None) -> RunResult:
    """Run the disclosure and write the pack to ``out_dir`` safely (see ``pipeline.safe_output``).

    ``copy_inputs``: also copy every input file into ``inputs/`` of the pack. ``previous``: a previous pack
    to compare with (period-over-period change, or a restatement when it covers the same period).
    Returns ``RunResult(unchanged=True)`` without doing any work when ``out_dir`` already holds this run."""
    out_dir = Path(out_dir).resolve()
    with output_lock(out_dir):
        remove_stale_staging(out_dir)
        # worker processes start first: their start-up overlaps the fingerprint and the GX context below
        pool = start_pool(cfg)
        ok = False
        try:
            expected = run_id_for(cfg, load_library().version, input_fingerprint(cfg))
            if check_target(out_dir, expected, force):
                summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
                log_event("unchanged", run_id=expected, out=str(out_dir))
                return RunResult(out_dir=out_dir, pdf=out_dir / "disclosure.pdf", xlsx=out_dir / "disclosure.xlsx",
                                 summary=summary, disclosure=None, unchanged=True)
            stage = new_stage(out_dir)
            try:
                with collected_runs():
                    d, ingested, validator, extras = compute(cfg, stage, previous=previous, pool=pool)
                    if pool is not None:
                        pool.close(True)        # their work is done: their memory is not kept while rendering
                        pool = None
                    if copy_inputs:
                        _copy_inputs(ingested, stage)
                    _write_outputs(d, stage, extras, validator)
                publish(stage, out_dir)
                ok = True
            finally:
                if stage.exists():
                    shutil.rmtree(stage, ignore_errors=True)
        finally:
            if pool is not None:
                pool.close(ok)
    log_event("written", run_id=d.run_id, out=str(out_dir))
    return RunResult(out_dir=out_dir, pdf=out_dir / "disclosure.pdf", xlsx=out_dir / "disclosure.xlsx",
                     summary=d.summary, disclosure=d)


def _copy_inputs(ingested: list[Ingested], stage: Path) -> None:
    """inputs/<label> for every input (labels are relative to the config folder; others by file name)."""
    for ing in ingested:
        rel = Path(ing.label)
        rel = rel if not rel.is_absolute() and ".." not in rel.parts else Path(ing.path.name)
        dest = stage / "inputs" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ing.path, dest)
