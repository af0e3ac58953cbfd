"""pipeline/canonical.py: shared text helpers of the canonical frames."""

import numpy as np
import pandas as pd

from pipeline.canonical import blank_missing, category_from_codes, is_currency_code, ranges_text, runs_text


def test_currency_codes():
    got = is_currency_code(pd.Series(["EUR", "usd", "US$", None, "EURO", ""], dtype="string")).tolist()
    assert got == [True, False, False, False, False, False]


def test_runs_and_ranges_write_the_same_text():
    assert ranges_text([9, 2, 3, 4, 5, 12, 13, 2]) == "2-5,9,12-13"
    assert runs_text(np.array([2, 9, 12]), np.array([5, 9, 13])) == "2-5,9,12-13"


def test_categories_from_codes_with_repeats_and_missing():
    col = category_from_codes(np.array([0, 1, 2, -1, 3]), ["a", "b", "a", None])
    assert col.astype(object).where(col.notna(), None).tolist() == ["a", "b", "a", None, None]
    assert list(col.cat.categories) == ["a", "b"]
    filled = blank_missing(col)
    assert filled.tolist() == ["a", "b", "a", "", ""] and isinstance(filled.dtype, pd.CategoricalDtype)
