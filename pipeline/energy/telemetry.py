"""GPU telemetry (canonical ``POWER`` samples) -> measured device energy -> energy per scheduler job.

Pure, vectorised functions (numpy + pandas, no loop over rows). The caller reads and chunks the samples;
a chunk must hold whole devices, or carry each device's last sample into the next chunk, otherwise the
interval across the chunk edge is lost (it is not reported as a gap either).

Two ways to turn samples into energy, one row per interval between consecutive samples of a device
(device = ``host`` + ``device_uuid``; MIG instances are de-duplicated upstream, one row per physical UUID):

``integrate_power``  power gauge (W), trapezoid rule: energy_j = (p1 + p2) / 2 x dt_s.
``counter_energy``   cumulative energy counter (J; DCGM's TOTAL_ENERGY_CONSUMPTION is mJ - the adapter
                     converts), energy_j = c2 - c1. Prefer it where it exists: it does not depend on the
                     sampling rate. Assumption on a reset (c2 < c1, a reboot or driver reload): the counter
                     restarted from 0, so the interval's energy is c2 (energy since the reset); the energy
                     between c1 and the reset is lost (an undercount). Flagged ``counter_reset``.

Rules shared by both (every exclusion is reported, none is silent):
  * samples without a timestamp are dropped and counted; samples with the same device and timestamp are
    duplicates: the first with a value is kept (input order), the others counted, and counted again as
    ``conflicting`` when their value differs;
  * an interval longer than ``max_gap_s`` is a gap: no energy, reported with its duration (for a counter
    with the change across it, which is *not* counted: a reset inside the hole cannot be seen and the energy
    cannot be placed in time); an interval with a missing (NaN) or invalid (negative, infinite) value at
    either end is a gap too. Consecutive gap intervals of a device, job and reason merge into one gap row;
  * an interval whose average power exceeds ``max_power_w`` is an anomaly (a glitch, a counter unit error or
    a counter that did not restart from 0): excluded from energy and reported.

``attribute_to_jobs`` gives each interval's energy to scheduler jobs (see there), keeping unattributed
(idle) energy with job_id "" so that attributed + unattributed = measured, always.
``expand_nodelist`` expands a Slurm compressed host list (``gpu[001-004,007]``) for the ``job_hosts`` frame.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipeline.canonical import blank_missing, category_from_codes, device_time_order

INT64_MIN = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max
NS_PER_S = 1_000_000_000

# gap reasons
GAP_TOO_LONG = "interval_longer_than_max_gap"
GAP_POWER_MISSING = "power_missing"
GAP_POWER_INVALID = "power_invalid"          # negative or infinite power reading
GAP_COUNTER_MISSING = "counter_missing"
GAP_COUNTER_INVALID = "counter_invalid"      # negative or infinite counter reading
ANOMALY_POWER = "implied_power_above_max"

# flags carried on interval / attribution rows
FLAG_COUNTER_RESET = "counter_reset"
FLAG_SHARED_HOST = "shared_host_split"                  # several jobs on the host: split by GPUs per node
FLAG_SHARED_HOST_EQUAL = "shared_host_split_equal"      # ... none of them has GPUs: split equally
FLAG_LABEL_NOT_IN_JOBS = "job_label_not_in_jobs"        # telemetry names a job the scheduler frame lacks

INTERVAL_COLUMNS = ["host", "device_uuid", "job_id", "interval_start_utc", "interval_end_utc", "duration_s",
                    "energy_j", "method", "flags", "source_file", "source_row_start", "source_row_end"]
GAP_COLUMNS = ["host", "device_uuid", "job_id", "gap_start_utc", "gap_end_utc", "duration_s", "reason",
               "intervals", "counter_delta_j"]
RESET_COLUMNS = ["host", "device_uuid", "job_id", "interval_start_utc", "interval_end_utc",
                 "counter_before_j", "counter_after_j", "energy_j_assumed", "treatment"]
ANOMALY_COLUMNS = ["host", "device_uuid", "job_id", "interval_start_utc", "interval_end_utc", "duration_s",
                   "energy_j", "implied_power_w", "reason", "flags"]
DROPPED_COLUMNS = ["host", "device_uuid", "missing_ts", "duplicate_ts", "duplicate_ts_conflicting"]
ATTRIBUTION_COLUMNS = ["job_id", "host", "device_uuid", "interval_start_utc", "interval_end_utc", "energy_j",
                       "share", "basis", "attribution", "method", "flags", "source_file", "source_row_start",
                       "source_row_end"]


class TelemetryEnergy(NamedTuple):
    """What ``integrate_power`` and ``counter_energy`` return (a tuple: unpack or use the names).

    intervals        one row per integrated interval (``INTERVAL_COLUMNS``): host, device_uuid, job_id (of the
                     interval's start sample, "" when unknown), interval_start_utc, interval_end_utc, duration_s,
                     energy_j, method (``power_trapezoid`` / ``counter_delta``), flags (``counter_reset`` or ""),
                     source_file, source_row_start, source_row_end (the two samples)
    gaps             intervals not integrated (``GAP_COLUMNS``): gap_start_utc, gap_end_utc, duration_s, reason,
                     intervals (how many sample intervals were merged), counter_delta_j (the counter's change
                     across a too-long interval, NOT counted; NaN when unknown, a reset, or power data)
    resets           counter resets (``RESET_COLUMNS``), treatment ``counted`` / ``gap`` / ``anomaly``;
                     always empty for the power gauge
    anomalies        intervals excluded because their average power exceeds ``max_power_w``
    dropped_samples  per device with any: samples without timestamp, duplicate timestamps, conflicting ones
    """

    intervals: pd.DataFrame
    gaps: pd.DataFrame
    resets: pd.DataFrame
    anomalies: pd.DataFrame
    dropped_samples: pd.DataFrame


# --- samples -> intervals -----------------------------------------------------------------------------

def integrate_power(samples: pd.DataFrame, *, max_gap_s: float,
                    max_power_w: float | None = None) -> TelemetryEnergy:
    """Trapezoid rule over the ``power_w`` gauge, per device: energy_j = (p1 + p2) / 2 x dt_s.

    ``max_gap_s``: longer intervals are gaps (``math.inf`` integrates everything). ``max_power_w`` (optional):
    intervals whose mean power (p1 + p2) / 2 exceeds it are anomalies, excluded and reported.
    """
    s = _sorted_samples(samples, "power_w")
    v1, v2 = s.v[s.a], s.v[s.b]
    dt_s = (s.t[s.b] - s.t[s.a]) / NS_PER_S
    missing = np.isnan(v1) | np.isnan(v2)
    invalid = ~missing & ~(np.isfinite(v1) & np.isfinite(v2) & (v1 >= 0) & (v2 >= 0))
    too_long = dt_s > max_gap_s
    reason = np.select([too_long, missing, invalid], [1, 2, 3], 0)
    energy = np.where(reason == 0, (v1 + v2) / 2.0 * dt_s, np.nan)
    anomaly = (reason == 0) & ((v1 + v2) / 2.0 > (np.inf if max_power_w is None else max_power_w))
    names = ["", GAP_TOO_LONG, GAP_POWER_MISSING, GAP_POWER_INVALID]
    flags = np.zeros(len(s.a), dtype=np.int8)          # codes into _INTERVAL_FLAGS
    return TelemetryEnergy(
        intervals=_intervals(samples, s, (reason == 0) & ~anomaly, energy, dt_s, "power_trapezoid", flags),
        gaps=_gaps(samples, s, reason, names, np.full(len(s.a), np.nan)),
        resets=_resets(samples, s, np.zeros(len(s.a), dtype=bool), v1, v2, reason, anomaly),
        anomalies=_anomalies(samples, s, anomaly, energy, dt_s, flags),
        dropped_samples=s.dropped,
    )


def counter_energy(samples: pd.DataFrame, *, max_gap_s: float, max_power_w: float) -> TelemetryEnergy:
    """Differences of the cumulative ``energy_counter_j`` per device.

    A negative difference is a reset: the interval's energy is the new counter value (energy since the
    reset; see the module docstring), flagged ``counter_reset`` and listed in ``resets``. Intervals longer
    than ``max_gap_s`` are gaps. An interval whose implied average power (energy / dt) exceeds
    ``max_power_w`` (e.g. 2000 W for one GPU) is an anomaly: excluded from energy and reported.
    """
    s = _sorted_samples(samples, "energy_counter_j")
    c1, c2 = s.v[s.a], s.v[s.b]
    dt_s = (s.t[s.b] - s.t[s.a]) / NS_PER_S
    missing = np.isnan(c1) | np.isnan(c2)
    invalid = ~missing & ~(np.isfinite(c1) & np.isfinite(c2) & (c1 >= 0) & (c2 >= 0))
    too_long = dt_s > max_gap_s
    reason = np.select([too_long, missing, invalid], [1, 2, 3], 0)
    delta = c2 - c1
    reset = ~missing & ~invalid & (delta < 0)
    energy = np.where(reset, c2, delta)
    energy = np.where(reason == 0, energy, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        anomaly = (reason == 0) & (energy / dt_s > max_power_w)
    names = ["", GAP_TOO_LONG, GAP_COUNTER_MISSING, GAP_COUNTER_INVALID]
    flags = reset.astype(np.int8)                      # codes into _INTERVAL_FLAGS
    not_counted = np.where((reason == 1) & ~reset & ~invalid & ~missing, delta, np.nan)
    return TelemetryEnergy(
        intervals=_intervals(samples, s, (reason == 0) & ~anomaly, energy, dt_s, "counter_delta", flags),
        gaps=_gaps(samples, s, reason, names, not_counted),
        resets=_resets(samples, s, reset, c1, c2, reason, anomaly),
        anomalies=_anomalies(samples, s, anomaly, energy, dt_s, flags),
        dropped_samples=s.dropped,
    )


_INTERVAL_FLAGS = ["", FLAG_COUNTER_RESET]


class _Sorted(NamedTuple):
    rows: np.ndarray      # positions in the caller's frame of the kept samples, sorted by device, time
    t: np.ndarray         # their timestamps, int64 ns UTC
    v: np.ndarray         # their values (float)
    a: np.ndarray         # interval start: index into rows/t/v
    b: np.ndarray         # interval end (a + 1, same device)
    dropped: pd.DataFrame


def device_keys(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str | None, str | None]]]:
    """A number per (host, device_uuid), in order of first appearance, a missing value being a value of its own
    (as ``groupby(sort=False, dropna=False).ngroup()``, from the two columns' codes: ~5 x faster), and each
    number's (host, device_uuid) with None for a missing value."""
    hc, hosts = pd.factorize(frame["host"])
    uc, uuids = pd.factorize(frame["device_uuid"])
    width = len(uuids) + 1
    local, pairs = pd.factorize((hc.astype(np.int64) + 1) * width + (uc.astype(np.int64) + 1))
    keys = []
    for p in pairs.tolist():
        h, u = p // width - 1, p % width - 1
        keys.append((None if h < 0 else str(hosts[h]), None if u < 0 else str(uuids[u])))
    return local.astype(np.int64, copy=False), keys


def _sorted_samples(samples: pd.DataFrame, value_col: str) -> _Sorted:
    dev = device_keys(samples)[0]
    t_all = _ns(samples["ts_utc"])
    no_ts = samples["ts_utc"].isna().to_numpy()
    v_all = pd.to_numeric(samples[value_col]).to_numpy(dtype=float, na_value=np.nan)
    keep = np.flatnonzero(~no_ts)
    # device, then time, then valued before NaN; ties keep the input order
    order = keep[device_time_order(dev[keep], t_all[keep], np.isnan(v_all[keep]).astype(np.int64))]
    d, t, v = dev[order], t_all[order], v_all[order]
    dup = np.zeros(len(order), dtype=bool)
    dup[1:] = (d[1:] == d[:-1]) & (t[1:] == t[:-1])
    kept_of = np.maximum.accumulate(np.where(dup, 0, np.arange(len(order))))   # the sample each one repeats
    conflict = dup & ~((v == v[kept_of]) | (np.isnan(v) & np.isnan(v[kept_of])))

    ndev = int(dev.max()) + 1 if len(dev) else 0
    counts = {"missing_ts": np.bincount(dev[no_ts], minlength=ndev),
              "duplicate_ts": np.bincount(d[dup], minlength=ndev),
              "duplicate_ts_conflicting": np.bincount(d[conflict], minlength=ndev)}
    bad = np.flatnonzero(counts["missing_ts"] + counts["duplicate_ts"] > 0)
    _, first = np.unique(dev, return_index=True)
    dropped = pd.DataFrame({
        "host": _take(samples, "host", first[bad]),
        "device_uuid": _take(samples, "device_uuid", first[bad]),
        **{k: c[bad].astype(np.int64) for k, c in counts.items()},
    })[DROPPED_COLUMNS]

    order, d, t, v = order[~dup], d[~dup], t[~dup], v[~dup]
    a = np.flatnonzero(d[1:] == d[:-1])
    return _Sorted(order, t, v, a, a + 1, dropped)


def _intervals(samples, s: _Sorted, ok, energy, dt_s, method: str, flags) -> pd.DataFrame:
    out = _interval_frame(samples, s, ok, INTERVAL_COLUMNS)
    out["duration_s"] = dt_s[ok]
    out["energy_j"] = energy[ok]
    out["method"] = pd.Series(method, index=out.index, dtype="string")
    out["flags"] = _decode(flags[ok], _INTERVAL_FLAGS)
    return out[INTERVAL_COLUMNS]


def _anomalies(samples, s: _Sorted, mask, energy, dt_s, flags) -> pd.DataFrame:
    out = _interval_frame(samples, s, mask, ANOMALY_COLUMNS)
    out["duration_s"] = dt_s[mask]
    out["energy_j"] = energy[mask]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["implied_power_w"] = energy[mask] / dt_s[mask]
    out["reason"] = ANOMALY_POWER
    out["flags"] = _decode(flags[mask], _INTERVAL_FLAGS)
    return out[ANOMALY_COLUMNS]


def _interval_frame(samples, s: _Sorted, mask, columns) -> pd.DataFrame:
    ra, rb = s.rows[s.a[mask]], s.rows[s.b[mask]]
    out = pd.DataFrame({
        "host": _take(samples, "host", ra),
        "device_uuid": _take(samples, "device_uuid", ra),
        "job_id": blank_missing(_take(samples, "job_id", ra)),
        "interval_start_utc": _utc(s.t[s.a[mask]]),
        "interval_end_utc": _utc(s.t[s.b[mask]]),
    })
    if "source_file" in columns:
        out["source_file"] = _take(samples, "source_file", ra)
        out["source_row_start"] = _take(samples, "source_row", ra, dtype="Int64")
        out["source_row_end"] = _take(samples, "source_row", rb, dtype="Int64")
    return out


def _resets(samples, s: _Sorted, mask, c1, c2, reason, anomaly) -> pd.DataFrame:
    out = _interval_frame(samples, s, mask, RESET_COLUMNS)
    out["counter_before_j"] = c1[mask]
    out["counter_after_j"] = c2[mask]
    out["energy_j_assumed"] = c2[mask]
    out["treatment"] = pd.array(np.select([reason[mask] != 0, anomaly[mask]], ["gap", "anomaly"], "counted"),
                                dtype="string")
    return out[RESET_COLUMNS]


def _gaps(samples, s: _Sorted, reason, names, counter_delta) -> pd.DataFrame:
    g = np.flatnonzero(reason != 0)
    jobs = blank_missing(_take(samples, "job_id", s.rows[s.a[g]]))
    job_code = pd.factorize(jobs)[0]
    r = reason[g]
    new = np.ones(len(g), dtype=bool)
    # merge runs of one job and one reason over intervals that share a sample (hence a device): the next
    # interval number alone is not enough, it may be the first interval of the next device
    new[1:] = ~((s.a[g[1:]] == s.b[g[:-1]]) & (r[1:] == r[:-1]) & (job_code[1:] == job_code[:-1]))
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(g) - 1] if len(g) else first
    start, end = s.t[s.a[g[first]]], s.t[s.b[g[last]]]
    return pd.DataFrame({
        "host": _take(samples, "host", s.rows[s.a[g[first]]]),
        "device_uuid": _take(samples, "device_uuid", s.rows[s.a[g[first]]]),
        "job_id": jobs.iloc[first].reset_index(drop=True),
        "gap_start_utc": _utc(start),
        "gap_end_utc": _utc(end),
        "duration_s": (end - start) / NS_PER_S,
        "reason": _decode(r[first], names),
        "intervals": (last - first + 1).astype(np.int64),
        "counter_delta_j": np.add.reduceat(counter_delta[g], first) if len(g) else np.zeros(0),
    })[GAP_COLUMNS]


