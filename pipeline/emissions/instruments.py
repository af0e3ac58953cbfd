"""Contractual instruments behind market-based Scope 2, per site (ESRS E1-6 AR 45(d)).

From the ledger's Scope 2 rows (each carries the instrument that covers it): consumption covered by each
instrument type (GO, REC, I-REC, PPA, green tariff, supplier-specific rate), by the residual mix and by the
grid-average fallback, and the share of instrument-covered consumption that is bundled (bought with the
electricity) vs unbundled (certificates bought separately). Pure: ledger + config in, records out.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config

NON_CERTIFICATE = {"supplier": "supplier-specific rate", "residual_mix": "residual mix",
                   "grid_average": "grid average (last resort)", "": "not split"}
CONTRACTUAL = ("GO", "REC", "I-REC", "PPA", "green_tariff", "supplier-specific rate")


def instrument_table(ledger: pd.DataFrame, cfg: Config) -> list[dict]:
    certs = {c.id: c for contract in cfg.contracts for c in contract.certificates}
    s2 = ledger[ledger["scope"] == "2"]
    out = []
    for site, g in s2.groupby("site_or_region", sort=True):
        total = float(g["energy_kwh"].sum())
        by_type: dict[str, float] = {}
        bundled = unbundled = 0.0
        for label, kwh in g.groupby(g["instrument"].fillna(""), sort=True)["energy_kwh"].sum().items():
            cert = certs.get(label)
            kind = cert.type if cert else NON_CERTIFICATE.get(label, label)
            by_type[kind] = by_type.get(kind, 0.0) + float(kwh)
            if cert is not None:
                if cert.bundled:
                    bundled += float(kwh)
                else:
                    unbundled += float(kwh)
            elif label == "supplier":
                bundled += float(kwh)      # a supplier's rate comes with the supply contract itself
        contractual = sum(v for k, v in by_type.items() if k in CONTRACTUAL)
        out.append({
            "site": str(site), "consumption_mwh": total / 1000.0,
            "instruments": [{"type": k, "mwh": v / 1000.0, "share_of_consumption": (v / total) if total else None}
                            for k, v in sorted(by_type.items())],
            "contractual_mwh": contractual / 1000.0,
            "contractual_share_of_consumption": (contractual / total) if total else None,
            "bundled_mwh": bundled / 1000.0, "unbundled_mwh": unbundled / 1000.0,
            "bundled_share_of_contractual": (bundled / contractual) if contractual else None,
            "unbundled_share_of_contractual": (unbundled / contractual) if contractual else None,
        })
    return out
