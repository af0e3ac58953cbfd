"""``engine: spark``: billing files read, validated and summed into usage groups on Apache Spark.

What runs on Spark, for sources of the **usage family** (FOCUS, AWS CUR, GCP, Azure and OCI billing):

1. reading and mapping: the file is cut into units (``_spark_units``: the pandas engine's chunks, i.e. Parquet
   row ranges of ``chunk_rows`` rows, or a whole CSV / JSON file) and each executor runs the same adapter code
   (``iter_raw`` / ``normalise_raw`` + ``ingest_file.parse``) on its unit, returning canonical rows as Arrow
   (``mapInArrow``);
2. the Great Expectations ``usage.rows`` suite, through GX's Spark datasource (``_spark_gx``);
3. duplicate line items (first occurrence by row kept) with a Spark window;
4. the usage groups (``pipeline.usage_groups``: every descriptive column + month in the entity's zone +
   amount missing) with ``groupBy``, and the row map ``drilldown/<source>.usage_rows.parquet`` (a folder of
   Parquet parts) written by Spark.

The driver holds only what the pandas engine also reports: the groups, the failing rows' ordinals that GX
returns, and the quarantined rows, streamed in row order into the quarantine CSV (``toLocalIterator``). The
header check (``<kind>.header`` suite) runs on the driver with the pandas validator, on the column names.

Results equal the pandas engine's: same ``InputReport`` (rows read / accepted / quarantined, failed expectations
and counts, notes), same quarantine file, same usage groups (sums up to float rounding; the groups are
numbered by their first row, as the pandas engine numbers them). Not on Spark: every other family (jobs,
meters, telemetry, provider carbon, assets) keeps the pandas path, and sniffing ``kind: auto`` reads the file
on the driver as the pandas engine does.

One SparkSession per process (``SparkSession.builder.getOrCreate``): it is reused by later runs in the same
process and left to the process to stop (a session started for a run is not stopped at its end, so tests and
schedulers pay the JVM start once). Under ``spark-submit`` the session spark-submit configured is used.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.canonical import USAGE, conform
from pipeline.config import Config, Source
from pipeline.engines import _spark_units as units
from pipeline.engines._spark_gx import run_suite
from pipeline.errors import ConfigError, ValidationFailed
from pipeline.period import PeriodBounds
from pipeline.result import InputReport
from pipeline.sources._chunks import DEFAULT_CHUNK_ROWS
from pipeline.sources._text import RawTable, sha256_file
from pipeline.usage_groups import SUMMED, key_columns
from pipeline.validate.great_expectations import Validator
from pipeline.validate.quarantine import QuarantineWriter

DEFAULT_MASTER = "local[2]"
INSTALL_FIX = "pip install 'carbon-disclosure[spark]' (or set engine: pandas)"
JAVA_FIX = ("install a Java 17 runtime (e.g. apt-get install openjdk-17-jre-headless) and put `java` on PATH or "
            "set JAVA_HOME (or set engine: pandas)")
QUARANTINE_BATCH = 10_000


# --- the session ---------------------------------------------------------------------------------------------------

def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return True
    return shutil.which("java") is not None


def spark_session(cfg: Config):
    """The process's SparkSession (created on first use). ConfigError when PySpark or Java is missing."""
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise ConfigError("engine: spark needs PySpark, which is not installed", key="engine",
                          fix=INSTALL_FIX) from None
    active = SparkSession.getActiveSession()
    if active is None:
        if not _java_found():
            raise ConfigError("engine: spark needs a Java runtime; none was found (no JAVA_HOME, no java on PATH)",
                              key="engine", fix=JAVA_FIX)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)     # executors: this interpreter (local mode)
        builder = (SparkSession.builder.appName("carbon-disclosure")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "8")
                   .config("spark.python.worker.reuse", "true"))
        under_submit = "PYSPARK_GATEWAY_PORT" in os.environ        # spark-submit gave the master
        if cfg.spark.master or not under_submit:
            builder = builder.master(cfg.spark.master or DEFAULT_MASTER)
        try:
            active = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - the JVM did not start: a setup problem, not a bug
            raise ConfigError(f"engine: spark could not start Spark: {type(exc).__name__}: {exc}".strip(),
                              key="spark.master", fix=JAVA_FIX + "; check spark.master") from None
        active.sparkContext.setLogLevel("ERROR")
    active.conf.set("spark.sql.session.timeZone", "UTC")
    return active


