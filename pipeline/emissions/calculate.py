"""Emissions: activity slices x factors -> the activity ledger (one row = energy x one LB and one MB factor).

Location-based: every slice takes its grid zone's factor (``factors.location_factor``).
Market-based (Scope 2 only): the site's slices are split by instrument (``market_based``); uncovered
consumption takes the supplier rate, else the residual mix, else the grid average (flagged).
Scope 3 rows carry one figure: the market-based columns equal the location-based ones.
Pure functions: no files, no logging; every fallback is a flag on the row.
"""

from __future__ import annotations

import pandas as pd

from pipeline.canonical import ACTIVITY, conform, or_flags
from pipeline.config import Config
from pipeline.emissions.factors import location_factor, residual_mix_factor
from pipeline.emissions.market_based import apply_certificates, supplier_row
from pipeline.errors import ValidationFailed
from pipeline.evidence import FACTOR_COLUMNS, EvidenceLibrary


def _add_flags(existing: str, *new: str) -> str:
    return or_flags([existing, ";".join(n for n in new if n)])


def apply_factors(slices: pd.DataFrame, cfg: Config, lib: EvidenceLibrary
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """slices: activity columns without factor/emission columns. Returns (ledger, factors used, instrument decisions)."""
    year = cfg.period.end.year
    used: dict[str, dict] = {}
    rows, instrument_decisions, missing = [], [], []
    claimed: dict[str, str] = {}

    lb_cache: dict[str, object] = {}
    for zone in sorted(slices["grid_zone"].dropna().unique()):
        choice = location_factor(zone, year, lib.grid, cfg.factor_overrides)
        if choice is None:
            missing.append(zone)
        lb_cache[zone] = choice
    if missing:
        raise ValidationFailed(
            "no location-based emission factor for grid zone(s): " + ", ".join(missing),
            fix="add a factor_overrides entry (zone, basis: location, value_kg_per_kwh, source, data_year) "
                "citing a published factor, or correct the site's grid_zone / the region mapping")

    for (scope, contract_id), group in slices.groupby(["scope", "contract_id"], sort=True):
        contract = cfg.contract(contract_id)
        split: list[tuple[str, dict, float, list[str]]]  # (instrument label, factor row or None, share, flags)
        if scope == "2":
            site = cfg.site(contract.site)
            consumption = float(group["energy_kwh"].sum())
            instruments, decisions = apply_certificates(contract, site, year, consumption, claimed)
            instrument_decisions.extend(decisions)
            covered = sum(i.share for i in instruments)
            split = [(i.key, i.factor_row, i.share, []) for i in instruments]
            rest = 1.0 - covered
            if rest > 1e-12:
                if contract.supplier_factor_kg_per_kwh is not None:
                    split.append(("supplier", supplier_row(contract, site.grid_zone, year), rest, []))
                else:
                    rm = residual_mix_factor(site.grid_zone, year, lib.residual, cfg.factor_overrides)
                    if rm is not None:
                        split.append(("residual_mix", rm.row, rest, list(rm.flags)))
                    else:
                        split.append(("grid_average", None, rest, ["mb_grid_average_fallback"]))
        else:
            split = [("", None, 1.0, [])]

        for rec in group.to_dict("records"):
            lb = lb_cache[rec["grid_zone"]]
            used[lb.id] = lb.row
            lb_flags = list(lb.flags)
            if scope == "2" and lb.row["boundary"] == "lifecycle":
                lb_flags.append("lifecycle_factor_for_scope2")
            for label, mb_row, share, mb_flags in split:
                r = dict(rec)
                r["energy_kwh"] = rec["energy_kwh"] * share
                r["cost"] = rec.get("cost", 0.0) * share
                mb = mb_row if mb_row is not None else lb.row
                used[mb["factor_id"]] = mb
                r["instrument"] = label
                r["factor_id_lb"], r["factor_lb_kg_per_kwh"] = lb.id, lb.kg_per_kwh
                r["factor_id_mb"], r["factor_mb_kg_per_kwh"] = mb["factor_id"], float(mb["value_kg_per_kwh"])
                r["defaults_used"] = _add_flags(rec.get("defaults_used", ""), *lb_flags, *mb_flags)
                r["quantity"], r["quantity_unit"] = r["energy_kwh"], "kWh"
                r["emissions_lb_kg_co2e"] = r["quantity"] * r["factor_lb_kg_per_kwh"]
                r["emissions_mb_kg_co2e"] = r["quantity"] * r["factor_mb_kg_per_kwh"]
                rows.append(r)

    ledger = renumber(pd.DataFrame(rows))
    factors = pd.DataFrame([used[k] for k in sorted(used)], columns=FACTOR_COLUMNS)
    return ledger, factors, instrument_decisions


SORT = ["scope", "category", "contract_id", "account_id", "site_or_region", "month", "phase", "phase_rule", "project", "service",
        "instance_type", "instrument"]


def renumber(ledger: pd.DataFrame) -> pd.DataFrame:
    """Canonical order and activity ids (A000001...), so the same inputs always give the same ledger."""
    ledger = conform(ledger, ACTIVITY)
    ledger = ledger.sort_values(SORT, kind="stable", na_position="first").reset_index(drop=True)
    ledger["activity_id"] = [f"A{i:06d}" for i in range(1, len(ledger) + 1)]
    return ledger[list(ACTIVITY)]
