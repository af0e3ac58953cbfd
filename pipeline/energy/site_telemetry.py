"""GPU telemetry of a site -> measured energy per job and month (the allocation key above Slurm's figures).

Per source, devices with a power gauge are integrated (trapezoid); devices with only an energy counter are
differenced (resets handled). Intervals are attributed to Slurm jobs by the DCGM ``hpc_job`` label, else by
host and time (``pipeline.energy.telemetry``). Energy attributed to no job stays with the site's
``unallocated`` line through the meter reconciliation; gaps, resets and anomalies are reported.

Kubernetes workloads: a sample with no ``hpc_job`` but a workload namespace label (``exported_namespace``,
``namespace``, ``pod_namespace``, ``container_namespace``; the ``exported_`` form wins because Prometheus renames
the workload's labels that way when they clash with the scrape target's) is a workload of its own, job id
``k8s:<namespace>/<pod>``. Such workloads become allocation keys of their own (phase by the namespace / label
rules), since no scheduler record describes them.

Kepler: one counter is one ``series_id`` (not host + device), and its levels nest (node >= pod >= container
>= process). Only one level is used per source so nothing is counted twice: pod rows when the source has any,
else container rows, else node rows (node energy is then attributed to Slurm jobs by host and time).

Streaming (``TelemetryStream``): the samples of a site are fed one file at a time and reduced at once to sums
per (job, month), per month and report counters, so memory does not grow with the number of samples. Decisions
that make the result the same as reading every file of a source together (``measured_job_energy``):

* The interval across two files of a source is kept: each device's samples at its latest time (and the one
  sample before it that would start the next interval) are carried into the next ``add``. A device's last
  interval is integrated only once a later sample or ``result()`` shows which sample at that time counts
  (duplicates are decided as within one file). Gaps running across the edge merge as within one file.
* Files of one source come in time order; a file may repeat the previous one's edge sample (same time:
  a duplicate, counted once). A sample *earlier* than a device's latest sample already read means the files
  overlap or come out of order: ``InputError`` naming both files (never counted twice, never guessed).
* Power gauge or counter is chosen per device and file: the gauge where the device has a power value in the
  file, else its counter. (Read together, one choice covers the whole source, so a day without power values
  would be a ``power_missing`` gap there; streamed, that day uses the counter.)
* Kepler: every level of each file is integrated as a stream of its own; ``result()`` uses the level chosen
  from all the source's files (as above), so the choice does not depend on which file came first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.canonical import blank_missing, category_from_codes
from pipeline.energy import telemetry
from pipeline.errors import InputError
from pipeline.period import month_codes

J_PER_KWH = 3.6e6
NAMESPACE_LABELS = ("exported_namespace", "namespace", "pod_namespace", "container_namespace")
POD_LABELS = ("exported_pod", "pod", "pod_name")
KEPLER_LEVELS = ("pod", "container", "node")
MAX_POWER_W = 2000.0   # a single accelerator above this is an anomaly (B200: 1000 W board power)
MAX_SERIES_POWER_W = 20000.0   # a Kepler series (a pod's or node's CPUs or GPUs together): above a whole node
SAMPLE_COLUMNS = ["source_file", "source_row", "host", "device_uuid", "ts_utc", "power_w", "energy_counter_j",
                  "job_id"]     # what integration and attribution read; a carried sample keeps these
NAT = telemetry.INT64_MIN


def job_hosts(jobs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for j in jobs.itertuples(index=False):
        try:
            hosts = telemetry.expand_nodelist(j.node_list if isinstance(j.node_list, str) else "")
        except ValueError as exc:
            raise InputError(f"NodeList '{j.node_list}' cannot be expanded: {exc}", file=str(j.source_file),
                             row=int(j.source_row), fix="check the NodeList column of the sacct export") from None
        rows += [{"job_id": j.job_id, "host": h} for h in hosts]
    return pd.DataFrame(rows, columns=["job_id", "host"])


def kepler_level(samples: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Kepler rows of one level (pod > container > node), each series its own counter; other frames as they are."""
    if "series_id" not in samples.columns or "level" not in samples.columns:
        return samples, None
    for level in KEPLER_LEVELS:
        rows = samples[samples["level"] == level]
        if len(rows):
            return rows.assign(device_uuid=rows["series_id"]), level
    return samples.iloc[0:0], None


