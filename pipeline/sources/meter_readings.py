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


def _from_register(out: pd.DataFrame, rollover_kwh: float | None) -> Parsed:
    """Register readings -> intervals between consecutive valid readings of each meter."""
    valid = out[out["meter_id"].notna() & out["interval_start_utc"].notna() & out["energy_kwh"].notna()]
    valid = valid.sort_values(["meter_id", "interval_start_utc"], kind="stable")
    folded, notes, resets = {}, [], 0
    frame = out.copy()
    for _, grp in valid.groupby("meter_id", sort=True):
        idx = list(grp.index)
        reading = grp["energy_kwh"].to_numpy()
        times = grp["interval_start_utc"].to_list()
        folded[idx[0]] = (idx[1], "opening register reading of the meter") if len(idx) > 1 else None
        for k in range(1, len(idx)):
            i, prev = idx[k], reading[k - 1]
            delta = reading[k] - prev
            flag = ""
            if delta < 0:
                resets += 1
                if rollover_kwh:
                    delta, flag = rollover_kwh - prev + reading[k], "meter_register_rollover"
                else:
                    delta, flag = reading[k], "meter_register_reset"
            frame.at[i, "interval_start_utc"] = times[k - 1]
            frame.at[i, "interval_end_utc"] = times[k]
            frame.at[i, "energy_kwh"] = float(delta)
            frame.at[i, "flags"] = flag
    folded = {i: v for i, v in folded.items() if v is not None}
    # a meter with a single valid reading has no interval: its reading stays and is checked like any other
    keep = frame.drop(index=list(folded))
    if resets:
        notes.append(f"{resets} register reading(s) below the previous one: "
                     + ("rollover applied" if rollover_kwh else "read as a reset to zero (flagged)"))
    if folded:
        notes.append(f"{len(folded)} opening register reading(s) (one per meter) folded into the next reading")
    return Parsed(frame=conform(keep, METER), folded=folded, notes=notes)
