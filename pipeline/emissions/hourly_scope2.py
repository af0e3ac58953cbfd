"""Hourly (time-matched) Scope 2 beside the annual figures: which energy, which zones, which instruments.

Decision (written down in docs/methodology.md, D5d): the E1-6 Scope 2 figures stay annual - the GHG Protocol
Scope 2 Guidance in force uses annual factors and annual instrument volumes. When the user supplies hourly grid
intensities and/or hourly instrument generation, the same consumption is also computed hour by hour (the
method of the Scope 2 revision under consultation) and shown next to the annual figure with the difference;
it is never substituted for it.

- Hourly energy: each metered site's facility energy (IT-load meters x PUE), split into UTC hours.
- Location-based: the site's zone (``sites[].intensity_zone``, default its grid zone) in the intensity file,
  direct (generation) intensities only. Hours without one are priced with the annual factor, flagged.
- Market-based: hourly certificates (``certificates[].hourly``) that pass the same quality checks as annually
  (market, vintage, retired), matched against consumption in each hour; the unmatched rest takes the residual
  mix, else the grid-average annual factor (flagged), as in the annual hierarchy.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config
from pipeline.emissions import hourly
from pipeline.emissions.factors import location_factor, residual_mix_factor
from pipeline.emissions.market_based import check_certificate
from pipeline.period import PeriodBounds


def site_hourly_energy(meter_rows: dict[str, pd.DataFrame], bounds: PeriodBounds) -> pd.DataFrame:
    """site_id, hour_start_utc, energy_kwh (facility) from each site's meter rows (``meters.meter_months``)."""
    parts = []
    for site_id, m in sorted(meter_rows.items()):
        if m is None or m.empty:
            continue
        iv = m[["interval_start_utc", "interval_end_utc", "facility_kwh"]].assign(site_id=site_id)
        parts.append(hourly.to_hours(iv, start_col="interval_start_utc", end_col="interval_end_utc",
                                     energy_col="facility_kwh", keys=["site_id"]))
    if not parts:
        return pd.DataFrame(columns=["site_id", hourly.HOUR_COL, "energy_kwh"])
    e = pd.concat(parts, ignore_index=True)
    inside = (e[hourly.HOUR_COL] >= bounds.start_utc) & (e[hourly.HOUR_COL] < bounds.end_utc)
    return e[inside].reset_index(drop=True)


def _in_period(frame: pd.DataFrame, bounds: PeriodBounds) -> pd.DataFrame:
    h = frame[hourly.HOUR_COL]
    return frame[(h >= bounds.start_utc) & (h < bounds.end_utc)]


def hourly_scope2(cfg: Config, lib, energy_h: pd.DataFrame, intensity: pd.DataFrame | None,
                  instrument_h: pd.DataFrame | None, annual_mb_kg: dict[str, float], bounds: PeriodBounds) -> dict:
    """The hourly comparison block of summary.json (empty dict when there is nothing hourly to compute)."""
    year = cfg.period.end.year
    report: dict = {}
    if energy_h.empty:
        return report
    sites = {s.id: s for s in cfg.sites if s.id in set(energy_h["site_id"])}
    zone_of = {sid: (s.intensity_zone or s.grid_zone) for sid, s in sites.items()}
    annual_lb = {}
    for sid, s in sites.items():
        choice = location_factor(s.grid_zone, year, lib.grid, cfg.factor_overrides)
        annual_lb[sid] = choice.kg_per_kwh if choice else None

    if intensity is not None and len(intensity):
        loc = hourly.hourly_location(energy_h, _in_period(intensity, bounds), zone_of=zone_of)
        by_zone = {zone_of[sid].upper(): f for sid, f in annual_lb.items() if f is not None}
        cmp = hourly.compare_annual(loc, annual_kg_per_kwh=by_zone, month_zone=cfg.entity.timezone)
        annual = float(cmp["annual_emissions_kg_co2e"].sum())
        hourly_kg = float(cmp["hourly_emissions_kg_co2e"].sum())
        report["location_based"] = {
            "months": cmp.to_dict("records"),
            "energy_mwh": float(cmp["energy_kwh"].sum()) / 1000.0,
            "mwh_without_hourly_intensity": float(cmp["kwh_without_hourly_intensity"].sum()) / 1000.0,
            "annual_factor_tco2e": annual / 1000.0, "hourly_tco2e": hourly_kg / 1000.0,
            "difference_tco2e": (hourly_kg - annual) / 1000.0,
            "difference_pct": ((hourly_kg - annual) / annual) if annual else None,
        }

    if instrument_h is not None and len(instrument_h):
        instruments_of, rates, rejected = {}, {}, []
        for c in cfg.contracts:
            site = cfg.site(c.site) if c.site else None
            if site is None or site.id not in sites:
                continue
            for cert in c.certificates:
                if not cert.hourly:
                    continue
                reason = check_certificate(cert, site, year)
                if reason:
                    rejected.append({"instrument": cert.id, "site": site.id, "reason": reason})
                    continue
                instruments_of.setdefault(site.id, []).append(cert.id)
                rates[cert.id] = cert.factor_kg_per_kwh
        if instruments_of:
            e = energy_h[energy_h["site_id"].isin(instruments_of)]
            residual = {}
            for sid in instruments_of:
                rm = residual_mix_factor(sites[sid].grid_zone, year, lib.residual, cfg.factor_overrides)
                residual[sid] = rm.kg_per_kwh if rm else None
            ids = {i for v in instruments_of.values() for i in v}
            gen = _in_period(instrument_h[instrument_h["instrument_id"].isin(ids)], bounds)
            m = hourly.hourly_market(e, gen, instruments_of=instruments_of, residual_kg_per_kwh=residual,
                                     fallback_kg_per_kwh={s: f for s, f in annual_lb.items() if f is not None},
                                     instrument_kg_per_kwh=rates)
            site_rows = m.sites.to_dict("records")
            for r in site_rows:
                r["annual_market_based_kg_co2e"] = annual_mb_kg.get(str(r["site_id"]))
            report["market_based"] = {"sites": site_rows, "instruments": m.instruments.to_dict("records"),
                                      "rejected": rejected, "cfe_score": m.cfe_score}
        elif rejected:
            report["market_based"] = {"sites": [], "instruments": [], "rejected": rejected, "cfe_score": None}
    return report
