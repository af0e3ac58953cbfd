"""NVIDIA dcgm-exporter metrics -> canonical POWER frame.

Two inputs, recognised by content:
- **Prometheus text exposition** (a ``/metrics`` scrape): ``# HELP`` / ``# TYPE`` / other comments, then samples
  ``NAME{label="value",...} value [timestamp_ms]``. One raw row per sample line; ``source_row`` = line number.
  Several scrapes may be concatenated, each introduced by a ``# scraped_at <ISO-8601 with Z or offset>`` line.
- **Prometheus range-query JSON** (``/api/v1/query_range``; ``/api/v1/query`` vectors too):
  ``{"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},"values":[[ts_s,"v"],...]}]}}``.
  One raw row per (series, point); ``source_row`` = the point's 1-based ordinal in document order, and the raw
  column ``json_path`` names it exactly (``data.result[2].values[17]``).

Raw columns (built here, the same for both inputs): ``metric``, ``labels`` (Prometheus label syntax, as written
in a scrape), ``value``, ``timestamp_ms`` (scrape), ``timestamp_s`` (JSON), ``scraped_at``, ``json_path``,
``unparsed`` (the text of a line / point that is not a valid sample).

Speed (a day of 128 GPUs at a 10 s step is 1.1 M points): the JSON is read per series. Its labels are formatted
once and, when every point is ``[number, "text"]``, its timestamps and value texts are taken in bulk (the
per-series columns ``metric``, ``labels``, ``unparsed``, ``timestamp_ms``, ``scraped_at`` are then categoricals
of text); a series with any other point is read point by point, as it is. ``to_canonical`` works column by
column: labels are parsed once per distinct label text, values and times in bulk (plain decimals by Arrow,
correctly rounded like ``float``; any other text through ``parse_value``), and Python runs only per distinct
label set and per quarantined or folded row. The result is the same row for row as reading sample by sample.

Metrics used (everything else is read, counted and folded into the GPU's row for that time):
``DCGM_FI_DEV_POWER_USAGE`` (W gauge) -> power_w; ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (mJ counter since boot)
-> energy_counter_j = mJ / 1000; ``DCGM_FI_DEV_GPU_UTIL`` (%) -> utilisation_pct. They are joined into one row per
physical GPU and timestamp.

Labels: ``UUID`` -> device_uuid, ``gpu`` -> gpu_index, ``modelName`` -> gpu_model, ``hostname`` or ``Hostname``
(renamed in 2026; both accepted, lower-case wins) -> host, else the Prometheus ``instance`` label; ``hpc_job`` ->
job_id. Every other label (``device``, ``pod``, ``namespace``, ``container``, ``GPU_I_ID``, ``GPU_I_PROFILE``,
``DCGM_FI_*`` info labels, ...) goes to labels_json; a label with several values in one row's samples is listed
comma-separated (sorted).

Rules:
- Timestamps: a sample's own timestamp (ms) or the JSON point's (s) wins; else the ``# scraped_at`` line above it.
  The file's modification time is never used (not reproducible). Samples with neither are quarantined
  (``no_timestamp``). ``site_zone`` is not used: Prometheus times are epoch (UTC) and ``scraped_at`` must carry
  its offset (a zone-less ``scraped_at`` is quarantined with the samples it dates, not guessed).
- Samples without labels (the dummy zeros in DataDog's fixture) cannot be attributed to a GPU: quarantined
  (``sample_without_labels``); labelled samples naming neither ``UUID`` nor ``gpu`` + host: ``no_device``.
- MIG: whole-GPU power / energy repeat once per MIG instance (``GPU_I_ID``). One row is kept per physical GPU
  (``UUID``, else host + ``gpu``) and timestamp; repeats with the same value are folded into it (``Parsed.folded``,
  with the MIG instance in the note); a repeat with a *different* value is quarantined (``conflicting_duplicate``).
  When the instances run different ``hpc_job``s, job_id stays empty and labels_json lists the jobs.
- A GPU and time with no finite power / energy / utilisation sample: its samples are quarantined
  (``no_power_metric``: the exporter's counters do not include these fields, or all values are NaN).
- Prometheus ``NaN`` / ``+Inf`` values are missing (NaN), never zero.
"""

from __future__ import annotations

import gc
import json
import math
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.canonical import POWER, category_from_codes, conform, device_time_order
from pipeline.errors import InputError
from pipeline.sources import Parsed, _range_values
from pipeline.sources._text import (MAX_JSON_DEPTH, MAX_JSON_DOCUMENT_CHARS, JsonLimitError, RawTable,
                                   arrow_floats, load_json_document, loads_json, plain_decimals, read_text, to_utc)

KIND = "dcgm"
FAMILY = "power"
RAW_COLUMNS = ["metric", "labels", "value", "timestamp_ms", "timestamp_s", "scraped_at", "json_path", "unparsed"]
REQUIRED = ["metric", "labels", "value"]
SOURCE_COLUMNS = {"power_w": "value", "energy_counter_j": "value", "utilisation_pct": "value",
                  "ts_utc": "timestamp_ms", "device_uuid": "labels", "host": "labels", "job_id": "labels"}
