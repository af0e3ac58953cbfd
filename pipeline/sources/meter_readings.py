"""Interval meter readings CSV: ``meter_id,timestamp,energy,unit``.

- ``timestamp`` is the **start** of the interval, ISO 8601 **with its UTC offset** (``2026-07-01T00:00:00+01:00``
  or ``...Z``); a timestamp without an offset is ambiguous across DST and is quarantined, not guessed.
- The interval length is the source's ``interval_minutes`` (config, default 60).
- ``energy`` is the energy consumed in the interval, in ``unit``: Wh, kWh, MWh or J (case-insensitive).
- Meters are mapped to sites in the config (``sites[].meters``); a meter that is not listed stops the run.

Cumulative registers (source ``reading_kind: cumulative``): ``energy`` is the register reading at ``timestamp``.
Per meter, readings are sorted by time (out-of-order rows are fine) and each reading after the first gives
the interval [previous reading, this reading) with the difference as its energy; the first reading of each
meter is the opening reading (read, accepted, folded into the next one). A reading below the previous one is
a rollover when the source gives ``rollover_kwh`` (energy = rollover - previous + current, flag
``meter_register_rollover``) and otherwise a reset to zero (energy = current, flag ``meter_register_reset``:
what was consumed between the last reading and the reset is lost, so this may undercount).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.canonical import METER, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc

KIND = "meter_readings"
FAMILY = "meter"
REQUIRED = ["meter_id", "timestamp", "energy", "unit"]
SOURCE_COLUMNS = {"meter_id": "meter_id", "interval_start_utc": "timestamp", "energy_kwh": "energy", "unit_known": "unit"}
KWH_PER_UNIT = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3, "j": 1.0 / 3.6e6, "kj": 1.0 / 3.6e3, "mj": 1.0 / 3.6}


def sniff(columns: list[str]) -> bool:
    return set(REQUIRED) <= set(columns)


def read_raw(path: Path) -> RawTable:
    return read_delimited(path, what="meter readings CSV")


def to_canonical(raw: RawTable, *, source_label: str, meter_sites: dict[str, str],
                 interval_minutes: int, register: str = "interval", rollover_kwh: float | None = None) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["meter_id"] = nullify(f["meter_id"])
    out["site_id"] = out["meter_id"].map(meter_sites).astype("string")
    out["interval_start_utc"] = to_utc(f["timestamp"], assume_zone=None)
    out["interval_end_utc"] = out["interval_start_utc"] + pd.Timedelta(minutes=interval_minutes)
    unit = nullify(f["unit"]).str.lower()
    factor = unit.map(KWH_PER_UNIT).astype("float64")
    out["energy_kwh"] = to_number(f["energy"]) * factor
    out["unit_known"] = factor.notna()
    out["flags"] = pd.Series("", index=f.index, dtype="string")
    if register == "cumulative":
        return _from_register(out, rollover_kwh)
    return Parsed(frame=conform(out, METER))


RESET_NEAR_ZERO_SHARE = 0.10   # a drop to at most this share of the previous reading reads as a reset to zero


def _from_register(out: pd.DataFrame, rollover_kwh: float | None) -> Parsed:
    """Register readings -> intervals between consecutive valid readings of each meter.

    Per meter, in time order: a second reading at the same time is quarantined (first kept); a meter with a
    single reading forms no interval and its reading is quarantined (it is a register value, not energy); a
    reading below the previous one is a rollover (``rollover_kwh`` given), a reset when it fell to near zero
    (at most 10 % of the previous reading; flagged, the energy before the reset is lost), and otherwise a
    misread that is quarantined - the next reading is then differenced from the last good one."""
    valid = out[out["meter_id"].notna() & out["interval_start_utc"].notna() & out["energy_kwh"].notna()]
    valid = valid.sort_values(["meter_id", "interval_start_utc"], kind="stable")
    folded, quarantine, notes = {}, {}, []
    resets = rollovers = 0
    frame = out.copy()
    for meter, grp in valid.groupby("meter_id", sort=True):
        idx, reading, times = list(grp.index), grp["energy_kwh"].to_numpy(), grp["interval_start_utc"].to_list()
        rows = grp["source_row"].to_list()
        good: list[int] = []                      # positions in grp kept as readings
        for k in range(len(idx)):
            if good and times[k] == times[good[-1]]:
                j = good[-1]
                same = "same value" if reading[k] == reading[j] else f"{reading[k]:g} kWh against {reading[j]:g} kWh"
                quarantine[idx[k]] = [("duplicate_register_reading",
                                       f"duplicate register reading of meter {meter} for the same time ({same}; "
                                       f"line {rows[j]} kept)")]
                continue
            if good and reading[k] < reading[good[-1]] and not rollover_kwh \
                    and reading[k] > RESET_NEAR_ZERO_SHARE * reading[good[-1]]:
                quarantine[idx[k]] = [("register_went_backwards",
                                       f"register reading {reading[k]:g} kWh is below the previous reading "
                                       f"{reading[good[-1]]:g} kWh (line {rows[good[-1]]}) but not near zero: a misread "
                                       "or another meter's value; not used, the next reading is compared with the "
                                       "previous one")]
                continue
            good.append(k)
        if len(good) < 2:
            for k in good:
                quarantine[idx[k]] = [("single_register_reading",
                                       f"the only register reading of meter {meter}: a register needs a reading at "
                                       "both ends of an interval, so no energy can be read from it")]
            continue
        folded[idx[good[0]]] = (idx[good[1]], "opening register reading of the meter")
        for a, b in zip(good, good[1:]):
            prev, cur = reading[a], reading[b]
            delta, flag = cur - prev, ""
            if delta < 0:
                if rollover_kwh:
                    delta, flag = rollover_kwh - prev + cur, "meter_register_rollover"
                    rollovers += 1
                else:
                    delta, flag = cur, "meter_register_reset"
                    resets += 1
            i = idx[b]
            frame.at[i, "interval_start_utc"] = times[a]
            frame.at[i, "interval_end_utc"] = times[b]
            frame.at[i, "energy_kwh"] = float(delta)
            frame.at[i, "flags"] = flag
    keep = frame.drop(index=list(folded) + list(quarantine))
    if rollovers:
        notes.append(f"{rollovers} register reading(s) below the previous one: rollover applied at "
                     f"{rollover_kwh:g} kWh (flagged)")
    if resets:
        notes.append(f"{resets} register reset(s) to near zero: energy counted from zero, the part before the "
                     "reset is lost (flagged)")
    if folded:
        notes.append(f"{len(folded)} opening register reading(s) (one per meter) folded into the next reading")
    return Parsed(frame=conform(keep, METER), quarantine=quarantine, folded=folded, notes=notes)
