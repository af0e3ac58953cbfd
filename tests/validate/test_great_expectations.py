"""pipeline/validate/great_expectations.py: suites run on the columns they read, rows keep their index."""

import pandas as pd

from pipeline.validate.great_expectations import Validator, checked_columns, load_suite_json


def test_usage_suite_reads_these_columns():
    # schemas/expectations/usage.rows.json: not-null provider / start / end / cost, charge_category in a set,
    # quantity not null and >= 0 where is_usage==True, usage_start_utc inside the period
    assert set(checked_columns(load_suite_json("usage.rows"))) == {
        "provider", "usage_start_utc", "usage_end_utc", "cost", "charge_category", "quantity", "is_usage"}


def test_a_table_level_expectation_needs_the_whole_table():
    suite = {"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
                              {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]}
    assert checked_columns(suite) is None


def test_failures_on_the_narrowed_frame_keep_the_row_labels(tmp_path):
    t = pd.Timestamp("2026-07-02", tz="UTC")
    frame = pd.DataFrame({
        "provider": ["aws", "aws", "aws", "aws"],
        "usage_start_utc": [t, t, t, pd.Timestamp("2025-01-01", tz="UTC")],
        "usage_end_utc": [t, t, t, t],
        "cost": [1.0, None, 2.0, 3.0],
        "charge_category": ["Usage", "Usage", "Refund", "Usage"],
        "quantity": [1.0, 1.0, 1.0, -4.0],
        "is_usage": [True, True, False, True],
        "unrelated_text": ["x" * 50] * 4,
    }, index=[10, 20, 30, 40])
    params = {"period_start_utc": pd.Timestamp("2026-07-01", tz="UTC"),
              "period_end_utc": pd.Timestamp("2026-10-01", tz="UTC")}
    out = Validator(tmp_path).run("src", "usage.rows", frame, params)
    # 20: no cost; 30: charge category not in the set; 40: negative usage quantity and a start before the period
    assert sorted(out.row_reasons) == [20, 30, 40]
    assert {e for e, _ in out.row_reasons[40]} == {"expect_column_values_to_be_between"} and len(out.row_reasons[40]) == 2
    assert [e for e, _ in out.row_reasons[20]] == ["expect_column_values_to_not_be_null"]


def _usage_frame(n: int) -> pd.DataFrame:
    t = pd.Timestamp("2026-07-02", tz="UTC")
    return pd.DataFrame({"provider": ["aws"] * n, "usage_start_utc": [t] * n, "usage_end_utc": [t] * n,
                         "cost": [1.0] * n, "charge_category": ["Usage"] * n, "quantity": [1.0] * n,
                         "is_usage": [True] * n})


def test_suite_runs_leave_no_garbage_behind_inside_a_run(tmp_path):
    # GX leaves reference cycles after each checkpoint run; inside collected_runs they are collected at once,
    # so the objects the collector tracks do not grow with the number of chunks validated
    import gc

    from pipeline.validate.great_expectations import collected_runs

    params = {"period_start_utc": pd.Timestamp("2026-07-01", tz="UTC"),
              "period_end_utc": pd.Timestamp("2026-10-01", tz="UTC")}
    was = gc.isenabled()
    gc.disable()              # no automatic collection in between: only the validator's own keeps this flat
    try:
        with collected_runs():
            v = Validator(tmp_path)
            assert gc.get_freeze_count() > 0
            counts = []
            for k in range(12):
                v.run("src", "usage.rows", _usage_frame(50), params)
                if k in (3, 11):
                    counts.append(len(gc.get_objects()))
            assert counts[1] - counts[0] < 2000      # without the collection: ~12,000 more objects per run
        assert gc.get_freeze_count() == 0            # the heap is given back to the collector afterwards
    finally:
        if was:
            gc.enable()
