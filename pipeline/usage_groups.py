"""Billing rows -> usage groups, chunk by chunk (the early aggregation that keeps large inputs in bounded memory).

Everything after ingest that uses billing rows is linear in their amounts (energy = amount x coefficient,
cost and hours are summed), and depends on a row only through its descriptive columns and its month. So the
accepted rows of a billing file are summed, as they are read, into **usage groups**: one per distinct
combination of every descriptive column of the canonical usage row (provider, accounts, region, service,
SKU, instance type, unit, currency, tags, usage kind, exclusion, ...) and the month of ``usage_start_utc`` in
the entity's zone. A group carries the sums of ``quantity``, ``cost`` and ``usage_amount`` (missing when no
row of the group had a value; a row without an amount is never in the same group as rows with one), the
number of rows, its first source row, and the earliest start / latest end. Only the row-specific columns
(``source_row``, ``line_item_id``, the exact start and end) are not kept per row.

Drill-down: each row's group is written to ``drilldown/<source>.usage_rows.parquet`` (``source_row``,
``usage_group``), so any figure can still be traced to the rows it came from (``row_ranges`` below).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.canonical import USAGE, conform, ranges_text

SUMMED = ("quantity", "cost", "usage_amount")
ROW_SPECIFIC = ("source_row", "line_item_id", "usage_start_utc", "usage_end_utc") + SUMMED
ROW_MAP_DIR = "drilldown"
ROW_MAP_SCHEMA = pa.schema([("source_row", pa.int64()), ("usage_group", pa.int32())])
NS_MAX = np.iinfo(np.int64).max
NS_MIN = np.iinfo(np.int64).min


def key_columns(frame: pd.DataFrame) -> list[str]:
    """The descriptive columns of a canonical usage frame: every column but the row-specific ones."""
    return [c for c in frame.columns if c not in ROW_SPECIFIC]


class UsageGroups:
    """Accumulates the usage groups of one billing file over its chunks. ``add`` one chunk of accepted
    canonical rows at a time; ``frame()`` returns the groups. Memory: one entry per group, never per row
    (the row -> group map goes to ``row_map_path`` as it is built)."""

    def __init__(self, zone: str, row_map_path: Path | None) -> None:
        self.zone = zone
        self.row_map_path = row_map_path
        self._writer = None
        self._ids: dict[tuple, int] = {}
        self._keys: list[tuple] = []
        self._columns: list[str] | None = None
        self._dtypes: dict[str, object] = {}
        self._n = 0
        size = 1024
        self._sum = {c: np.zeros(size) for c in SUMMED}
        self._count = {c: np.zeros(size, dtype=np.int64) for c in SUMMED}
        self._rows = np.zeros(size, dtype=np.int64)
        self._first_row = np.full(size, NS_MAX, dtype=np.int64)
        self._start = np.full(size, NS_MAX, dtype=np.int64)
        self._end = np.full(size, NS_MIN, dtype=np.int64)

    def _grow(self, need: int) -> None:
        size = len(self._rows)
        if need <= size:
            return
        new = max(need, size * 2)

        def grown(a: np.ndarray, fill) -> np.ndarray:
            out = np.full(new, fill, dtype=a.dtype)
            out[:size] = a
            return out
        self._sum = {c: grown(a, 0.0) for c, a in self._sum.items()}
        self._count = {c: grown(a, 0) for c, a in self._count.items()}
        self._rows = grown(self._rows, 0)
        self._first_row = grown(self._first_row, NS_MAX)
        self._start = grown(self._start, NS_MAX)
        self._end = grown(self._end, NS_MIN)

    def add(self, chunk: pd.DataFrame) -> None:
        if self._columns is None:
            self._columns = key_columns(chunk)
            self._dtypes = {c: chunk[c].dtype for c in self._columns}
        if chunk.empty:
            return
        keys = chunk[self._columns].copy()
        keys["month"] = chunk["usage_start_utc"].dt.tz_convert(self.zone).dt.strftime("%Y-%m")
        keys["amount_missing"] = chunk["usage_amount"].isna()
        grouped = keys.groupby(list(keys.columns), dropna=False, sort=False)
        local = grouped.ngroup().to_numpy()
        first = pd.Series(np.arange(len(keys))).groupby(local).first().to_numpy()
        local_keys = keys.iloc[first].astype(object).where(keys.iloc[first].notna(), None)
        to_global = np.empty(len(first), dtype=np.int64)
        for j, key in enumerate(local_keys.itertuples(index=False, name=None)):
            gid = self._ids.get(key)
            if gid is None:
                gid = self._ids[key] = len(self._keys)
                self._keys.append(key)
            to_global[j] = gid
        self._grow(len(self._keys))
        codes = to_global[local]
        n = len(self._keys)
        for c in SUMMED:
            values = chunk[c].to_numpy(dtype="float64", na_value=np.nan)
            present = ~np.isnan(values)
            self._sum[c][:n] += np.bincount(codes[present], weights=values[present], minlength=n)
            self._count[c][:n] += np.bincount(codes[present], minlength=n)
        self._rows[:n] += np.bincount(codes, minlength=n)
        rows = chunk["source_row"].to_numpy(dtype="int64")
        np.minimum.at(self._first_row, codes, rows)
        start = chunk["usage_start_utc"].to_numpy(dtype="datetime64[ns]").view("int64")
        end = chunk["usage_end_utc"].to_numpy(dtype="datetime64[ns]").view("int64")
        ok_s, ok_e = start != NS_MIN, end != NS_MIN                 # NaT
        np.minimum.at(self._start, codes[ok_s], start[ok_s])
        np.maximum.at(self._end, codes[ok_e], end[ok_e])
        if self.row_map_path is not None:
            if self._writer is None:
                import pyarrow.parquet as pq
                self.row_map_path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self.row_map_path, ROW_MAP_SCHEMA, compression="zstd")
            self._writer.write_table(pa.table({"source_row": pa.array(rows, pa.int64()),
                                               "usage_group": pa.array(codes.astype(np.int32), pa.int32())},
                                              schema=ROW_MAP_SCHEMA))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        """Closes and deletes the row map (the file is being read again)."""
        self.close()
        if self.row_map_path is not None:
            self.row_map_path.unlink(missing_ok=True)

    def frame(self, template: pd.DataFrame) -> pd.DataFrame:
        """The groups as a canonical usage frame (``template``: an empty frame with the chunks' columns), plus
        ``rows`` (rows summed into the group) and ``usage_group`` (its id in the row map)."""
        self.close()
        n = len(self._keys)
        cols = self._columns if self._columns is not None else key_columns(template)
        names = list(cols) + ["month", "amount_missing"]
        data = pd.DataFrame.from_records(self._keys, columns=names) if n else pd.DataFrame(columns=names)
        out = pd.DataFrame(index=pd.RangeIndex(n))
        for c in template.columns:
            if c in cols:
                out[c] = data[c].astype(template[c].dtype) if n else pd.Series(dtype=template[c].dtype)
        for c in SUMMED:
            out[c] = np.where(self._count[c][:n] > 0, self._sum[c][:n], np.nan)
        out["source_row"] = self._first_row[:n]
        out["line_item_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
        out["usage_start_utc"] = pd.to_datetime(np.where(self._start[:n] == NS_MAX, NS_MIN, self._start[:n]),
                                                utc=True)
        out["usage_end_utc"] = pd.to_datetime(np.where(self._end[:n] == NS_MIN, NS_MIN, self._end[:n]), utc=True)
        out["rows"] = self._rows[:n]
        out["usage_group"] = np.arange(n, dtype="int64")
        schema = {**USAGE, **{c: str(template[c].dtype) for c in template.columns if c not in USAGE}}
        return conform(out, schema)


MAX_LISTED_ROWS = 2_000      # a ledger row lists its source rows as ranges while it has at most this many rows
MAX_LISTED_CHARS = 500       # ... and while those ranges fit in this many characters (scattered rows do not):
#                              beyond either, it names the row map and groups. A 30 M-row quarter listed up to
#                              2,000 scattered rows per ledger row: 75 MB of row numbers in the ledger, the XLSX
#                              and the PDF's attachment, none of it readable; the row map holds them exactly.


def rows_by_group(row_map: Path, groups) -> dict[int, np.ndarray]:
    """The source rows of some usage groups of one file, read from its row map (in file order)."""
    return {g: np.concatenate([np.arange(a, b + 1, dtype=np.int64) for a, b in zip(s, e)])
            for g, (s, e) in ranges_by_group(row_map, groups).items()}


def ranges_by_group(row_map: Path, groups, *, max_ranges: int | None = None, exact=(),
                    batch_rows: int = 1 << 20) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The source rows of some usage groups of one file as runs of consecutive rows: group -> (first rows,
    last rows), read from its row map one record batch at a time, so memory holds runs, not the map (a row map
    has an entry per accepted row: 360 MB at 30 M rows).

    ``max_ranges``: a group with more runs than this is dropped as soon as that is seen (its rows are too
    scattered to list), except the groups in ``exact``, whose runs are all kept. Runs are built batch by batch
    and joined at the end (a run cut by a batch edge). A map written in file order (the pandas engine's) counts
    runs exactly; one in parts (Spark's folder of part files) may count more while it is read, so a group may be
    dropped sooner (named by its group instead of listed): what is returned is always exact."""
    import pyarrow.dataset as ds

    wanted = np.unique(np.asarray([int(g) for g in groups], dtype=np.int64))
    keep_all = np.isin(wanted, np.asarray([int(g) for g in exact], dtype=np.int64))
    dead = np.zeros(len(wanted), dtype=bool)
    runs = np.zeros(len(wanted), dtype=np.int64)
    last_seen = np.full(len(wanted), -2, dtype=np.int64)              # each group's last row so far
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []      # (group position, first, last) per batch
    if len(wanted):
        # no pre-buffering: with it the scanner holds the file's column chunks (+170 MB at 30 M rows)
        fmt = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
        scan = ds.dataset(row_map, format=fmt).to_batches(
            columns=["source_row", "usage_group"], batch_size=batch_rows, batch_readahead=0, fragment_readahead=0)
        for batch in scan:
            grp = batch.column(1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            pos = np.minimum(np.searchsorted(wanted, grp), len(wanted) - 1)
            hit = wanted[pos] == grp
            hit[hit] = ~dead[pos[hit]]
            if not hit.any():
                continue
            pos, rows = pos[hit], batch.column(0).to_numpy(zero_copy_only=False)[hit].astype(np.int64)
            order = np.lexsort((rows, pos))                              # by group, then row
            pos, rows = pos[order], rows[order]
            new_group = np.r_[True, pos[1:] != pos[:-1]]
            start = new_group | np.r_[True, rows[1:] != rows[:-1] + 1]
            first = np.flatnonzero(start)
            last = np.r_[first[1:] - 1, len(rows) - 1]
            p, a, b = pos[first], rows[first], rows[last]
            continues = new_group[first] & (a == last_seen[p] + 1)      # the group's last run goes on
            runs += np.bincount(p[~continues], minlength=len(wanted))
            last_seen[p] = b                                             # the last run of each group wins
            parts.append((p, a, b))
            if max_ranges is not None:
                newly = (runs > max_ranges) & ~keep_all & ~dead
                if newly.any():
                    dead |= newly
                    parts = [(p[~dead[p]], a[~dead[p]], b[~dead[p]]) for p, a, b in parts]
    if not parts:
        return {}
    pos = np.concatenate([p for p, _, _ in parts])
    first = np.concatenate([a for _, a, _ in parts])
    last = np.concatenate([b for _, _, b in parts])
    if not len(pos):                                # every group was dropped
        return {}
    order = np.lexsort((first, pos))
    pos, first, last = pos[order], first[order], last[order]
    keep = ~np.r_[False, (pos[1:] == pos[:-1]) & (first[1:] == last[:-1] + 1)]     # joined across batches
    run_id = np.cumsum(keep) - 1
    end = np.zeros(int(keep.sum()), dtype=np.int64)
    np.maximum.at(end, run_id, last)
    pos, first = pos[keep], first[keep]
    cuts = np.flatnonzero(np.diff(pos)) + 1
    return {int(wanted[p[0]]): (a, b) for p, a, b in zip(np.split(pos, cuts), np.split(first, cuts),
                                                          np.split(end, cuts)) if len(p)}


def row_numbers(row_map: Path, groups: list[int]) -> np.ndarray:
    """The source rows of some usage groups of one file."""
    found = rows_by_group(row_map, groups)
    return np.concatenate([found.get(int(g), np.empty(0, dtype=np.int64)) for g in groups]) if groups else \
        np.empty(0, dtype=np.int64)


def groups_text(row_map_rel: str, groups: list[int], rows: int) -> str:
    """Reference to many rows: the row map file and the groups in it (``usage_group`` values, as ranges)."""
    return f"{rows:,} rows: {row_map_rel} usage_group {ranges_text(np.asarray(groups))}"
