"""ESRS E1-5 energy mix of own operations: fossil / nuclear / renewable, in MWh and %.

All own-operations energy here is purchased electricity (Scope 2 sites). Per Scope 2 ledger row:
1. consumption covered by a renewable contractual instrument (GO, REC, I-REC, PPA, green tariff conveying
   0 kg/kWh) is renewable (source ``contractual instrument``);
2. the rest follows the generation mix of the site's grid zone (``evidence/factors/grid_mix.csv``: latest data
   year not after the reporting year, else the earliest later one; a sub-national zone without a row takes its
   country's). A zone's unallocated ``other_share`` is counted as fossil (the conservative reading); shares are
   normalised by their sum (published shares carry rounding) so the parts add up to the energy;
3. a zone with no mix row: the energy is shown as ``not determined`` - never guessed.

Caveat written in the report: with certificates claimed, the grid mix of the uncovered rest still contains the
renewable generation others claimed (a residual mix would not); no residual-mix composition is shipped, so the
renewable share can be overstated by that amount. Pure function: ledger, config and mix table in.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config
from pipeline.emissions.factors import SUBNATIONAL

RENEWABLE_INSTRUMENTS = ("GO", "REC", "I-REC", "PPA", "green_tariff")


def _mix_row(zone: str, year: int, mix: pd.DataFrame) -> dict | None:
    for z in (zone, zone[:2] if SUBNATIONAL.match(zone) else None):
        if z is None:
            continue
        rows = mix[mix["zone"] == z]
        if rows.empty:
            continue
        earlier = rows[rows["data_year"] <= year]
        pick = (earlier.sort_values("data_year").iloc[-1] if len(earlier)
                else rows.sort_values("data_year").iloc[0])
        return pick.to_dict()
    return None


def energy_mix(ledger: pd.DataFrame, cfg: Config, mix: pd.DataFrame) -> dict:
    year = cfg.period.end.year
    certs = {c.id: c for contract in cfg.contracts for c in contract.certificates}
    own = ledger[ledger["own_operations"].astype(bool) & (ledger["scope"] == "2")]
    acc = {"fossil": 0.0, "nuclear": 0.0, "renewable_instruments": 0.0, "renewable_grid": 0.0, "not_determined": 0.0}
    used, undetermined = {}, set()
    keys = [own["grid_zone"].fillna(""), own["instrument"].fillna("")]
    for (zone, instrument), kwh in own.groupby(keys, sort=True)["energy_kwh"].sum().items():
        cert = certs.get(instrument)
        if cert is not None and cert.type in RENEWABLE_INSTRUMENTS and cert.factor_kg_per_kwh == 0:
            acc["renewable_instruments"] += kwh
            continue
        row = _mix_row(zone, year, mix) if zone else None
        if row is None:
            acc["not_determined"] += kwh
            undetermined.add(zone or "(none)")
            continue
        used[row["mix_id"]] = row
        # published shares may not add to exactly 1 (rounding): normalise so the parts add up to the energy
        fossil = float(row["fossil_share"]) + float(row["other_share"] or 0.0)
        nuclear, renew = float(row["nuclear_share"]), float(row["renewable_share"])
        norm = fossil + nuclear + renew
        acc["fossil"] += kwh * fossil / norm
        acc["nuclear"] += kwh * nuclear / norm
        acc["renewable_grid"] += kwh * renew / norm
    total = sum(acc.values())
    mwh = {k: v / 1000.0 for k, v in acc.items()}
    renewable = mwh["renewable_instruments"] + mwh["renewable_grid"]
    share = (lambda v: v / (total / 1000.0)) if total else (lambda v: None)
    return {
        "total_mwh": total / 1000.0,
        "fossil_mwh": mwh["fossil"], "nuclear_mwh": mwh["nuclear"], "renewable_mwh": renewable,
        "renewable_from_instruments_mwh": mwh["renewable_instruments"], "renewable_from_grid_mix_mwh": mwh["renewable_grid"],
        "not_determined_mwh": mwh["not_determined"],
        "fossil_share": share(mwh["fossil"]), "nuclear_share": share(mwh["nuclear"]),
        "renewable_share": share(renewable), "not_determined_share": share(mwh["not_determined"]),
        "zones_without_mix": sorted(undetermined),
        "mix_rows": [{k: r[k] for k in ("mix_id", "zone", "data_year", "fossil_share", "nuclear_share",
                                         "renewable_share", "other_share", "source", "licence")}
                     for _, r in sorted(used.items())],
    }