def _workload_id(text: str) -> tuple[str | None, dict]:
    labels = json.loads(text)
    ns = next((labels[k] for k in NAMESPACE_LABELS if labels.get(k)), None)
    pod = next((labels[k] for k in POD_LABELS if labels.get(k)), "")
    if ns is None or "," in ns or "," in pod:      # several workloads on one device: not attributable
        return None, {}
    wid = f"k8s:{ns}/{pod}" if pod else f"k8s:{ns}"
    return wid, {"namespace": ns, "pod": pod, "labels": labels}


def workloads(samples: pd.DataFrame) -> tuple[pd.Series, dict[str, dict]]:
    """job_id per sample (the scheduler's, else ``k8s:<namespace>/<pod>``) and the workloads' labels
    (per workload, the labels of its first sample), as a categorical. Labels are read once per distinct
    labels_json text; nothing is done per sample but integer codes."""
    job_code, job_names = pd.factorize(samples["job_id"])            # missing: -1
    job_names = [str(x) for x in job_names]
    has_job = np.append(np.array([x != "" for x in job_names], dtype=bool), False)[job_code]
    found: dict[str, dict] = {}
    if "labels_json" not in samples.columns:
        return category_from_codes(np.where(has_job, job_code, -1), job_names, samples.index), found
    text_code, texts = pd.factorize(samples["labels_json"])
    texts = [str(x) for x in texts]
    need = ~has_job & np.append(np.array([t != "" for t in texts], dtype=bool), False)[text_code]
    # the workload of each distinct text, in order of first appearance among the rows that need one
    first = pd.unique(text_code[need])
    wid_of_text = np.full(len(texts) + 1, -1, dtype=np.int64)
    names = list(job_names)
    for t in first.tolist():
        wid, info = _workload_id(texts[t])
        if wid is not None:
            found.setdefault(wid, info)
            wid_of_text[t] = len(names)
            names.append(wid)
    out = np.where(has_job, job_code, -1)
    out[need] = wid_of_text[text_code[need]]
    return category_from_codes(out, names, samples.index), found


