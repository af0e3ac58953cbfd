"""The row suites of ``schemas/expectations/`` run on a Spark DataFrame through Great Expectations' Spark
datasource, in the run's own GX context (``Validator.context``), so the results land in the same Data Docs.

The suite JSON is the one the pandas engine runs; only ``condition_parser: pandas`` becomes ``spark`` (the
suites' row conditions, such as ``is_usage==True``, are valid in both). Failing rows are identified by the
``_ordinal`` column (``unexpected_index_column_names``), the row's position in the file, which is the index the
pandas engine gets back.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass, field

from pipeline.result import FailedExpectation
from pipeline.validate.great_expectations import (
    Validator,
    load_suite_json,
    row_failures,
)

ORDINAL = "_ordinal"


@dataclass
class SparkOutcome:
    failed: list[FailedExpectation] = field(default_factory=list)
    row_reasons: dict[int, list[tuple[str, str, str | None]]] = field(default_factory=dict)  # ordinal -> [(exp, reason, column)]
    table_problems: list[str] = field(default_factory=list)


class _SparkSuites:
    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.datasource = validator.context.data_sources.add_or_update_spark("inputs_spark")
        self.suites: dict[str, object] = {}
        self.n = 0

    def suite(self, name: str):
        if name not in self.suites:
            from great_expectations.core.expectation_suite import ExpectationSuite

            data = copy.deepcopy(load_suite_json(name))
            data.pop("id", None)
            data["name"] = f"{name}.spark"
            for exp in data["expectations"]:
                if exp.get("kwargs", {}).get("condition_parser") == "pandas":
                    exp["kwargs"]["condition_parser"] = "spark"
            self.suites[name] = self.validator.context.suites.add(ExpectationSuite(**data))
        return self.suites[name]


_BY_VALIDATOR: weakref.WeakKeyDictionary[Validator, _SparkSuites] = weakref.WeakKeyDictionary()


def run_suite(validator: Validator, source_id: str, suite_name: str, sdf, params: dict) -> SparkOutcome:
    """Runs ``suite_name`` on the Spark DataFrame ``sdf`` (which has an ``_ordinal`` column)."""
    import great_expectations as gx

    suites = _BY_VALIDATOR.get(validator)
    if suites is None:
        suites = _BY_VALIDATOR[validator] = _SparkSuites(validator)
    suites.n += 1
    name = f"{source_id}__{suite_name}__spark__{suites.n}"
    bd = suites.datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    ctx = validator.context
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=bd, suite=suites.suite(suite_name)))
    cp = ctx.checkpoints.add(gx.Checkpoint(
        name=f"cp__{name}", validation_definitions=[vd], actions=[],
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ORDINAL],
                       "include_unexpected_rows": False}))
    result = cp.run(batch_parameters={"dataframe": sdf}, expectation_parameters=params)
    outcome = SparkOutcome()
    for exp, reason, column, idx in row_failures(result, outcome.table_problems, outcome.failed):
        for item in idx:
            outcome.row_reasons.setdefault(int(item[ORDINAL]), []).append((exp, reason, column))
    return outcome
