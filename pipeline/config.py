"""The one validated configuration object (``disclosure.yaml``), built at the edge and passed down.

Unknown keys and bad values are errors that name the file, the key path and the fix.
The JSON Schema in ``schemas/disclosure.schema.json`` is generated from these models
(``carbon-disclosure schema --write``) and a test keeps it in sync.

Decisions written down here (and in docs/methodology.md):
- The reporting period's end date is **inclusive**: ``2026-Q3`` is 2026-07-01 .. 2026-09-30, i.e. every
  instant from 2026-07-01T00:00 to 2026-10-01T00:00 (exclusive) in the entity's time zone.
- Relative paths in the config are relative to the config file's folder.
- A config loaded from a file reads its sources only from inside that folder (after following symlinks):
  a path or glob that leads elsewhere (``../../etc/passwd``, ``/home/x/bill.csv``, a symlink to ``/etc``) is
  refused, since its files are read, quoted in quarantine files and may be copied into the evidence pack.
  ``allow_paths_outside_config: true`` lifts this. A config built in code (``config_from_dict`` without
  ``file``) has no config folder and is not confined.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError
from pipeline.scenarios.models import Projections
from pipeline.strict_model import StrictModel

PHASES = ("training", "fine_tuning", "inference", "evaluation")


_Strict = StrictModel


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone '{value}' (use e.g. 'Europe/Berlin' or 'UTC')") from exc
    return value


class Entity(_Strict):
    name: str = Field(min_length=1, description="Legal name of the reporting undertaking.")
    consolidation_approach: Literal["operational_control", "financial_control"] = Field(
        description="GHG Protocol consolidation approach; decides Scope 2 vs Scope 3 Cat 8 for colocation.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 reporting currency, e.g. EUR.")
    timezone: str = Field("UTC", description="IANA zone in which the reporting period's days are counted.")

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _check_zone(v)))


class Period(_Strict):
    """Reporting period; ``end`` is inclusive (the last day reported)."""

    start: dt.date
    end: dt.date = Field(description="Last day of the period, inclusive.")

    @model_validator(mode="after")
    def _order(self) -> "Period":
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before start {self.start}")
        return self

    @property
    def label(self) -> str:
        q = (self.start.month - 1) // 3 + 1
        if (self.start.month - 1) % 3 == 0 and self.start.day == 1 and self.end == _quarter_end(self.start.year, q):
            return f"{self.start.year}-Q{q}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


def _quarter_end(year: int, q: int) -> dt.date:
    month = q * 3
    nxt = dt.date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse_period(value: object) -> object:
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{4})-Q([1-4])", value.strip())
        if not m:
            raise ValueError(f"period '{value}' is not of the form 2026-Q3; or give start and end dates")
        year, q = int(m.group(1)), int(m.group(2))
        return {"start": dt.date(year, (q - 1) * 3 + 1, 1), "end": _quarter_end(year, q)}
    return value


class Certificate(_Strict):
    """An energy attribute certificate (GO, REC, I-REC) or PPA volume claimed against a contract's site."""

    id: str = Field(description="Registry id or contract reference of the instrument.")
    type: Literal["GO", "REC", "I-REC", "PPA", "green_tariff"]
    mwh: float = Field(gt=0, description="Volume in MWh.")
    market: str = Field(description="Market / grid zone the instrument was issued in (e.g. GB, DE, US-SRVC).")
    vintage_year: int = Field(description="Year of the generation the instrument certifies.")
    bundled: bool = Field(False, description="Bought together with the electricity (bundled) or separately.")
    retired: bool = Field(True, description="Retired / cancelled on the company's behalf.")
    factor_kg_per_kwh: float = Field(0.0, ge=0, description="Emission rate the instrument conveys (0 for renewables).")
    hourly: bool = Field(False, description="Its hourly generation is supplied (certificate_generation_hourly source, instrument_id = this id): "
                                            "market-based Scope 2 is also computed hour by hour against it.")


