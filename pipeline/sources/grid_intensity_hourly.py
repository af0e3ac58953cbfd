"""Hourly grid carbon intensity: Electricity Maps CSV export, or a plain ``zone,datetime,...`` CSV.

Two layouts, one canonical frame (``canonical.GRID_INTENSITY``), one row per zone and UTC clock hour:

(a) Electricity Maps data-portal export (hourly granularity). Header of a real hourly file
    (POLIMIGreenISE/carbonbudget ``data/DE_2022_hourly.csv`` @714a08590dcfa291add251e757470a4cf372f8b1,
    fields as listed on electricitymaps.com/data-portal)::

        Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),
        Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,
        Data Estimated,Data Estimation Method
        2022-01-01 00:00:00,Germany,Germany,DE,163.46,213.79,81.25,73.73,entsoe.eu,false,

    Later exports spell some headers differently (seen in third-party code only, not in a downloaded file:
    ``Zone id``, ``Carbon intensity gCO₂eq/kWh (Life cycle)``, ``Data estimated``, and ASCII ``gCO2eq``).
    ``read_raw`` matches headers ignoring case, spacing and the subscript ₂, renames ``Datetime (UTC)`` to
    ``datetime`` and ``Zone Id`` to ``zone`` (the names the plain layout uses, so ``REQUIRED`` and the header
    suite name one set) and the other columns to the spelling above; the quarantine file shows those names.
    ``Datetime (UTC)`` is an explicit UTC column: values without an offset are read as UTC.
    Daily / monthly / yearly / 5-minute exports of the portal are refused (rows not one hour apart).

(b) Plain CSV: ``zone,datetime,carbon_intensity_g_per_kwh[,boundary][,estimated]``.
    ``datetime`` is the hour's start, ISO 8601 **with its offset** (``2026-10-25T01:00:00+01:00`` or ``...Z``);
    a value without one is ambiguous across DST and becomes NaT (quarantined by ingest), never guessed.
    ``boundary`` is ``direct`` (alias ``generation``) or ``lifecycle`` (aliases ``lca``, ``life cycle``);
    an empty cell or a file without the column takes the source's ``default_boundary``; with neither, the row
    (or, without the column, the whole file) is refused: the boundary changes the Scope 2 figure.

Boundaries: the **direct** intensity (generation / combustion only) is what Scope 2 may use; Electricity Maps
states its direct factors follow the GHG Protocol Scope 2 Guidance. The **lifecycle** (LCA) intensity adds
upstream emissions (fuel supply chain, plant construction) that belong in Scope 3 Cat. 3: it is kept in
``ci_lifecycle_kg_per_kwh`` for reference and never used for Scope 2. Marginal rates are not accepted.
Values are gCO2e/kWh in both layouts and stored as kg CO2e/kWh.

Rows this adapter quarantines itself (``Parsed.quarantine``), each reason quoting the raw value:
    not_on_hour_boundary     the hour does not start on a UTC clock hour (e.g. 10:30Z, or +05:30 local hours)
    intensity_missing        no intensity value that parses as a number
    boundary_unknown         plain layout: boundary empty with no default, or not direct / lifecycle
    duplicate_hour           a row already gave this zone, hour and boundary (first kept; a differing value
                             is named in the reason)
Missing zone, unparseable / naive timestamps and negative values are left as NA / NaN / negative for the
``grid_intensity.rows`` suite, like the other adapters.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.canonical import GRID_INTENSITY, conform
from pipeline.errors import InputError
from pipeline.sources import Parsed
from pipeline.sources._text import RawTable, nullify, read_delimited, to_number, to_utc

KIND = "grid_intensity_hourly"
FAMILY = "grid_intensity"
REQUIRED = ["zone", "datetime"]

EM_DIRECT = "Carbon Intensity gCO₂eq/kWh (direct)"
EM_LIFECYCLE = "Carbon Intensity gCO₂eq/kWh (LCA)"
EM_ESTIMATED = "Data Estimated"
EM_METHOD = "Data Estimation Method"
EM_SOURCE = "Data Source"
PLAIN_VALUE = "carbon_intensity_g_per_kwh"

SOURCE_COLUMNS = {"zone": "zone", "hour_start_utc": "datetime"}

# normalised header (casefold, ₂ -> 2, single spaces) -> the name read_raw gives the column
_EM_HEADERS = {
    "datetime (utc)": "datetime",
    "zone id": "zone",
    "carbon intensity gco2eq/kwh (direct)": EM_DIRECT,
    "carbon intensity gco2eq/kwh (lca)": EM_LIFECYCLE,
    "carbon intensity gco2eq/kwh (life cycle)": EM_LIFECYCLE,
    "carbon intensity gco2eq/kwh (life cycle assessment)": EM_LIFECYCLE,
    "data estimated": EM_ESTIMATED,
    "data estimation method": EM_METHOD,
    "data source": EM_SOURCE,
}
_BOUNDARIES = {"direct": "direct", "generation": "direct",
               "lifecycle": "lifecycle", "life cycle": "lifecycle", "life_cycle": "lifecycle", "lca": "lifecycle"}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}
HOUR = pd.Timedelta(hours=1)


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", header.replace("₂", "2").casefold()).strip()


def _is_em(columns) -> bool:
    return EM_DIRECT in columns or EM_LIFECYCLE in columns


def sniff(columns: list[str]) -> bool:
    cols = set(columns)
    return set(REQUIRED) <= cols and (PLAIN_VALUE in cols or _is_em(cols))


def read_raw(path: Path) -> RawTable:
    raw = read_delimited(path, what="hourly grid carbon intensity CSV")
    present = set(raw.frame.columns)
    targets = {c: _EM_HEADERS.get(_norm(c)) for c in raw.frame.columns if c != "source_row"}
    if not any(t in (EM_DIRECT, EM_LIFECYCLE) for t in targets.values()):
        return raw                                   # plain layout: names kept as they are
    renames: dict[str, str] = {}
    for col, target in targets.items():
        if target and target != col and target not in present and target not in renames.values():
            renames[col] = target
    raw.frame = raw.frame.rename(columns=renames)
    return raw


# --- helpers shared with certificate_generation_hourly -------------------------------------------------

def on_clock_hour(ts: pd.Series) -> pd.Series:
    """True where a (UTC) timestamp starts a UTC clock hour; NaT -> True (left to the row suite)."""
    return ts.isna() | (ts == ts.dt.floor("h"))


def check_hourly_spacing(times: pd.Series, groups: pd.Series, *, label: str, what: str) -> None:
    """Refuse a file that is not hourly (a stray off-hour row in an hourly file is quarantined, not refused).
    Sub-hourly: half or more of the distinct times of the groups (zones / instruments) are off the UTC hour
    and the most common step between consecutive times is under an hour. Daily / monthly / yearly: every
    time is at 00:00 UTC and no two of a group are less than a day apart. Pass all rows with a time."""
    ok = times.notna() & groups.notna()
    if not ok.any():
        return
    frame = pd.DataFrame({"g": groups[ok].astype(str).to_numpy(), "t": times[ok].to_numpy()})
    frame = frame.drop_duplicates().sort_values(["g", "t"], kind="stable")
    steps = frame.groupby("g", sort=False)["t"].diff().dropna()
    if steps.empty:
        return
    step = steps.mode().min()
    t = pd.DatetimeIndex(frame["t"])
    if step < HOUR and (t != t.floor("h")).mean() >= 0.5:
        shown, kind = f"{step / pd.Timedelta(minutes=1):g} minutes", "finer than hourly"
    elif (t == t.floor("D")).all() and steps.min() >= pd.Timedelta(days=1):
        shown, kind = f"{steps.min() / pd.Timedelta(days=1):g} day(s) or more", "a daily / monthly / yearly export"
    else:
        return
    raise InputError(f"is not an hourly {what}: its rows are {shown} apart ({kind})", file=label,
                     fix=f"export the {what} at hourly granularity (one row per hour, stamped with the hour's "
                         "start)")


def quote(raw: pd.DataFrame, i, column: str) -> str:
    value = raw.at[i, column] if column in raw.columns else None
    value = "" if value is None or pd.isna(value) else str(value)
    return f" ({column} = '{value[:80]}')"


def first_kept_duplicates(keys: pd.DataFrame, valid: pd.Series) -> dict:
    """Index of each valid row whose key repeats an earlier valid row -> index of that first row."""
    k = keys[valid]
    if k.empty:
        return {}
    dup = k.duplicated(keep="first")
    if not dup.any():
        return {}
    first = k[~dup].reset_index().set_index(list(k.columns))["index"]
    out = {}
    for i in k.index[dup]:
        out[i] = first.loc[tuple(k.loc[i])]
    return out


def _to_bool(s: pd.Series) -> pd.Series:
    s = nullify(s).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[s.isin(_TRUE).fillna(False).astype(bool)] = True
    out[s.isin(_FALSE).fillna(False).astype(bool)] = False
    return out


# --- canonical ---------------------------------------------------------------------------------------

def to_canonical(raw: RawTable, *, source_label: str, default_boundary: str | None = None) -> Parsed:
    f = raw.frame
    em = _is_em(raw.columns)
    quarantine: dict = {}
    notes: list[str] = []

    out = pd.DataFrame(index=f.index)
    out["source_file"] = source_label
    out["source_row"] = f["source_row"]
    out["zone"] = nullify(f["zone"])
    nan = pd.Series(np.nan, index=f.index, dtype="float64")
    if em:
        notes.append("Electricity Maps export: 'Datetime (UTC)' read as UTC; the direct intensity is used for "
                     "Scope 2, the lifecycle (LCA) one is kept for reference only")
        out["hour_start_utc"] = to_utc(f["datetime"], assume_zone="UTC")
        out["ci_direct_kg_per_kwh"] = to_number(f[EM_DIRECT]) / 1000.0 if EM_DIRECT in f else nan
        out["ci_lifecycle_kg_per_kwh"] = to_number(f[EM_LIFECYCLE]) / 1000.0 if EM_LIFECYCLE in f else nan
        out["estimated"] = _to_bool(f[EM_ESTIMATED]) if EM_ESTIMATED in f else pd.NA
        out["estimation_method"] = nullify(f[EM_METHOD]) if EM_METHOD in f else pd.NA
        out["data_source"] = nullify(f[EM_SOURCE]) if EM_SOURCE in f else pd.NA
        value_cols = [c for c in (EM_DIRECT, EM_LIFECYCLE) if c in f]
        if EM_DIRECT not in f:
            notes.append(f"no '{EM_DIRECT}' column: the file cannot give Scope 2 intensities")
    else:
        if PLAIN_VALUE not in f:
            raise InputError(f"has no '{PLAIN_VALUE}' column (nor an Electricity Maps intensity column)",
                             file=source_label, row=1,
                             fix=f"name the intensity column '{PLAIN_VALUE}' (gCO2e/kWh) or give the "
                                 "Electricity Maps export unchanged")
        if default_boundary is not None and default_boundary not in ("direct", "lifecycle"):
            raise ValueError(f"default_boundary must be 'direct' or 'lifecycle', not {default_boundary!r}")
        if "boundary" not in f and default_boundary is None:
            raise InputError("states no boundary: the file has no 'boundary' column and the source sets none",
                             file=source_label, row=1,
                             fix="add a 'boundary' column (direct or lifecycle) or set the source's boundary "
                                 "(direct for generation-only intensities); Scope 2 may use direct ones only")
        out["hour_start_utc"] = to_utc(f["datetime"], assume_zone=None)
        value = to_number(f[PLAIN_VALUE]) / 1000.0
        given = nullify(f["boundary"]) if "boundary" in f else pd.Series(pd.NA, index=f.index, dtype="string")
        boundary = given.str.lower().str.strip().map(_BOUNDARIES).astype("string")
        if default_boundary is not None:
            boundary = boundary.mask(given.isna(), default_boundary)
        for i in f.index[given.isna() & boundary.isna()]:
            quarantine[i] = [("boundary_unknown", ("boundary is empty and the source sets no default "
                                                  "(give direct or lifecycle)"))]
        for i in f.index[given.notna() & boundary.isna()]:
            quarantine[i] = [("boundary_unknown", "boundary is not direct or lifecycle (marginal or other rates "
                                                  "are not Scope 2 inventory factors)" + quote(f, i, "boundary"))]
        out["ci_direct_kg_per_kwh"] = value.where((boundary == "direct").fillna(False).astype(bool))
        out["ci_lifecycle_kg_per_kwh"] = value.where((boundary == "lifecycle").fillna(False).astype(bool))
        out["estimated"] = _to_bool(f["estimated"]) if "estimated" in f else pd.NA
        out["estimation_method"] = pd.NA
        out["data_source"] = pd.NA
        value_cols = [PLAIN_VALUE]
    frame = conform(out, GRID_INTENSITY)

    direct, lifecycle = frame["ci_direct_kg_per_kwh"], frame["ci_lifecycle_kg_per_kwh"]
    no_value = direct.isna() & lifecycle.isna()
    for i in f.index[no_value]:
        if i in quarantine:
            continue
        shown = "".join(quote(f, i, c) for c in value_cols)
        quarantine[i] = [("intensity_missing", "carbon intensity is missing or not a number" + shown)]

    hour = frame["hour_start_utc"]
    off_hour = ~on_clock_hour(hour)
    for i in f.index[off_hour]:
        quarantine.setdefault(i, []).append((
            "not_on_hour_boundary", "datetime is not the start of a UTC clock hour (hourly intensities must "
                                    "cover UTC hours, e.g. 10:00Z)" + quote(f, i, "datetime")))

    check_hourly_spacing(hour, frame["zone"].str.upper(), label=source_label, what="grid intensity series")
    valid = (frame["zone"].notna() & hour.notna() & ~off_hour
             & ~pd.Series(f.index.isin(list(quarantine)), index=f.index))
    zone_u = frame["zone"].str.upper()
    repeated: dict = {}                               # row -> [(boundary, first row), ...]
    for col, name in (("ci_direct_kg_per_kwh", "direct"), ("ci_lifecycle_kg_per_kwh", "lifecycle")):
        ok = valid & frame[col].notna() & (frame[col] >= 0)
        for i, first in first_kept_duplicates(pd.DataFrame({"z": zone_u, "h": hour}), ok).items():
            repeated.setdefault(i, []).append((col, name, first))
    for i, items in repeated.items():
        parts = []
        for col, name, first in items:
            same = frame.at[i, col] == frame.at[first, col]
            differs = "" if same else (f" with a different value ({frame.at[i, col] * 1000:g} vs "
                                       f"{frame.at[first, col] * 1000:g} gCO2e/kWh)")
            parts.append(f"the {name} intensity (line {int(frame.at[first, 'source_row'])}){differs}")
        quarantine.setdefault(i, []).append((
            "duplicate_hour", (f"another row already gives {' and '.join(parts)} of zone {frame.at[i, 'zone']} "
                              f"for {hour[i].strftime('%Y-%m-%dT%H:%MZ')} (first kept)")))

    lifecycle_only = valid & direct.isna() & lifecycle.notna()
    if lifecycle_only.any():
        notes.append(f"{int(lifecycle_only.sum())} row(s) give only a lifecycle intensity: not used for Scope 2 "
                     "(those hours take the annual factor, flagged)")
    usable = direct[valid & direct.notna()]
    if len(usable) and float(usable.median()) < 0.001:
        notes.append("median direct intensity is below 1 gCO2e/kWh: check the values are in gCO2e/kWh, "
                     "not kgCO2e/kWh")
    return Parsed(frame=frame, quarantine=quarantine, notes=notes)
