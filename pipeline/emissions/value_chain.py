"""Scope 3 Categories 2 and 3 as ledger rows, so they re-perform like every other figure (quantity x factor).

- Category 3 (``upstream.category3``): one row per Scope 2 slice (contract, site, zone, month, phase, project),
  instrument splits summed back: quantity = the slice's Scope 2 kWh, factor = the zone's combined upstream
  factor (kg CO2e per kWh consumed; a pseudo factor row ``cat3-<zone>`` lists the component factors it sums).
  energy_kwh is 0: the electricity is already in E1-5 through its Scope 2 row and must not be counted twice.
  Category 3 is one figure (grid averages): its location- and market-based columns are equal.
- Category 2 (``capital_goods.category2``): one row per asset acquired in the period: quantity = units,
  factor = the register's kg CO2e per unit (pseudo factor row ``asset-<asset_id>`` citing ``factor_source``).
"""

from __future__ import annotations

import pandas as pd

from pipeline.canonical import or_flags
from pipeline.emissions.capital_goods import Category2
from pipeline.emissions.upstream import Category3
from pipeline.evidence import FACTOR_COLUMNS

CAT3_KEYS = ["month", "contract_id", "contract_kind", "provider", "account_id", "site_or_region", "grid_zone",
             "phase", "phase_rule", "project", "energy_basis"]
RULE_CAT3 = "S3-3-upstream-of-scope2-electricity"
RULE_CAT2 = "S3-2-capital-goods-acquired-in-period"
_COMPONENT_IDS = ("factor_id_td_losses", "factor_id_wtt_generation", "factor_id_wtt_td_losses",
                  "factor_id_upstream_combined", "factor_id_td_loss_rate", "factor_id_generation")


def scope2_electricity(ledger: pd.DataFrame) -> pd.DataFrame:
    """Scope 2 kWh per slice (market-based instrument splits summed), the input of Category 3."""
    s2 = ledger[ledger["scope"] == "2"].copy()
    for c in CAT3_KEYS:
        s2[c] = s2[c].fillna("") if s2[c].dtype != bool else s2[c]
    g = s2.groupby(CAT3_KEYS, sort=True, dropna=False).agg(
        energy_kwh=("energy_kwh", "sum"), defaults_used=("defaults_used", or_flags),
        source_file=("source_file", lambda x: ";".join(sorted({f for v in x for f in str(v).split(";") if f}))),
        source_rows=("activity_id", lambda x: "ledger " + ",".join(x)))
    return g.reset_index()


def lifecycle_zones(ledger: pd.DataFrame) -> set[str]:
    s2 = ledger[ledger["scope"] == "2"]
    hit = s2["defaults_used"].fillna("").str.contains("lifecycle_factor_for_scope2", regex=False)
    return set(s2.loc[hit, "grid_zone"].dropna().astype(str))


def _cat3_factor(zone: str, rows: pd.DataFrame) -> dict:
    first = rows.iloc[0]
    ids = [str(first[c]) for c in _COMPONENT_IDS if isinstance(first[c], str) and first[c]]
    years = sorted({int(y) for y in rows.get("data_year", pd.Series(dtype=float)).dropna()}) if "data_year" in rows else []
    return {"factor_id": f"cat3-{zone}", "zone": zone, "zone_name": zone, "basis": "upstream",
            "value": float(first["cat3_kg_per_kwh"]), "unit": "kgCO2e/kWh consumed",
            "value_kg_per_kwh": float(first["cat3_kg_per_kwh"]), "boundary": "upstream",
            "source": "Category 3 factor of the zone, method " + str(first["cat3_method"])
                      + (": sum of " + ", ".join(ids) if ids else ""),
            "edition": "computed (pipeline.emissions.upstream)", "data_year": years[-1] if years else "",
            "licence": "see the component rows", "retrieval_date": "", "url": "",
            "note": "flags: " + (str(first["cat3_flags"]) or "none")}