POWER_METRIC = "DCGM_FI_DEV_POWER_USAGE"
ENERGY_METRIC = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
UTIL_METRIC = "DCGM_FI_DEV_GPU_UTIL"
USED = {POWER_METRIC: "power_w", ENERGY_METRIC: "energy_counter_j", UTIL_METRIC: "utilisation_pct"}
SCALE = {POWER_METRIC: 1.0, ENERGY_METRIC: 1e-3, UTIL_METRIC: 1.0}   # energy counter mJ -> J
IDENTITY_LABELS = {"UUID", "uuid", "gpu", "modelName", "Hostname", "hostname", "hpc_job"}
NO_TIMESTAMP = ("no timestamp: scrape with timestamps, add a '# scraped_at <ISO-8601 with offset>' line "
                "above the samples, or use the range-query JSON")

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf'^({_NAME})\s*(?:\{{((?:[^"}}]|"(?:[^"\\]|\\.)*")*)\}})?\s+(\S+)(?:\s+(\S+))?\s*$')
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_SCRAPED_AT = re.compile(r"^#\s*scraped_at\s+(\S.*?)\s*$")
_INT = re.compile(r"^-?\d+$")
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class LabelError(ValueError):
    pass


def parse_labels(text: str) -> dict[str, str]:
    """``gpu="0",UUID="GPU-1"`` -> {"gpu": "0", "UUID": "GPU-1"} (Prometheus escapes \\\\, \\", \\n)."""
    out: dict[str, str] = {}
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if not m:
            raise LabelError(f"cannot read labels at '{text[pos:pos + 40]}'")
        key = m.group(1)
        if key in out:
            raise LabelError(f"label '{key}' repeated")
        out[key] = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e.group(0)], m.group(2))
        pos = m.end()
        if not m.group(3) and pos < len(text):
            raise LabelError(f"missing ',' before '{text[pos:pos + 40]}'")
    return out


def format_labels(labels: dict) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return ",".join(f'{k}="{esc(str(v))}"' for k, v in labels.items())


