"""Hourly (time-matched) Scope 2: consumption per UTC clock hour x that hour's grid intensity or instruments.

Pure, vectorised functions: no files, no logging, no config. Inputs are canonical frames (``GRID_INTENSITY``,
``INSTRUMENT_HOURLY``) and energy frames with timezone-aware timestamps; wrong inputs (naive timestamps, NaN
energy, duplicated intensity hours) raise ``ValueError`` / ``TypeError``: they are bugs in the caller, the
user's data errors having been quarantined at ingest.

Decisions (GHG Protocol Scope 2 Guidance; hourly matching as in the 2025 Scope 2 revision consultation):
1. Hours are **UTC clock hours** [start, start + 1 h). Energy intervals are split into them pro rata by time
   (``to_hours``): a 90-minute interval 10:30-12:00 gives 1/3 to 10:00 and 2/3 to 11:00. A DST change needs
   nothing special: local 01:00+01:00 and 01:00+00:00 are different UTC hours.
2. Location-based (``hourly_location``): the **direct** (generation) intensity of the site's grid zone in that
   hour. Lifecycle intensities are never used (they include upstream emissions: Scope 3 Cat. 3). An hour
   without a direct intensity is **not invented** (no interpolation): it is returned in ``missing`` for the
   caller to price with the annual factor under the flag ``hourly_intensity_missing``. An hour the publisher
   marks as estimated carries ``hourly_intensity_estimated``.
3. Market-based (``hourly_market``): per hour, matched = min(consumption, generation of the site's hourly
   instruments in that hour). Generation beyond the hour's consumption is **not carried** to other hours
   (it is reported as unused). Sites sharing instruments must list the same set (a pool); within a pool the
   hour's matched energy is shared pro rata to consumption. Matched energy takes the instruments' emission
   rate (0 for renewables; a generation-weighted mean when a pool mixes rates); unmatched energy the
   site's residual mix, else the stated fallback factor, flagged (``mb_grid_average_fallback`` by default).
   Which instruments qualify (market = grid zone, vintage, retired) is decided before, by the caller.
   The hourly CFE score is matched / consumption.
4. ``compare_annual``: per site, zone and month (UTC, or the entity's zone when given), hourly vs annual-factor
   emissions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOUR_NS = 3_600_000_000_000
HOUR_COL = "hour_start_utc"
FLAG_MISSING = "hourly_intensity_missing"
FLAG_ESTIMATED = "hourly_intensity_estimated"


# --- helpers ---------------------------------------------------------------------------------------------

def _ns(col: pd.Series) -> np.ndarray:
    """int64 ns since the epoch (UTC) of a timezone-aware column without NaT."""
    if not isinstance(col.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"column {col.name!r} must be timezone-aware (UTC), not {col.dtype}")
    if col.isna().any():
        raise ValueError(f"column {col.name!r} has {int(col.isna().sum())} missing timestamp(s)")
    return pd.DatetimeIndex(col).tz_convert("UTC").as_unit("ns").asi8.copy()


def _utc(ns: np.ndarray, index=None) -> pd.Series:
    values = pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(values, index=index)


def _hours(col: pd.Series) -> pd.Series:
    """A column of UTC hour starts (ns, UTC); refuses values that are not on a UTC hour boundary."""
    ns = _ns(col)
    if (ns % HOUR_NS != 0).any():
        raise ValueError(f"column {col.name!r} holds times that are not UTC hour starts: split with to_hours first")
    return _utc(ns, index=col.index).rename(col.name)


def _energy(frame: pd.DataFrame, col: str = "energy_kwh") -> np.ndarray:
    values = frame[col].to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(values).any():
        raise ValueError(f"column {col!r} has {int(np.isnan(values).sum())} missing value(s)")
    if (values < 0).any():
        raise ValueError(f"column {col!r} has negative energy")
    return values


def _per_key(value: float | Mapping | None, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        v = value.get(key)
        if v is None and isinstance(key, str):
            v = {str(k).upper(): x for k, x in value.items()}.get(key.upper())
        return None if v is None else float(v)
    return float(value)


def _ratio(num: np.ndarray | pd.Series, den: np.ndarray | pd.Series) -> np.ndarray:
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


# --- 1. energy intervals -> UTC clock hours ------------------------------------------------------------

def to_hours(intervals: pd.DataFrame, *, start_col: str, end_col: str, energy_col: str,
             keys: Sequence[str] = ()) -> pd.DataFrame:
    """Split energy intervals into UTC clock hours pro rata by time; one row per keys + hour.

    Returns ``keys + [hour_start_utc, energy_kwh]``. Each interval's pieces add up to its energy (the last
    piece takes the remainder of the float division), so totals are preserved. A zero-length interval puts
    all its energy in the hour containing its start. Intervals ending before they start raise ValueError.
    """
    keys = list(keys)
    columns = keys + [HOUR_COL, "energy_kwh"]
    if intervals.empty:
        out = pd.DataFrame({k: intervals[k] for k in keys}) if keys else pd.DataFrame()
        out[HOUR_COL] = pd.Series(dtype="datetime64[ns, UTC]")
        out["energy_kwh"] = pd.Series(dtype="float64")
        return out[columns]
    start, end = _ns(intervals[start_col]), _ns(intervals[end_col])
    energy = _energy(intervals, energy_col)
    if (end < start).any():
        raise ValueError(f"{int((end < start).sum())} interval(s) end before they start")
    first = np.floor_divide(start, HOUR_NS) * HOUR_NS
    last = -np.floor_divide(-end, HOUR_NS) * HOUR_NS               # ceil: end is exclusive
    n = np.maximum((last - first) // HOUR_NS, 1)
    row = np.repeat(np.arange(len(intervals)), n)
    k = np.arange(row.size) - np.repeat(np.cumsum(n) - n, n)
    hour = first[row] + k * HOUR_NS
    overlap = np.minimum(end[row], hour + HOUR_NS) - np.maximum(start[row], hour)
    duration = (end - start)[row]
    share = np.divide(overlap, duration, out=np.ones(row.size, dtype="float64"), where=duration > 0)
    piece = energy[row] * share
    last_piece = np.cumsum(n) - 1
    piece[last_piece] += energy - np.bincount(row, weights=piece, minlength=len(intervals))

    out = intervals[keys].iloc[row].reset_index(drop=True) if keys else pd.DataFrame(index=range(row.size))
    out[HOUR_COL] = _utc(hour)
    out["energy_kwh"] = piece
    return out.groupby(keys + [HOUR_COL], dropna=False, sort=True, as_index=False)["energy_kwh"].sum()[columns]


# --- 2. location-based ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocationResult:
    hourly: pd.DataFrame    # energy rows with an hourly direct intensity: + zone, ci_kg_per_kwh, emissions_kg_co2e
    missing: pd.DataFrame   # energy rows without one: + zone, reason, flags (price with the annual factor)


def _zones(energy_h: pd.DataFrame, zone_of: str | Mapping[str, str], site_col: str) -> pd.Series:
    if isinstance(zone_of, str):
        zones = energy_h[zone_of].astype("string")
    else:
        zones = energy_h[site_col].map(dict(zone_of)).astype("string")
        unknown = sorted(set(energy_h.loc[zones.isna(), site_col].astype(str)))
        if unknown:
            raise ValueError(f"no grid zone for {site_col} value(s): {', '.join(unknown)}")
    if zones.isna().any():
        raise ValueError(f"{int(zones.isna().sum())} energy row(s) have no grid zone")
    return zones


def hourly_location(energy_h: pd.DataFrame, intensity: pd.DataFrame, *, zone_of: str | Mapping[str, str],
                    site_col: str = "site_id") -> LocationResult:
    """Location-based emissions per energy row (keys + hour) with the zone's direct intensity of that hour.

    ``energy_h``: ``hour_start_utc`` (UTC hour starts), ``energy_kwh`` and any key columns (kept).
    ``intensity``: a ``GRID_INTENSITY`` frame (accepted rows). ``zone_of``: the column of ``energy_h`` holding
    the grid zone, or a mapping ``{site: zone}`` applied to ``energy_h[site_col]``. Zones match ignoring case.
    Rows without a direct intensity for their hour go to ``missing`` (never interpolated).
    """
    e = energy_h.copy()
    e[HOUR_COL] = _hours(e[HOUR_COL])
    energy = _energy(e)
    e["zone"] = _zones(e, zone_of, site_col)
    e["_z"] = e["zone"].str.upper()

    direct = intensity[intensity["ci_direct_kg_per_kwh"].notna()]
    lookup = pd.DataFrame({
        "_z": direct["zone"].astype("string").str.upper(),
        HOUR_COL: _hours(direct[HOUR_COL]) if len(direct) else direct[HOUR_COL],
        "ci_kg_per_kwh": direct["ci_direct_kg_per_kwh"].astype("float64"),
        "ci_estimated": direct["estimated"].astype("boolean"),
        "ci_source_file": direct["source_file"].astype("string"),
        "ci_source_row": direct["source_row"].astype("Int64"),
    })
    dup = lookup.duplicated(["_z", HOUR_COL])
    if dup.any():
        raise ValueError(f"intensity has {int(dup.sum())} duplicated zone-hour(s) with a direct value "
                         "(the adapter keeps the first of each: concatenated sources overlap?)")
    if len(lookup):
        lookup[HOUR_COL] = lookup[HOUR_COL].astype("datetime64[ns, UTC]")
    e["_order"] = np.arange(len(e))
    m = e.merge(lookup, on=["_z", HOUR_COL], how="left", validate="many_to_one").sort_values("_order")
    m = m.reset_index(drop=True)

    has = m["ci_kg_per_kwh"].notna()
    hourly = m[has].copy()
    hourly["emissions_kg_co2e"] = hourly["energy_kwh"].astype("float64") * hourly["ci_kg_per_kwh"]
    hourly["flags"] = np.where(hourly["ci_estimated"].fillna(False).astype(bool), FLAG_ESTIMATED, "")
    hourly["flags"] = hourly["flags"].astype("string")

    missing = m[~has].drop(columns=["ci_kg_per_kwh", "ci_estimated", "ci_source_file", "ci_source_row"])
    lifecycle = intensity[intensity["ci_lifecycle_kg_per_kwh"].notna()]
    lc_keys = set(zip(lifecycle["zone"].astype(str).str.upper(),
                      pd.DatetimeIndex(lifecycle[HOUR_COL]).as_unit("ns").asi8)) if len(lifecycle) else set()
    miss_keys = zip(missing["_z"].astype(str), pd.DatetimeIndex(missing[HOUR_COL]).as_unit("ns").asi8)
    missing = missing.assign(
        reason=pd.Series(["only a lifecycle intensity for this zone and hour (not usable for Scope 2)"
                          if key in lc_keys else "no hourly intensity for this zone and hour"
                          for key in miss_keys], index=missing.index, dtype="string"),
        flags=pd.Series(FLAG_MISSING, index=missing.index, dtype="string"))
    assert len(hourly) + len(missing) == len(energy)
    return LocationResult(hourly=hourly.drop(columns=["_z", "_order"]).reset_index(drop=True),
                          missing=missing.drop(columns=["_z", "_order"]).reset_index(drop=True))


# --- 3. market-based, hourly matching ------------------------------------------------------------------

@dataclass(frozen=True)
class MarketResult:
    hourly: pd.DataFrame       # energy rows + matched_kwh, unmatched_kwh, factors, emissions_kg_co2e, flags
    sites: pd.DataFrame        # per site: energy, matched, cfe_score, emissions, basis of the unmatched part
    instruments: pd.DataFrame  # per instrument: generation, matched, unused (never carried to other hours)

    @property
    def cfe_score(self) -> float:
        """Matched share of all consumption (hourly CFE score); NaN without consumption."""
        total = float(self.sites["energy_kwh"].sum())
        return float(self.sites["matched_kwh"].sum()) / total if total > 0 else float("nan")


def _pools(instruments_of: Mapping[str, Sequence[str]]) -> tuple[dict[str, str], dict[str, str]]:
    """site -> pool label, instrument -> pool label. Sites sharing an instrument must list the same set."""
    owner: dict[str, frozenset] = {}
    site_pool: dict[str, str] = {}
    for site, ids in instruments_of.items():
        ids = frozenset(str(i) for i in ids)
        if not ids:
            continue
        for i in ids:
            if i in owner and owner[i] != ids:
                raise ValueError(f"instrument {i} is listed for sites with different instrument sets "
                                 f"({', '.join(sorted(owner[i]))} vs {', '.join(sorted(ids))}): sites sharing an "
                                 "instrument must share all their hourly instruments")
            owner[i] = ids
        site_pool[str(site)] = "+".join(sorted(ids))
    return site_pool, {i: "+".join(sorted(ids)) for i, ids in owner.items()}


def _pool_hour_sums(frame: pd.DataFrame, values: dict[str, str]) -> pd.DataFrame:
    """Sums of ``values`` (column -> new name) per pool and hour, for rows in a pool (typed when empty)."""
    rows = frame[frame["_pool"].notna()]
    if rows.empty:
        return pd.DataFrame({"_pool": pd.Series(dtype="string"), HOUR_COL: pd.Series(dtype="datetime64[ns, UTC]"),
                             **{new: pd.Series(dtype="float64") for new in values.values()}})
    out = rows.groupby(["_pool", HOUR_COL], as_index=False)[list(values)].sum()
    return out.rename(columns=values)


def hourly_market(energy_h: pd.DataFrame, instrument_h: pd.DataFrame, *,
                  instruments_of: Mapping[str, Sequence[str]],
                  residual_kg_per_kwh: float | Mapping[str, float | None] | None,
                  fallback_kg_per_kwh: float | Mapping[str, float] | None = None,
                  instrument_kg_per_kwh: Mapping[str, float] | None = None,
                  site_col: str = "site_id", fallback_flag: str = "mb_grid_average_fallback") -> MarketResult:
    """Hourly matching of consumption with the generation of each site's hourly instruments.

    ``energy_h``: ``site_col``, ``hour_start_utc``, ``energy_kwh`` (+ keys, kept). ``instrument_h``: an
    ``INSTRUMENT_HOURLY`` frame of qualifying instruments. ``instruments_of``: site -> instrument ids.
    Unmatched energy takes ``residual_kg_per_kwh`` (float, or per site; None / missing site = none), else
    ``fallback_kg_per_kwh`` with ``fallback_flag``; a site with neither raises ValueError.
    ``instrument_kg_per_kwh``: emission rate per instrument (default 0, renewable generation).
    """
    site_pool, instrument_pool = _pools(instruments_of)
    e = energy_h.copy()
    e[HOUR_COL] = _hours(e[HOUR_COL])
    energy = _energy(e)
    e["_site"] = e[site_col].astype(str)
    e["_pool"] = e["_site"].map(site_pool).astype("string")

    g = instrument_h[["instrument_id", HOUR_COL, "energy_kwh"]].copy()
    g["instrument_id"] = g["instrument_id"].astype(str)
    g[HOUR_COL] = _hours(g[HOUR_COL])
    gen = _energy(g)
    rates = instrument_kg_per_kwh or {}
    g["_kg"] = gen * g["instrument_id"].map(lambda i: float(rates.get(i, 0.0))).to_numpy(dtype="float64")
    g["_pool"] = g["instrument_id"].map(instrument_pool).astype("string")

    # per pool and hour: consumption, generation, matched = min of the two (no carrying between hours)
    cons = _pool_hour_sums(e, {"energy_kwh": "_cons"})
    pg = _pool_hour_sums(g, {"energy_kwh": "_gen", "_kg": "_kg"})
    ph = cons.merge(pg, on=["_pool", HOUR_COL], how="outer")
    ph["_pool"] = ph["_pool"].astype("string")
    ph[["_cons", "_gen", "_kg"]] = ph[["_cons", "_gen", "_kg"]].astype("float64").fillna(0.0)
    ph["_matched"] = np.minimum(ph["_cons"], ph["_gen"])
    ph["_frac"] = _ratio(ph["_matched"], ph["_cons"])        # share of each row's energy that is matched
    ph["_rate"] = _ratio(ph["_kg"], ph["_gen"])              # kg per matched kWh (generation-weighted)
    ph["_use"] = _ratio(ph["_matched"], ph["_gen"])          # share of each instrument's generation used

    e["_order"] = np.arange(len(e))
    m = e.merge(ph[["_pool", HOUR_COL, "_frac", "_rate"]], on=["_pool", HOUR_COL], how="left")
    m = m.sort_values("_order").reset_index(drop=True)
    frac = m["_frac"].fillna(0.0).to_numpy(dtype="float64")
    rate = m["_rate"].fillna(0.0).to_numpy(dtype="float64")
    kwh = m["energy_kwh"].to_numpy(dtype="float64")
    m["matched_kwh"] = kwh * frac
    m["unmatched_kwh"] = kwh - m["matched_kwh"]
    m["instrument_kg_co2e"] = m["matched_kwh"] * rate

    basis, factor = {}, {}
    for site in m["_site"].unique():
        r = _per_key(residual_kg_per_kwh, site)
        if r is not None:
            basis[site], factor[site] = "residual_mix", r
            continue
        fb = _per_key(fallback_kg_per_kwh, site)
        if fb is None:
            raise ValueError(f"site {site}: no residual mix and no fallback factor for unmatched consumption")
        basis[site], factor[site] = "fallback", fb
    m["unmatched_basis"] = m["_site"].map(basis).astype("string")
    m["unmatched_factor_kg_per_kwh"] = m["_site"].map(factor).astype("float64")
    m["unmatched_kg_co2e"] = m["unmatched_kwh"] * m["unmatched_factor_kg_per_kwh"]
    m["emissions_kg_co2e"] = m["instrument_kg_co2e"] + m["unmatched_kg_co2e"]
    uses_fallback = (m["unmatched_basis"] == "fallback") & (m["unmatched_kwh"] > 0)
    m["flags"] = pd.Series(np.where(uses_fallback, fallback_flag, ""), dtype="string")
    m["instruments"] = m["_pool"].astype("string")
    hourly = m.drop(columns=["_site", "_pool", "_order", "_frac", "_rate"])

    sums = ["energy_kwh", "matched_kwh", "unmatched_kwh", "instrument_kg_co2e", "unmatched_kg_co2e",
            "emissions_kg_co2e"]
    sites = m.groupby("_site", sort=True, as_index=False).agg(
        **{c: (c, "sum") for c in sums},
        instruments=("instruments", "first"), unmatched_basis=("unmatched_basis", "first"),
        unmatched_factor_kg_per_kwh=("unmatched_factor_kg_per_kwh", "first"),
        flags=("flags", lambda s: ";".join(sorted({f for f in s if isinstance(f, str) and f}))))
    sites = sites.rename(columns={"_site": site_col})
    sites.insert(4, "cfe_score", _ratio(sites["matched_kwh"], sites["energy_kwh"]))
    sites["instruments"] = sites["instruments"].astype("string").fillna("")

    gu = g.merge(ph[["_pool", HOUR_COL, "_use"]], on=["_pool", HOUR_COL], how="left")
    gu["matched_kwh"] = gu["energy_kwh"] * gu["_use"].fillna(0.0)
    instruments = gu.groupby("instrument_id", sort=True, as_index=False).agg(
        generation_kwh=("energy_kwh", "sum"), matched_kwh=("matched_kwh", "sum"))
    instruments["unused_kwh"] = instruments["generation_kwh"] - instruments["matched_kwh"]
    pool_sites = {}
    for site, pool in site_pool.items():
        pool_sites.setdefault(pool, []).append(site)
    instruments["sites"] = instruments["instrument_id"].map(
        lambda i: ";".join(sorted(pool_sites.get(instrument_pool.get(i, ""), [])))).astype("string")
    assert np.isclose(float(hourly["energy_kwh"].sum()), float(energy.sum()), rtol=1e-12, atol=0)
    return MarketResult(hourly=hourly, sites=sites, instruments=instruments)


# --- 4. hourly versus annual factor ----------------------------------------------------------------------

def compare_annual(location: LocationResult, *, annual_kg_per_kwh: float | Mapping[str, float],
                   site_col: str | None = "site_id", month_zone: str = "UTC") -> pd.DataFrame:
    """Per site, zone and month (YYYY-MM, UTC): kWh, emissions with the annual factor, hourly emissions
    (hours without an hourly intensity priced with the annual factor and counted in
    ``kwh_without_hourly_intensity``), and the difference hourly - annual in kg and % of the annual figure.
    ``annual_kg_per_kwh``: one factor, or per zone (ignoring case)."""
    by = ([site_col] if site_col else []) + ["zone"]
    parts = []
    for frame, is_missing in ((location.hourly, False), (location.missing, True)):
        if frame.empty:
            continue
        part = frame[by + [HOUR_COL, "energy_kwh"]].copy()
        part["_hourly_kg"] = frame["emissions_kg_co2e"].to_numpy() if not is_missing else np.nan
        part["_missing_kwh"] = part["energy_kwh"] if is_missing else 0.0
        parts.append(part)
    columns = by + ["month", "energy_kwh", "kwh_without_hourly_intensity", "annual_factor_kg_per_kwh",
                    "annual_emissions_kg_co2e", "hourly_emissions_kg_co2e", "difference_kg_co2e",
                    "difference_pct", "flags"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    rows = pd.concat(parts, ignore_index=True)
    factors = {}
    for zone in rows["zone"].astype(str).unique():
        f = _per_key(annual_kg_per_kwh, zone)
        if f is None:
            raise ValueError(f"no annual factor for zone {zone}")
        factors[zone] = f
    rows["annual_factor_kg_per_kwh"] = rows["zone"].astype(str).map(factors).astype("float64")
    rows["_hourly_kg"] = rows["_hourly_kg"].fillna(rows["energy_kwh"] * rows["annual_factor_kg_per_kwh"])
    rows["month"] = rows[HOUR_COL].dt.tz_convert(month_zone).dt.strftime("%Y-%m")
    out = rows.groupby(by + ["month"], sort=True, as_index=False, dropna=False).agg(
        energy_kwh=("energy_kwh", "sum"), kwh_without_hourly_intensity=("_missing_kwh", "sum"),
        annual_factor_kg_per_kwh=("annual_factor_kg_per_kwh", "first"),
        hourly_emissions_kg_co2e=("_hourly_kg", "sum"))
    out["annual_emissions_kg_co2e"] = out["energy_kwh"] * out["annual_factor_kg_per_kwh"]
    out["difference_kg_co2e"] = out["hourly_emissions_kg_co2e"] - out["annual_emissions_kg_co2e"]
    out["difference_pct"] = np.where(out["annual_emissions_kg_co2e"] > 0,
                                     100.0 * out["difference_kg_co2e"] / out["annual_emissions_kg_co2e"].where(
                                         out["annual_emissions_kg_co2e"] > 0, 1.0), np.nan)
    out["flags"] = pd.Series(np.where(out["kwh_without_hourly_intensity"] > 0, FLAG_MISSING, ""),
                             index=out.index, dtype="string")
    return out[columns]
