"""Interval meter readings CSV: ``meter_id,timestamp,energy,unit``.

- ``timestamp`` is the **start** of the interval, ISO 8601 **with its UTC offset** (``2026-07-01T00:00:00+01:00``
  or ``...Z``); a timestamp without an offset is ambiguous across DST and is quarantined, not guessed.
- The interval length is the source's ``interval_minutes`` (config, default 60).
- ``energy`` is the energy consumed in the interval, in ``unit``: Wh, kWh, MWh or J (case-insensitive).
- Meters are mapped to sites in the config (``sites[].meters``); a meter that is not listed stops the run.
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
                 interval_minutes: int) -> Parsed:
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
    return Parsed(frame=conform(out, METER))