def parse_value(text: object) -> float | None:
    """Prometheus sample value -> float (NaN / +Inf / -Inf -> NaN); None when it is not a number."""
    if not isinstance(text, str):
        return None
    try:
        v = float(text.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else float("nan")


def sniff(columns: list[str]) -> bool:
    return set(REQUIRED) | {"timestamp_ms", "json_path"} <= set(columns)


def sniff_raw(raw: RawTable) -> bool:
    """Any text file reads as lines: it is a DCGM scrape only if it has DCGM metric samples."""
    metric = raw.frame["metric"]
    if isinstance(metric.dtype, pd.CategoricalDtype):       # the JSON reader's metric column: look at the names
        metric = pd.Series(metric.cat.categories[np.unique(metric.cat.codes[metric.cat.codes >= 0])])
    return bool(metric.astype("string").str.startswith("DCGM_FI_").fillna(False).any())


def _empty_row() -> dict:
    return {c: "" for c in RAW_COLUMNS}


def _read_text(path: Path) -> str:
    return read_text(path, what="DCGM metrics")


def _from_exposition(text: str, path: Path) -> tuple[list[dict], list[int]]:
    rows, lines = [], []
    recognised = False
    scraped_at = ""
    for n, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            m = _SCRAPED_AT.match(s)
            if m:
                scraped_at = m.group(1)
            elif re.match(r"^#\s*(HELP|TYPE)\s", s):
                recognised = True
            continue
        row = _empty_row()
        row["scraped_at"] = scraped_at
        m = _SAMPLE.match(s)
        if m:
            row.update(metric=m.group(1), labels=m.group(2) or "", value=m.group(3), timestamp_ms=m.group(4) or "")
            recognised = recognised or m.group(1).startswith("DCGM_")
        else:
            row["unparsed"] = s[:2000]
        rows.append(row)
        lines.append(n)
    if not recognised:
        raise InputError("is neither a Prometheus text scrape nor a range-query JSON (no '# TYPE' line, no DCGM_ "
                         "sample)", file=str(path),
                         fix="save the dcgm-exporter /metrics output, or a Prometheus /api/v1/query_range response")
    return rows, lines


@contextmanager
def _gc_paused():
    """Cyclic GC off while a document becomes millions of small lists (none forms a cycle): the collector would
    otherwise re-scan every container built so far, several times over, and cost more than the parse itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _well_formed(points: list) -> tuple[tuple, tuple] | None:
    """(timestamps, value texts) when every point is ``[number, "text"]``, else None (checked per series, in bulk)."""
    if not points:
        return (), ()
    if set(map(type, points)) != {list} or set(map(len, points)) != {2}:
        return None
    ts, values = zip(*points)
    if set(map(type, values)) != {str} or not set(map(type, ts)) <= {int, float}:   # bool is not int here
        return None
    return ts, values


class _JsonRows:
    """Raw rows of a range-query document, built per series: a well-formed series adds its points in bulk (one
    metric / labels code and a run of timestamp and value texts), any other point is added on its own."""

    def __init__(self) -> None:
        self.codes = {"metric": {"": 0}, "labels": {"": 0}, "unparsed": {"": 0}}
        self.seg: list[tuple[int, int, int, int, int, int, int]] = []   # series, kind, first j, rows, codes...
        self.ts_parts: list[pa.Array] = []      # timestamp texts, in row order (large_string)
        self.value_parts: list[pa.Array] = []   # value texts, in row order (large_string)
        self._ts: list[str] = []                # rows not yet in a part (the careful path's rows)
        self._values: list[str] = []

    def _code(self, column: str, text: str) -> int:
        return self.codes[column].setdefault(text, len(self.codes[column]))

    def _flush(self) -> None:
        if self._values:
            self.ts_parts.append(pa.array(self._ts, type=pa.large_string()))
            self.value_parts.append(pa.array(self._values, type=pa.large_string()))
            self._ts, self._values = [], []

    def series_text(self, i: int, kind: int, name: str, labels: str, ts: pa.Array, values: pa.Array) -> None:
        """A series read in bulk from the text (``_range_values``): timestamps and values as written."""
        if not len(values):
            return
        self._flush()
        self.seg.append((i, kind, 0, len(values), self._code("metric", name), self._code("labels", labels), 0))
        self.ts_parts.append(ts)
        self.value_parts.append(values)

    def series(self, i: int, kind: int, name: str, labels: str, ts: tuple, values: tuple) -> None:
        """A well-formed series parsed by ``json.loads``: timestamps as text (integers exactly, others repr)."""
        if not values:
            return
        self._flush()
        self.seg.append((i, kind, 0, len(values), self._code("metric", name), self._code("labels", labels), 0))
        ints = set(map(type, ts)) == {int} and -2**63 <= min(ts) and max(ts) < 2**63
        self.ts_parts.append(pc.cast(pa.array(ts, type=pa.int64()), pa.large_string()) if ints
                             else pa.array(list(map(repr, ts)), type=pa.large_string()))
        self.value_parts.append(pa.array(values, type=pa.large_string()))

    def row(self, i: int, kind: int, j: int, *, metric: str = "", labels: str = "", value: str = "",
            timestamp_s: str = "", unparsed: str = "") -> None:
        self.seg.append((i, kind, j, 1, self._code("metric", metric), self._code("labels", labels),
                         self._code("unparsed", unparsed)))
        self._values.append(value)
        self._ts.append(timestamp_s)

    def frame(self) -> tuple[pd.DataFrame, dict]:
        """The raw frame and its derived columns (``RawTable.derived``): ``json_path`` is written out only for
        the rows that need it (quarantined rows), not for a day's million points (~40 MB of text, ~0.15 s)."""
        if not self.seg:
            frame = pd.DataFrame({c: pd.Series(dtype="string") for c in RAW_COLUMNS})
            frame["source_row"] = pd.Series(dtype="int64")
            return frame, {}
        seg = np.array(self.seg, dtype=np.int64)
        size = seg[:, 3]
        n = int(size.sum())
        self._flush()
        ts_text = pa.concat_arrays(self.ts_parts)
        values = pa.concat_arrays(self.value_parts)
        empty = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[""])

        def categorical(column: str, k: int) -> pd.Categorical:
            return pd.Categorical.from_codes(np.repeat(seg[:, k], size), categories=list(self.codes[column]))

        frame = pd.DataFrame({
            "metric": categorical("metric", 4), "labels": categorical("labels", 5),
            "value": pd.array(values, dtype="string"),
            "timestamp_ms": empty, "timestamp_s": pd.array(ts_text, dtype="string"),
            "scraped_at": empty.copy(), "json_path": empty.copy(),      # derived: see json_paths
            "unparsed": categorical("unparsed", 6), "source_row": np.arange(1, n + 1, dtype=np.int64)})
        return frame, {"json_path": lambda positions: json_paths(seg, positions)}


def json_paths(seg: np.ndarray, positions) -> list[str]:
    """The ``json_path`` of raw rows (positions) from the reader's segments (series, form, first point, points)."""
    positions = np.asarray(positions, dtype=np.int64)
    first_row = np.cumsum(seg[:, 3]) - seg[:, 3]
    k = np.searchsorted(first_row, positions, side="right") - 1
    out = []
    for p, s in zip(positions.tolist(), k.tolist()):
        i, kind, j0 = int(seg[s, 0]), int(seg[s, 1]), int(seg[s, 2])
        out.append(f"data.result[{i}].values[{j0 + p - int(first_row[s])}]" if kind == _POINT else
                   f"data.result[{i}].value" if kind == _VALUE else f"data.result[{i}]")
    return out


_POINT, _VALUE, _SERIES = 0, 1, 2     # json_path forms: data.result[i].values[j] / data.result[i].value / data.result[i]


def _from_json(text: str, path: Path) -> tuple[pd.DataFrame, dict]:
    with _gc_paused():
        return _json_rows(text, path)      # the document is freed on return, before the collector is back


