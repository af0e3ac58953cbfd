"""What a run produces, before it is written anywhere: the object the PDF, XLSX and summary.json are rendered from.

Report writers (``pipeline/report/*``) take a :class:`Disclosure` and write one file each; they compute
nothing that is not already in it, so the PDF, the XLSX and summary.json can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.config import Config


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str          # e.g. expect_column_values_to_not_be_null
    column: str | None
    unexpected_count: int
    stops_run: bool           # table-level failure that made the run stop


@dataclass(frozen=True)
class InputReport:
    source_id: str
    kind: str                 # focus, slurm_sacct, meter_readings
    path: str                 # as given (relative to the config folder when possible)
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_file: str | None          # path inside the output directory, when rows were quarantined
    failed_expectations: tuple[FailedExpectation, ...] = ()
    notes: tuple[str, ...] = ()          # e.g. "321 non-usage rows (Credit, Tax) kept for completeness"


@dataclass
class Disclosure:
    """Everything the outputs show.

    ledger      activity ledger, columns ``pipeline.canonical.ACTIVITY`` (energy x factor = emissions per row)
    factors     factor rows used: factor_id, zone, basis, value_kg_per_kwh, unit, source, edition,
                data_year, licence, boundary, retrieval_date, url, note
    decisions   one row per contract: contract_id, kind, provider, rule_id, scope, category, explanation
    allocation  per site x month: site_id, month, metered_it_kwh, pue, facility_kwh, jobs_kwh_estimate,
                allocated_kwh, unallocated_kwh, allocation_key
    data_quality  dict: unestimated billing rows (by reason, with cost), defaults used with their share
    summary     the summary.json document (see pipeline.report.summary)
    """

    config: Config
    run_id: str
    config_sha256: str
    code_version: str
    factor_library_version: str
    ledger: pd.DataFrame
    factors: pd.DataFrame
    decisions: pd.DataFrame
    allocation: pd.DataFrame
    inputs: list[InputReport]
    data_quality: dict
    summary: dict = field(default_factory=dict)
    energy_mix: dict = field(default_factory=dict)   # E1-5 fossil / nuclear / renewable (pipeline.energy.mix)
    projections: list = field(default_factory=list)  # ModelProjection.to_dict() per model: projections, never netted
    methodology: list[tuple[str, str]] = field(default_factory=list)   # (heading, paragraph)
