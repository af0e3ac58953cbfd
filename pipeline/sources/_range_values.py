"""Prometheus range-query JSON: the ``"values"`` arrays read in bulk, without a Python object per point.

A ``/api/v1/query_range`` response is small metadata plus, per series, a long array of points
``[[1783638000,"494.01"],[1783638010,"486.19"],...]``. ``json.loads`` builds three Python objects per point
(a list, a number, a string): about 1 µs and 300 bytes per point, 1 GB for a day of 128 GPUs at a 10 s step.
Here the arrays are cut out of the text, the rest (the skeleton) is parsed by ``json.loads``, and each array is
read with numpy over its bytes into two Arrow string columns: the timestamp and the value *as written*.

Only the exact compact form Prometheus writes is read this way: every point ``[NUMBER,"TEXT"]`` with no
whitespace, NUMBER a JSON number, TEXT without quotes, backslashes, commas or brackets. The check is exact
(the positions of every bracket, comma and quote are verified, so the points read are the points
``json.loads`` would read). A series whose array is in any other form is returned as ``None`` and read by
``json.loads`` as before; a document where the arrays cannot be cut out cleanly (the skeleton is not valid
JSON, or a placeholder is not where a series' ``values`` is) is not split at all: ``split`` returns ``None``.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEY = '"values":[['
_PLACEHOLDER = "\x00values:"                   # a read document has no NUL (read_raw refuses NUL bytes)
JSON_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"


def split(text: str) -> tuple[str, list[str]] | None:
    """(skeleton, arrays): each ``"values":[[...]]`` replaced by ``"values":"\\u0000values:<k>"``; arrays[k]
    is the text between the outer brackets, ``[...],[...]``. None when the text has no such array, or when the
    escape ``\\u0000`` already occurs in it (the placeholders must be unambiguous)."""
    if KEY not in text or "\\u0000" in text:
        return None
    parts, arrays, pos = [], [], 0
    while True:
        i = text.find(KEY, pos)
        if i < 0:
            break
        start = i + len(KEY) - 2                     # at the outer '['
        end = text.find("]]", start)
        if end < 0:
            return None
        arrays.append(text[start + 1:end + 1])
        parts.append(text[pos:start])
        parts.append('"\\u0000values:%d"' % (len(arrays) - 1))
        pos = end + 2
    parts.append(text[pos:])
    return "".join(parts), arrays


def placeholder(value: object) -> int | None:
    """The array number a skeleton's ``values`` holds, or None if it is not a placeholder."""
    if isinstance(value, str) and value.startswith(_PLACEHOLDER):
        tail = value[len(_PLACEHOLDER):]
        if tail.isdigit():
            return int(tail)
    return None


def points(arrays: list[str]) -> list[tuple[pa.Array, pa.Array] | None]:
    """Per array: (timestamp texts, value texts) as Arrow large_string arrays, or None when it is not in the
    compact form (see the module docstring): the caller reads that one with ``json.loads``."""
    if not arrays:
        return []
    pieces = [a.encode("utf-8", "surrogatepass") for a in arrays]
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    buf = np.frombuffer(b",".join(pieces), dtype=np.uint8)
    starts = np.r_[0, np.cumsum(lengths + 1)[:-1]]
    ends = starts + lengths
    opens = np.flatnonzero(buf == ord("["))
    closes = np.flatnonzero(buf == ord("]"))
    quotes = np.flatnonzero(buf == ord('"'))
    n = len(opens)
    # exact counts: a bracket, comma, quote or backslash inside a text (or anything but the compact form)
    # makes the positions below ambiguous; the arrays are then read one by one by json.loads
    if len(closes) != n or len(quotes) != 2 * n or int((buf == ord(",")).sum()) != 2 * n - 1 \
            or (buf == ord("\\")).any():
        return [None] * len(arrays)
    q_open, q_close = quotes[0::2], quotes[1::2]
    owner = np.searchsorted(starts, opens, side="right") - 1
    # per point: '[' NUMBER ',"' TEXT '"]' then ',' (the next point's '[' or the next array) or the array's end
    ok = (opens + 1 < q_open - 1) & (q_open < q_close) & (closes == q_close + 1)
    ok &= buf[q_open - 1] == ord(",")
    prev_close = np.r_[-2, closes[:-1]]
    ok &= (opens == starts[owner]) | (opens == prev_close + 2)
    ok &= (closes + 1 == ends[owner]) | (np.r_[opens[1:], -1] == closes + 2)
    try:
        ts = _strings(buf, opens + 1, q_open - 1, ok)
        values = _strings(buf, q_open + 1, q_close, ok)
    except ValueError:
        return [None] * len(arrays)
    ok &= np.asarray(pc.fill_null(pc.match_substring_regex(ts, JSON_NUMBER), False), dtype=bool)
    count = np.bincount(owner, minlength=len(arrays))
    bad = np.bincount(owner[~ok], minlength=len(arrays)) > 0
    offset = np.r_[0, np.cumsum(count)]
    return [None if bad[k] or not count[k] else
            (ts.slice(offset[k], count[k]), values.slice(offset[k], count[k])) for k in range(len(arrays))]


def _strings(buf: np.ndarray, begin: np.ndarray, end: np.ndarray, ok: np.ndarray) -> pa.Array:
    """Arrow large_string array of buf[begin[i]:end[i]] where ok[i], else "" (UTF-8: cut at ASCII delimiters).
    The spans of ok points are disjoint and in order (checked by the caller's positions)."""
    lengths = np.where(ok, np.maximum(end - begin, 0), 0)
    keep = lengths > 0
    mark = np.zeros(len(buf) + 1, dtype=np.int8)      # +1 where a span begins, -1 where it ends: inside = 1
    mark[begin[keep]] += 1
    mark[end[keep]] -= 1
    data = buf[np.cumsum(mark[:-1], dtype=np.int8) > 0]
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    if len(data) != offsets[-1]:                    # cannot happen for ok spans; never build a broken array
        raise ValueError("overlapping spans")
    return pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def loads_array(array: str) -> object:
    """The careful read of one array text (``[...],[...]``): ``json.loads`` of it in its brackets."""
    return json.loads("[" + array + "]")