# --- intervals -> jobs ----------------------------------------------------------------------------------

def attribute_to_jobs(intervals: pd.DataFrame, jobs: pd.DataFrame,
                      job_hosts: pd.DataFrame | None, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Energy per job from device intervals (``TelemetryEnergy.intervals``); basis ``measured``.

    1. An interval that carries a job_id (DCGM ``hpc_job`` label) goes wholly to that job
       (attribution ``job_label``; flagged ``job_label_not_in_jobs`` when ``jobs`` lacks that job).
    2. Otherwise it goes to the jobs that ran on its host (``job_hosts``: job_id, host - one row per node of
       the job, see ``expand_nodelist``) during it, by time overlap with each job's [start_utc, end_utc):
       an interval crossing a job edge is split in proportion to time (attribution ``host_time_overlap``).
       A job with end_utc NaT (still running) is taken as open-ended.
    3. Several jobs on the host at once (shared node): sacct gives no device list, so the device's energy
       is split among them in proportion to their GPUs per node (gpu_count / hosts of the job) - the chance
       that the device is one of theirs - or equally when none has GPUs. Flagged ``shared_host_split``
       (plus ``shared_host_split_equal`` for the equal fallback). A job with no GPUs sharing the node with
       GPU jobs gets no row there.
    4. Energy matching no job stays, with job_id "" (attribution ``unattributed``: idle or unknown use).

    One row per (interval piece, job) (``ATTRIBUTION_COLUMNS``): interval_start_utc / interval_end_utc are the
    piece's bounds, so the caller can split months; ``share`` is the fraction of the interval's energy the row
    holds; ``flags`` adds the attribution flags to the interval's own. Sum of energy_j = sum of the intervals'.
    ``columns``: only these of ``ATTRIBUTION_COLUMNS``, in that order (default all); a caller that reduces the
    rows at once (``TelemetryStream``) skips building the text columns it does not read.
    """
    wanted = list(ATTRIBUTION_COLUMNS) if columns is None else [c for c in ATTRIBUTION_COLUMNS if c in columns]
    unknown = set(columns or []) - set(ATTRIBUTION_COLUMNS)
    if unknown:
        raise ValueError(f"unknown attribution column(s): {sorted(unknown)}")
    iv = intervals.reset_index(drop=True)
    s = _ns(iv["interval_start_utc"])
    e = _ns(iv["interval_end_utc"])
    label_code, label_names = pd.factorize(_as_text(blank_missing(iv["job_id"])))
    label_names = np.asarray([str(x) for x in label_names], dtype=object)
    labelled_name = label_names != ""
    known = pd.Series(label_names).isin(set(jobs["job_id"].dropna().astype(str))).to_numpy()
    lab = np.flatnonzero(labelled_name[label_code])
    # job codes index `names`: 0 = "" (unattributed), then the labels, then the host windows' jobs
    pieces = [_Pieces(lab, s[lab], e[lab], np.ones(len(lab)), 1 + label_code[lab], _ATTR_LABEL,
                      np.where(known[label_code[lab]], _X_NONE, _X_LABEL_UNKNOWN).astype(np.int8))]
    rest = np.flatnonzero(~labelled_name[label_code])
    extra, window_jobs = _by_host_overlap(iv, rest, s, e, jobs, job_hosts, code_offset=1 + len(label_names))
    pieces += extra
    p = _Pieces(*(np.concatenate([np.broadcast_to(getattr(x, f), (len(x.src),)) for x in pieces])
                  for f in _Pieces._fields))
    names = np.concatenate([[""], label_names, window_jobs]).astype(object)
    src = p.src

    def flags() -> pd.Series:
        iflag_code, iflag_names = pd.factorize(blank_missing(_take(iv, "flags", np.arange(len(iv)))))
        combo = iflag_code[p.src].astype(np.int64) * len(_X_FLAGS) + p.flags
        combos, combo_code = np.unique(combo, return_inverse=True)
        combo_names = [";".join(sorted({f for f in (str(iflag_names[c // len(_X_FLAGS)]) + ";"
                                                    + _X_FLAGS[c % len(_X_FLAGS)]).split(";") if f}))
                       for c in combos]                               # one per distinct combination
        return _decode(combo_code, combo_names)

    build = {
        "job_id": lambda: _decode(p.job, names),
        "host": lambda: _take_str(iv, "host", src),
        "device_uuid": lambda: _take_str(iv, "device_uuid", src),
        "interval_start_utc": lambda: _utc(p.start),
        "interval_end_utc": lambda: _utc(p.end),
        "energy_j": lambda: iv["energy_j"].to_numpy(dtype=float)[src] * p.share,
        "share": lambda: p.share,
        "basis": lambda: _decode(np.zeros(len(src), dtype=np.int64), ["measured"]),
        "attribution": lambda: _decode(p.attribution, _ATTRIBUTIONS),
        "method": lambda: _take_str(iv, "method", src),
        "flags": flags,
        "source_file": lambda: _take_str(iv, "source_file", src),
        "source_row_start": lambda: _take(iv, "source_row_start", src, dtype="Int64"),
        "source_row_end": lambda: _take(iv, "source_row_end", src, dtype="Int64"),
    }
    return pd.DataFrame({c: build[c]() for c in wanted}, columns=wanted)


_ATTRIBUTIONS = ["unattributed", "job_label", "host_time_overlap"]
_ATTR_UNATTRIBUTED, _ATTR_LABEL, _ATTR_HOST = 0, 1, 2
_X_FLAGS = ["", FLAG_LABEL_NOT_IN_JOBS, FLAG_SHARED_HOST, f"{FLAG_SHARED_HOST};{FLAG_SHARED_HOST_EQUAL}"]
_X_NONE, _X_LABEL_UNKNOWN, _X_SHARED, _X_SHARED_EQUAL = 0, 1, 2, 3


class _Pieces(NamedTuple):
    src: np.ndarray          # interval row
    start: np.ndarray        # piece bounds, int64 ns
    end: np.ndarray
    share: np.ndarray        # fraction of the interval's energy
    job: np.ndarray          # code into the job-name table (0 = "" unattributed)
    attribution: np.ndarray | int  # code into _ATTRIBUTIONS
    flags: np.ndarray | int  # code into _X_FLAGS


def _by_host_overlap(iv, rows, s_all, e_all, jobs, job_hosts, *, code_offset: int):
    """Pieces for unlabelled intervals, and the job-name table their job codes (from code_offset) index."""
    def unattributed(r, start=None, end=None, share=None):
        return _Pieces(r, s_all[r] if start is None else start, e_all[r] if end is None else end,
                       np.ones(len(r)) if share is None else share, 0, _ATTR_UNATTRIBUTED, _X_NONE)

    no_jobs = np.zeros(0, dtype=object)
    if not len(rows) or job_hosts is None or not len(job_hosts):
        return [unattributed(rows)], no_jobs
    # job windows per host
    jh = job_hosts[["job_id", "host"]].dropna().astype(str).drop_duplicates()
    hosts_per_job = jh.groupby("job_id")["host"].transform("size")
    jb = jobs[["job_id", "start_utc", "end_utc", "gpu_count"]].dropna(subset=["job_id"]).copy()
    jb["job_id"] = jb["job_id"].astype(str)
    w = jh.assign(n_hosts=hosts_per_job).merge(jb.drop_duplicates("job_id"), on="job_id", how="inner")
    w = w[w["start_utc"].notna()].reset_index(drop=True)
    ws = _ns(w["start_utc"])
    we = _ns(w["end_utc"])
    we[w["end_utc"].isna().to_numpy()] = INT64_MAX
    good = we > ws
    w, ws, we = w[good].reset_index(drop=True), ws[good], we[good]
    if not len(w):
        return [unattributed(rows)], no_jobs
    gpn = (pd.to_numeric(w["gpu_count"]).fillna(0.0) / w["n_hosts"]).to_numpy(dtype=float)

    iv_code, iv_names = pd.factorize(iv["host"])          # per distinct host (NA: -1, never a job's host)
    host_codes, _ = pd.factorize(pd.concat([w["host"], pd.Series([str(h) for h in iv_names], dtype=object)],
                                           ignore_index=True))
    wh = host_codes[:len(w)]
    ih = np.append(host_codes[len(w):], -1)[iv_code[rows]]

    # breakpoints per host (job starts and ends, plus -inf): between two, the set of jobs is constant
    uh = np.unique(wh)
    bh = np.concatenate([wh, wh, uh])
    bt = np.concatenate([ws, we, np.full(len(uh), INT64_MIN)])
    o = np.lexsort((bt, bh))
    bh, bt = bh[o], bt[o]
    first = np.ones(len(bh), dtype=bool)
    first[1:] = (bh[1:] != bh[:-1]) | (bt[1:] != bt[:-1])
    bh, bt = bh[first], bt[first]
    nseg = len(bh)
    seg_end = np.full(nseg, INT64_MAX)
    same = bh[1:] == bh[:-1]
    seg_end[:-1][same] = bt[1:][same]
    bp = pd.DataFrame({"h": bh, "t": bt, "seg": np.arange(nseg)})

    # job window -> the segments it covers; each segment's jobs and their shares
    ia = _lookup(bp, wh, ws)
    ib = _lookup(bp, wh, we)
    wi, seg = _expand(ia, ib - ia)
    o = np.argsort(seg, kind="stable")
    wi, seg = wi[o], seg[o]
    k = np.bincount(seg, minlength=nseg)
    wsum = np.bincount(seg, weights=gpn[wi], minlength=nseg)
    with np.errstate(divide="ignore", invalid="ignore"):
        jshare = np.where(wsum[seg] > 0, gpn[wi] / wsum[seg], 1.0 / k[seg])
    jflag = np.select([(k[seg] > 1) & (wsum[seg] > 0), k[seg] > 1], [_X_SHARED, _X_SHARED_EQUAL],
                      _X_NONE).astype(np.int8)
    seg_first = np.searchsorted(seg, np.arange(nseg))

    # interval -> segments: first with t <= start, last with t < end (same host)
    s, e = s_all[rows], e_all[rows]
    i0 = _asof(bp, ih, s, exact=True)
    i1 = _asof(bp, ih, e, exact=False)
    on_job_host = i0 >= 0
    out = [unattributed(rows[~on_job_host])]
    r, s, e, i0, i1 = rows[on_job_host], s[on_job_host], e[on_job_host], i0[on_job_host], i1[on_job_host]
    pi, pseg = _expand(i0, np.maximum(i1 - i0 + 1, 1))
    dt = (e - s)[pi]
    pos = dt > 0
    ps = np.where(pos, np.maximum(s[pi], bt[pseg]), s[pi])
    pe = np.where(pos, np.minimum(e[pi], seg_end[pseg]), e[pi])
    frac = np.where(pos, (pe - ps) / np.where(pos, dt, 1), 1.0)

    idle = np.flatnonzero(k[pseg] == 0)
    out.append(unattributed(r[pi[idle]], ps[idle], pe[idle], frac[idle]))
    busy = np.flatnonzero(k[pseg] > 0)
    bi, jpos = _expand(seg_first[pseg[busy]], k[pseg[busy]])
    piece = busy[bi]
    share = frac[piece] * jshare[jpos]
    keep = (share > 0) | (wsum[pseg[piece]] == 0)       # a GPU-less job sharing with GPU jobs: no row
    piece, jpos, share = piece[keep], jpos[keep], share[keep]
    out.append(_Pieces(r[pi[piece]], ps[piece], pe[piece], share, code_offset + wi[jpos], _ATTR_HOST,
                       jflag[jpos]))
    return out, w["job_id"].to_numpy(dtype=object)


def _lookup(bp: pd.DataFrame, h, t) -> np.ndarray:
    """Segment index of exact breakpoints (h, t)."""
    q = pd.DataFrame({"h": h, "t": t})
    return q.merge(bp, on=["h", "t"], how="left")["seg"].to_numpy(dtype=np.int64)


def _asof(bp: pd.DataFrame, h, t, *, exact: bool) -> np.ndarray:
    """Index of the last breakpoint of host h at or before t (exact=True) or strictly before t; -1 if none.
    ``bp`` is sorted by host, then time, and ``seg`` is its row number."""
    h, t = np.asarray(h, dtype=np.int64), np.asarray(t, dtype=np.int64)
    if len(t) and len(bp):
        # one searchsorted over (host, time) packed in an int64: breakpoint times outside the queries' range are
        # clipped to just outside it (same answers), then host * span + time is ordered as (host, time)
        lo, hi = int(t.min()) - 1, int(t.max()) + 1
        span = hi - lo + 1
        bh = bp["h"].to_numpy(dtype=np.int64)
        if int(max(bh.max(), h.max(), 0)) + 1 < (2**62) // span:
            key = bh * span + (np.clip(bp["t"].to_numpy(dtype=np.int64), lo, hi) - lo)
            at = np.searchsorted(key, h * span + (t - lo), side="right" if exact else "left") - 1
            ok = (at >= 0) & (h >= 0)
            ok[ok] = bh[at[ok]] == h[ok]
            return np.where(ok, bp["seg"].to_numpy(dtype=np.int64)[np.maximum(at, 0)], -1)
    q = pd.DataFrame({"h": h, "t": t, "pos": np.arange(len(t))}).sort_values("t", kind="stable")
    m = pd.merge_asof(q, bp.sort_values("t", kind="stable"), on="t", by="h", direction="backward",
                      allow_exact_matches=exact)
    out = np.full(len(t), -1, dtype=np.int64)
    out[m["pos"].to_numpy()] = m["seg"].fillna(-1).to_numpy(dtype=np.int64)
    return out


def _expand(base: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i, counts[i] rows: (i, base[i] + 0 .. counts[i] - 1)."""
    counts = counts.astype(np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, base[owner] + offset


def _decode(codes: np.ndarray, table) -> pd.Series:
    """Categorical text column from integer codes into a small table (code -1: missing; no text per row)."""
    return category_from_codes(codes, [str(x) for x in table])


def _take_str(frame: pd.DataFrame, col: str, rows: np.ndarray) -> pd.Series:
    """``_take`` for a text column with few distinct values (hosts, files), as a categorical."""
    if col not in frame.columns:
        return pd.Series(pd.NA, index=range(len(rows)), dtype="string")
    if isinstance(frame[col].dtype, pd.CategoricalDtype):
        return frame[col].take(rows).reset_index(drop=True)
    codes, uniques = pd.factorize(frame[col])
    return category_from_codes(codes[rows], list(uniques))


def _as_text(col: pd.Series) -> pd.Series:
    """A text column as str values for factorizing: categoricals as they are, anything else as str."""
    return col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(str)


# --- Slurm host lists -----------------------------------------------------------------------------------

_NO_NODES = {"", "none assigned", "(null)", "none"}
MAX_RANGE = 64 * 1024   # Slurm's hostlist.c refuses larger ranges as errors, so do we


def expand_nodelist(nodelist: str | None) -> list[str]:
    """Expand a Slurm hostlist expression (sacct NodeList) into host names, in order.

    Syntax, as Slurm's ``src/common/hostlist.c`` (``_hostlist_create_bracketed``, ``_parse_single_range``) and
    the Slurm::Hostlist man page describe it: hosts or bracketed lists separated by ``,`` or whitespace; a
    bracket holds comma-separated numbers or ``lo-hi`` ranges after a common prefix (``tux[0-5,12,20-25]``);
    the output width is the width of the written low bound, so zero padding is kept (``gpu[001-003]`` ->
    gpu001..gpu003, ``n[8-10]`` -> n8, n9, n10). Slurm's parser wants ``]`` to end the name; text after it and
    several brackets (``rack[0-1]-gpu[1-2]``) are expanded here as a cartesian product, first bracket outermost.
    ``None assigned`` (a job that never ran), ``(null)``, "" and None give []. Malformed input raises ValueError
    (the adapter turns it into an InputError naming file and row).
    """
    if nodelist is None or (not isinstance(nodelist, str) and pd.isna(nodelist)):
        return []
    text = str(nodelist).strip()
    if text.lower() in _NO_NODES:
        return []
    hosts: list[str] = []
    for token in _split_top_level(text):
        parts = re.split(r"(\[[^\[\]]*\])", token)
        choices: list[list[str]] = []
        for part in parts:
            if part.startswith("["):
                choices.append(_bracket_values(part[1:-1], text))
            elif "[" in part or "]" in part:
                raise ValueError(f"unbalanced bracket in Slurm host list {text!r}")
            elif part:
                choices.append([part])
        hosts.extend("".join(c) for c in itertools.product(*choices))
    return hosts


def _split_top_level(text: str) -> list[str]:
    tokens, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
            if depth > 1:
                raise ValueError(f"nested brackets in Slurm host list {text!r}")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced bracket in Slurm host list {text!r}")
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                tokens.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise ValueError(f"unbalanced bracket in Slurm host list {text!r}")
    if cur:
        tokens.append("".join(cur))
    return tokens


def _bracket_values(inner: str, text: str) -> list[str]:
    values: list[str] = []
    for item in inner.split(","):
        item = item.strip()
        lo, sep, hi = item.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"invalid range {item!r} in Slurm host list {text!r}")
        if not sep:
            values.append(lo)
            continue
        a, b = int(lo), int(hi)
        if a > b or b - a + 1 > MAX_RANGE:
            raise ValueError(f"invalid range {item!r} in Slurm host list {text!r}")
        values.extend(str(n).zfill(len(lo)) for n in range(a, b + 1))
    return values


# --- helpers --------------------------------------------------------------------------------------------

def _ns(col: pd.Series) -> np.ndarray:
    """int64 ns since the epoch, UTC (NaT -> INT64_MIN). The column must be timezone-aware."""
    if not isinstance(col.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"column {col.name!r} must be timezone-aware UTC, not {col.dtype}")
    return pd.DatetimeIndex(col).tz_convert("UTC").as_unit("ns").asi8.copy()


def _utc(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC"))


def _take(frame: pd.DataFrame, col: str, rows: np.ndarray, dtype: str = "string") -> pd.Series:
    """Rows of a column as ``dtype``; a categorical text column stays categorical (no text per row)."""
    if col not in frame.columns:
        return pd.Series(pd.NA, index=range(len(rows)), dtype=dtype)
    taken = frame[col].take(rows).reset_index(drop=True)
    if dtype == "string" and isinstance(taken.dtype, pd.CategoricalDtype):
        return taken
    return taken.astype(dtype)
