"""Exact duplicate line-item ids across the chunks of one file, in bounded memory.

Within a chunk, ``ingest`` finds repeated ids directly. Across chunks, the ids of the accepted rows are
spilled to disk as they are read, split into partitions by a hash of the id (each id's rows all land in one
partition), and each partition is checked on its own at the end: memory is one partition, never the file.
The check compares the ids themselves (not their hashes), so it is exact. A file with repeats across chunks
is then read again with the repeated rows known (``ingest``), which keeps the first occurrence as a
whole-file read would.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([("line_item_id", pa.string()), ("ordinal", pa.int64()), ("source_row", pa.int64())])


class LineItemSpill:
    def __init__(self, partitions: int, workdir: Path | None = None) -> None:
        self.partitions = max(1, int(partitions))
        self._dir = Path(tempfile.mkdtemp(prefix="line-items-", dir=workdir))
        self._writers: dict[int, pq.ParquetWriter] = {}

    def add(self, ids: pd.Series, ordinals: np.ndarray, source_rows: np.ndarray) -> None:
        present = ids.notna().to_numpy()
        if not present.any():
            return
        ids = ids[present].astype("string")
        part = (pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(self.partitions)).astype(np.int64)
        table = pa.table({"line_item_id": pa.array(ids.to_numpy(dtype=object), pa.string()),
                          "ordinal": pa.array(np.asarray(ordinals)[present], pa.int64()),
                          "source_row": pa.array(np.asarray(source_rows)[present], pa.int64())}, schema=SCHEMA)
        for p in np.unique(part):
            w = self._writers.get(int(p))
            if w is None:
                w = self._writers[int(p)] = pq.ParquetWriter(self._dir / f"p{int(p)}.parquet", SCHEMA)
            w.write_table(table.filter(pa.array(part == p)))

    def repeats(self) -> dict[int, tuple[str, int]]:
        """ordinal of every repeat -> (its id, source row of the first occurrence)."""
        for w in self._writers.values():
            w.close()
        out: dict[int, tuple[str, int]] = {}
        for p in sorted(self._writers):
            f = pq.read_table(self._dir / f"p{p}.parquet").to_pandas()
            f = f.sort_values("ordinal", kind="stable")
            dup = f["line_item_id"].duplicated(keep="first")
            if dup.any():
                first = f[~dup].set_index("line_item_id")["source_row"]
                for oid, ordinal in zip(f.loc[dup, "line_item_id"], f.loc[dup, "ordinal"]):
                    out[int(ordinal)] = (str(oid), int(first[oid]))
        self._writers.clear()
        return out

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