class Contract(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["cloud", "colocation", "owned"]
    provider: str = Field(min_length=1, description="Cloud provider (aws, gcp, azure, oracle) or facility operator.")
    billing_accounts: list[str] = Field(default_factory=list,
                                        description="Cloud only: billing / sub-account ids on this contract; empty = all of the provider's rows.")
    site: str | None = Field(None, description="Colocation / owned: the site this contract covers.")
    electricity_purchaser: Literal["company", "provider"] = Field(
        "company", description="Who contracts (or is metered for) the electricity: the company, or the provider bundling it in the fee.")
    lease: Literal["operating", "finance", "none"] = Field(
        "operating", description="Colocation: lease type of the space / racks (financial-control boundary).")
    pue: float | None = Field(None, ge=1.0, le=3.0, description="Power usage effectiveness; cloud defaults to the provider's published PUE.")
    utilisation: float | None = Field(None, gt=0, le=1, description="Cloud: average CPU utilisation assumed (default 0.5, flagged).")
    gpu_utilisation: float | None = Field(None, gt=0, le=1, description="Cloud: average accelerator utilisation (default: utilisation).")
    energy_profile: Literal["default", "ccf-compatible"] = Field(
        "default", description="Cloud energy model: default, or ccf-compatible (memory above CCF's per-processor baseline, to compare with Cloud Carbon Footprint).")
    embodied_emissions: bool = Field(
        False, description="Cloud: also estimate the embodied emissions of the hardware used (SCI method), reported separately, not in the totals.")
    provider_carbon_basis: Literal["market", "location"] = Field(
        "market", description="Cloud: which basis of the provider's reported carbon is the Scope 3 Cat 1 figure.")
    supplier_factor_kg_per_kwh: float | None = Field(None, ge=0, description="Supplier-specific emission rate (market-based).")
    supplier_factor_source: str | None = Field(None, description="Where the supplier-specific rate comes from (required with the rate).")
    certificates: list[Certificate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Contract":
        if self.kind == "cloud":
            if self.site:
                raise ValueError("a cloud contract has no 'site'; remove it or use kind colocation/owned")
        else:
            if not self.site:
                raise ValueError(f"a {self.kind} contract needs 'site': the id of the site it covers")
        if self.supplier_factor_kg_per_kwh is not None and not self.supplier_factor_source:
            raise ValueError("supplier_factor_kg_per_kwh needs supplier_factor_source (the document it comes from)")
        return self


class Meter(_Strict):
    id: str
    measures: Literal["it_load", "facility"] = Field(
        "it_load", description="it_load: the contract's PUE is applied; facility: the reading already includes overhead.")
    gap_fill: Literal["none", "neighbour_average"] = Field(
        "none", description="Missing intervals: 'none' adds no energy for them (reported); 'neighbour_average' fills "
                            "each gap with the average power of the intervals either side (reported and flagged meter_gap_filled).")


class Site(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str | None = None
    grid_zone: str = Field(description="Grid zone for location-based factors (e.g. GB, DE, US-SRVC).")
    timezone: str = Field("UTC", description="IANA zone of the site's clocks (Slurm times have no zone).")
    pue: float = Field(ge=1.0, le=3.0, description="Facility PUE applied to IT-load meters.")
    pue_source: str = Field("operator statement", description="Where the PUE comes from.")
    meters: list[Meter] = Field(default_factory=list)
    intensity_zone: str | None = Field(None, description="Zone id of the site in the hourly intensity file (e.g. an Electricity Maps zone); default: grid_zone.")
    gpu_model: str | None = Field(None, description="Accelerator model (hardware catalogue name, e.g. H100-SXM) of jobs whose AllocTRES has no typed GPU.")
    gres_gpu_types: dict[str, str] = Field(
        default_factory=dict,
        description="Slurm typed GPU names -> hardware catalogue models, e.g. {h100: H100-SXM}; a typed name not listed is kept as it is (and flagged if unknown).")

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _check_zone(v)))


BILLING_KINDS = ("focus", "aws_cur", "gcp_billing", "azure_cost", "oci_cost")
CARBON_KINDS = ("aws_carbon", "gcp_carbon", "azure_carbon")
SITE_KINDS = ("slurm_sacct", "codecarbon", "meter_readings", "nvidia_smi", "dcgm", "kepler")
SourceKind = Literal["auto", "focus", "aws_cur", "gcp_billing", "azure_cost", "oci_cost", "aws_carbon", "gcp_carbon", "azure_carbon",
                     "slurm_sacct", "codecarbon", "meter_readings", "nvidia_smi", "dcgm", "kepler", "asset_register",
                     "grid_intensity_hourly", "certificate_generation_hourly"]


class Source(_Strict):
    id: str | None = Field(None, description="Name used in the report (defaults to the file name).")
    kind: SourceKind = Field(description="Input format; 'auto' recognises it from the file's header and says which it picked.")
    path: str = Field(description="File path or glob, relative to the config file.")
    contracts: list[str] = Field(default_factory=list, description="Billing: contracts whose rows this file holds.")
    site: str | None = Field(None, description="Slurm / meters: the site the jobs ran at or the meters belong to.")
    interval_minutes: int = Field(60, gt=0, le=1440,
                                  description="Meter readings: interval length; 'timestamp' marks the interval start.")
    reading_kind: Literal["interval", "cumulative"] = Field(
        "interval", description="Meter readings: 'interval' energy per interval, or 'cumulative' register readings.")
    rollover_kwh: float | None = Field(None, gt=0, description="Cumulative registers: the value at which the register rolls over to 0.")
    gpu_model: str | None = Field(None, description="Slurm: accelerator model when AllocTRES gives none.")
    max_gap_s: float = Field(120.0, gt=0, description="Telemetry: longest interval between samples that is integrated; longer ones are reported as gaps.")
    scraped_at: str | None = Field(None, description="Telemetry (Prometheus text without timestamps): when the scrape was taken, ISO 8601 with offset.")
    boundary: Literal["direct", "lifecycle"] | None = Field(
        None, description="Hourly intensity in the plain zone,datetime,carbon_intensity_g_per_kwh layout without a boundary column: "
                          "direct (generation; usable for Scope 2) or lifecycle (never used for Scope 2).")

    @model_validator(mode="after")
    def _needs(self) -> "Source":
        if self.kind in BILLING_KINDS + CARBON_KINDS and not self.contracts:
            raise ValueError("a billing or provider-carbon source needs 'contracts': the cloud contracts its rows belong to")
        if self.kind in SITE_KINDS and not self.site:
            raise ValueError(f"a {self.kind} source needs 'site': the site id it belongs to")
        return self


class PhaseMatch(_Strict):
    job_name: str | None = Field(None, description="Glob on the Slurm job name.")
    account: str | None = Field(None, description="Glob on the Slurm account or billing sub-account.")
    partition: str | None = None
    tags: dict[str, str] = Field(default_factory=dict, description="Cloud tags: key -> glob on the value.")
    namespace: str | None = Field(None, description="Glob on the Kubernetes namespace of GPU telemetry (DCGM / Kepler pod labels).")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes / Prometheus labels of GPU telemetry: key -> glob on the value.")


class PhaseRule(_Strict):
    id: str | None = None
    phase: Literal["training", "fine_tuning", "inference", "evaluation"]
    match: PhaseMatch


class ProjectRule(_Strict):
    tag: str | None = Field("project", description="Cloud tag key holding the project.")
    slurm: Literal["account", "wckey", "none"] = Field("account", description="Slurm field holding the project.")
    label: str | None = Field("project", description="Kubernetes / telemetry label holding the project (workloads seen only in telemetry).")


class FactorOverride(_Strict):
    zone: str
    basis: Literal["location", "residual_mix"]
    value_kg_per_kwh: float = Field(ge=0)
    source: str = Field(min_length=3, description="Citation for the override (required).")
    data_year: int


class CategorySwitch(_Strict):
    include: bool = Field(True, description="Include the category in the inventory.")
    exclude_reason: str | None = Field(None, description="Why the category is excluded (required when include is false; printed in the report).")

    @model_validator(mode="after")
    def _reason(self) -> "CategorySwitch":
        if not self.include and not (self.exclude_reason and len(self.exclude_reason.strip()) >= 10):
            raise ValueError("a category with include: false needs exclude_reason (at least a sentence): "
                             "the report must say why it is left out")
        return self


class Scope3Options(_Strict):
    category2: CategorySwitch = Field(default_factory=CategorySwitch,
                                      description="Cat. 2 capital goods: GPUs / servers bought in the period (asset_register sources).")
    category3: CategorySwitch = Field(default_factory=CategorySwitch,
                                      description="Cat. 3 upstream of Scope 2 electricity: well-to-tank and T&D losses.")


class SparkOptions(_Strict):
    master: str | None = Field(
        None, description="Spark master URL (local[4], spark://host:7077, yarn, k8s://...). Unset: the master given "
                          "by spark-submit --master, else local[2]. Only read when engine is spark; see docs/engines.md.")


class Config(_Strict):
    entity: Entity
    period: Annotated[Period, Field(description="'2026-Q3' or {start, end}; end inclusive.")]
    engine: Literal["pandas", "spark"] = Field(
        "pandas", description="Where billing files (usage family) are read, validated and summed into usage groups: "
                              "pandas (in this process, in chunks) or spark (Apache Spark; pip install "
                              "'carbon-disclosure[spark]' and a Java 17 runtime). Same results; see docs/engines.md.")
    spark: SparkOptions = Field(default_factory=SparkOptions, description="Settings of engine: spark.")
    workers: Literal["auto"] | Annotated[int, Field(ge=0, le=64)] = Field(
        "auto", description="Worker processes that read billing and GPU telemetry files beside the main process "
                            "(0: none). auto: one fewer than the CPUs (at most 4), when those files total 256 MB "
                            "or more. The results are the same with any number; see docs/engines.md.")
    contracts: list[Contract]
    sites: list[Site] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    phase_rules: list[PhaseRule] = Field(default_factory=list)
    project_rule: ProjectRule = Field(default_factory=ProjectRule)
    factor_overrides: list[FactorOverride] = Field(default_factory=list)
    scope3: Scope3Options = Field(default_factory=Scope3Options)
    projections: Projections = Field(default_factory=Projections,
                                       description="Training vs inference scenario projections (expected reductions, never netted).")
    allow_paths_outside_config: bool = Field(
        False, description="Let source paths (after following symlinks) lead outside the config file's folder. "
                           "Off by default: a config then cannot make the run read (and copy into the evidence "
                           "pack) files such as ../../etc/passwd.")

    # set by load_config, not by the user
    base_dir: Path = Field(Path("."), exclude=True, json_schema_extra={"hidden": True})
    config_path: Path | None = Field(None, exclude=True)

    _p = field_validator("period", mode="before")(classmethod(lambda cls, v: parse_period(v)))

    @model_validator(mode="after")
    def _references(self) -> "Config":
        contract_ids = [c.id for c in self.contracts]
        site_ids = [s.id for s in self.sites]
        for what, ids in (("contract", contract_ids), ("site", site_ids)):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} id(s): {', '.join(dup)}")
        for c in self.contracts:
            if c.site and c.site not in site_ids:
                raise ValueError(f"contract '{c.id}' names site '{c.site}', which is not under 'sites' ({_known(site_ids)})")
        for i, s in enumerate(self.sources):
            for cid in s.contracts:
                if cid not in contract_ids:
                    raise ValueError(f"sources[{i}] names contract '{cid}', which is not under 'contracts' ({_known(contract_ids)})")
                if next(c for c in self.contracts if c.id == cid).kind != "cloud":
                    raise ValueError(f"sources[{i}] is billing but contract '{cid}' is not kind 'cloud'")
            if s.site and s.site not in site_ids:
                raise ValueError(f"sources[{i}] names site '{s.site}', which is not under 'sites' ({_known(site_ids)})")
        meter_ids = [m.id for s in self.sites for m in s.meters]
        dup = sorted({i for i in meter_ids if meter_ids.count(i) > 1})
        if dup:
            raise ValueError(f"meter id(s) listed under more than one site: {', '.join(dup)}")
        return self

    # helpers -----------------------------------------------------------------------------------
    def contract(self, cid: str) -> Contract:
        return next(c for c in self.contracts if c.id == cid)

    def site(self, sid: str) -> Site:
        return next(s for s in self.sites if s.id == sid)

    def contract_for_site(self, sid: str) -> Contract | None:
        return next((c for c in self.contracts if c.site == sid), None)

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def check_inside(self, path: Path, *, key: str, given: str) -> None:
        """ConfigError (naming ``key``) unless ``path``, symlinks followed, is inside the config file's folder.
        No check when the config says ``allow_paths_outside_config: true`` or was not loaded from a file."""
        if self.allow_paths_outside_config or self.config_path is None:
            return
        base = self.base_dir.resolve()
        real = Path(path).resolve()
        if real == base or real.is_relative_to(base):
            return
        via = "" if real == Path(path).absolute() else f" (as {real})"
        raise ConfigError(
            f"'{given}' leads to {path}{via}, outside the config file's folder {base}", file=str(self.config_path),
            key=key, fix="copy or move the input into the config's folder (or a subfolder) and give a path relative "
                         "to it; if reading it from there is intended, set allow_paths_outside_config: true at the "
                         "top level of the config")


