"""Per-distinct-value work: a Python function applied once per distinct value (or combination of values)
instead of once per row. Billing exports repeat the same provider, usage type and tags on millions of rows,
so this turns per-row Python into per-distinct-value Python with the same result."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _na(value: object) -> object:
    return None if value is pd.NA or (isinstance(value, float) and np.isnan(value)) else value


def map_distinct(func: Callable[[object], object], s: pd.Series, dtype: str | None = "string") -> pd.Series:
    """``s.map(func)`` computed once per distinct value (missing values are passed as None)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:len(uniques)] = [func(_na(u)) for u in uniques]
    values[-1] = func(None)
    out = pd.Series(values[codes], index=s.index)     # code -1 (missing) takes the last slot
    return out.astype(dtype) if dtype else out


def map_distinct_tuple(func: Callable[[object], tuple], s: pd.Series) -> list[np.ndarray]:
    """``func`` returning a tuple, once per distinct value: one object array per tuple position."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    done = [func(_na(u)) for u in uniques] + [func(None)]
    return [np.array([d[k] for d in done], dtype=object)[codes] for k in range(len(done[0]))]


def apply_distinct(func: Callable[..., object], *columns: pd.Series, dtype: str | None = "string") -> pd.Series:
    """``[func(a, b, ...) for a, b, ... in zip(columns)]`` computed once per distinct combination."""
    if not columns:
        raise ValueError("apply_distinct needs at least one column")
    index = columns[0].index
    n = len(index)
    if n == 0:
        out = pd.Series([], index=index, dtype=object)
        return out.astype(dtype) if dtype else out
    # each column's distinct values, then one integer key per row for the combination (mixed radix)
    factorized = [pd.factorize(c, use_na_sentinel=True) for c in columns]
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for codes, uniques in factorized:
        if radix * (len(uniques) + 1) >= 2**62:          # too many combinations for one int64: re-factorize
            key, _ = pd.factorize(key, sort=False)
            radix = int(key.max()) + 1
        key = key + (codes.astype(np.int64) + 1) * radix
        radix *= len(uniques) + 1
    combos, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = np.empty(len(combos), dtype=object)
    values[:] = [func(*(_na(u[c]) if c >= 0 else None for c, u in ((codes[i], uniques) for codes, uniques in factorized)))
                 for i in first]
    out = pd.Series(values[inverse.reshape(-1)], index=index)
    return out.astype(dtype) if dtype else out