# --- one file ----------------------------------------------------------------------------------------------------

def ingest_if_usage(cfg: Config, src: Source, src_id: str, path: Path, validator: Validator, bounds: PeriodBounds,
                    out_dir: Path, *, row_map: Path | None):
    """``ingest_usage_spark`` when the file is of the usage family (its kind, or the kind sniffed for
    ``kind: auto``); None for any other family (read by the pandas engine, ``ingest.ingest_source``)."""
    from pipeline.ingest import ADAPTERS, _label, sniff

    label = _label(cfg, path)
    kind = sniff(path, label) if src.kind == "auto" else src.kind
    adapter = ADAPTERS.get(kind)
    if adapter is None or adapter.FAMILY != "usage":
        return None
    if not src.contracts:
        raise ConfigError(f"{label} was recognised as {kind}: the source needs 'contracts'",
                          fix="list the cloud contracts the file's rows belong to")
    return ingest_usage_spark(cfg, src, src_id, path, validator, bounds, out_dir, kind=kind, label=label,
                              row_map=row_map)


# --- one file ------------------------------------------------------------------------------------------------------

def ingest_usage_spark(cfg: Config, src: Source, src_id: str, path: Path, validator: Validator,
                       bounds: PeriodBounds, out_dir: Path, *, kind: str, label: str, row_map: Path | None,
                       spark=None, chunk_rows: int = DEFAULT_CHUNK_ROWS):
    """One billing file of the usage family on Spark; the ``Ingested`` the pandas engine gives for it.
    ``row_map``: sum the rows into usage groups and write the row map there (a run); None: keep every accepted
    row (``validate``)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from pipeline.ingest import ADAPTERS
    from pipeline.ingest_file import Ingested, header_check, merge_failed, merge_notes

    adapter = ADAPTERS[kind]
    spark = spark or spark_session(cfg)
    task = units.FileTask(cfg=cfg, src=src, kind=kind, path=str(path), label=label, chunk_rows=chunk_rows)
    plan = units.plan_units(adapter, path, chunk_rows)
    unit_df = spark.createDataFrame([(u.index, u.start, u.stop) for u in plan],
                                    "unit bigint, start bigint, stop bigint").repartition(len(plan))
    rows = unit_df.mapInArrow(partial(units.map_canonical, task, cfg.entity.timezone), units.ROW_DDL)
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    quarantine = QuarantineWriter(out_dir, src_id)
    cached = [rows]
    try:
        metas = sorted((json.loads(r["_meta"]) for r in rows.filter(F.col("_meta").isNotNull())
                        .select("_meta").collect()), key=lambda m: m["unit"])
        for m in metas:                  # errors in the order the pandas engine meets them
            if m["stage"] == "read":
                raise units.unpack_error(m["error"])
            if m["unit"] == 0:
                header = pd.DataFrame({c: pd.Series(dtype="string") for c in m["columns"]})
                header["source_row"] = pd.Series(dtype="int64")
                header_check(validator, src_id, ADAPTERS[kind], RawTable(path=path, frame=header), label)
            if m["stage"] == "parse":
                raise units.unpack_error(m["error"])
        columns = metas[0]["columns"]
        data = rows.filter(F.col("_meta").isNull()).drop("_meta")

        params = {"period_start_utc": bounds.start_utc.isoformat(), "period_end_utc": bounds.end_utc.isoformat()}
        suite_cols = [c for c in units.CANONICAL] + ["_ordinal"]
        outcome = run_suite(validator, src_id, "usage.rows", data.select(*suite_cols), params)
        if outcome.table_problems:
            raise ValidationFailed("validation could not be completed", file=label, problems=outcome.table_problems,
                                   fix="this is likely a bug or an unsupported file variant; please report it with the file")

        marked = _mark(spark, data, outcome.row_reasons).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(marked)
        flagged = F.col("_pre").isNotNull() | F.col("_gx") | F.col("_dup")
        accepted = marked.filter(~flagged)
        suite_types = {f.expectation for f in outcome.failed}
        extra_fails: dict[str, int] = {}
        q_rows = marked.filter(flagged)
        if q_rows.limit(1).count():
            _write_quarantine(spark, task, plan, q_rows, columns, outcome.row_reasons, suite_types, extra_fails,
                              quarantine)
        qfile = quarantine.commit()
    except BaseException:
        quarantine.discard()
        for df in cached:
            df.unpersist()
        raise
    rows_read = sum(m["rows_read"] for m in metas)
    notes = [n for m in metas for n in m["notes"]]
    try:
        if row_map is not None:
            frame, extra = _usage_groups(spark, accepted, row_map), {"row_map": row_map}
        else:
            frame, extra = _accepted_rows(accepted), {}
    finally:
        for df in cached:
            df.unpersist()
    if len(plan) > 1:
        notes.insert(0, f"read in {len(plan)} chunks of up to {chunk_rows:,} rows")
    if src.kind == "auto":
        notes.insert(0, f"format recognised from the header: {kind}")
    report = InputReport(
        source_id=src_id, kind=kind, path=label, sha256=sha256_file(path), rows_read=rows_read,
        rows_accepted=rows_read - quarantine.rows, rows_quarantined=quarantine.rows, quarantine_file=qfile,
        failed_expectations=tuple(merge_failed(outcome.failed, extra_fails)), notes=tuple(merge_notes(notes)))
    return Ingested(source=src, kind=kind, family="usage", path=path, label=label, frame=frame, report=report,
                    extra=extra)


def _mark(spark, data, gx_rows: dict):
    """``data`` with ``_gx`` (failed the row suite) and ``_dup`` (a later row of a line item id among the rows
    no other check set aside: quarantined, first kept) plus the first row's ``_first_row`` / ``_first_unit``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    gx = spark.createDataFrame([(o,) for o in sorted(gx_rows)], "_ordinal bigint").withColumn("_gx", F.lit(True))
    base = (data.join(F.broadcast(gx), "_ordinal", "left")
            .withColumn("_gx", F.coalesce(F.col("_gx"), F.lit(False))))
    clean = F.col("_pre").isNull() & ~F.col("_gx") & F.col("line_item_id").isNotNull()
    w = Window.partitionBy("line_item_id").orderBy("_ordinal")
    dups = (base.filter(clean)
            .select("_ordinal", F.row_number().over(w).alias("_n"), F.first("source_row").over(w).alias("_first_row"),
                    F.first("_unit").over(w).alias("_first_unit"))
            .filter(F.col("_n") > 1).drop("_n").withColumn("_dup", F.lit(True)))
    return (base.join(dups, "_ordinal", "left")
            .withColumn("_dup", F.coalesce(F.col("_dup"), F.lit(False))))