def _load_document(text: str) -> tuple[object, list[str], list] | None:
    """(document, array texts, arrays) with the points of every ``"values"`` array read in bulk (``_range_values``): the
    document's series hold placeholders, ``arrays[k]`` is (timestamp texts, value texts) or, for an array not in
    Prometheus' compact form, its points as ``json.loads`` reads them. None when the text cannot be split that
    way (then it is read whole, as any JSON)."""
    if len(text) > MAX_JSON_DOCUMENT_CHARS:
        return None
    cut = _range_values.split(text)
    if cut is None:
        return None
    skeleton, texts = cut
    try:
        doc = loads_json(skeleton, max_depth=MAX_JSON_DEPTH - 2)      # each array adds two levels
    except (JsonLimitError, ValueError):
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    found = [_range_values.placeholder(s.get("values")) for s in result if isinstance(s, dict)] \
        if isinstance(result, list) else []
    if sorted(k for k in found if k is not None) != list(range(len(texts))):
        return None                                 # a placeholder elsewhere than a series' values
    arrays: list = _range_values.points(texts)
    for k, bulk in enumerate(arrays):
        if bulk is None:
            try:
                arrays[k] = _range_values.loads_array(texts[k])
            except (ValueError, RecursionError):
                return None
    return doc, texts, arrays


def _json_rows(text: str, path: Path) -> tuple[pd.DataFrame, dict]:
    """Rows of a range-query document (see ``_JsonRows``); errors name the file and what to do."""
    loaded = _load_document(text)
    doc, texts, arrays = loaded if loaded is not None else (None, [], [])
    if loaded is None:
        doc = load_json_document(text, file=str(path), what="Prometheus query response",
                                 fix="save the complete Prometheus API response")
    if not isinstance(doc, dict) or doc.get("status") != "success":
        err = doc.get("error") if isinstance(doc, dict) else None
        raise InputError("is not a successful Prometheus query response" + (f" (error: {err})" if err else ""),
                         file=str(path), fix="re-run the query; the file must have \"status\": \"success\"")
    data = doc.get("data")
    rtype = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if rtype not in ("matrix", "vector") or not isinstance(result, list):
        raise InputError(f"has resultType '{rtype}'; expected a matrix (query_range) or vector (query)",
                         file=str(path), fix="query the DCGM metric itself, e.g. DCGM_FI_DEV_POWER_USAGE[1h] or "
                                             "/api/v1/query_range?query=DCGM_FI_DEV_POWER_USAGE")
    kind = _POINT if rtype == "matrix" else _VALUE
    rows = _JsonRows()
    for i, series in enumerate(result):
        metric = series.get("metric") if isinstance(series, dict) else None
        points = (series.get("values") if rtype == "matrix" else [series.get("value")]) \
            if isinstance(series, dict) else None
        k = _range_values.placeholder(points) if texts else None
        if k is not None:
            points = arrays[k]
            if isinstance(points, tuple) and not isinstance(metric, dict):
                points = _range_values.loads_array(texts[k])    # read as it is: every point unparsed
        if not isinstance(points, (list, tuple)):
            rows.row(i, _SERIES, 0, unparsed=json.dumps(series)[:2000])
            continue
        labels = dict(metric) if isinstance(metric, dict) else {}
        name = str(labels.pop("__name__", ""))
        label_text = format_labels(labels) if isinstance(metric, dict) else ""
        if isinstance(points, tuple):
            rows.series_text(i, kind, name, label_text, *points)
            continue
        bulk = _well_formed(points) if isinstance(metric, dict) else None
        if bulk is not None:
            rows.series(i, kind, name, label_text, *bulk)
            continue
        for j, point in enumerate(points):       # the careful path: one row per point, as it is
            if isinstance(point, list) and len(point) == 2 and isinstance(point[0], (int, float)) \
                    and not isinstance(point[0], bool) and isinstance(point[1], str) and isinstance(metric, dict):
                rows.row(i, kind, j, metric=name, labels=label_text, value=point[1], timestamp_s=repr(point[0]))
            else:
                rows.row(i, kind, j, unparsed=json.dumps(point)[:2000])
    return rows.frame()


def read_raw(path: Path) -> RawTable:
    text = _read_text(path)
    if not text.strip():
        raise InputError("the file is empty; expected DCGM metrics", file=str(path),
                         fix="save the dcgm-exporter /metrics output or a Prometheus query_range response")
    if "\x00" in text:
        raise InputError("is not a text file (contains NUL bytes)", file=str(path),
                         fix="point the source at the DCGM metrics file")
    if text.lstrip().startswith("{"):
        frame, derived = _from_json(text, path)
        return RawTable(path=path, frame=frame, derived=derived)
    rows, numbers = _from_exposition(text, path)
    frame = pd.DataFrame.from_records(rows, columns=RAW_COLUMNS).astype("string") if rows else \
        pd.DataFrame({c: pd.Series(dtype="string") for c in RAW_COLUMNS})
    frame["source_row"] = pd.Series(numbers, dtype="int64")
    return RawTable(path=path, frame=frame)


# --- column helpers: a raw column is text, as "string" or as a categorical (the JSON reader's per-series columns)

def _codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(code per row, texts): missing values read as "" (as ``fillna("")``)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy().astype(np.int64)
        texts = [str(c) for c in col.cat.categories]
    else:
        codes, uniques = pd.factorize(col)
        codes = codes.astype(np.int64)
        texts = [str(u) for u in uniques]
    codes[codes < 0] = len(texts)
    return codes, texts + [""]


