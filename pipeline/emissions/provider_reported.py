"""Provider-reported carbon (primary data) for cloud accounts, and its reconciliation with our estimate.

When a provider's carbon export has a figure for an account and month, that figure becomes the reported
Scope 3 Cat. 1 emissions of that account-month (supplier-specific primary data). Our estimate is still
computed and shown beside it (per provider x account x region x month: reported, estimated, difference).

How the reported figure enters the ledger, so every row stays "quantity x factor = emissions":
- the account-month's estimated rows keep their energy, but their quantity becomes their share of the
  reported kg CO2e (shares = our estimated emissions per row), unit ``kgCO2e``, and both factors become the
  provider-reported pseudo-factor of 1.0 kg/kg (id ``provider-reported-<provider>``); flag
  ``provider_reported_primary_data``;
- a reported account-month with no estimated emissions (e.g. only storage rows) gets one row of its own
  (phase ``unallocated``, energy 0).
Which basis is used is the contract's ``provider_carbon_basis`` (market by default: the provider's own
instruments are part of the supplier-specific figure); if that basis is missing in the export the other is
used and flagged ``provider_carbon_other_basis``.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config

FLAG = "provider_reported_primary_data"


def _norm_region(r: object) -> str:
    return str(r).lower().replace(" ", "").replace("_", "") if isinstance(r, str) else ""


def pseudo_factor(provider: str) -> dict:
    return {"factor_id": f"provider-reported-{provider}", "zone": "", "zone_name": "", "basis": "provider_reported",
            "value": 1.0, "unit": "kgCO2e per kgCO2e reported", "value_kg_per_kwh": 1.0,
            "boundary": "supplier-specific", "source": f"{provider} customer carbon export (input file, see Inputs)",
            "edition": "", "data_year": "", "licence": "", "retrieval_date": "", "url": "",
            "note": "primary data: the reported kg CO2e enters the ledger as the quantity"}


def reported_figures(carbon: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Chosen figure per carbon row (kg) with the basis used and a flag when it fell back."""
    rows = []
    for r in carbon.to_dict("records"):
        basis = cfg.contract(r["contract_id"]).provider_carbon_basis
        first, second = (("market_based_kg_co2e", "location_based_kg_co2e") if basis == "market"
                         else ("location_based_kg_co2e", "market_based_kg_co2e"))
        value, flag = r[first], ""
        if pd.isna(value):
            value, flag = r[second], "provider_carbon_other_basis"
        rows.append({**r, "reported_kg": float(value), "basis_used": basis if not flag else
                     ("location" if basis == "market" else "market"), "flag": flag})
    return pd.DataFrame(rows)


