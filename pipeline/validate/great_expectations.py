"""Runs the Great Expectations suites kept in ``schemas/expectations/`` on each source.

Two suites per source kind:
- ``<kind>.header`` on the raw file (required columns). Any failure stops the run.
- ``<kind>.rows`` on the canonical frame. Each failing row is quarantined with the expectation that failed
  and the human-readable reason stored in the expectation's ``meta.reason``.

A file-backed GX project is created inside the run's working directory, so the expectation suites,
validation results and the generated Data Docs all go into the evidence pack.
"""

from __future__ import annotations

import gc
import json
import keyword
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.result import FailedExpectation

SUITES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "expectations"


@dataclass
class SuiteOutcome:
    success: bool
    failed: list[FailedExpectation] = field(default_factory=list)
    row_reasons: dict[object, list[tuple[str, str]]] = field(default_factory=dict)  # index -> [(expectation, reason)]
    table_problems: list[str] = field(default_factory=list)
    reason_columns: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (expectation, reason) -> column


def load_suite_json(name: str) -> dict:
    return json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))


_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")


def checked_columns(suite: dict) -> list[str] | None:
    """The columns a suite's expectations read (their column kwargs and the names in their pandas
    ``row_condition``), or None when any expectation looks at the table as a whole (it needs every column)."""
    cols: list[str] = []
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs", {})
        named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
        if not named:
            return None
        for c in named:
            cols.extend(c if isinstance(c, list) else [c])
        if kwargs.get("row_condition"):
            cols.extend(n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(kwargs["row_condition"]))
                        if not keyword.iskeyword(n))          # True, and, not, in, ... are not columns
    return list(dict.fromkeys(cols))


def row_failures(result, table_problems: list[str], failed: list[FailedExpectation]):
    """The failed expectations of a checkpoint result: table-level failures and evaluation errors are appended
    to ``table_problems`` / ``failed``; each row-level failure is recorded in ``failed`` and yielded as
    (expectation, reason, column, unexpected_index_list). The reason is the expectation's ``meta.reason``.
    Shared by the pandas validator and the Spark engine (pipeline/engines/_spark_gx.py)."""
    for vres in result.run_results.values():
        for r in vres.results:
            cfg = r.expectation_config
            reason = (cfg.meta or {}).get("reason", cfg.type)
            column = cfg.kwargs.get("column")
            if r.exception_info and r.exception_info.get("raised_exception"):
                msg = r.exception_info.get("exception_message")
                table_problems.append(f"{cfg.type}({column}): could not be evaluated: {msg}")
                failed.append(FailedExpectation(cfg.type, column, 0, True))
                continue
            if r.success:
                continue
            idx = r.result.get("unexpected_index_list")
            if idx is None:  # table-level expectation
                table_problems.append(reason)
                failed.append(FailedExpectation(cfg.type, column, 0, True))
                continue
            failed.append(FailedExpectation(cfg.type, column, len(idx), False))
            yield cfg.type, reason, column, idx


_SCOPE = {"active": 0}


@contextmanager
def collected_runs():
    """A run that validates many chunks and files: inside it, each ``Validator`` freezes the objects alive once
    its GX context exists (``gc.freeze``: GX, pandas, the config) and collects after every suite run.

    Why: a GX checkpoint run leaves reference cycles behind (the tracebacks of exceptions GX raises and
    catches while it parses row conditions, with their frames). They outlive the run into the oldest
    generation, which Python collects rarely: measured, memory grew by ~4 MB per 100,000-row chunk until a
    full collection (a saw-tooth of +500 MB over a 10 M-row file). A full collection costs ~0.15 s with GX's
    objects in the heap, but ~3 ms once they are frozen. On leaving, the heap is unfrozen (``gc.unfreeze``),
    so a long-lived process (an orchestrator's worker) can still reclaim what the run left."""
    _SCOPE["active"] += 1
    try:
        yield
    finally:
        _SCOPE["active"] -= 1
        if not _SCOPE["active"]:
            gc.unfreeze()


