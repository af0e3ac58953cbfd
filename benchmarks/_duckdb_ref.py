"""DuckDB reference: how fast this machine reads the benchmark's files and does the core aggregation.

Run by ``benchmarks/run.py`` in a subprocess of its own, so its peak RSS is measured apart from the pipeline's:

    python benchmarks/_duckdb_ref.py billing data/billing/focus_2026Q3.parquet [--cur data/billing/cur2_2026Q3.parquet]
    python benchmarks/_duckdb_ref.py telemetry 'data/telemetry/dcgm_*.json' --max-gap-s 360

Prints one JSON object: seconds, rows read, groups out, DuckDB version and threads.

billing    read the FOCUS (and CUR 2.0) Parquet; group by month (entity zone) x account x region x instance type
           (SKU for other rows) x tag project x tag workload; sum cost and quantity. The same columns the
           pipeline's cloud slices group on.
telemetry  read the DCGM range-query JSON files, unnest the samples, integrate power per GPU (trapezoid between
           consecutive samples, intervals longer than max_gap_s left out) and sum kWh per host and hour.
This is a floor, not an equivalent: no validation, quarantine, provenance or per-row flags.
"""

from __future__ import annotations

import argparse
import glob as globmod
import json
import os
import sys
import time

import duckdb

ZONE = "Europe/London"

FOCUS_QUERY = """
SELECT strftime(timezone('{zone}', ChargePeriodStart), '%Y-%m') AS month,
       SubAccountId AS account, RegionId AS region,
       coalesce(nullif(split_part(x_UsageType, ':', 2), ''), SkuId) AS instance_type_or_sku,
       json_extract_string(Tags, '$.project') AS project,
       json_extract_string(Tags, '$.workload') AS workload,
       count(*) AS n, sum(BilledCost) AS cost, sum(ConsumedQuantity) AS quantity
FROM read_parquet({path})
GROUP BY ALL
"""

CUR_QUERY = """
SELECT strftime(timezone('{zone}', line_item_usage_start_date), '%Y-%m') AS month,
       line_item_usage_account_id AS account, product_region_code AS region,
       coalesce(nullif(product_instance_type, ''), product_sku) AS instance_type_or_sku,
       resource_tags['user_project'] AS project, resource_tags['user_workload'] AS workload,
       count(*) AS n, sum(line_item_unblended_cost) AS cost, sum(line_item_usage_amount) AS quantity
FROM read_parquet({path})
GROUP BY ALL
"""

TELEMETRY_QUERY = """
WITH series AS (
    SELECT unnest(data.result) AS s
    FROM read_json({glob}, maximum_object_size = {max_object})
), points AS (
    SELECT s.metric.Hostname AS host, s.metric.UUID AS uuid, unnest(s."values") AS v FROM series
), samples AS (
    SELECT host, uuid, CAST(v[1] AS BIGINT) AS ts, CAST(v[2] ->> '$' AS DOUBLE) AS w FROM points
), intervals AS (
    SELECT host, ts, w, lag(ts) OVER d AS ts0, lag(w) OVER d AS w0
    FROM samples WINDOW d AS (PARTITION BY uuid ORDER BY ts)
)
SELECT host, date_trunc('hour', to_timestamp(ts0)) AS hour,
       sum((w + w0) / 2 * (ts - ts0)) / 3.6e6 AS kwh, count(*) AS n
FROM intervals
WHERE ts0 IS NOT NULL AND ts - ts0 <= {max_gap}
GROUP BY ALL
"""


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def billing(focus: str, cur: str | None) -> dict:
    con = duckdb.connect()
    t0 = time.perf_counter()
    rows = con.sql(f"SELECT count(*) FROM read_parquet({_sql_str(focus)})").fetchall()[0][0]
    groups = con.sql(FOCUS_QUERY.format(zone=ZONE, path=_sql_str(focus))).fetchall()
    n_groups = len(groups)
    if cur:
        rows += con.sql(f"SELECT count(*) FROM read_parquet({_sql_str(cur)})").fetchall()[0][0]
        n_groups += len(con.sql(CUR_QUERY.format(zone=ZONE, path=_sql_str(cur))).fetchall())
    return {"seconds": time.perf_counter() - t0, "rows_in": int(rows), "groups": n_groups}


def telemetry(glob: str, max_gap_s: float) -> dict:
    con = duckdb.connect()
    t0 = time.perf_counter()
    # each file is one JSON object: DuckDB buffers a whole object, so the limit is the largest file (+ margin)
    max_object = max(os.path.getsize(p) for p in globmod.glob(glob)) * 2 + (1 << 20)
    out = con.sql(TELEMETRY_QUERY.format(glob=_sql_str(glob), max_gap=float(max_gap_s),
                                         max_object=max_object)).fetchall()
    return {"seconds": time.perf_counter() - t0, "intervals": int(sum(r[3] for r in out)), "groups": len(out),
            "kwh": float(sum(r[2] for r in out))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="DuckDB reference queries for the benchmark")
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("billing")
    b.add_argument("focus")
    b.add_argument("--cur")
    t = sub.add_parser("telemetry")
    t.add_argument("glob")
    t.add_argument("--max-gap-s", type=float, required=True)
    args = ap.parse_args(argv)
    result = billing(args.focus, args.cur) if args.what == "billing" else telemetry(args.glob, args.max_gap_s)
    con = duckdb.connect()
    result.update({"what": args.what, "duckdb": duckdb.__version__,
                   "threads": int(con.sql("SELECT current_setting('threads')").fetchall()[0][0])})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
