"""Hourly generation of contractual instruments (PPA, 24x7 CFE contract): ``instrument_id,hour_start,energy,unit``.

- ``instrument_id`` names the instrument as the config does (a certificate / PPA id on a contract).
- ``hour_start`` is the **start** of the generation hour, ISO 8601 **with its UTC offset**
  (``2026-10-25T01:00:00+01:00`` or ``...Z``); a value without one is NaT (quarantined by ingest), never guessed.
  Registries that stamp the hour's *end* must be shifted by one hour before export.
- ``energy`` is the energy the instrument generated (and allocated to the company) in that hour, in ``unit``:
  Wh, kWh or MWh (case-insensitive). Stored as ``energy_kwh`` (``canonical.INSTRUMENT_HOURLY``).

Rows this adapter quarantines itself, each reason quoting the raw value: ``not_on_hour_boundary`` (the hour
does not start on a UTC clock hour) and ``duplicate_hour`` (the instrument already has a row for that hour;
first kept). Missing ids, naive or unparseable times, unknown units, missing and negative energy are left
to the ``instrument_hourly.rows`` suite. A file whose rows are not one hour apart (15-minute or daily data)
is refused as a whole.

Only the generation is read here; whether an instrument qualifies (same market as the site, vintage,
retired / cancelled) is decided from the config (``emissions.market_based.check_certificate``), and the
hourly matching is ``emissions.hourly.hourly_market``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.canonical import INSTRUMENT_HOURLY, conform
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc
from pipeline.sources.grid_intensity_hourly import (
    check_hourly_spacing,
    first_kept_duplicates,
    on_clock_hour,
    quote,
)

KIND = "certificate_generation_hourly"
FAMILY = "instrument_hourly"
REQUIRED = ["instrument_id", "hour_start", "energy", "unit"]
SOURCE_COLUMNS = {"instrument_id": "instrument_id", "hour_start_utc": "hour_start", "energy_kwh": "energy",
                  "unit_known": "unit"}
KWH_PER_UNIT = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3}


def sniff(columns: list[str]) -> bool:
    return set(REQUIRED) <= set(columns)


def read_raw(path: Path) -> RawTable:
    return read_delimited(path, what="hourly instrument generation CSV")


def to_canonical(raw: RawTable, *, source_label: str) -> Parsed:
    f = raw.frame
    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["instrument_id"] = nullify(f["instrument_id"])
    out["hour_start_utc"] = to_utc(f["hour_start"], assume_zone=None)
    factor = nullify(f["unit"]).str.lower().map(KWH_PER_UNIT).astype("float64")
    out["energy_kwh"] = to_number(f["energy"]) * factor
    out["unit_known"] = factor.notna()
    frame = conform(out, INSTRUMENT_HOURLY)

    quarantine: dict = {}
    hour = frame["hour_start_utc"]
    off_hour = ~on_clock_hour(hour)
    for i in f.index[off_hour]:
        quarantine[i] = [("not_on_hour_boundary", "hour_start is not the start of a UTC clock hour"
                                                  + quote(f, i, "hour_start"))]
    valid = (frame["instrument_id"].notna() & hour.notna() & ~off_hour & frame["unit_known"]
             & frame["energy_kwh"].notna() & (frame["energy_kwh"] >= 0))
    check_hourly_spacing(hour, frame["instrument_id"], label=source_label, what="instrument generation series")
    dups = first_kept_duplicates(pd.DataFrame({"i": frame["instrument_id"], "h": hour}), valid)
    for i, first in dups.items():
        quarantine.setdefault(i, []).append((
            "duplicate_hour", (f"instrument {frame.at[i, 'instrument_id']} already has a row for "
                              f"{hour[i].strftime('%Y-%m-%dT%H:%MZ')} (line {int(frame.at[first, 'source_row'])}, "
                              "first kept)")))
    return Parsed(frame=frame, quarantine=quarantine)
