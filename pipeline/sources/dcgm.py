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

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.canonical import POWER, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import JsonLimitError, RawTable, json_limit_error, loads_json, read_text, to_utc

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
    return bool(raw.frame["metric"].astype("string").str.startswith("DCGM_FI_").fillna(False).any())


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


def _from_json(text: str, path: Path) -> tuple[list[dict], list[int]]:
    try:
        doc = loads_json(text)
    except JsonLimitError as exc:
        raise json_limit_error(exc, file=str(path), what="Prometheus query response") from None
    except ValueError as exc:
        raise InputError(f"is not valid JSON ({exc})", file=str(path),
                         fix="save the complete Prometheus API response") from None
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
    rows, ordinals = [], []
    for i, series in enumerate(result):
        metric = series.get("metric") if isinstance(series, dict) else None
        points = (series.get("values") if rtype == "matrix" else [series.get("value")]) \
            if isinstance(series, dict) else None
        if not isinstance(points, list):
            row = _empty_row()
            row.update(json_path=f"data.result[{i}]", unparsed=json.dumps(series)[:2000])
            rows.append(row)
            ordinals.append(len(rows))
            continue
        labels = dict(metric) if isinstance(metric, dict) else {}
        name = str(labels.pop("__name__", ""))
        label_text = format_labels(labels) if isinstance(metric, dict) else ""
        for j, point in enumerate(points):
            row = _empty_row()
            row["json_path"] = f"data.result[{i}].values[{j}]" if rtype == "matrix" else f"data.result[{i}].value"
            if isinstance(point, list) and len(point) == 2 and isinstance(point[0], (int, float)) \
                    and not isinstance(point[0], bool) and isinstance(point[1], str) and isinstance(metric, dict):
                row.update(metric=name, labels=label_text, value=point[1], timestamp_s=repr(point[0]))
            else:
                row["unparsed"] = json.dumps(point)[:2000]
            rows.append(row)
            ordinals.append(len(rows))
    return rows, ordinals


def read_raw(path: Path) -> RawTable:
    text = _read_text(path)
    if not text.strip():
        raise InputError("the file is empty; expected DCGM metrics", file=str(path),
                         fix="save the dcgm-exporter /metrics output or a Prometheus query_range response")
    if "\x00" in text:
        raise InputError("is not a text file (contains NUL bytes)", file=str(path),
                         fix="point the source at the DCGM metrics file")
    rows, numbers = (_from_json if text.lstrip().startswith("{") else _from_exposition)(text, path)
    frame = pd.DataFrame.from_records(rows, columns=RAW_COLUMNS).astype("string") if rows else \
        pd.DataFrame({c: pd.Series(dtype="string") for c in RAW_COLUMNS})
    frame["source_row"] = pd.Series(numbers, dtype="int64")
    return RawTable(path=path, frame=frame)