def _write_quarantine(spark, task, plan, q_rows, columns, gx_rows, suite_types, extra_fails, quarantine) -> None:
    """Streams the quarantined rows in row order into the quarantine file, with their raw cells (read again
    from the units that have any) and the reasons in the pandas engine's order."""
    from pyspark.sql import functions as F

    adapter = task.adapter
    source_cols = getattr(adapter, "SOURCE_COLUMNS", {})
    q = q_rows.select("_ordinal", "_unit", "source_row", "line_item_id", "_pre", "_dup", "_first_row",
                      "_first_unit")
    wanted = {int(r["_unit"]) for r in q.select("_unit").distinct().collect()}
    todo = [u for u in plan if u.index in wanted]
    unit_df = spark.createDataFrame([(u.index, u.start, u.stop) for u in todo],
                                    "unit bigint, start bigint, stop bigint").repartition(len(todo))
    raw = unit_df.mapInArrow(partial(units.map_raw, task), units.RAW_DDL)
    joined = q.join(raw, "_ordinal", "left").orderBy("_ordinal")

    batch: list = []

    def flush() -> None:
        if not batch:
            return
        index = pd.Index([r[0] for r in batch], dtype="int64")
        frame = pd.DataFrame([r[1] for r in batch], columns=columns, index=index, dtype="string")
        frame["source_row"] = pd.Series([r[2] for r in batch], index=index, dtype="int64")
        quarantine.add(RawTable(path=Path(task.path), frame=frame), index, {r[0]: r[3] for r in batch})
        batch.clear()

    for r in joined.toLocalIterator():
        cells = json.loads(r["_raw"])
        reasons = [tuple(x) for x in json.loads(r["_pre"])] if r["_pre"] else []
        for exp, reason, column in gx_rows.get(int(r["_ordinal"]), []):
            raw_col = source_cols.get(column or "")
            note = ""
            if raw_col and raw_col in columns:
                value = cells[columns.index(raw_col)]
                note = f" ({raw_col} = '{('' if value is None else str(value))[:80]}')"
            reasons.append((exp, reason + note))
        if r["_dup"]:
            oid = r["line_item_id"]
            where = "first kept" if r["_first_unit"] == r["_unit"] else f"first kept, row {r['_first_row']}"
            reasons.append(("duplicate_line_item",
                            f"line item {oid} appears again in this file ({where}; re-delivered or duplicated export?)"))
        for exp, _ in reasons:
            if exp not in suite_types:
                extra_fails[exp] = extra_fails.get(exp, 0) + 1
        batch.append((int(r["_ordinal"]), cells, int(r["source_row"]), reasons))
        if len(batch) >= QUARANTINE_BATCH:
            flush()
    flush()