def measured_job_energy(samples_by_source: list[tuple[pd.DataFrame, float]], jobs: pd.DataFrame | None,
                        zone: str) -> tuple[dict[tuple[str, str], float], dict]:
    """((job_id, month) -> kWh measured, report). ``samples_by_source``: (POWER frame, max_gap_s) per source.

    The report holds totals and ``months`` (month -> all measured kWh, attributed kWh) for the meter
    reconciliation, and ``workloads`` (Kubernetes workloads seen only in telemetry, with their labels).
    One ``TelemetryStream.add`` per source (all its samples in one frame)."""
    stream = TelemetryStream(jobs, zone)
    for n, (samples, max_gap) in enumerate(samples_by_source):
        stream.add(samples, max_gap, source_key=f"source {n + 1}")
    return stream.result()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of frames with the same columns, one after the other (index 0..n-1). Text columns that are
    categorical in any frame come out categorical over the union of the categories (``pd.concat`` would turn
    differing categories into one Python str per row)."""
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    out = {}
    for col in frames[0].columns:
        parts = [f[col] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            codes, names = zip(*(pd.factorize(p) for p in parts))
            table = pd.Index(list(dict.fromkeys(str(x) for n in names for x in n)), dtype="string")
            out[col] = category_from_codes(np.concatenate([
                np.append(table.get_indexer([str(x) for x in n]), -1)[c] for c, n in zip(codes, names)]), table)
        else:
            out[col] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out, columns=frames[0].columns)


# --- streaming ----------------------------------------------------------------------------------------------

@dataclass
class _Totals:
    """What ``result()`` needs, reduced: sums and counters, nothing per sample or interval."""

    energy_j: float = 0.0
    attributed_j: float = 0.0
    gaps: int = 0
    gap_hours: float = 0.0
    counter_resets: int = 0
    anomalies: int = 0
    samples_dropped: int = 0
    job_month_j: dict = field(default_factory=dict)    # (job_id, month) -> J attributed
    month_j: dict = field(default_factory=dict)        # month -> [J measured, J attributed]
    job_first: dict = field(default_factory=dict)      # job_id -> (source_file, source_row_start or None)

    def merge(self, other: _Totals) -> None:
        for name in ("energy_j", "attributed_j", "gaps", "gap_hours", "counter_resets", "anomalies",
                     "samples_dropped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.job_month_j.items():
            self.job_month_j[k] = self.job_month_j.get(k, 0.0) + v
        for k, (a, b) in other.month_j.items():
            cur = self.month_j.setdefault(k, [0.0, 0.0])
            cur[0] += a
            cur[1] += b
        for k, v in other.job_first.items():
            if k not in self.job_first or _first_key(v) < _first_key(self.job_first[k]):
                self.job_first[k] = v

    def copy(self) -> _Totals:
        out = _Totals()
        out.merge(self)
        return out


def _first_key(v: tuple) -> tuple:
    """Sort key of a (source_file, source_row) pair: file, then row, missing values last (as ``sort_values``)."""
    sf, row = v
    return (sf is None, sf or "", row is None, row or 0)


@dataclass
class _Stream:
    """One source (and Kepler level): the samples carried to the next file and the reductions so far."""

    devices: dict = field(default_factory=dict)        # (host, device_uuid) -> code (None for a missing value)
    carry: pd.DataFrame | None = None                  # SAMPLE_COLUMNS + _dev: per device, its samples at its
    #                                                    latest time and the one sample before them
    power: dict = field(default_factory=dict)          # device code -> integrated from the power gauge (last file)
    open_gap: dict = field(default_factory=dict)       # device code -> (end ns, reason, job) of a gap at its end
    max_gap_s: float = 0.0
    cap_w: float = MAX_POWER_W
    totals: _Totals = field(default_factory=_Totals)
    workloads: dict = field(default_factory=dict)


@dataclass
class _Source:
    streams: dict = field(default_factory=dict)        # Kepler level (None: not Kepler) -> _Stream
    kepler_levels: set = field(default_factory=set)


class TelemetryStream:
    """Measured energy per job and month from GPU telemetry fed one file at a time, in bounded memory.

    ``add(samples, max_gap_s, source_key)`` once per input file (its canonical POWER frame), files of one source
    in time order under one ``source_key`` (any string: the config's source id); ``result()`` returns what
    ``measured_job_energy`` returns for the same files read together: ((job_id, month) -> kWh, report).
    Between calls only reductions are kept (sums per job and month, per month, counters, each job's first
    source row, the workloads' labels) and per device at most the samples of its latest timestamp plus one
    (see the module docstring), so memory grows with devices, jobs and months, never with samples.
    """

    def __init__(self, jobs: pd.DataFrame | None, zone: str) -> None:
        if jobs is None or jobs.empty:
            jobs = pd.DataFrame({c: pd.Series(dtype="string") for c in ("job_id", "node_list", "source_file")})
            jobs["start_utc"] = pd.Series(dtype="datetime64[ns, UTC]")
            jobs["end_utc"] = pd.Series(dtype="datetime64[ns, UTC]")
            jobs["gpu_count"] = pd.Series(dtype="float64")
            jobs["source_row"] = pd.Series(dtype="int64")
        self._jobs = jobs
        self._job_hosts = job_hosts(jobs)
        self._zone = zone
        self._sources: dict[str, _Source] = {}

    # --- feeding -----------------------------------------------------------------------------------------

    def add(self, samples: pd.DataFrame, max_gap_s: float, source_key: str) -> None:
        """Integrate one file's samples (canonical POWER frame) of source ``source_key`` and reduce them."""
        src = self._sources.setdefault(source_key, _Source())
        if "series_id" in samples.columns and "level" in samples.columns:
            for level in KEPLER_LEVELS:
                rows = samples[samples["level"] == level]
                if len(rows):
                    src.kepler_levels.add(level)
                    stream = src.streams.setdefault(level, _Stream())
                    self._add(stream, rows.assign(device_uuid=rows["series_id"]), max_gap_s, MAX_SERIES_POWER_W)
        elif len(samples):
            self._add(src.streams.setdefault(None, _Stream()), samples, max_gap_s, MAX_POWER_W)

    def _add(self, stream: _Stream, samples: pd.DataFrame, max_gap_s: float, cap_w: float) -> None:
        job_ids, found = workloads(samples)
        new = pd.DataFrame({c: samples[c] for c in SAMPLE_COLUMNS if c != "job_id"}).reset_index(drop=True)
        new["job_id"] = job_ids.reset_index(drop=True)
        new["_dev"] = self._device_codes(stream, new)
        dev_new = new["_dev"].to_numpy()
        t_new = telemetry._ns(new["ts_utc"])
        ndev = len(stream.devices)
        carry = stream.carry if stream.carry is not None else new.iloc[0:0]
        self._check_order(carry, new, dev_new, t_new, ndev)
        for wid, info in found.items():
            stream.workloads.setdefault(wid, info)

        in_file = np.zeros(ndev, dtype=bool)
        in_file[dev_new] = True
        # the device's method for this file: the power gauge if it has any power value here, else the counter
        has_power = np.zeros(ndev, dtype=bool)
        has_power[dev_new[new["power_w"].notna().to_numpy()]] = True
        for d in np.flatnonzero(in_file).tolist():
            stream.power[d] = bool(has_power[d])
        carried = in_file[carry["_dev"].to_numpy()]
        work = _concat([carry[carried], new]) if carried.any() else new
        dev = work["_dev"].to_numpy()
        t = telemetry._ns(work["ts_utc"])
        dated = t != NAT
        latest = np.full(ndev, NAT, dtype=np.int64)
        np.maximum.at(latest, dev[dated], t[dated])
        held = dated & (t == latest[dev])              # decided with the next file (or result())
        power_rows = has_power[dev]
        value = np.where(power_rows, work["power_w"].to_numpy(dtype=float, na_value=np.nan),
                         work["energy_counter_j"].to_numpy(dtype=float, na_value=np.nan))
        before = self._start_of_next(dev, t, ~held & dated, value, ndev)
        stream.carry = _concat([carry[~carried], work.iloc[before], work[held]])
        stream.max_gap_s, stream.cap_w = max_gap_s, cap_w
        stream.totals.merge(self._integrate(stream, work[~held], power_rows[~held], max_gap_s, cap_w,
                                            stream.open_gap))

    def _device_codes(self, stream: _Stream, frame: pd.DataFrame) -> np.ndarray:
        """The stream's code of each row's device (host + device_uuid, a missing value being a value of its own)."""
        local, keys = telemetry.device_keys(frame)
        codes = np.array([stream.devices.setdefault(k, len(stream.devices)) for k in keys], dtype=np.int64)
        return codes[local] if len(local) else np.zeros(0, dtype=np.int64)

    @staticmethod
    def _check_order(carry: pd.DataFrame, new: pd.DataFrame, dev_new: np.ndarray, t_new: np.ndarray,
                     ndev: int) -> None:
        """A sample earlier than its device's latest sample already read: the files overlap or are out of order."""
        if not len(carry):
            return
        cdev, ct = carry["_dev"].to_numpy(), telemetry._ns(carry["ts_utc"])
        latest = np.full(ndev, NAT, dtype=np.int64)
        np.maximum.at(latest, cdev, ct)
        early = np.flatnonzero((t_new != NAT) & (t_new < latest[dev_new]))
        if not len(early):
            return
        k = int(early[np.argmin(t_new[early])])
        d = dev_new[k]
        last = int(np.flatnonzero((cdev == d) & (ct == latest[d]))[-1])
        at = lambda ns: pd.Timestamp(ns, tz="UTC").isoformat()
        raise InputError(
            f"the sample of device {new['host'].iat[k]} / {new['device_uuid'].iat[k]} at {at(t_new[k])} comes before "
            f"the device's sample at {at(latest[d])} already read from {carry['source_file'].iat[last]} (row "
            f"{carry['source_row'].iat[last]}): the files of one source overlap or are not in time order",
            file=str(new["source_file"].iat[k]), row=int(new["source_row"].iat[k]),
            fix="give a source's files in time order (a glob sorted by name does this when the names carry the date) "
                "and remove or trim a file whose samples repeat another's (only the edge sample may be shared)")

    @staticmethod
    def _start_of_next(dev: np.ndarray, t: np.ndarray, eligible: np.ndarray, value: np.ndarray,
                       ndev: int) -> np.ndarray:
        """Per device, the row that starts its next interval: the sample kept (first with a value, in input
        order) at its latest time among ``eligible`` rows."""
        top = np.full(ndev, NAT, dtype=np.int64)
        np.maximum.at(top, dev[eligible], t[eligible])
        cand = np.flatnonzero(eligible & (t == top[dev]))
        cand = cand[np.lexsort((cand, np.isnan(value[cand]), dev[cand]))]
        first = np.r_[True, dev[cand][1:] != dev[cand][:-1]] if len(cand) else np.zeros(0, dtype=bool)
        return np.sort(cand[first])

    # --- integration and reduction ------------------------------------------------------------------------

    def _integrate(self, stream: _Stream, rows: pd.DataFrame, power_rows: np.ndarray, max_gap_s: float,
                   cap_w: float, open_gap: dict) -> _Totals:
        """Integrate rows (whole intervals of each device), merge gaps with those left open at the devices'
        ends (updating ``open_gap``), attribute to jobs and reduce."""
        out = _Totals()
        parts = []
        if power_rows.any():
            parts.append(telemetry.integrate_power(rows[power_rows], max_gap_s=max_gap_s, max_power_w=cap_w))
        if (~power_rows).any():
            parts.append(telemetry.counter_energy(rows[~power_rows], max_gap_s=max_gap_s, max_power_w=cap_w))
        dev, t = rows["_dev"].to_numpy(), telemetry._ns(rows["ts_utc"])
        dated = t != NAT
        ndev = len(stream.devices)
        first_t, last_t = np.full(ndev, telemetry.INT64_MAX, dtype=np.int64), np.full(ndev, NAT, dtype=np.int64)
        np.minimum.at(first_t, dev[dated], t[dated])
        np.maximum.at(last_t, dev[dated], t[dated])
        ends: dict = {}                                 # device -> (reason, job) of a gap ending at its last sample
        for te in parts:
            g = te.gaps
            out.gaps += len(g)
            out.gap_hours += float(g["duration_s"].sum()) / 3600.0 if len(g) else 0.0
            out.counter_resets += len(te.resets)
            out.anomalies += len(te.anomalies)
            if len(te.dropped_samples):
                # samples without a time, and repeats of a device's time (conflicting repeats are a subset of
                # the repeats: counted once)
                dropped = te.dropped_samples
                out.samples_dropped += int(dropped["missing_ts"].sum() + dropped["duplicate_ts"].sum())
            if len(g):
                gdev = self._device_codes(stream, g)
                start, end = telemetry._ns(g["gap_start_utc"]), telemetry._ns(g["gap_end_utc"])
                for d, s, e, reason, job in zip(gdev.tolist(), start.tolist(), end.tolist(), g["reason"].tolist(),
                                                blank_missing(g["job_id"]).tolist()):
                    if open_gap.get(d) == (s, reason, job):
                        out.gaps -= 1                   # the gap runs on from the previous file: one gap
                    if e == last_t[d]:
                        ends[d] = (reason, job)
            iv = te.intervals
            if len(iv):
                self._reduce(iv, out)
        for d in np.flatnonzero(last_t > first_t).tolist():       # devices with an interval here
            if d in ends:
                open_gap[d] = (int(last_t[d]),) + ends[d]
            else:
                open_gap.pop(d, None)
        return out

    def _reduce(self, iv: pd.DataFrame, out: _Totals) -> None:
        out.energy_j += float(iv["energy_j"].sum())
        att = telemetry.attribute_to_jobs(iv, self._jobs, self._job_hosts, columns=[
            "job_id", "interval_start_utc", "energy_j", "source_file", "source_row_start"])
        month_idx, month_table = month_codes(telemetry._ns(att["interval_start_utc"]), self._zone)
        month_code, months = pd.factorize(month_idx)
        month_names = [month_table[m] for m in months.tolist()]
        energy = att["energy_j"].to_numpy(dtype=float)
        job = blank_missing(att["job_id"])
        mine = (job != "").to_numpy(dtype=bool)
        all_j = np.bincount(month_code, weights=energy, minlength=len(months))
        mine_j = np.bincount(month_code[mine], weights=energy[mine], minlength=len(months))
        for name, a, b in zip(month_names, all_j.tolist(), mine_j.tolist()):
            cur = out.month_j.setdefault(name, [0.0, 0.0])
            cur[0] += a
            cur[1] += b
        if not mine.any():
            return
        out.attributed_j += float(energy[mine].sum())
        job_code, jobs = pd.factorize(job[mine])
        key = job_code.astype(np.int64) * len(months) + month_code[mine]
        sums = np.bincount(key, weights=energy[mine], minlength=len(jobs) * len(months))
        present = np.bincount(key, minlength=len(jobs) * len(months)) > 0
        jobs = jobs.tolist()
        for k in np.flatnonzero(present).tolist():
            jm = (str(jobs[k // len(months)]), month_names[k % len(months)])
            out.job_month_j[jm] = out.job_month_j.get(jm, 0.0) + float(sums[k])
        # each job's first (source_file, source_row_start): per job and file the smallest row, then the first file
        rows = att["source_row_start"].to_numpy(dtype=float, na_value=np.nan)[mine]
        file_code, files = pd.factorize(att["source_file"][mine])
        pair, pairs = pd.factorize(job_code.astype(np.int64) * (len(files) + 1) + file_code + 1)
        low = np.full(len(pairs), np.inf)
        np.fmin.at(low, pair, rows)
        for p, r in zip(pairs.tolist(), low.tolist()):
            j, fc = jobs[p // (len(files) + 1)], p % (len(files) + 1) - 1
            cand = (None if fc < 0 else str(files[fc]), None if r == np.inf else int(r))
            if j not in out.job_first or _first_key(cand) < _first_key(out.job_first[j]):
                out.job_first[j] = cand

    # --- result -----------------------------------------------------------------------------------------------

    def result(self) -> tuple[dict[tuple[str, str], float], dict]:
        """((job_id, month) -> kWh measured, report), as ``measured_job_energy``. The samples still carried
        (each device's last) are integrated into a copy: ``add`` may go on afterwards."""
        total = _Totals()
        report = {"gaps": 0, "gap_hours": 0.0, "counter_resets": 0, "anomalies": 0, "samples_dropped": 0,
                  "energy_kwh": 0.0, "attributed_kwh": 0.0, "unattributed_kwh": 0.0, "kepler_levels": [],
                  "months": {}, "workloads": {}, "job_sources": {}}
        for src in self._sources.values():
            level = next((lv for lv in KEPLER_LEVELS if lv in src.kepler_levels), None)
            if level:
                report["kepler_levels"].append(level)
            for key in ([None] if None in src.streams else []) + ([level] if level else []):
                stream = src.streams[key]
                total.merge(stream.totals)
                total.merge(self._flush(stream))
                report["workloads"].update(stream.workloads)
        report.update(gaps=total.gaps, gap_hours=total.gap_hours, counter_resets=total.counter_resets,
                      anomalies=total.anomalies, samples_dropped=total.samples_dropped,
                      energy_kwh=total.energy_j / J_PER_KWH, attributed_kwh=total.attributed_j / J_PER_KWH)
        report["unattributed_kwh"] = report["energy_kwh"] - report["attributed_kwh"]
        report["months"] = {m: {"measured_it_kwh": a / J_PER_KWH, "attributed_it_kwh": b / J_PER_KWH}
                            for m, (a, b) in sorted(total.month_j.items())}
        report["job_sources"] = {j: (str(sf), row if row is not None else 0)
                                 for j, (sf, row) in sorted(total.job_first.items())}
        return {jm: j / J_PER_KWH for jm, j in sorted(total.job_month_j.items())}, report

    def _flush(self, stream: _Stream) -> _Totals:
        if stream.carry is None or not len(stream.carry):
            return _Totals()
        rows = stream.carry
        power_rows = np.array([stream.power.get(d, False) for d in rows["_dev"].tolist()], dtype=bool)
        return self._integrate(stream, rows, power_rows, stream.max_gap_s, stream.cap_w, dict(stream.open_gap))

    def retained(self) -> dict[str, int]:
        """Sizes of what is kept between calls (for tests and monitoring): carried sample rows, devices,
        open gaps, (job, month) sums, months, jobs' first rows, workloads."""
        streams = [s for src in self._sources.values() for s in src.streams.values()]
        return {"carried_rows": sum(len(s.carry) for s in streams if s.carry is not None),
                "devices": sum(len(s.devices) for s in streams),
                "open_gaps": sum(len(s.open_gap) for s in streams),
                "job_months": sum(len(s.totals.job_month_j) for s in streams),
                "months": sum(len(s.totals.month_j) for s in streams),
                "job_sources": sum(len(s.totals.job_first) for s in streams),
                "workloads": sum(len(s.workloads) for s in streams)}
