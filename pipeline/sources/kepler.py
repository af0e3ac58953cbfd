"""Kepler (sustainable-computing-io/kepler) energy counters -> canonical POWER frame.

Input: a Prometheus text scrape of Kepler's ``/metrics`` (text exposition or OpenMetrics), or a Prometheus HTTP API
response (``/api/v1/query_range`` matrix or ``/api/v1/query`` vector, JSON). Each ``kepler_*_joules_total`` sample
is one row (``energy_counter_j``, cumulative joules). Other metric families in a scrape (``*_watts`` gauges, which
Kepler derives from the same counters, ``*_info``, cpu time, ...) are not rows; their count is given in the notes.
``source_row`` is the line number for text scrapes and the sample's ordinal + 1 for JSON (1 stands for the header).

Two metric generations (names checked in the Kepler repository at the release tags):

- <= 0.9 (``pkg/metrics``, ``pkg/collector``): ``kepler_<level>_<component>_joules_total`` with level node,
  container, process, vm (pod never existed) and component package, core, uncore, dram, other (0.5-0.6:
  ``other_host_components``), gpu, platform; plus ``kepler_<level>_joules_total`` = package + dram + other + gpu
  (0.5 help text: "Aggregated RAPL Package + Uncore + DRAM + GPU + other host components"; 0.9
  ``utils.handleContainerStats``). Labels: container ``container_id, pod_name, container_name,
  container_namespace, mode`` (``mode`` dynamic / idle: disjoint parts, both kept), node ``package`` (socket, or
  GPU index for the gpu metric), ``instance`` (node name), ``mode``; constant label ``source``.
- >= 0.10 (``internal/exporter/prometheus/collector/power_collector.go``): ``kepler_<level>_cpu_joules_total``
  (level node, container, pod, process, vm) with a ``zone`` label; node also ``path`` and
  ``kepler_node_cpu_{active,idle}_joules_total`` (active + idle = total); GPU (0.11.4+)
  ``kepler_{node,container,pod,process}_gpu_joules_total``, node-level with ``gpu, gpu_uuid, gpu_name, vendor``
  and ``kepler_node_gpu_{active,idle}_joules_total``; constant label ``node_name``.

CPU zones: Kepler's metrics reference (docs/user/metrics.md, "Energy Zones", at commit 13944a69 / added in
4a4bf346) says "Some zones overlap and therefore zones should not be summed. ``package`` already contains
``core``, ``uncore``, and part of what ``psys`` covers"; ``dram`` is "the memory attached to the memory
controller", outside the package. Kepler <= 0.9's own dashboards (grafana-dashboards/README.md at v0.9.0) build the
pod total from ``package + dram + gpu + other`` (``other`` = platform - package - dram). So the rows kept are the
non-overlapping set: zones ``package``, ``dram``, old ``other`` and the GPU totals (``component`` column: cpu, dram,
other, gpu). ``core`` and ``uncore`` (inside package), ``psys`` and old ``platform`` (contain package and dram) and
the old aggregate ``kepler_<level>_joules_total`` (= package + dram + other + gpu) are each folded into the
``package`` sample of the same series (same level, labels other than zone/path/source/package, and time), never
summed; without a package sample they are quarantined (``kepler_overlapping_zone``). Caveat: ``other`` is derived
from the platform meter and may include GPU power where that meter covers the GPUs - use it only for non-GPU nodes. Node ``active``/``idle``
split counters are folded into the total of the same zone / GPU. Levels nest (node >= pod >= container >=
process): the ``level`` column says which one a row is; never sum across levels. ``series_id`` (metric + labels)
identifies one counter: take counter differences per ``series_id`` (host + device_uuid is not unique here).

Time: the sample's own timestamp (text: milliseconds since the epoch, or seconds for OpenMetrics - values below
1e11 are read as seconds; JSON: seconds). A plain ``/metrics`` scrape has none: pass ``scraped_at`` (ISO 8601; a
naive value is read in ``site_zone``), otherwise the samples are quarantined (``kepler_sample_without_time``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from pipeline.canonical import POWER, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, load_json_document, read_text, to_number, to_utc
from pipeline.sources.codecarbon import catalogue_gpu_name

KIND = "kepler"
FAMILY = "power"
REQUIRED = ["metric", "labels", "value", "timestamp"]
SOURCE_COLUMNS = {"energy_counter_j": "value", "ts_utc": "timestamp"}

_ENERGY = re.compile(r"^kepler_\w*joules_total$")
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_NEW = re.compile(r"^kepler_(node|container|pod|process|vm)_(cpu|gpu)(?:_(active|idle))?_joules_total$")
_OLD = re.compile(r"^kepler_(node|container|pod|process|vm)_(package|core|uncore|dram|other_host_components|other"
                  r"|gpu|platform)_joules_total$")
_OLD_TOTAL = re.compile(r"^kepler_(container|pod|process|vm)_joules_total$")
KEPT_ZONES = ("package", "dram", "other")
OVERLAPPING_ZONES = ("core", "uncore", "psys", "platform", "total")
COMPONENT = {"package": "cpu", "dram": "dram", "other": "other"}
_NOT_IN_KEY = {"zone", "path", "source", "package"}
_COLUMNS = ["metric", "labels", "value", "timestamp", "timestamp_unit", "parse_error"]


def sniff(columns: list[str]) -> bool:
    return set(_COLUMNS) <= set(columns)


def sniff_raw(raw: RawTable) -> bool:
    """Any text file reads as lines: it is Kepler output only if it has Kepler metric samples."""
    return bool(raw.frame["metric"].astype("string").str.startswith("kepler_").fillna(False).any())


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def _parse_labels(text: str | None) -> dict | None:
    if not text or not text.strip():
        return {}
    out, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            return None if text[pos:].strip() else out
        out[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return out


def _table(path: Path, rows: list[dict], lines: list[int], skipped: dict) -> RawTable:
    frame = pd.DataFrame(rows, columns=_COLUMNS, dtype="string") if rows else pd.DataFrame(
        {c: pd.Series(dtype="string") for c in _COLUMNS})
    frame["source_row"] = pd.Series(lines, dtype="int64")
    frame.attrs["skipped_samples"] = skipped
    return RawTable(path=path, frame=frame)


def _read_json(path: Path, text: str) -> RawTable:
    doc = load_json_document(text, file=str(path), what="Prometheus query response",
                             fix="save the Prometheus API response body unchanged (query or query_range)")
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or data.get("resultType") not in ("matrix", "vector") \
            or not isinstance(data.get("result"), list):
        status = doc.get("status") if isinstance(doc, dict) else None
        raise InputError(f"is not a Prometheus query result (status {status!r}; expected data.resultType matrix "
                         "or vector)", file=str(path),
                         fix="export /api/v1/query_range (or /api/v1/query) output for the Kepler metrics")
    rows, lines, skipped = [], [], {}
    for series in data["result"]:
        metric = (series.get("metric") or {}) if isinstance(series, dict) else None
        points = ((series.get("values") or []) if data["resultType"] == "matrix" else [series.get("value")]) \
            if isinstance(series, dict) else None
        if not isinstance(metric, dict) or not isinstance(points, list):
            # not {"metric": {...}, "values": [...]}: one row, quarantined with the reason (never dropped)
            rows.append({"metric": "", "labels": "{}", "value": "", "timestamp": "", "timestamp_unit": "s",
                         "parse_error": "series is not an object with a 'metric' object and a 'values' list: "
                                        + json.dumps(series, default=str)[:80]})
            lines.append(len(rows) + 1)
            continue
        metric = dict(metric)
        name = str(metric.pop("__name__", ""))
        for point in points:
            if name and not _ENERGY.match(name):
                skipped[name] = skipped.get(name, 0) + 1
                continue
            err = ""
            if not name:
                err = "series has no __name__ (a computed query such as rate()): not a Kepler energy counter"
            ok = isinstance(point, (list, tuple)) and len(point) == 2
            if not ok:
                err = err or f"sample is not a [time, value] pair: {str(point)[:60]}"
            rows.append({"metric": name, "labels": json.dumps({str(k): str(v) for k, v in metric.items()},
                                                              sort_keys=True, ensure_ascii=False),
                         "value": str(point[1]) if ok else "", "timestamp": str(point[0]) if ok else "",
                         "timestamp_unit": "s", "parse_error": err})
            lines.append(len(rows) + 1)
    return _table(path, rows, lines, skipped)


def _read_text(path: Path, text: str) -> RawTable:
    rows, lines, skipped = [], [], {}
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _LINE.match(s)
        labels = _parse_labels(m.group(2)) if m else None
        if m and not _ENERGY.match(m.group(1)):
            skipped[m.group(1)] = skipped.get(m.group(1), 0) + 1
            continue
        if m is None or labels is None:
            rows.append({"metric": "", "labels": "{}", "value": "", "timestamp": "", "timestamp_unit": "",
                         "parse_error": f"not a Prometheus sample line: {s[:80]}"})
        else:
            ts = m.group(4) or ""
            unit = ""
            if ts:
                try:
                    unit = "ms" if abs(float(ts)) >= 1e11 else "s"
                except ValueError:
                    unit = "?"
            rows.append({"metric": m.group(1), "labels": json.dumps(labels, sort_keys=True, ensure_ascii=False),
                         "value": m.group(3), "timestamp": ts, "timestamp_unit": unit, "parse_error": ""})
        lines.append(n)
    return _table(path, rows, lines, skipped)


def read_raw(path: Path) -> RawTable:
    """Kepler samples as text: metric, labels (sorted JSON), value, timestamp (+ unit), parse_error."""
    text = read_text(path, what="Kepler metrics scrape or Prometheus query result")
    if not text.strip():
        raise InputError("the file is empty; expected a Kepler metrics scrape or a Prometheus query result",
                         file=str(path), fix="scrape Kepler again, or remove the source from the config")
    return _read_json(path, text) if text.lstrip().startswith("{") else _read_text(path, text)


def _classify(name: str, labels: dict) -> tuple | None:
    """(generation, level, component, zone, split) or None for an unknown metric name."""
    m = _NEW.match(name)
    if m:
        level, comp, split = m.groups()
        gen = "<=0.9" if "mode" in labels else ">=0.10"
        if comp == "gpu":
            return gen, level, "gpu", "", split
        zone = re.sub(r"-\d+$", "", labels.get("zone", "").strip().lower())
        return gen, level, "cpu", zone, split
    m = _OLD.match(name)
    if m:
        level, comp = m.groups()
        if comp == "gpu":
            return "<=0.9", level, "gpu", "", None
        zone = {"other_host_components": "other"}.get(comp, comp)
        return "<=0.9", level, "cpu", zone, None
    m = _OLD_TOTAL.match(name)
    if m:
        return "<=0.9", m.group(1), "cpu", "total", None
    return None


def _host(labels: dict) -> str | None:
    for key in ("node_name", "node", "exported_instance", "instance"):
        v = labels.get(key, "").strip()
        if v:
            if v.count(":") == 1 and v.rsplit(":", 1)[1].isdigit():
                v = v.rsplit(":", 1)[0]
            return v
    return None


def to_canonical(raw: RawTable, *, source_label: str, site_zone: str, scraped_at: str | None = None) -> Parsed:
    f = raw.frame
    quarantine: dict = {}
    info = {}
    for i in f.index:
        err = f.at[i, "parse_error"]
        if isinstance(err, str) and err:
            quarantine[i] = [("kepler_unparseable_sample", err)]
            continue
        name = str(f.at[i, "metric"])
        labels = json.loads(f.at[i, "labels"]) if isinstance(f.at[i, "labels"], str) else {}
        cls = _classify(name, labels)
        if cls is None:
            quarantine[i] = [("kepler_unknown_metric", f"{name} is not a Kepler energy counter this adapter knows")]
            continue
        gen, level, comp, zone, split = cls
        if comp == "cpu" and zone not in KEPT_ZONES + OVERLAPPING_ZONES:
            why = f"{name} zone '{zone}' is not package/core/uncore/dram/psys: cannot tell whether it overlaps 'package'"
            quarantine[i] = [("kepler_unknown_zone", why)]
            continue
        info[i] = (name, labels, gen, level, comp, zone, split)

    # time and value
    ts_text = f["timestamp"].astype("string").str.strip()
    unit = f["timestamp_unit"].astype("string")
    secs = to_number(ts_text) / unit.map({"ms": 1000.0, "s": 1.0}).astype("float64")
    ok_secs = secs.notna() & (secs.abs() < 7.2e9)
    ts = pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns, UTC]")
    if ok_secs.any():
        ts[ok_secs] = pd.to_datetime((secs[ok_secs] * 1e3).round().astype("int64"), unit="ms", utc=True)
    fallback = None
    if scraped_at:
        fallback = to_utc(pd.Series([scraped_at], dtype="string"), assume_zone=site_zone).iloc[0]
        if pd.isna(fallback):
            as_utc = to_utc(pd.Series([scraped_at], dtype="string"), assume_zone="UTC").iloc[0]
            if pd.notna(as_utc):   # a valid time that the site's zone cannot place: a DST change
                raise InputError(f"scraped_at '{scraped_at}' is ambiguous or does not exist in {site_zone} (a DST "
                                 "change): it is not guessed", file=source_label, key="sources[].scraped_at",
                                 fix="give the scrape time with its UTC offset, e.g. 2026-10-25T01:30:00+01:00")
            raise InputError(f"scraped_at '{scraped_at}' is not an ISO 8601 time", file=source_label,
                             key="sources[].scraped_at", fix="give the scrape time as YYYY-MM-DDTHH:MM:SS[+HH:MM]")
    value = to_number(f["value"])
    for i in list(info):
        if pd.isna(ts[i]):
            if (ts_text[i] if isinstance(ts_text[i], str) else "") == "" and fallback is not None:
                ts[i] = fallback
            else:
                why = ("the sample has no timestamp (a plain /metrics scrape): pass scraped_at or use a Prometheus "
                       "query result") if not isinstance(ts_text[i], str) or not ts_text[i] else \
                    f"timestamp '{ts_text[i]}' is not a Unix time"
                quarantine[i] = [("kepler_sample_without_time", why)]
                del info[i]
                continue
        if not (value[i] >= 0) or value[i] == float("inf"):
            why = f"counter value '{f.at[i, 'value']}' is not a finite number >= 0"
            quarantine[i] = [("kepler_bad_counter_value", why)]
            del info[i]

    # keep package / dram / GPU totals; fold the overlapping samples into the kept one of the same series
    def key(i, zone_in_key: bool):
        _name, labels, _gen, level, comp, zone, _split = info[i]
        lab = tuple(sorted((k, v) for k, v in labels.items() if k not in _NOT_IN_KEY))
        return level, comp if comp == "gpu" else "cpu", (zone if zone_in_key else ""), lab, ts[i].value

    kept, by_zone, by_series = [], {}, {}
    for i, (name, labels, gen, level, comp, zone, split) in info.items():
        if split is None and (comp == "gpu" or zone in KEPT_ZONES):
            kept.append(i)
            by_zone.setdefault(key(i, True), i)
            if zone == "package":
                by_series.setdefault(key(i, False), i)
    folded = {}
    for i, (name, labels, gen, level, comp, zone, split) in info.items():
        if i in kept:
            continue
        if comp == "gpu" or zone in KEPT_ZONES:     # node active / idle split of a kept total
            target = by_zone.get(key(i, True))
            note = f"{name} is the {split} part of the total counter (active + idle = total), never summed"
        else:
            target = by_series.get(key(i, False))
            note = (f"{name} zone '{zone}' overlaps zone 'package' (Kepler docs: package contains core and uncore; "
                    "psys / platform / the aggregate total contain package and dram), never summed")
        if target is None:
            quarantine[i] = [("kepler_overlapping_zone", note.replace(", never summed", "") +
                              "; no package / total sample of the same series to keep instead")]
        else:
            folded[i] = (target, note)

    rows = f.loc[kept]
    out = pd.DataFrame(index=rows.index)
    out["source_file"] = source_label
    out["source_row"] = rows["source_row"]
    labels_out, hosts, uuids, idx, models, metric, level_c, comp_c, zone_c, gen_c = ([] for _ in range(10))
    for i in rows.index:
        name, labels, gen, level, comp, zone, split = info[i]
        lab = dict(labels)
        if comp == "cpu":
            lab.setdefault("zone", zone)
        labels_out.append(json.dumps(lab, sort_keys=True, ensure_ascii=False))
        hosts.append(_host(labels))
        gpu = comp == "gpu"
        uuids.append((labels.get("gpu_uuid") or labels.get("uuid") or labels.get("UUID") or None) if gpu else None)
        idx.append((labels.get("gpu") or labels.get("gpu_id")
                    or (labels.get("package") if level == "node" and gen == "<=0.9" else None) or None) if gpu else None)
        models.append(catalogue_gpu_name(labels.get("gpu_name") or labels.get("modelName")) if gpu else None)
        metric.append(name)
        level_c.append(level)
        comp_c.append("gpu" if comp == "gpu" else COMPONENT[zone])
        zone_c.append(zone if comp == "cpu" else "")
        gen_c.append(gen)
    out["host"] = pd.Series(hosts, index=rows.index, dtype="string")
    out["device_uuid"] = pd.Series(uuids, index=rows.index, dtype="string")
    out["gpu_index"] = pd.Series(idx, index=rows.index, dtype="string")
    out["gpu_model"] = pd.Series(models, index=rows.index, dtype="string")
    out["ts_utc"] = ts[rows.index]
    out["power_w"] = float("nan")
    out["energy_counter_j"] = value[rows.index]
    out["utilisation_pct"] = float("nan")
    out["job_id"] = pd.Series(pd.NA, index=rows.index, dtype="string")
    out["labels_json"] = pd.Series(labels_out, index=rows.index, dtype="string")
    out["metric"] = pd.Series(metric, index=rows.index, dtype="string")
    out["level"] = pd.Series(level_c, index=rows.index, dtype="string")
    out["component"] = pd.Series(comp_c, index=rows.index, dtype="string")
    out["zone"] = pd.Series(zone_c, index=rows.index, dtype="string")
    out["kepler_generation"] = pd.Series(gen_c, index=rows.index, dtype="string")
    # one cumulative counter = one series: group by this (host + device_uuid alone is not unique for Kepler rows)
    out["series_id"] = out["metric"] + rows["labels"].astype("string")

    notes = []
    skipped = f.attrs.get("skipped_samples") or {}
    if skipped:
        notes.append(f"{sum(skipped.values())} sample(s) of {len(skipped)} other metric famil(y/ies) not read "
                     "(only kepler_*_joules_total counters are energy): " + ", ".join(sorted(skipped)[:8]))
    if folded:
        notes.append(f"{len(folded)} overlapping-zone / split sample(s) folded into the package (or total) sample of "
                     "the same series: CPU zones are never summed")
    if kept:
        notes.append("rows are cumulative counters at several levels (node, pod, container, process, vm): never sum "
                     "across levels")
    return Parsed(frame=conform(out, POWER), quarantine=quarantine, folded=folded, notes=notes)