def _timestamps(f: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(ts_utc, reason for rows without a usable timestamp)."""
    ts = pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns, UTC]")
    why = pd.Series(pd.NA, index=f.index, dtype="string")
    lo, hi = pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC")

    def put(mask: pd.Series, values: pd.Series, label: str) -> None:
        ok = values.notna() & (values >= lo) & (values < hi)
        ts[mask & ok] = values[mask & ok]
        bad = mask & ~ok
        why[bad] = [f"{label} '{v}' is not a time between 1900 and 2200" for v in f.loc[bad, label]]

    ms_text = f["timestamp_ms"].fillna("").str.strip()
    has_ms = ms_text != ""
    ms = pd.to_numeric(ms_text.where(ms_text.str.match(_INT.pattern)), errors="coerce")
    ms = ms.where(ms.abs() < 1e15)
    put(has_ms, pd.to_datetime(ms, unit="ms", utc=True, errors="coerce"), "timestamp_ms")
    s_text = f["timestamp_s"].fillna("").str.strip()
    has_s = ~has_ms & (s_text != "")
    sec = pd.to_numeric(s_text, errors="coerce")
    sec = sec.where(sec.abs() < 1e12)
    put(has_s, pd.to_datetime((sec * 1e3).round(), unit="ms", utc=True, errors="coerce"), "timestamp_s")
    sa_text = f["scraped_at"].fillna("").str.strip()
    has_sa = ~has_ms & ~has_s & (sa_text != "")
    if has_sa.any():
        sa = to_utc(sa_text.where(has_sa), assume_zone=None)
        ok = has_sa & sa.notna()
        ts[ok] = sa[ok]
        bad = has_sa & sa.isna()
        why[bad] = [f"'# scraped_at {v}' is not ISO 8601 with a UTC offset (Z or +01:00)" for v in sa_text[bad]]
    why[~has_ms & ~has_s & ~has_sa] = NO_TIMESTAMP
    return ts, why


def _merge_labels(label_dicts: list[dict]) -> dict:
    keys = sorted({k for d in label_dicts for k in d} - IDENTITY_LABELS)
    out = {}
    for k in keys:
        vals = sorted({d[k] for d in label_dicts if k in d})
        out[k] = vals[0] if len(vals) == 1 else ",".join(vals)
    return out


def to_canonical(raw: RawTable, *, source_label: str, site_zone: str) -> Parsed:
    f = raw.frame
    quarantine: dict = {}
    folded: dict = {}

    def reject(i, code, reason):
        quarantine.setdefault(i, []).append((code, reason))

    # 1. parse every row (labels cached per distinct label text: series repeat)
    cache: dict[str, dict | str] = {}
    labels: dict = {}
    values: dict = {}
    unparsed = f["unparsed"].fillna("")
    for i, metric, label_text, value_text, bad in zip(f.index, f["metric"].fillna(""), f["labels"].fillna(""),
                                                     f["value"], unparsed):
        if bad or not metric:
            reject(i, "unparseable_sample", "not a Prometheus sample 'NAME{labels} value [timestamp]'"
                   if bad else "sample without a metric name")
            continue
        if label_text not in cache:
            try:
                cache[label_text] = parse_labels(label_text)
            except LabelError as exc:
                cache[label_text] = str(exc)
        parsed = cache[label_text]
        if isinstance(parsed, str):
            reject(i, "unparseable_sample", f"labels: {parsed}")
            continue
        v = parse_value(value_text)
        if v is None:
            reject(i, "unparseable_sample", f"value '{value_text}' is not a number")
            continue
        if not parsed:
            reject(i, "sample_without_labels", f"{metric} has no labels (no UUID / gpu / host): it cannot be "
                                               "attributed to a GPU (dummy value?)")
            continue
        labels[i], values[i] = parsed, v

    ts, ts_why = _timestamps(f)
    for i in list(labels):
        if pd.notna(ts_why[i]):
            reject(i, "no_timestamp" if ts_why[i] == NO_TIMESTAMP else "bad_timestamp", str(ts_why[i]))
            del labels[i]

    rows = pd.DataFrame(index=pd.Index(list(labels), dtype=f.index.dtype))
    get = lambda *keys: pd.Series([next((labels[i][k] for k in keys if labels[i].get(k, "") != ""), pd.NA)
                                   for i in rows.index], index=rows.index, dtype="string")
    rows["metric"] = f.loc[rows.index, "metric"].astype("string")
    rows["value"] = pd.Series([values[i] for i in rows.index], index=rows.index, dtype="float64")
    rows["uuid"] = get("UUID", "uuid")
    rows["gpu"] = get("gpu")
    rows["host"] = get("hostname", "Hostname", "instance")
    rows["model"] = get("modelName")
    rows["job"] = get("hpc_job")
    rows["mig"] = get("GPU_I_ID")
    rows["ts"] = ts.loc[rows.index]
    no_device = rows["uuid"].isna() & (rows["gpu"].isna() | rows["host"].isna())
    for i in rows.index[no_device.to_numpy(dtype=bool)]:
        reject(i, "no_device", "labels name neither a UUID nor a gpu index with a host")
    rows = rows[~no_device]

    # 2. one group per physical GPU and time
    device = ("uuid:" + rows["uuid"]).fillna("host:" + rows["host"].fillna("") + "/gpu:" + rows["gpu"].fillna(""))
    rows["group"] = device + "@" + rows["ts"].astype("int64").astype("string")
    rows["used"] = rows["metric"].isin(list(USED)).fillna(False).astype(bool)
    finite = rows["used"] & rows["value"].notna()
    kept_of = rows[finite].groupby("group", sort=False).head(1)
    kept = pd.Series(kept_of.index, index=kept_of["group"].to_numpy())

    out_rows = []
    group_labels: dict = {}
    for g, target in kept.items():
        group_labels[g] = []
        out_rows.append(target)
    # the reference sample of each metric in a group: its first finite value, else its first sample
    used_rows = rows[rows["used"]]
    order = used_rows.assign(_nan=used_rows["value"].isna()).sort_values(["_nan"], kind="stable")
    refs = order.drop_duplicates(["group", "metric"], keep="first")
    first_value: dict = {(g, m): (i, v) for i, g, m, v in zip(refs.index, refs["group"], refs["metric"], refs["value"])}
    for i, g, metric, value, used, mig in zip(rows.index, rows["group"], rows["metric"], rows["value"],
                                              rows["used"], rows["mig"]):
        if g not in kept.index:
            reject(i, "no_power_metric", f"no {POWER_METRIC} / {ENERGY_METRIC} / {UTIL_METRIC} value for this GPU "
                                         "at this time: nothing to measure")
            continue
        target = kept[g]
        if not used:
            folded[i] = (target, f"{metric} is not used for energy (counted with the GPU's row)")
            continue
        where = f" (MIG instance GPU_I_ID={mig})" if isinstance(mig, str) else ""
        ref_i, ref_v = first_value[(g, metric)]
        if i == ref_i:
            group_labels[g].append(labels[i])
            if i != target:
                folded[i] = (target, f"{metric} joined onto this GPU's row for the same time{where}")
            continue
        ref_line = int(f.at[ref_i, "source_row"])
        if pd.isna(value):
            folded[i] = (target, f"{metric} has no value (NaN); the GPU's value for this time is on line {ref_line}")
        elif value == ref_v:
            group_labels[g].append(labels[i])
            folded[i] = (target, f"{metric} repeats the whole-GPU value of line {ref_line}{where}: "
                                 "de-duplicated by UUID, counted once")
        else:
            reject(i, "conflicting_duplicate",
                   f"{metric} = {value} differs from {ref_v} on line {ref_line} for the same GPU and time{where} "
                   "(first kept)")

    out = pd.DataFrame(index=pd.Index(out_rows, dtype=f.index.dtype))
    groups = [rows.at[i, "group"] for i in out.index]
    out["source_file"] = source_label
    out["source_row"] = f.loc[out.index, "source_row"]
    for col, src in (("host", "host"), ("device_uuid", "uuid"), ("gpu_index", "gpu"), ("gpu_model", "model")):
        out[col] = rows.loc[out.index, src]
    out["ts_utc"] = rows.loc[out.index, "ts"]
    for metric, col in USED.items():
        out[col] = pd.Series([first_value.get((g, metric), (None, np.nan))[1] * SCALE[metric] for g in groups],
                             index=out.index, dtype="float64")
    jobs, label_json = [], []
    for g in groups:
        dicts = group_labels[g]
        job_values = sorted({d["hpc_job"] for d in dicts if d.get("hpc_job", "") != ""})
        merged = _merge_labels(dicts)
        if len(job_values) > 1:
            merged["hpc_job"] = ",".join(job_values)
        jobs.append(job_values[0] if len(job_values) == 1 else pd.NA)
        label_json.append(json.dumps(merged, sort_keys=True, ensure_ascii=False))
    out["job_id"] = pd.Series(jobs, index=out.index, dtype="string")
    out["labels_json"] = pd.Series(label_json, index=out.index, dtype="string")

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
