"""What the Spark executors run: one **unit** of a billing file (a range of rows of a Parquet file, or a whole
CSV / JSON file) read and mapped to canonical usage rows by the same code as the pandas engine
(``pipeline.sources._chunks`` and ``pipeline.ingest_file.parse``), returned as Arrow record batches.

A unit is the chunk the pandas engine reads: Parquet rows ``[k * chunk_rows, (k + 1) * chunk_rows)`` (the
batches of ``ParquetFile.iter_batches``, which run across row groups), any other file whole. So notes and
every per-chunk decision of an adapter are the same on both engines.

Each unit gives its canonical rows (``ROW_SCHEMA``: the canonical usage columns, ``is_usage`` and helper
columns starting with ``_``) and one **meta row** (``_meta`` set, every other column empty) holding, as JSON,
the unit's raw column names, rows read, notes and, when reading or mapping failed, the exception (pickled, so
the driver raises the very error the pandas engine would raise, in the same order).
"""

from __future__ import annotations

import base64
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.canonical import USAGE
from pipeline.config import Config, Source
from pipeline.sources._chunks import batch_to_text
from pipeline.sources._text import RawTable

_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
          "datetime64[ns, UTC]": pa.timestamp("us", tz="UTC")}
_SPARK = {"string": "string", "int64": "bigint", "float64": "double", "bool": "boolean",
          "datetime64[ns, UTC]": "timestamp"}

CANONICAL = {**USAGE, "is_usage": "bool"}        # the canonical usage frame of ``ingest_file.parse``
HELPERS = {"_ordinal": "int64",   # the row's 0-based position in the file (the pandas engine's index)
           "_unit": "int64",      # the unit (chunk) it was read in
           "_month": "string",    # month of usage_start_utc in the entity's zone, as UsageGroups computes it
           "_pre": "string",      # JSON [[code, reason], ...]: quarantined by the adapter / a malformed line
           "_meta": "string"}     # set on the one meta row of each unit
ROW_SCHEMA = pa.schema([(c, _ARROW[t]) for c, t in {**CANONICAL, **HELPERS}.items()])
ROW_DDL = ", ".join(f"`{c}` {_SPARK[t]}" for c, t in {**CANONICAL, **HELPERS}.items())
RAW_SCHEMA = pa.schema([("_ordinal", pa.int64()), ("_raw", pa.string())])
RAW_DDL = "`_ordinal` bigint, `_raw` string"
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Unit:
    index: int
    start: int | None      # None: the whole file, read as the pandas engine reads it
    stop: int | None


@dataclass(frozen=True)
class FileTask:
    """Everything an executor needs to read the units of one file (pickled with the function)."""
    cfg: Config
    src: Source
    kind: str
    path: str
    label: str
    chunk_rows: int

    @property
    def adapter(self):
        from pipeline.ingest import ADAPTERS
        return ADAPTERS[self.kind]


def plan_units(adapter, path: Path, chunk_rows: int) -> list[Unit]:
    """The units of a file: the pandas engine's chunks (see the module docstring)."""
    from pipeline.sources._chunks import is_parquet

    if not (hasattr(adapter, "normalise_raw") and is_parquet(path)):
        return [Unit(0, None, None)]
    try:
        import pyarrow.parquet as pq
        meta = pq.ParquetFile(path)
        names = meta.schema_arrow.names
        rows = int(meta.metadata.num_rows)
    except Exception:  # noqa: BLE001 - unreadable: one unit, whose read raises the pandas engine's InputError
        return [Unit(0, None, None)]
    if rows == 0 or len(set(names)) != len(names):
        return [Unit(0, None, None)]
    step = max(int(chunk_rows), 1)
    return [Unit(k, start, min(start + step, rows)) for k, start in enumerate(range(0, rows, step))]


def read_unit(task: FileTask, unit: Unit) -> RawTable:
    adapter, path = task.adapter, Path(task.path)
    if unit.start is None:      # a text file (or one Parquet cannot split): the whole file is one unit
        return adapter.read_raw(path)
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(path)
    offsets = np.cumsum([0] + [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)])
    groups = [i for i in range(pf.num_row_groups) if offsets[i] < unit.stop and offsets[i + 1] > unit.start]
    table = pf.read_row_groups(groups).slice(unit.start - int(offsets[groups[0]]), unit.stop - unit.start)
    frame = batch_to_text(table)
    frame.index = pd.RangeIndex(unit.start, unit.stop)
    frame["source_row"] = pd.Series(np.arange(unit.start + 1, unit.stop + 1, dtype="int64"), index=frame.index)
    frame = adapter.normalise_raw(frame, path)
    return RawTable(path=path, frame=frame)


def pack_error(exc: BaseException) -> str:
    try:
        return base64.b64encode(pickle.dumps(exc)).decode("ascii")
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled: raised on the driver as its text
        return base64.b64encode(pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))).decode("ascii")


def unpack_error(text: str) -> BaseException:
    return pickle.loads(base64.b64decode(text))


