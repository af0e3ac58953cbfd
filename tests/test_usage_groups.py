"""Billing files read in chunks and summed into usage groups (pipeline/usage_groups.py, pipeline/ingest.py):
sums worked out by hand, duplicate line items across chunks found exactly, and memory bounded by the chunk
size (counted in rows held, not timed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.ingest import RowCollector, ingest_source
from pipeline.period import bounds
from pipeline.usage_groups import UsageGroups, row_numbers

GPU, CPU = "p5.48xlarge", "m5.xlarge"


def focus_rows(n: int, *, dup_of: dict[int, int] | None = None) -> pd.DataFrame:
    """n hourly FOCUS rows starting 2026-07-01: row i is GPU when i % 4 == 0 (2 h, cost 100), else CPU (1 h,
    cost 0.25); tag project 'a' on even rows, 'b' on odd. ``dup_of``: row -> earlier row it repeats (same id)."""
    i = np.arange(n)
    gpu = i % 4 == 0
    start = pd.Timestamp("2026-07-01", tz="UTC") + pd.to_timedelta(i % 2000, unit="h")
    ids = [f"li-{k}" for k in i]
    for k, first in (dup_of or {}).items():
        ids[k] = ids[first]
    return pd.DataFrame({
        "Id": ids,
        "ProviderName": "AWS", "BillingAccountId": "111", "SubAccountId": "222", "RegionId": "us-east-1",
        "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute", "ChargeCategory": "Usage",
        "ChargePeriodStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ChargePeriodEnd": (start + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ConsumedQuantity": np.where(gpu, 2.0, 1.0), "ConsumedUnit": "Hours",
        "BilledCost": np.where(gpu, 100.0, 0.25), "BillingCurrency": "USD",
        "x_UsageType": np.where(gpu, f"BoxUsage:{GPU}", f"BoxUsage:{CPU}"),
        "Tags": np.where(i % 2 == 0, '{"project": "a"}', '{"project": "b"}'),
    })


def write_parquet(frame: pd.DataFrame, path, row_group: int = 1000) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group)


@pytest.fixture
def cfg(tmp_path):
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": "UTC"},
        "period": "2026-Q3",
        "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}],
        "sources": [{"id": "bill", "kind": "focus", "path": str(tmp_path / "bill.parquet"), "contracts": ["aws"]}],
    })


class CountingGroups(UsageGroups):
    """UsageGroups that records the largest chunk it was given (rows held in memory at once)."""

    largest = 0

    def add(self, chunk):
        CountingGroups.largest = max(CountingGroups.largest, len(chunk))
        super().add(chunk)


def run(cfg, validator, tmp_path, chunk_rows: int, sink="groups"):
    out = tmp_path / f"out-{chunk_rows}-{sink}"
    out.mkdir()
    factory = (lambda: CountingGroups("UTC", out / "drilldown" / "bill.usage_rows.parquet")) if sink == "groups" \
        else RowCollector
    return ingest_source(cfg, cfg.sources[0], "bill", cfg.resolve(cfg.sources[0].path), validator, bounds(cfg), out,
                         usage_sink_factory=factory, chunk_rows=chunk_rows)


def test_groups_hold_hand_computed_sums(cfg, validator, tmp_path):
    # 700 rows, all in July (hours 0..699 < 31 x 24 = 744), read as 7 chunks of 100.
    # GPU rows: i % 4 == 0 -> 175 rows, all even -> project a; CPU/a: i % 4 == 2 -> 175; CPU/b: odd -> 350
    write_parquet(focus_rows(700), tmp_path / "bill.parquet", row_group=100)
    ing = run(cfg, validator, tmp_path, chunk_rows=100)
    g = ing.frame.set_index(["instance_type", "tags_json"]).sort_index()
    assert len(g) == 3
    gpu = g.loc[(GPU, '{"project": "a"}')]
    assert gpu["rows"] == 175 and gpu["quantity"] == 350.0 and gpu["cost"] == pytest.approx(17_500.0)
    cpu_a = g.loc[(CPU, '{"project": "a"}')]
    assert cpu_a["rows"] == 175 and cpu_a["usage_amount"] == 175.0 and cpu_a["cost"] == pytest.approx(43.75)
    cpu_b = g.loc[(CPU, '{"project": "b"}')]
    assert cpu_b["rows"] == 350 and cpu_b["cost"] == pytest.approx(87.5)
    assert gpu["source_row"] == 1                        # first row of the group (row 1 = first data row)
    assert str(gpu["usage_start_utc"]) == "2026-07-01 00:00:00+00:00"
    assert str(gpu["usage_end_utc"]) == "2026-07-30 01:00:00+00:00"    # last GPU row 696 ends at hour 697
    assert ing.report.rows_read == 700 and ing.report.rows_accepted == 700
    assert ing.report.notes[0] == "read in 7 chunks of up to 100 rows"
    # the drill-down row map gives back exactly the GPU rows: 1, 5, 9, ... 697
    rows = row_numbers(ing.extra["row_map"], [int(gpu["usage_group"])])
    assert sorted(rows.tolist()) == list(range(1, 701, 4))


def test_month_edge_splits_groups(cfg, validator, tmp_path):
    # hours 0..1999: July has 744 h, August 744 h -> rows 0..743 July, 744..1487 August, 1488..1999 September
    write_parquet(focus_rows(2000), tmp_path / "bill.parquet", row_group=300)
    ing = run(cfg, validator, tmp_path, chunk_rows=300)
    months = ing.frame.assign(m=ing.frame["usage_start_utc"].dt.strftime("%m")).groupby("m")["rows"].sum()
    assert months.to_dict() == {"07": 744, "08": 744, "09": 512}


def test_duplicate_line_items_across_chunks_are_exact(cfg, validator, tmp_path):
    # row 650 repeats row 3's id (another chunk), row 20 repeats row 10 (same chunk): both quarantined, firsts kept
    write_parquet(focus_rows(700, dup_of={650: 3, 20: 10}), tmp_path / "bill.parquet", row_group=100)
    ing = run(cfg, validator, tmp_path, chunk_rows=100)
    assert ing.report.rows_quarantined == 2 and ing.report.rows_accepted == 698
    q = pd.read_csv(tmp_path / "out-100-groups" / ing.report.quarantine_file)
    assert q["source_row"].tolist() == [21, 651]
    assert "line item li-3 appears again" in q.loc[1, "reasons"] and "row 4" in q.loc[1, "reasons"]
    assert "line item li-10 appears again" in q.loc[0, "reasons"]
    # row 650 is CPU/a (650 % 4 == 2): CPU/a loses one of its 175 rows and its 0.25 cost
    g = ing.frame.set_index(["instance_type", "tags_json"])
    assert g.loc[(CPU, '{"project": "a"}'), "rows"] == 174
    assert g.loc[(CPU, '{"project": "a"}'), "cost"] == pytest.approx(43.5)
    # row 20 is GPU/a (20 % 4 == 0): 174 GPU rows left
    assert g.loc[(GPU, '{"project": "a"}'), "rows"] == 174
    # the same file read whole gives the same quarantine
    whole = run(cfg, validator, tmp_path, chunk_rows=10_000, sink="rows")
    assert whole.report.rows_quarantined == 2
    assert sorted(whole.frame["source_row"].tolist()) == sorted(set(range(1, 701)) - {21, 651})


def test_memory_is_bounded_by_the_chunk_not_the_file(cfg, validator, tmp_path):
    """8x the chunk size and 32x the chunk size: the sink never holds more than one chunk of rows, and the
    groups kept do not grow with the file (same distinct groups)."""
    held = {}
    for n in (2_000, 8_000):
        write_parquet(focus_rows(n), tmp_path / "bill.parquet", row_group=250)
        CountingGroups.largest = 0
        work = tmp_path / f"n{n}"
        work.mkdir()
        ing = run(cfg, validator, work, chunk_rows=250)
        held[n] = (CountingGroups.largest, len(ing.frame), ing.report.rows_read)
    assert held[2_000][0] == 250 and held[8_000][0] == 250          # one chunk at a time
    assert held[2_000][2] == 2_000 and held[8_000][2] == 8_000
    # groups: 3 per month; 2,000 h reach September, so do 8,000 rows (hours wrap every 2,000 rows)
    assert held[2_000][1] == held[8_000][1] == 9


def test_id_repeated_twice_in_a_later_chunk_is_quarantined_both_times(cfg, validator, tmp_path):
    # li-3 (row 4) appears again at index 650 and 660 (rows 651, 661), both in the chunk of rows 601-700
    write_parquet(focus_rows(700, dup_of={650: 3, 660: 3}), tmp_path / "bill.parquet", row_group=100)
    ing = run(cfg, validator, tmp_path, chunk_rows=100)
    assert ing.report.rows_quarantined == 2 and ing.report.rows_accepted == 698
    q = pd.read_csv(tmp_path / "out-100-groups" / ing.report.quarantine_file)
    assert q["source_row"].tolist() == [651, 661]
    # the row map written by the second read is whole: 698 rows, neither repeat in it
    rows = pq.read_table(ing.extra["row_map"]).column("source_row").to_pylist()
    assert len(rows) == 698 and 651 not in rows and 661 not in rows


def test_csv_and_gzip_exports_are_read_in_chunks_with_the_same_groups(cfg, validator, tmp_path):
    import gzip

    frame = focus_rows(700, dup_of={650: 3})
    write_parquet(frame, tmp_path / "bill.parquet", row_group=100)
    parquet = run(cfg, validator, tmp_path, chunk_rows=100)
    text = frame.to_csv(index=False)
    for name, write in (("bill.csv", lambda p: p.write_text(text)),
                        ("bill.csv.gz", lambda p: p.write_bytes(gzip.compress(text.encode())))):
        write(tmp_path / name)
        c = cfg.model_copy(update={"sources": [cfg.sources[0].model_copy(update={"path": str(tmp_path / name)})]})
        work = tmp_path / name.replace(".", "_")
        work.mkdir()
        ing = run(c, validator, work, chunk_rows=100)
        assert ing.report.notes[0] == "read in 7 chunks of up to 100 rows"
        # CSV line numbers: header = line 1, so data row i is line i + 2; row 650 repeats row 3 (line 5)
        assert ing.report.rows_quarantined == 1
        q = pd.read_csv(work / "out-100-groups" / ing.report.quarantine_file)
        assert q["source_row"].tolist() == [652] and "row 5" in q.loc[0, "reasons"]
        a = parquet.frame.sort_values(["instance_type", "tags_json"]).reset_index(drop=True)
        b = ing.frame.sort_values(["instance_type", "tags_json"]).reset_index(drop=True)
        assert a["rows"].tolist() == b["rows"].tolist() == [174, 350, 175]      # m5/a, m5/b, p5/a
        assert a["cost"].tolist() == pytest.approx(b["cost"].tolist())


def test_reading_a_parquet_file_in_batches_keeps_no_earlier_batch(tmp_path):
    """Arrow memory after the last batch is what one batch needs, not what the file needs (pyarrow's read-ahead
    cache kept every row group's compressed bytes: +32 bytes per row, 1 GB at 30 M rows)."""
    import gc

    from pipeline.sources._chunks import iter_parquet_text

    frame = focus_rows(100_000)
    frame["Noise"] = [f"{k * 7919 % 1000003:040d}" for k in range(len(frame))]    # compresses badly
    write_parquet(frame, tmp_path / "bill.parquet", row_group=1_000)
    size = (tmp_path / "bill.parquet").stat().st_size
    gc.collect()
    before = pa.total_allocated_bytes()
    held = []
    for raw in iter_parquet_text(tmp_path / "bill.parquet", what="FOCUS", chunk_rows=1_000):
        del raw
        gc.collect()
        held.append(pa.total_allocated_bytes() - before)
    assert len(held) == 100
    # while reading the last batch, about one batch is held: far less than the file (100 row groups)
    assert held[-1] < size / 2, f"{held[-1]:,} bytes of Arrow memory held for a {size:,}-byte file"


def test_ledger_lists_rows_only_while_the_ranges_are_short():
    from pipeline.activities import _group_rows

    def _source_rows(frame, listed):            # the activity made of all the frame's rows
        return _group_rows(frame)(np.arange(len(frame)), listed)

    def grp(n):
        return pd.DataFrame({"row_map_file": ["/w/m.parquet"], "row_map": ["drilldown/bill.usage_rows.parquet"],
                             "usage_group": [3], "rows": [n]})
    # listed: group -> its rows as runs (first rows, last rows)
    block = (np.array([2]), np.array([1501]))        # 1,500 contiguous rows: one range
    assert _source_rows(grp(1500), {("/w/m.parquet", 3): block}) == "2-1501"
    odd = np.arange(1, 41, 2)                         # 20 scattered rows: "1,3,...,39" is 50 characters
    assert _source_rows(grp(20), {("/w/m.parquet", 3): (odd, odd)}) == ",".join(str(r) for r in range(1, 41, 2))
    many = np.arange(1, 401, 2)                       # 200 scattered rows: 744 characters of ranges -> the groups
    assert _source_rows(grp(200), {("/w/m.parquet", 3): (many, many)}) == \
        "200 rows: drilldown/bill.usage_rows.parquet usage_group 3"
    # a group dropped while its row map was read (too scattered) is not in listed: the groups again
    assert _source_rows(grp(20), {}) == "20 rows: drilldown/bill.usage_rows.parquet usage_group 3"


def test_row_map_runs_read_batch_by_batch(tmp_path):
    # a row map of 3 groups over rows 1..40, read in batches of 7 rows (runs cut by batch edges are joined):
    # group 0: rows 1-10 and 21-25 -> runs (1-10, 21-25); group 1: the odd rows 11..19 and 27..39 -> 12
    # single-row runs; group 2: the even rows 12..20 and 26..40 -> 13 single-row runs
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.usage_groups import ranges_by_group
    group = {r: 0 for r in list(range(1, 11)) + list(range(21, 26))}
    group.update({r: 1 for r in range(11, 40, 2) if r not in group})
    group.update({r: 2 for r in range(12, 41, 2) if r not in group})
    rows = sorted(group)
    path = tmp_path / "m.usage_rows.parquet"
    pq.write_table(pa.table({"source_row": pa.array(rows, pa.int64()),
                             "usage_group": pa.array([group[r] for r in rows], pa.int32())}), path)
    got = ranges_by_group(path, [0, 1, 2], batch_rows=7)
    assert [(a.tolist(), b.tolist()) for a, b in [got[0]]] == [([1, 21], [10, 25])]
    odd = [r for r in range(11, 40, 2) if not 21 <= r <= 25]
    assert got[1][0].tolist() == odd and got[1][1].tolist() == odd
    # with at most 11 runs per group, groups 1 (12 runs) and 2 (13) are dropped, unless kept exactly
    capped = ranges_by_group(path, [0, 1, 2], max_ranges=11, exact=[2], batch_rows=7)
    assert sorted(capped) == [0, 2] and len(capped[2][0]) == 13
    assert ranges_by_group(path, [1, 2], max_ranges=11, batch_rows=7) == {}      # every group dropped



def test_row_map_in_parts_out_of_order(tmp_path):
    # a folder of part files (as Spark writes a row map) whose rows are not in file order: the runs are exact
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.usage_groups import ranges_by_group
    folder = tmp_path / "m.usage_rows.parquet"
    folder.mkdir()
    parts = [[(30, 0), (31, 0), (5, 1)], [(1, 0), (2, 0), (3, 0), (4, 1)], [(32, 0), (6, 1), (10, 1)]]
    for k, part in enumerate(parts):
        pq.write_table(pa.table({"source_row": pa.array([r for r, _ in part], pa.int64()),
                                 "usage_group": pa.array([g for _, g in part], pa.int32())}), folder / f"part-{k}.parquet")
    (folder / "_SUCCESS").write_text("")
    got = ranges_by_group(folder, [0, 1], batch_rows=2)
    assert (got[0][0].tolist(), got[0][1].tolist()) == ([1, 30], [3, 32])      # rows 1-3 and 30-32
    assert (got[1][0].tolist(), got[1][1].tolist()) == ([4, 10], [6, 10])      # rows 4-6 and 10
