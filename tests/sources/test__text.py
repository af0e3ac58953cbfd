"""pipeline/sources/_text.py: the shared readers on hand-made inputs (every expected value read off the input)."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import math
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.sources._text import (
    RawTable,
    _row_runs,
    arrow_column_to_text,
    arrow_floats,
    identical_rows_note,
    read_delimited,
    read_parquet_text,
    read_text,
    to_number,
)


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


# --- read_delimited: a last row cut inside quotes ---------------------------------------------------------------

def test_last_row_cut_inside_a_quoted_field_is_malformed(tmp_path):
    # line 3 opens a quote in its last field and the file ends: the field count (2) still matches the header
    raw = read_delimited(_write(tmp_path / "cut.csv", 'a,tags\n1,"{""k"": ""v""}"\n2,"{""k"": ""v'), what="t")
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert raw.frame["tags"].tolist() == ['{"k": "v"}', '{"k": "v']
    assert list(raw.malformed) == [1]
    assert "ends inside a quoted field of this row (no closing quote): the row is truncated" in raw.malformed[1]


def test_cut_row_with_missing_fields_gives_both_reasons(tmp_path):
    raw = read_delimited(_write(tmp_path / "cut.csv", 'a,b,c\n1,2,3\n4,"fi'), what="t")
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert raw.malformed[1].startswith("has 2 fields where the header has 3 (truncated line or broken quoting); "
                                       "the file ends inside a quoted field")


def test_multi_line_field_cut_is_numbered_by_its_last_line(tmp_path):
    raw = read_delimited(_write(tmp_path / "cut.csv", 'a,b\n1,"x\ny\nz'), what="t")   # record on lines 2-4
    assert raw.frame["source_row"].tolist() == [4]
    assert raw.frame["b"].tolist() == ["x\ny\nz"]
    assert list(raw.malformed) == [0]


@pytest.mark.parametrize("text", ['a,b\n1,"x"\n2,"y"\n', 'a,b\n1,"x"\n2,"y"', 'a,b\n1,x\n2,y\n\n\n'])
def test_whole_files_are_not_malformed(tmp_path, text):
    raw = read_delimited(_write(tmp_path / "ok.csv", text), what="t")
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert raw.frame["b"].tolist() == ["x", "y"]
    assert raw.malformed == {}


def test_header_cut_inside_quotes_is_refused(tmp_path):
    with pytest.raises(InputError, match="ends inside a quoted column name of the header") as exc:
        read_delimited(_write(tmp_path / "cut.csv", 'a,"b'), what="t")
    assert exc.value.row == 1


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="the file is empty"):
        read_delimited(_write(tmp_path / "empty.csv", ""), what="t")


def test_unquoted_format_keeps_quotes_as_characters(tmp_path):
    raw = read_delimited(_write(tmp_path / "s.txt", 'JobID|Name\n1|a"b\n2|"c'), delimiter="|", what="t", quoting=False)
    assert raw.frame["Name"].tolist() == ['a"b', '"c']
    assert raw.malformed == {}


# --- read_delimited: header names --------------------------------------------------------------------------------

def test_trailing_empty_column_names_are_named_in_the_error(tmp_path):
    with pytest.raises(InputError) as exc:
        read_delimited(_write(tmp_path / "x.csv", "a,b,,\n1,2,,\n"), what="t")
    assert exc.value.row == 1
    assert exc.value.message == "the header has 2 empty column names (columns 3, 4: a spreadsheet's trailing commas?)"
    assert "delete the unnamed columns" in exc.value.fix


def test_empty_column_names_inside_the_header(tmp_path):
    with pytest.raises(InputError) as exc:
        read_delimited(_write(tmp_path / "x.csv", ",a,,b\n1,2,3,4\n"), what="t")
    assert exc.value.message == "the header has 2 empty column names (columns 1, 3)"


def test_one_unnamed_column_is_read(tmp_path):
    raw = read_delimited(_write(tmp_path / "x.csv", ",a\n0,x\n"), what="t")
    assert raw.columns == ["", "a"]


def test_repeated_names_still_reported(tmp_path):
    with pytest.raises(InputError, match=r"repeats column\(s\) a in its header"):
        read_delimited(_write(tmp_path / "x.csv", "a,b,a\n1,2,3\n"), what="t")


# --- _open_text: files that are not text -------------------------------------------------------------------------

def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "a,b\n1,2\n")
    return path


def test_zip_archive_names_its_files(tmp_path):
    path = _zip(tmp_path / "focus.csv.gz", ["focus.csv"])
    with pytest.raises(InputError) as exc:
        read_delimited(path, what="t")
    assert exc.value.message == "is a ZIP archive holding focus.csv, not gzip or text"
    assert exc.value.fix.startswith("unzip it")


def test_zip_archive_lists_at_most_three_files(tmp_path):
    path = _zip(tmp_path / "x.csv", ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"])
    with pytest.raises(InputError, match=r"holding a.csv, b.csv, c.csv and 2 more, not gzip"):
        read_delimited(path, what="t")


def test_excel_workbook_is_named(tmp_path):
    path = _zip(tmp_path / "x.csv", ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"])
    with pytest.raises(InputError) as exc:
        read_delimited(path, what="t")
    assert exc.value.message == "is an Excel workbook (.xlsx), not CSV text"
    assert "CSV UTF-8" in exc.value.fix


def test_cut_zip_is_still_a_zip(tmp_path):
    full = _zip(tmp_path / "full.zip", ["a.csv"]).read_bytes()
    path = tmp_path / "x.csv"
    path.write_bytes(full[:40])                      # the central directory is gone
    with pytest.raises(InputError, match=r"^.*is a ZIP archive, not gzip or text"):
        read_delimited(path, what="t")


@pytest.mark.parametrize("data, words", [
    (b"PAR1" + b"\x00" * 20, "is a Parquet file, not CSV or JSON text"),
    (bz2.compress(b"a,b\n1,2\n"), "is bzip2-compressed, not gzip or text"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "is an Excel 97-2003 workbook (.xls)"),
    (b"%PDF-1.7\n", "is a PDF document"),
])
def test_other_binary_formats_are_named(tmp_path, data, words):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as exc:
        read_text(path, what="t")
    assert exc.value.message.startswith(words)
    assert exc.value.file == str(path) and exc.value.fix


def test_text_starting_like_bzip2_is_still_text(tmp_path):
    raw = read_delimited(_write(tmp_path / "x.csv", "BZh,b\n1,2\n"), what="t")
    assert raw.columns == ["BZh", "b"]


def test_gzip_still_read(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert read_delimited(path, what="t").frame["b"].tolist() == ["2"]


# --- arrow_column_to_text -----------------------------------------------------------------------------------------

def test_map_column_becomes_a_json_object_per_row():
    col = pa.array([[("project", "llm"), ("phase", "training")], None, [], [("project", "llm"), ("phase", "training")]],
                   type=pa.map_(pa.string(), pa.string()))
    out = arrow_column_to_text(col)
    assert str(out.dtype) == "string"
    assert out.tolist()[0] == '{"phase": "training", "project": "llm"}'
    assert out.isna().tolist() == [False, True, False, False]
    assert out[2] == "{}" and out[3] == out[0]


def test_struct_and_list_columns():
    struct = pa.array([{"b": 1, "a": "x"}, None], type=pa.struct([("b", pa.int64()), ("a", pa.string())]))
    assert arrow_column_to_text(struct).tolist() == ['{"a": "x", "b": 1}', pd.NA]
    lists = pa.array([["p", "q"], [], None], type=pa.list_(pa.string()))
    assert arrow_column_to_text(lists).tolist() == ['["p", "q"]', "[]", pd.NA]


def test_nested_values_deeper_than_one_level():
    # a list of structs (unhashable values) and a map inside a struct (a JSON object too)
    col = pa.array([[{"key": "k", "value": "v"}], [{"key": "k", "value": "v"}]],
                   type=pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())])))
    assert arrow_column_to_text(col).tolist() == ['[{"key": "k", "value": "v"}]'] * 2
    inner = pa.array([{"m": [("z", 1), ("a", 2)], "d": dt.date(2026, 7, 1)}],
                     type=pa.struct([("m", pa.map_(pa.string(), pa.int64())), ("d", pa.date32())]))
    assert arrow_column_to_text(inner).tolist() == ['{"d": "2026-07-01", "m": {"a": 2, "z": 1}}']


def test_values_that_look_alike_stay_apart():
    # the same characters split differently between key and value, null vs "", null row vs empty map,
    # the same pairs in another order (same JSON)
    col = pa.array([[("a:1", "b")], [("a", "1:b")], [("k", None)], [("k", "")], None, [],
                    [("x", "1"), ("y", "2")], [("y", "2"), ("x", "1")]], type=pa.map_(pa.string(), pa.string()))
    assert arrow_column_to_text(col).tolist() == [
        '{"a:1": "b"}', '{"a": "1:b"}', '{"k": null}', '{"k": ""}', pd.NA, "{}",
        '{"x": "1", "y": "2"}', '{"x": "1", "y": "2"}']
    floats = pa.array([{"v": 0.0}, {"v": -0.0}, {"v": None}], type=pa.struct([("v", pa.float64())]))
    assert arrow_column_to_text(floats).tolist() == ['{"v": 0.0}', '{"v": -0.0}', '{"v": null}']


def test_sliced_chunks_keep_their_own_rows():
    full = pa.array([["a"], ["b", "c"], None, ["d"]], type=pa.list_(pa.string()))
    col = pa.chunked_array([full.slice(1, 2), full.slice(3, 1), full.slice(0, 1)])
    out = arrow_column_to_text(col)
    assert out.tolist() == ['["b", "c"]', pd.NA, '["d"]', '["a"]']
    assert list(out.index) == [0, 1, 2, 3]


def test_flat_columns_as_pandas_prints_them_and_chunked_arrays():
    col = pa.chunked_array([pa.array([8.0, None]), pa.array([-0.5])])
    out = arrow_column_to_text(col)
    assert out.tolist() == ["8.0", pd.NA, "-0.5"]
    assert list(out.index) == [0, 1, 2]
    assert arrow_column_to_text(pa.array(["a", None])).tolist() == ["a", pd.NA]


def test_read_parquet_text_turns_a_tags_map_into_json(tmp_path):
    table = pa.table({"Id": ["r1", "r2"],
                      "Tags": pa.array([[("project", "llm")], None], type=pa.map_(pa.string(), pa.string()))})
    pq.write_table(table, tmp_path / "x.parquet")
    raw = read_parquet_text(tmp_path / "x.parquet", what="t")
    assert raw.frame["Tags"].tolist() == ['{"project": "llm"}', pd.NA]
    assert raw.frame["source_row"].tolist() == [1, 2]


# --- identical_rows_note ------------------------------------------------------------------------------------------

def _raw(rows: list[list[str | None]], source_rows: list[int], malformed: dict | None = None) -> RawTable:
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype="string")
    frame["source_row"] = pd.Series(source_rows, dtype="int64")
    return RawTable(path=Path("x.csv"), frame=frame, malformed=malformed or {})


def test_row_runs():
    assert _row_runs([(5, 2), (6, 3), (7, 4)]) == "rows 5-7 repeat 2-4"
    assert _row_runs([(5, 2), (6, 2), (9, 3)]) == "row 5 repeats 2, row 6 repeats 2, row 9 repeats 3"
    assert _row_runs([(r, 1) for r in range(2, 10, 2)], limit=2) == "row 2 repeats 1, row 4 repeats 1, and 2 more run(s)"


def test_a_file_delivered_twice():
    rows = [["x", "1"], ["y", None], ["z", "3"]]
    note = identical_rows_note(_raw(rows + rows, [2, 3, 4, 5, 6, 7]))
    assert note.startswith("3 row(s) identical to an earlier row of this file (rows 5-7 repeat 2-4): read as "
                           "separate charges")
    assert "delivered twice" in note


def test_rows_differing_in_one_cell_or_missing_vs_empty_are_not_identical():
    assert identical_rows_note(_raw([["x", "1"], ["x", "2"], ["x", None], ["x", ""]], [2, 3, 4, 5])) is None


def test_a_row_repeated_twice_and_malformed_rows_left_out():
    raw = _raw([["x", "1"], ["x", "1"], ["x", "1"], ["q", None], ["q", None]], [2, 3, 4, 5, 6], malformed={4: "cut"})
    assert identical_rows_note(raw).startswith("2 row(s) identical to an earlier row of this file "
                                               "(row 3 repeats 2, row 4 repeats 2)")


def test_no_note_for_one_row():
    assert identical_rows_note(_raw([["x", "1"]], [2])) is None


# --- numbers read by Arrow in one pass (arrow_floats), as float() reads them ------------------------------

READ_BY_ARROW = ["1", "-1.5", "2e3", ".5", "1.", "+5", "00012", "1e+05", "1.5E-3", "-.5", "0.1", "4.35",
                 "123456789012345678901234567890", "1e999", "nan", "NaN", "inf", "+Inf", "-Inf", "Infinity"]
NOT_READ_BY_ARROW = [" 12", "12 ", "1_000", "0x10", "", "1e5f", "\u0661\u0662", "1,5", "12 W"]


@pytest.mark.parametrize("text", READ_BY_ARROW)
def test_arrow_reads_a_number_as_float_does(text):
    values, read = arrow_floats(pa.array([text, None], type=pa.large_string()))
    expected = float(text)
    assert read.tolist() == [True, False]
    assert (values[0] == expected) or (math.isnan(expected) and math.isnan(values[0]))
    assert math.isnan(values[1])


@pytest.mark.parametrize("text", NOT_READ_BY_ARROW)
def test_one_text_arrow_does_not_read_sends_the_array_the_careful_way(text):
    assert arrow_floats(pa.array(["1.5", text], type=pa.large_string())) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=50),
       st.sampled_from(["{!r}", "{:.17g}", "{:.3f}", "{:e}"]))
def test_arrow_rounds_decimals_as_float_does(numbers, form):
    texts = [form.format(x) for x in numbers]
    values, read = arrow_floats(pa.array(texts, type=pa.large_string()))
    assert read.all()
    assert values.tolist() == [float(t) for t in texts]          # bit for bit


def test_to_number_same_with_and_without_a_text_arrow_refuses():
    assert to_number(pd.Series(["1.5", "2e3", "inf", None])).tolist()[:2] == [1.5, 2000.0]
    fast = to_number(pd.Series(["1.5", "2e3", "inf", None]))
    slow = to_number(pd.Series(["1.5", "2e3", "inf", None, "12 kW"]))       # the regex path: one text is not a number
    assert fast.isna().tolist() == [False, False, True, True]               # infinity is not a quantity: missing
    assert slow.tolist()[:2] == fast.tolist()[:2] and slow.isna().tolist() == [False, False, True, True, True]