class Validator:
    """One GX file context per run, rooted in ``workdir``."""

    def __init__(self, workdir: Path, *, name_prefix: str = "") -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        for name in ("great_expectations", "great_expectations.data_context"):
            logging.getLogger(name).setLevel(logging.ERROR)
        import great_expectations as gx  # slow import: kept out of the CLI's --help path

        self._gx = gx
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.context = gx.get_context(mode="file", project_root_dir=str(workdir))
        self.context.variables.progress_bars = {"globally": False}
        self._ds = self.context.data_sources.add_pandas("inputs")
        self._suites: dict[str, object] = {}
        self._n = 0
        self._prefix = name_prefix          # a worker process's names differ from the main process's (merged later)
        self.passed_headers: set[tuple] = set()   # (kind, columns) whose header suite passed in this run
        self._checkpoints: dict[tuple, object] = {}
        self._checked: dict[str, frozenset[str] | None] = {}     # suite -> the columns it reads (see run)
        self._collect = bool(_SCOPE["active"])
        if self._collect:
            gc.freeze()                     # see collected_runs

    def _suite(self, name: str):
        if name not in self._suites:
            from great_expectations.core.expectation_suite import ExpectationSuite

            data = load_suite_json(name)
            data.pop("id", None)
            checked = checked_columns(data)
            self._checked[name] = None if checked is None else frozenset(checked)
            self._suites[name] = self.context.suites.add(ExpectationSuite(**data))
        return self._suites[name]

    def _checkpoint(self, source_id: str, suite_name: str):
        """One data asset, validation definition and checkpoint per config source and suite, reused for every
        chunk and file of that source (a new set per call made GX keep every call's objects: memory grew)."""
        # per config source: the files of a glob ("dcgm:dcgm_2026-07-01.json", ...) share one (each file's own set
        # cost ~20 MB of GX objects per file: 1.8 GB over a quarter of daily files)
        source_id = source_id.split(":", 1)[0]
        key = (source_id, suite_name)
        if key not in self._checkpoints:
            gx = self._gx
            self._n += 1
            source_id = self._prefix + source_id
            asset = self._ds.add_dataframe_asset(f"{source_id}__{suite_name}__{self._n}")
            bd = asset.add_batch_definition_whole_dataframe("whole")
            vd = self.context.validation_definitions.add(gx.ValidationDefinition(
                name=f"{source_id}__{suite_name}__{self._n}", data=bd, suite=self._suite(suite_name)))
            self._checkpoints[key] = self.context.checkpoints.add(gx.Checkpoint(
                name=f"cp__{source_id}__{suite_name}__{self._n}", validation_definitions=[vd],
                actions=[], result_format={"result_format": "COMPLETE", "include_unexpected_rows": False}))
        return self._checkpoints[key]

    def run(self, source_id: str, suite_name: str, frame: pd.DataFrame, params: dict | None = None) -> SuiteOutcome:
        cp = self._checkpoint(source_id, suite_name)
        checked = self._checked[suite_name]
        if checked is not None:
            # only the columns the suite reads (same rows, same index): a row_condition filter or GX's own
            # column work then copies a few columns, not a billing frame's thirty text columns
            frame = frame[[c for c in frame.columns if c in checked]]
        try:
            result = cp.run(batch_parameters={"dataframe": frame}, expectation_parameters=params or {})
        finally:
            # GX's pandas engine keeps every batch it was given (its BatchManager caches): emptied after each
            # call, or memory grows with every chunk / file validated (measured: one frame copy per call)
            manager = self._ds.get_execution_engine().batch_manager
            manager._batch_cache.clear()
            manager._batch_data_cache.clear()
            if self._collect:
                gc.collect()                # the cycles this run left (cheap: the heap is frozen)
        outcome = SuiteOutcome(success=bool(result.success))
        for exp, reason, column, idx in row_failures(result, outcome.table_problems, outcome.failed):
            outcome.reason_columns[(exp, reason)] = column
            for i in idx:
                outcome.row_reasons.setdefault(i, []).append((exp, reason))
        return outcome

    @property
    def validations_dir(self) -> Path:
        """Where the GX project stores validation results (``pipeline.ingest_workers.merge_results`` adds the
        workers' results here)."""
        return self.workdir / "gx" / "uncommitted" / "validations"

    def build_data_docs(self) -> Path:
        self.context.build_data_docs()
        return self.workdir / "gx" / "uncommitted" / "data_docs" / "local_site"