def category3_ledger_rows(cat3: Category3) -> tuple[pd.DataFrame, list[dict]]:
    rows = cat3.rows
    if rows.empty:
        return pd.DataFrame(), []
    factors = [_cat3_factor(z, g) for z, g in rows.groupby("grid_zone", sort=True)]
    for f in cat3.factors.to_dict("records"):
        comp = f.pop("component", "")
        f["note"] = f"Cat. 3 component {comp}; " + str(f.get("note") or "")
        factors.append({c: f.get(c, "") for c in FACTOR_COLUMNS})
    out = rows.copy()
    out["quantity"] = out["energy_kwh"]
    out["quantity_unit"] = "kWh (Scope 2 electricity)"
    out["energy_kwh"] = 0.0
    out["scope"], out["category"], out["rule_id"] = "3", "3", RULE_CAT3
    out["own_operations"] = False
    out["service"] = "Upstream of purchased electricity (WTT + T&D losses)"
    out["instance_type"], out["cost"], out["cost_currency"], out["instrument"] = "", 0.0, "", ""
    out["factor_id_lb"] = out["factor_id_mb"] = "cat3-" + out["grid_zone"].astype(str)
    out["factor_lb_kg_per_kwh"] = out["factor_mb_kg_per_kwh"] = out["cat3_kg_per_kwh"]
    out["emissions_lb_kg_co2e"] = out["emissions_mb_kg_co2e"] = out["quantity"] * out["cat3_kg_per_kwh"]
    out["defaults_used"] = [or_flags([a, b]) for a, b in zip(out["defaults_used"], out["cat3_flags"])]
    return out, factors


def category2_ledger_rows(cat2: Category2, month_of_date, site_contract: dict[str, str]) -> tuple[pd.DataFrame, list[dict]]:
    rows = cat2.rows
    if rows.empty:
        return pd.DataFrame(), []
    out = pd.DataFrame({
        "month": [month_of_date(d) for d in rows["acquisition_date"]],
        "contract_id": [site_contract.get(s, "") if isinstance(s, str) else "" for s in rows["site_id"]],
        "contract_kind": "asset_register", "provider": "", "account_id": "",
        "site_or_region": rows["site_id"].fillna(""), "grid_zone": "",
        "service": "Capital goods: " + rows["asset_class"].astype(str) + " - " + rows["description"].fillna("").astype(str),
        "instance_type": rows["accelerator_model"].fillna(""), "phase": "unallocated", "phase_rule": "", "project": "",
        "scope": "3", "category": "2", "rule_id": RULE_CAT2, "own_operations": False,
        "energy_kwh": 0.0, "energy_basis": "estimated", "defaults_used": "", "cost": 0.0, "cost_currency": "",
        "instrument": "", "quantity": rows["quantity"], "quantity_unit": "units",
        "factor_id_lb": "asset-" + rows["asset_id"].astype(str),
        "factor_lb_kg_per_kwh": rows["embodied_kg_co2e_per_unit"],
        "source_file": rows["source_file"], "source_rows": rows["source_row"].astype(str),
    })
    out["factor_id_mb"] = out["factor_id_lb"]
    out["factor_mb_kg_per_kwh"] = out["factor_lb_kg_per_kwh"]
    out["emissions_lb_kg_co2e"] = out["emissions_mb_kg_co2e"] = out["quantity"] * out["factor_lb_kg_per_kwh"]
    factors = [{"factor_id": f"asset-{r.asset_id}", "zone": "", "zone_name": "", "basis": "embodied",
                "value": float(r.embodied_kg_co2e_per_unit), "unit": "kgCO2e/unit",
                "value_kg_per_kwh": float(r.embodied_kg_co2e_per_unit), "boundary": "cradle-to-gate",
                "source": str(r.factor_source), "edition": "asset register", "data_year": r.acquisition_date.year,
                "licence": "user-supplied", "retrieval_date": "", "url": "",
                "note": f"{r.asset_class} {r.description}"} for r in rows.itertuples(index=False)]
    return out, factors