def _currency_note(frame: pd.DataFrame) -> list[str]:
    """The note ``ingest_file.read_file`` adds per chunk (same text)."""
    if not len(frame):
        return []
    cur = frame["currency"].fillna("")
    odd = ~cur.str.fullmatch(r"[A-Z]{3}") & (frame["cost"].fillna(0) != 0)
    if not odd.any():
        return []
    shown = ", ".join(sorted({repr(c) for c in cur[odd]})[:5])
    return [f"{int(odd.sum())} row(s) with a cost but no three-letter currency code ({shown}): "
            "their cost is reported under currency 'unknown', never added to another currency's"]


def _meta_batch(unit: Unit, meta: dict) -> pa.RecordBatch:
    arrays = [pa.nulls(1, f.type) for f in ROW_SCHEMA]
    arrays[ROW_SCHEMA.get_field_index("_unit")] = pa.array([unit.index], pa.int64())
    arrays[ROW_SCHEMA.get_field_index("_meta")] = pa.array([json.dumps(meta)], pa.string())
    return pa.RecordBatch.from_arrays(arrays, schema=ROW_SCHEMA)


def _column(series: pd.Series, dtype: str) -> pa.Array:
    if dtype.startswith("datetime64"):
        return pa.array(series, from_pandas=True).cast(_ARROW[dtype], safe=False)
    if dtype == "string":
        return pa.array(series.astype(object).where(series.notna(), None), pa.string())
    return pa.array(series, _ARROW[dtype], from_pandas=True)      # NaN -> null, as the GX null checks see it


def canonical_batches(task: FileTask, unit: Unit, zone: str):
    """The canonical rows of one unit, then its meta row."""
    from pipeline.ingest_file import parse

    meta: dict = {"unit": unit.index, "columns": None, "rows_read": 0, "notes": [], "error": None, "stage": None}
    try:
        raw = read_unit(task, unit)
    except Exception as exc:  # noqa: BLE001 - re-raised on the driver, where the pandas engine raises it
        meta.update(error=pack_error(exc), stage="read")
        yield _meta_batch(unit, meta)
        return
    meta["columns"] = [c for c in raw.frame.columns if c != "source_row"]
    meta["rows_read"] = len(raw.frame)
    try:
        parsed = parse(task.cfg, task.src, task.adapter, raw, task.label)
        frame = parsed.frame
        unexpected = sorted(set(frame.columns) ^ set(CANONICAL))
        if unexpected or parsed.folded:
            raise RuntimeError(f"the Spark engine does not support {task.kind} frames with columns {unexpected} "
                               f"or folded rows ({len(parsed.folded)})")
    except Exception as exc:  # noqa: BLE001 - as above
        meta.update(error=pack_error(exc), stage="parse")
        yield _meta_batch(unit, meta)
        return
    meta["notes"] = list(parsed.notes) + _currency_note(frame)
    pre: dict = {i: [list(r) for r in rs] for i, rs in parsed.quarantine.items()}
    for i, code_reason in raw.malformed.items():
        pre.setdefault(i, []).append(["row_has_wrong_field_count", code_reason])
    month = frame["usage_start_utc"].dt.tz_convert(zone).dt.strftime("%Y-%m")
    pre_col = pd.Series([json.dumps(pre[i]) if i in pre else None for i in frame.index], index=frame.index,
                        dtype=object)
    for lo in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[lo:lo + BATCH_ROWS]
        arrays = [_column(part[c], t) for c, t in CANONICAL.items()]
        arrays += [pa.array(part.index.to_numpy(dtype="int64"), pa.int64()),
                   pa.array(np.full(len(part), unit.index, dtype="int64"), pa.int64()),
                   _column(month.iloc[lo:lo + BATCH_ROWS], "string"),
                   pa.array(pre_col.iloc[lo:lo + BATCH_ROWS].tolist(), pa.string()),
                   pa.nulls(len(part), pa.string())]
        yield pa.RecordBatch.from_arrays(arrays, schema=ROW_SCHEMA)
    yield _meta_batch(unit, meta)


def raw_batches(task: FileTask, unit: Unit):
    """The raw cells of one unit (JSON list of text / null, in the file's column order), for quarantine files."""
    raw = read_unit(task, unit)
    cells = raw.frame.drop(columns=["source_row"])
    cells = cells.astype(object).where(cells.notna(), None)
    texts = [json.dumps(list(r)) for r in cells.itertuples(index=False, name=None)]
    yield pa.RecordBatch.from_arrays([pa.array(raw.frame.index.to_numpy(dtype="int64"), pa.int64()),
                                      pa.array(texts, pa.string())], schema=RAW_SCHEMA)


def _units_of(batches):
    for batch in batches:
        d = batch.to_pydict()
        for index, start, stop in zip(d["unit"], d["start"], d["stop"]):
            yield Unit(int(index), None if start is None else int(start), None if stop is None else int(stop))


def map_canonical(task: FileTask, zone: str, batches):
    """``mapInArrow`` function: unit rows in, canonical rows out."""
    for unit in _units_of(batches):
        yield from canonical_batches(task, unit, zone)


def map_raw(task: FileTask, batches):
    """``mapInArrow`` function: unit rows in, raw rows out."""
    for unit in _units_of(batches):
        yield from raw_batches(task, unit)