def _known(ids: list[str]) -> str:
    return "known: " + ", ".join(ids) if ids else "none defined"


_FIX_HINTS = {
    "extra_forbidden": "remove the key or check its spelling against schemas/disclosure.schema.json",
    "missing": "add the key",
    "literal_error": "use one of the allowed values",
}


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        hint = _FIX_HINTS.get(err["type"])
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{loc}: {msg}" + (f" ({hint})" if hint else ""))
    return lines


ANSWER_ME = "ANSWER-ME"


def unanswered_keys(value, path: str = "") -> list[str]:
    """Key paths still holding the init placeholder (ANSWER-ME, or [ANSWER-ME] for free-text keys)."""
    if value == ANSWER_ME or value == [ANSWER_ME]:
        return [path or "(top level)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unanswered_keys(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unanswered_keys(v, f"{path}[{i}]")]
    return []


def config_from_dict(data: object, *, file: str = "<config>", base_dir: Path | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of keys (entity, period, contracts, sources, ...)",
                          file=file, fix="start from examples/demo/disclosure.yaml")
    open_questions = unanswered_keys(data)
    if open_questions:
        raise ConfigError("unanswered question(s) left by `carbon-disclosure init`:\n  - " + "\n  - ".join(open_questions),
                          file=file, fix="replace each ANSWER-ME with your answer (see the # QUESTION: comment beside it)")
    try:
        cfg = Config.model_validate({**data, "base_dir": base_dir or Path("."),
                                     "config_path": Path(file) if file != "<config>" else None})
    except ValidationError as exc:
        problems = _format_errors(exc)
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems), file=file,
                          fix="correct the keys listed above; the schema is schemas/disclosure.schema.json") from None
    return cfg


def load_config(path: str | Path, *, period: str | None = None) -> Config:
    """Read and validate a config file. ``period`` (a quarter such as '2026-Q4') replaces the file's period, so
    one config serves every quarter of a scheduler; the run id then differs per quarter."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", file=str(path),
                          fix="pass the path of your disclosure.yaml (see examples/demo/disclosure.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("config file is not UTF-8 text", file=str(path), fix="save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          row=(mark.line + 1) if mark else None,
                          fix="check indentation and quoting at that line") from None
    if period is not None and isinstance(data, dict):
        data = {**data, "period": period}
    return config_from_dict(data, file=str(path), base_dir=path.resolve().parent)


def json_schema() -> dict:
    schema = Config.model_json_schema(mode="validation")
    props = schema.get("properties", {})
    props.pop("base_dir", None)
    props.pop("config_path", None)
    # the period also accepts the short form "2026-Q3" (parsed before validation)
    props["period"] = {"anyOf": [{"type": "string", "pattern": r"^\d{4}-Q[1-4]$"}, {"$ref": "#/$defs/Period"}],
                       "description": props["period"].get("description", "")}
    schema["title"] = "carbon-disclosure configuration (disclosure.yaml)"
    return schema