def apply(ledger: pd.DataFrame, carbon: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, list[dict], pd.DataFrame, dict]:
    """Returns (ledger with primary data applied, pseudo-factor rows, reconciliation table, summary block)."""
    if carbon.empty:
        return ledger, [], pd.DataFrame(), {"reported_tco2e": 0.0, "share_of_scope3": 0.0}
    rep = reported_figures(carbon, cfg)
    rep["account_id"] = rep["account_id"].fillna("")
    led = ledger.copy()
    cloud = (led["contract_kind"] == "cloud") & (led["scope"] == "3")
    factors, new_rows = {}, []
    for (cid, acct, month), grp in rep.groupby(["contract_id", "account_id", "month"], sort=True):
        provider = str(grp["provider"].iloc[0])
        total = float(grp["reported_kg"].sum())
        extra_flags = ";".join(sorted({f for f in grp["flag"] if f}))
        factors[provider] = pseudo_factor(provider)
        fid = f"provider-reported-{provider}"
        mask = cloud & (led["contract_id"] == cid) & (led["account_id"].fillna("") == acct) & (led["month"] == month)
        est = led.loc[mask, "emissions_lb_kg_co2e"]
        if mask.any() and est.sum() > 0:
            shares = est / est.sum()
            led.loc[mask, "quantity"] = shares * total
        else:
            rec = {c: None for c in led.columns}
            rec.update({"month": month, "contract_id": cid, "contract_kind": "cloud", "provider": provider,
                        "account_id": acct, "site_or_region": "(provider-reported)", "grid_zone": "",
                        "service": "(provider-reported, no estimated usage)", "instance_type": "",
                        "phase": "unallocated", "project": "", "scope": "3",
                        "category": led.loc[cloud, "category"].iloc[0] if cloud.any() else "1",
                        "rule_id": "S3-1-cloud", "own_operations": False, "energy_kwh": 0.0,
                        "energy_basis": "estimated", "defaults_used": "", "cost": 0.0, "cost_currency": "",
                        "instrument": "", "quantity": total, "source_file": ";".join(sorted(set(grp["source_file"]))),
                        "source_rows": ",".join(str(int(x)) for x in sorted(grp["source_row"]))})
            new_rows.append(rec)
            mask = None
        target = led.index[mask] if mask is not None else None
        if target is not None:
            led.loc[target, "quantity_unit"] = "kgCO2e"
            led.loc[target, ["factor_id_lb", "factor_id_mb"]] = fid
            led.loc[target, ["factor_lb_kg_per_kwh", "factor_mb_kg_per_kwh"]] = 1.0
            led.loc[target, "defaults_used"] = [
                ";".join(sorted({*(str(x).split(";") if isinstance(x, str) and x else []), FLAG,
                                 *([extra_flags] if extra_flags else [])})) for x in led.loc[target, "defaults_used"]]
    if new_rows:
        add = pd.DataFrame(new_rows)
        add["quantity_unit"] = "kgCO2e"
        for p in add["provider"].unique():
            m = add["provider"] == p
            add.loc[m, ["factor_id_lb", "factor_id_mb"]] = f"provider-reported-{p}"
        add[["factor_lb_kg_per_kwh", "factor_mb_kg_per_kwh"]] = 1.0
        add["defaults_used"] = FLAG
        led = pd.concat([led, add.astype(led.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    led["emissions_lb_kg_co2e"] = led["quantity"] * led["factor_lb_kg_per_kwh"]
    led["emissions_mb_kg_co2e"] = led["quantity"] * led["factor_mb_kg_per_kwh"]

    recon = reconciliation(ledger, rep)
    s3 = float(led.loc[led["scope"] == "3", "emissions_lb_kg_co2e"].sum())
    used = float(rep["reported_kg"].sum())
    block = {"reported_tco2e": used / 1000.0, "share_of_scope3": (used / s3) if s3 else 0.0}
    return led, list(factors.values()), recon, block


def reconciliation(ledger: pd.DataFrame, rep: pd.DataFrame) -> pd.DataFrame:
    """Reported vs our estimate per provider x account x region x month (estimate = location-based kg)."""
    est = ledger[(ledger["contract_kind"] == "cloud") & (ledger["scope"] == "3")].copy()
    est["region_key"] = est["site_or_region"].map(_norm_region)
    est["account_id"] = est["account_id"].fillna("")
    e = est.groupby(["provider", "account_id", "region_key", "month"], sort=True).agg(
        estimated_kg_co2e=("emissions_lb_kg_co2e", "sum"), estimated_kwh=("energy_kwh", "sum"),
        region=("site_or_region", "first")).reset_index()
    r = rep.assign(region_key=rep["region"].map(_norm_region)).groupby(
        ["provider", "account_id", "region_key", "month"], sort=True).agg(
        reported_location_based_kg=("location_based_kg_co2e", lambda x: float(x.sum(min_count=1)) if x.notna().any() else float("nan")),
        reported_market_based_kg=("market_based_kg_co2e", lambda x: float(x.sum(min_count=1)) if x.notna().any() else float("nan")),
        reported_used_kg=("reported_kg", "sum"), reported_region=("region", "first"),
        model_version=("model_version", lambda x: ";".join(sorted({str(v) for v in x if isinstance(v, str)})))).reset_index()
    m = e.merge(r, on=["provider", "account_id", "region_key", "month"], how="outer")
    m["region"] = m["region"].fillna(m["reported_region"])
    # our estimate is location-based: compare it with the provider's location-based figure where there is one
    base = m["reported_location_based_kg"].where(m["reported_location_based_kg"].notna(), m["reported_used_kg"])
    m["estimate_vs_reported_lb_pct"] = (m["estimated_kg_co2e"] - base) / base * 100.0
    cols = ["provider", "account_id", "region", "month", "reported_location_based_kg", "reported_market_based_kg",
            "reported_used_kg", "estimated_kg_co2e", "estimated_kwh", "estimate_vs_reported_lb_pct", "model_version"]
    return m[cols].sort_values(["provider", "account_id", "month", "region"], na_position="last").reset_index(drop=True)