def _arrow_text(col: pd.Series) -> pa.Array:
    """The column as an Arrow string array (missing values null), without a Python object per row."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        cats = pa.array([str(c) for c in col.cat.categories], type=pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0), cats) \
            .dictionary_decode()
    try:
        arr = pa.array(col.array)
    except (TypeError, pa.ArrowException):
        arr = None
    if not isinstance(arr, (pa.Array, pa.ChunkedArray)) or not (pa.types.is_string(arr.type)
                                                                 or pa.types.is_large_string(arr.type)):
        arr = pa.array(col.astype(object).tolist(), type=pa.string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _nonempty(col: pd.Series) -> np.ndarray:
    """Rows with any text (before stripping): the rows the per-row rules below need to look at."""
    if isinstance(col.dtype, pd.CategoricalDtype):      # per category, not per row (the JSON reader's columns)
        has_text = np.array([len(str(c)) > 0 for c in col.cat.categories] + [False], dtype=bool)
        return has_text[col.cat.codes.to_numpy()]
    arr = _arrow_text(col)
    return np.asarray(pc.fill_null(pc.greater(pc.utf8_length(arr), 0), False), dtype=bool)


def parse_values(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``parse_value`` of every row, in bulk: (float values, parsed). Plain decimals are converted by Arrow
    (correctly rounded, as ``float``); any other text (NaN, +Inf, spaces, ...) goes through ``parse_value``
    once per distinct text."""
    arr = _arrow_text(col)
    out, plain = plain_decimals(arr)
    ok = plain.copy()
    rest = np.flatnonzero(~plain)
    if len(rest):
        codes, uniques = pd.factorize(pd.Series(arr.take(pa.array(rest)).to_pylist(), dtype=object))
        parsed = [parse_value(u) for u in uniques] + [None]        # code -1: a missing value
        vals = np.array([np.nan if p is None else p for p in parsed])
        good = np.array([p is not None for p in parsed])
        out[rest], ok[rest] = vals[codes], good[codes]
    with np.errstate(invalid="ignore"):
        out[ok & ~np.isfinite(out)] = np.nan
    return out, ok


# --- timestamps -------------------------------------------------------------------------------------------

_NAT = np.iinfo(np.int64).min
_LO_NS = pd.Timestamp("1900-01-01", tz="UTC").value
_HI_NS = pd.Timestamp("2200-01-01", tz="UTC").value
_PLAIN_SECONDS = r"^-?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$"


