"""Per-distinct-value helpers (pipeline/sources/_distinct.py): the same result as the per-row loop, each
distinct value (or combination) computed once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.sources._distinct import apply_distinct, map_distinct, map_distinct_tuple


def test_map_distinct_calls_once_per_value_and_passes_missing_as_none():
    calls = []
    s = pd.Series(["a", None, "b", "a", pd.NA, "a"], dtype="string")
    out = map_distinct(lambda v: calls.append(v) or (v or "-").upper(), s)
    assert out.tolist() == ["A", "-", "B", "A", "-", "A"]
    assert sorted(calls, key=str) == sorted(["a", "b", None], key=str)      # 3 calls for 6 rows


def test_map_distinct_tuple_gives_one_array_per_position():
    first, second = map_distinct_tuple(lambda v: (v or "", v is None), pd.Series(["p", None, "p"], dtype="string"))
    assert first.tolist() == ["p", "", "p"] and second.tolist() == [False, True, False]


def test_apply_distinct_combinations_with_missing_values():
    a = pd.Series(["x", None, "y", "x", "x", None], dtype="string")
    b = pd.Series(["1", "2", None, "1", "3", "2"], dtype="string")
    calls = []
    out = apply_distinct(lambda u, v: calls.append((u, v)) or f"{u}|{v}", a, b)
    assert out.tolist() == ["x|1", "None|2", "y|None", "x|1", "x|3", "None|2"]
    assert len(calls) == 4                                   # (x,1) (None,2) (y,None) (x,3)
    assert out.index.equals(a.index)


def test_apply_distinct_keeps_the_index_and_matches_the_row_loop_on_random_data():
    rng = np.random.default_rng(7)
    cols = [pd.Series(rng.choice(["a", "b", "c", None], 5000), index=np.arange(5000) * 3, dtype="string")
            for _ in range(4)]
    out = apply_distinct(lambda *v: "/".join(map(str, v)), *cols)
    loop = ["/".join(str(None if pd.isna(x) else x) for x in row) for row in zip(*cols)]
    assert out.tolist() == loop and out.index.equals(cols[0].index)
