"""Reading large billing inputs in chunks of rows, so a file of any size is read in bounded memory.

A chunk is a ``RawTable`` like the whole-file one (every cell as text, ``source_row`` the 1-based row of the
file), indexed by the row's ordinal in the file (0-based, unique across chunks) so that quarantine reasons
keyed by index stay unique. Parquet is read one record batch at a time (``pyarrow.parquet.ParquetFile.
iter_batches``), delimited text (plain or gzip) in blocks of rows (``_text.iter_delimited``).

An adapter opts in by defining ``normalise_raw(frame, path) -> frame`` (the renames / header fixes its
``read_raw`` applies after reading), so whole-file and chunked reading give the same columns, and for text
files ``DELIMITED`` (its ``read_delimited`` arguments). FOCUS and AWS CUR do. Azure, GCP and OCI exports are
read whole: their identical-row note compares rows across the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError
from pipeline.sources._text import RawTable, arrow_column_to_text, iter_delimited

DEFAULT_CHUNK_ROWS = 100_000


def is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


_AS_STRING = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}


def column_text(column: pa.Array | pa.ChunkedArray) -> pd.Series:
    """One Arrow column as text, the same text ``arrow_column_to_text`` gives, computed the cheap way: string
    columns are taken as they are (no copy through Python objects); other flat columns (timestamps, numbers)
    are formatted once per distinct value, which billing exports repeat on millions of rows (2,208 hours in
    a quarter); nested columns go to ``arrow_column_to_text``."""
    t = column.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.Series(column.to_pandas(types_mapper=_AS_STRING.get)).reset_index(drop=True)
    if pa.types.is_nested(t) or pa.types.is_dictionary(t) or pa.types.is_null(t):
        return arrow_column_to_text(column).reset_index(drop=True)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    distinct = pa.array(arrow_column_to_text(encoded.dictionary).array, type=pa.large_string())
    text = pa.DictionaryArray.from_arrays(encoded.indices, distinct).dictionary_decode()   # Arrow take: no str per row
    return pd.Series(pd.array(text, dtype="string"))


def batch_to_text(batch: pa.RecordBatch | pa.Table) -> pd.DataFrame:
    """Every column of an Arrow batch as text (nested columns as JSON text), like the whole-file readers."""
    data = {name: column_text(column) for name, column in zip(batch.schema.names, batch.columns)}
    return pd.DataFrame(data) if data else pd.DataFrame(index=range(batch.num_rows))


def iter_parquet_text(path: Path, *, what: str, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                      fix: str | None = None) -> Iterator[RawTable]:
    import pyarrow.parquet as pq

    def unreadable(exc: Exception) -> InputError:
        return InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                          fix=fix or f"export the {what} again as Parquet or CSV")
    try:
        # pre_buffer=False: with pyarrow's default read-ahead cache, the compressed bytes of every row group
        # read stay in memory until the file is closed (measured: +32 bytes per row, 1 GB at 30 M rows)
        pf = pq.ParquetFile(path, pre_buffer=False)
        names = pf.schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for broken files
        raise unreadable(exc) from None
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise InputError(f"repeats column(s) {', '.join(dup)}", file=str(path), row=1,
                         fix="remove the duplicated columns")
    start = 0
    batches = pf.iter_batches(batch_size=chunk_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - a corrupt row group surfaces only when it is read
            raise unreadable(exc) from None
        frame = batch_to_text(batch)
        n = len(frame)
        frame.index = pd.RangeIndex(start, start + n)
        frame["source_row"] = pd.Series(np.arange(start + 1, start + n + 1, dtype="int64"), index=frame.index)
        yield RawTable(path=path, frame=frame)
        start += n
    if start == 0:
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in names})
        frame["source_row"] = pd.Series(dtype="int64")
        yield RawTable(path=path, frame=frame)


def iter_raw(adapter, path: Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawTable]:
    """The file as chunks, for an adapter with ``normalise_raw``: record batches of a Parquet file, or blocks of
    rows of a delimited text file when the adapter gives ``DELIMITED`` (``read_delimited``'s keyword arguments).
    Any other file or adapter: the adapter's whole-file ``read_raw`` as one chunk."""
    if hasattr(adapter, "normalise_raw") and is_parquet(path):
        for raw in iter_parquet_text(path, what=getattr(adapter, "PARQUET_WHAT", adapter.KIND), chunk_rows=chunk_rows,
                                     fix=getattr(adapter, "PARQUET_FIX", None)):
            raw.frame = adapter.normalise_raw(raw.frame, path)
            yield raw
        return
    if hasattr(adapter, "normalise_raw") and hasattr(adapter, "DELIMITED") and path.suffix.lower() != ".parquet":
        for raw in iter_delimited(path, chunk_rows=chunk_rows, **adapter.DELIMITED):
            raw.frame = adapter.normalise_raw(raw.frame, path)
            yield raw
        return
    yield adapter.read_raw(path)