def _timestamps(f: pd.DataFrame) -> tuple[np.ndarray, dict[int, str]]:
    """(ts_utc as int64 ns, _NAT where none; position -> reason for rows without a usable timestamp)."""
    n = len(f)
    ts = np.full(n, _NAT, dtype=np.int64)
    why: dict[int, str] = {}
    lo, hi = pd.Timestamp(_LO_NS, tz="UTC"), pd.Timestamp(_HI_NS, tz="UTC")

    def stripped(column: str, rows: np.ndarray) -> tuple[np.ndarray, pd.Series]:
        """Rows (positions, from ``rows``) whose text is not blank, and that text stripped."""
        if not len(rows):
            return rows, pd.Series([], dtype="string")
        text = f[column].iloc[rows].astype("string").fillna("").str.strip()
        keep = (text != "").to_numpy(dtype=bool)
        return rows[keep], text[keep]

    def put(pos: np.ndarray, ns: pd.Series, column: str) -> None:
        ok = (ns.notna() & (ns >= lo) & (ns < hi)).to_numpy(dtype=bool)
        ts[pos[ok]] = pd.DatetimeIndex(ns[ok]).as_unit("ns").asi8
        for p, v in zip(pos[~ok], f[column].iloc[pos[~ok]]):
            why[int(p)] = f"{column} '{v}' is not a time between 1900 and 2200"

    ms_pos, ms_text = stripped("timestamp_ms", np.flatnonzero(_nonempty(f["timestamp_ms"])))
    if len(ms_pos):
        ms = pd.to_numeric(ms_text.where(ms_text.str.match(_INT.pattern)), errors="coerce")
        ms = ms.where(ms.abs() < 1e15)
        put(ms_pos, pd.to_datetime(ms, unit="ms", utc=True, errors="coerce"), "timestamp_ms")
    dated = np.zeros(n, dtype=bool)
    dated[ms_pos] = True

    # JSON point times: seconds as JSON wrote them; plain numbers in bulk (Arrow), anything else as pandas reads it
    s_arr = _arrow_text(f["timestamp_s"])
    cand = ~dated & np.asarray(pc.fill_null(pc.greater(pc.utf8_length(s_arr), 0), False), dtype=bool)
    whole = arrow_floats(s_arr)         # every time a number Arrow reads (a range-query file): no regex
    if whole is not None:
        plain = cand & whole[1]
        sec = np.where(plain, whole[0], np.nan)
    else:
        plain = cand & np.asarray(pc.fill_null(pc.match_substring_regex(s_arr, _PLAIN_SECONDS), False), dtype=bool)
        sec = np.full(n, np.nan)
        if plain.any():
            sec[plain] = pc.cast(s_arr.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
    other_pos, other_text = stripped("timestamp_s", np.flatnonzero(cand & ~plain))
    if len(other_pos):
        sec[other_pos] = pd.to_numeric(other_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    s_pos = np.flatnonzero(plain) if not len(other_pos) else np.sort(np.concatenate([np.flatnonzero(plain), other_pos]))
    with np.errstate(invalid="ignore", over="ignore"):
        ms_s = np.round(sec[s_pos] * 1e3)
        ok = (np.abs(sec[s_pos]) < 1e12) & (ms_s * 1e6 >= _LO_NS) & (ms_s * 1e6 < _HI_NS)
    ts[s_pos[ok]] = ms_s[ok].astype(np.int64) * 1_000_000
    for p, v in zip(s_pos[~ok], f["timestamp_s"].iloc[s_pos[~ok]]):
        why[int(p)] = f"timestamp_s '{v}' is not a time between 1900 and 2200"
    dated[s_pos] = True

    sa_pos, sa_text = stripped("scraped_at", np.flatnonzero(~dated & _nonempty(f["scraped_at"])))
    if len(sa_pos):
        sa = to_utc(sa_text, assume_zone=None)
        good = sa.notna().to_numpy(dtype=bool)
        ts[sa_pos[good]] = pd.DatetimeIndex(sa[good]).as_unit("ns").asi8
        for p, v in zip(sa_pos[~good], sa_text[~good]):
            why[int(p)] = f"'# scraped_at {v}' is not ISO 8601 with a UTC offset (Z or +01:00)"
    dated[sa_pos] = True
    for p in np.flatnonzero(~dated):
        why[int(p)] = NO_TIMESTAMP
    return ts, why


def _merge_labels(label_dicts: list[dict]) -> dict:
    keys = sorted({k for d in label_dicts for k in d} - IDENTITY_LABELS)
    out = {}
    for k in keys:
        vals = sorted({d[k] for d in label_dicts if k in d})
        out[k] = vals[0] if len(vals) == 1 else ",".join(vals)
    return out


def _identity(labels: dict) -> dict:
    """The identity labels of one label set (first non-empty of the accepted spellings, else None) and its
    device key: ``uuid:<UUID>``, else ``host:<host>/gpu:<gpu>``, else None (no device)."""
    def get(*keys):
        return next((labels[k] for k in keys if labels.get(k, "") != ""), None)
    out = {"uuid": get("UUID", "uuid"), "gpu": get("gpu"), "host": get("hostname", "Hostname", "instance"),
           "model": get("modelName"), "mig": get("GPU_I_ID")}
    out["device"] = f"uuid:{out['uuid']}" if out["uuid"] is not None else \
        f"host:{out['host']}/gpu:{out['gpu']}" if out["gpu"] is not None and out["host"] is not None else None
    return out


def _job_and_labels(dicts: list[dict]) -> tuple[str | None, str]:
    """job_id and labels_json of a GPU-time row from the label sets of the samples counted in it."""
    job_values = sorted({d["hpc_job"] for d in dicts if d.get("hpc_job", "") != ""})
    merged = _merge_labels(dicts)
    if len(job_values) > 1:
        merged["hpc_job"] = ",".join(job_values)
    return (job_values[0] if len(job_values) == 1 else None), json.dumps(merged, sort_keys=True, ensure_ascii=False)


def to_canonical(raw: RawTable, *, source_label: str, site_zone: str) -> Parsed:
    """Raw samples -> one POWER row per physical GPU and time. Column-wise: labels are parsed once per distinct
    label text, values and times in bulk; Python runs per distinct label set and per quarantined / folded row."""
    f = raw.frame
    index = f.index
    source_row = f["source_row"].to_numpy(dtype=np.int64)
    quarantine: dict = {}
    folded: dict = {}

    # 1. parse every row: labels once per distinct label text, values in bulk
    metric_code, metric_names = _codes(f["metric"])
    label_code, label_texts = _codes(f["labels"])
    unparsed_code, unparsed_texts = _codes(f["unparsed"])
    parsed_labels: list[dict | str] = []
    for text in label_texts:
        try:
            parsed_labels.append(parse_labels(text))
        except LabelError as exc:
            parsed_labels.append(str(exc))
    values, value_ok = parse_values(f["value"])
    bad = np.array([t != "" for t in unparsed_texts])[unparsed_code]
    no_metric = np.array([m == "" for m in metric_names])[metric_code]
    label_error = np.array([isinstance(p, str) for p in parsed_labels])[label_code]
    no_labels = np.array([isinstance(p, dict) and not p for p in parsed_labels])[label_code]
    step = np.select([bad | no_metric, label_error, ~value_ok, no_labels], [1, 2, 3, 4], 0)
    value_col = f["value"]
    for p in np.flatnonzero(step):
        i, s = index[p], step[p]
        if s == 1:
            reason = "not a Prometheus sample 'NAME{labels} value [timestamp]'" if bad[p] else \
                "sample without a metric name"
            quarantine[i] = [("unparseable_sample", reason)]
        elif s == 2:
            quarantine[i] = [("unparseable_sample", f"labels: {parsed_labels[label_code[p]]}")]
        elif s == 3:
            quarantine[i] = [("unparseable_sample", f"value '{value_col.iat[p]}' is not a number")]
        else:
            quarantine[i] = [("sample_without_labels", (f"{metric_names[metric_code[p]]} has no labels (no UUID / "
                                                        "gpu / host): it cannot be attributed to a GPU (dummy value?)"))]
    valid = step == 0
    # a DCGM day is ~1 M rows, each array ~9 MB: temporaries are dropped as soon as they are used, or the ~40 of
    # them alive together made reading a file peak ~450 MB above its result
    del bad, no_metric, label_error, no_labels, step, value_ok, unparsed_code

    ts, ts_why = _timestamps(f)
    for p in sorted(ts_why):
        if valid[p]:
            reason = ts_why[p]
            quarantine[index[p]] = [("no_timestamp" if reason == NO_TIMESTAMP else "bad_timestamp", reason)]
            valid[p] = False

    ident = [_identity(d) if isinstance(d, dict) else _identity({}) for d in parsed_labels]
    dev_of_label, _ = pd.factorize(pd.Series([x["device"] for x in ident], dtype=object))   # None -> -1
    no_device = valid & (dev_of_label[label_code] < 0)
    for p in np.flatnonzero(no_device):
        quarantine[index[p]] = [("no_device", "labels name neither a UUID nor a gpu index with a host")]
    valid &= ~no_device

    # 2. one group per physical GPU and time
    pos = np.flatnonzero(valid)                        # rows, in file order
    dev, t = dev_of_label[label_code[pos]], ts[pos]
    order = device_time_order(dev, t)                  # by GPU, time, then file order
    new_group = np.ones(len(pos), dtype=bool)
    new_group[1:] = (dev[order][1:] != dev[order][:-1]) | (t[order][1:] != t[order][:-1])
    group = np.empty(len(pos), dtype=np.int64)
    group[order] = np.cumsum(new_group) - 1
    n_groups = int(new_group.sum())
    del dev, t, new_group, valid, no_device
    used_code = {m: k for k, m in enumerate(USED)}
    metric_used = np.array([used_code.get(m, -1) for m in metric_names])
    used = metric_used[metric_code[pos]]               # 0, 1, 2 for the used metrics, -1 for the others
    metric_rows = np.bincount(used[used >= 0], minlength=len(USED))
    v = values[pos]
    del values
    nan = np.isnan(v)
    finite = (used >= 0) & ~nan
    target = np.full(n_groups, -1, dtype=np.int64)     # index into pos: the group's row (its first finite sample)
    fin = order[finite[order]]
    fin_first = np.r_[True, group[fin][1:] != group[fin][:-1]] if len(fin) else np.zeros(0, dtype=bool)
    target[group[fin[fin_first]]] = fin[fin_first]
    del finite, fin, fin_first
    # the reference sample of each (group, used metric): its first finite value, else its first sample
    u = order[used[order] >= 0]
    key = group[u] * len(USED) + used[u]
    by_key = np.argsort(key * 2 + nan[u], kind="stable")     # sorted already but for repeats: near linear
    ref_order, ref_key = u[by_key], key[by_key]
    first = np.r_[True, ref_key[1:] != ref_key[:-1]] if len(ref_key) else np.zeros(0, dtype=bool)
    ref_of_key = np.full(n_groups * len(USED), -1, dtype=np.int64)
    ref_of_key[ref_key[first]] = ref_order[first]
    del u, key, by_key, ref_order, ref_key, first
    ref = np.where(used >= 0, ref_of_key[group * len(USED) + np.maximum(used, 0)], -1)

    row = np.arange(len(pos))
    kept = target[group] >= 0
    ref_v = np.where(ref >= 0, v[np.maximum(ref, 0)], np.nan)
    with np.errstate(invalid="ignore"):
        same = v == ref_v
    # per row: 0 no power metric, 1 not used, 2 reference, 3 NaN, 4 repeat, 5 conflicting
    fate = np.select([~kept, used < 0, ref == row, nan, same], [0, 1, 2, 3, 4], 5)
    contributes = kept & ((fate == 2) | (fate == 4))
    is_target = target[group] == row
    del kept, same, row, nan, used

    where_of_label = [f" (MIG instance GPU_I_ID={x['mig']})" if x["mig"] is not None else "" for x in ident]
    labels_index = index.to_numpy()
    for k in np.flatnonzero((fate == 0) | (fate == 5)):
        p = pos[k]
        metric = metric_names[metric_code[p]]
        if fate[k] == 0:
            reason = ("no_power_metric", (f"no {POWER_METRIC} / {ENERGY_METRIC} / {UTIL_METRIC} value for this GPU "
                                          "at this time: nothing to measure"))
        else:
            reason = ("conflicting_duplicate",
                      (f"{metric} = {float(v[k])} differs from {float(ref_v[k])} on line "
                       f"{int(source_row[pos[ref[k]]])} for the same GPU and time{where_of_label[label_code[p]]} "
                       "(first kept)"))
        quarantine[labels_index[p]] = [reason]
    # folded rows: their notes depend on the metric (and MIG instance), or for NaN / repeats on the reference line
    fold = (fate == 1) | ((fate == 2) & ~is_target) | (fate == 3) | (fate == 4)
    notes_of = np.empty(len(pos), dtype=object)
    m1 = fold & (fate == 1)
    notes_of[m1] = np.array([f"{m} is not used for energy (counted with the GPU's row)" for m in metric_names],
                            dtype=object)[metric_code[pos[m1]]]
    m2 = np.flatnonzero(fold & (fate == 2))
    pair, pairs = pd.factorize(metric_code[pos[m2]] * len(label_texts) + label_code[pos[m2]])
    notes_of[m2] = np.array([f"{metric_names[x // len(label_texts)]} joined onto this GPU's row for the same time"
                             f"{where_of_label[x % len(label_texts)]}" for x in pairs.tolist()] + [""],
                            dtype=object)[pair]
    for k in np.flatnonzero(fold & ((fate == 3) | (fate == 4))):
        p = pos[k]
        metric, ref_line = metric_names[metric_code[p]], int(source_row[pos[ref[k]]])
        notes_of[k] = f"{metric} has no value (NaN); the GPU's value for this time is on line {ref_line}" \
            if fate[k] == 3 else (f"{metric} repeats the whole-GPU value of line {ref_line}"
                                  f"{where_of_label[label_code[p]]}: de-duplicated by UUID, counted once")
    folded.update(zip(labels_index[pos[fold]].tolist(),
                      zip(labels_index[pos[target[group[fold]]]].tolist(), notes_of[fold].tolist())))
    del fold, notes_of, m1, m2, pair, fate, ref, ref_v, is_target

    # 3. the GPU-time rows, in file order of their first finite sample
    rows = np.sort(target[target >= 0])
    g_out = group[rows]
    p_out = pos[rows]
    out = pd.DataFrame(index=index[p_out])
    out["source_file"] = pd.Categorical.from_codes(np.zeros(len(p_out), dtype=np.int8),
                                                   categories=pd.Index([source_label], dtype="string"))
    out["source_row"] = source_row[p_out]
    lab = label_code[p_out]
    for col, name in (("host", "host"), ("device_uuid", "uuid"), ("gpu_index", "gpu"), ("gpu_model", "model")):
        out[col] = category_from_codes(lab, [x[name] for x in ident], out.index)
    out["ts_utc"] = pd.DatetimeIndex(ts[p_out].view("datetime64[ns]")).tz_localize("UTC")
    for metric, m in used_code.items():
        if not metric_rows[m]:                         # not in this file (many exporters send power only)
            out[USED[metric]] = np.full(len(p_out), np.nan)
            continue
        r = ref_of_key[g_out * len(USED) + m]
        out[USED[metric]] = np.where(r >= 0, v[np.maximum(r, 0)], np.nan) * SCALE[metric]
    # job and labels: from the set of label texts counted in each row (one text per GPU and time, but for MIG)
    c = order[contributes[order]]
    cg, cl = group[c], label_code[pos[c]]
    next_group = cg[1:] != cg[:-1]
    if next_group.all():                               # one sample per GPU and time (no MIG, one metric)
        starts = np.arange(len(c))
        lo = hi = cl
    else:
        starts = np.flatnonzero(np.r_[True, next_group])
        lo = np.minimum.reduceat(cl, starts)
        hi = np.maximum.reduceat(cl, starts)
    combo_of_group = np.full(n_groups, -1, dtype=np.int64)
    combo_of_group[cg[starts]] = lo                    # one label text: its code; several: a code after them
    combos: dict[tuple, int] = {}
    ends = np.r_[starts[1:], len(c)]
    for s in np.flatnonzero(lo != hi):
        members = tuple(sorted(set(cl[starts[s]:ends[s]].tolist())))
        combo_of_group[cg[starts[s]]] = combos.setdefault(members, len(label_texts) + len(combos))
    seen = np.bincount(lo[lo == hi], minlength=len(label_texts)) > 0
    results = [_job_and_labels([parsed_labels[x]]) if seen[x] else (None, None) for x in range(len(label_texts))]
    results += [_job_and_labels([parsed_labels[x] for x in members]) for members in combos]
    codes_out = combo_of_group[g_out]
    out["job_id"] = category_from_codes(codes_out, [r[0] for r in results], out.index) if results else pd.NA
    out["labels_json"] = category_from_codes(codes_out, [r[1] for r in results], out.index) if results else pd.NA
    del order, group, pos, ts, v, source_row, contributes, c, cg, cl, label_code, metric_code, target, ref_of_key
    del g_out, p_out, lab, codes_out, labels_index

    notes = []
    mig_repeats = sum(1 for _, note in folded.values() if "MIG instance" in note and "repeats" in note)
    if mig_repeats:
        notes.append(f"{mig_repeats} MIG-instance repeat(s) of whole-GPU power/energy folded (de-duplicated by UUID)")
    no_ts = sum(1 for rs in quarantine.values() if rs[0][0] == "no_timestamp")
    if no_ts:
        notes.append(f"{no_ts} sample(s) without a timestamp quarantined: {NO_TIMESTAMP}")
    unlabeled = sum(1 for rs in quarantine.values() if rs[0][0] == "sample_without_labels")
    if unlabeled:
        notes.append(f"{unlabeled} sample(s) without labels quarantined")
    return Parsed(frame=conform(out, POWER), quarantine=quarantine, folded=folded, notes=notes)