# --- accepted rows -> frame ------------------------------------------------------------------------------------------

def _template() -> pd.DataFrame:
    return conform(pd.DataFrame(), units.CANONICAL)


def _to_pandas(sdf) -> pd.DataFrame:
    """A Spark DataFrame as pandas through Arrow (timestamps in UTC)."""
    return sdf.toArrow().to_pandas()


def _accepted_rows(accepted) -> pd.DataFrame:
    """Every accepted row as the pandas engine's ``RowCollector`` keeps them (indexed by the row's position)."""
    from pyspark.sql import functions as F

    frame = _to_pandas(accepted.orderBy("_ordinal").select(*units.CANONICAL, F.col("_ordinal")))
    frame.index = pd.Index(frame.pop("_ordinal").to_numpy(dtype="int64"))
    return conform(frame, units.CANONICAL)


def _usage_groups(spark, accepted, row_map: Path) -> pd.DataFrame:
    """The usage groups of the accepted rows (``pipeline.usage_groups.UsageGroups.frame``, same columns and
    numbering) and the row map written to ``row_map``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    template = _template()
    keys = key_columns(template)
    group_cols = keys + ["_month", "_amount_missing"]
    rows = accepted.withColumn("_amount_missing", F.col("usage_amount").isNull())
    aggs = []
    for c in SUMMED:
        aggs += [F.sum(c).alias(f"_sum_{c}"), F.count(c).alias(f"_n_{c}")]
    aggs += [F.count(F.lit(1)).alias("rows"), F.min("source_row").alias("source_row"),
             F.min("usage_start_utc").alias("usage_start_utc"), F.max("usage_end_utc").alias("usage_end_utc"),
             F.min("_ordinal").alias("_first")]
    g = _to_pandas(rows.groupBy(*group_cols).agg(*aggs)).sort_values("_first", kind="stable")
    g = g.reset_index(drop=True)
    n = len(g)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for c in template.columns:
        if c in keys:
            out[c] = g[c].astype(template[c].dtype) if n else pd.Series(dtype=template[c].dtype)
    for c in SUMMED:
        out[c] = np.where(g[f"_n_{c}"].to_numpy() > 0, g[f"_sum_{c}"].to_numpy(dtype="float64", na_value=np.nan),
                          np.nan)
    out["source_row"] = g["source_row"].to_numpy(dtype="int64")
    out["line_item_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
    for c in ("usage_start_utc", "usage_end_utc"):
        out[c] = pd.to_datetime(g[c], utc=True).astype("datetime64[ns, UTC]")
    out["rows"] = g["rows"].to_numpy(dtype="int64")
    out["usage_group"] = np.arange(n, dtype="int64")
    schema = {**USAGE, **{c: str(template[c].dtype) for c in template.columns if c not in USAGE}}
    frame = conform(out, schema)

    if n:
        ids = spark.createDataFrame([(int(f), int(i)) for f, i in zip(g["_first"], out["usage_group"])],
                                    "_first bigint, usage_group int")
        w = Window.partitionBy(*group_cols)
        (rows.select("source_row", F.min("_ordinal").over(w).alias("_first"))
         .join(F.broadcast(ids), "_first").select(F.col("source_row").cast("bigint"), F.col("usage_group"))
         .sortWithinPartitions("source_row")
         .write.mode("overwrite").option("compression", "zstd").parquet(str(row_map)))
        _tidy_local_output(row_map)
    return frame


def _tidy_local_output(folder: Path) -> None:
    """Spark's bookkeeping files (_SUCCESS, .crc) out of a local output folder: the row map is the parts."""
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.name.startswith(("_", ".")) and p.is_file():
            p.unlink()
