"""Market-based Scope 2: contractual instruments applied to a site's consumption (GHG Protocol Scope 2 Guidance ch. 7).

Hierarchy, per site over the reporting period:
1. Energy attribute certificates / PPAs on the contract that meet the quality criteria checked here:
   same market as the site's grid zone, vintage year = the reporting year, retired / cancelled.
   Rejected instruments are listed with the reason and cover nothing.
2. Supplier-specific emission rate from the contract, for consumption not covered by (1).
3. Residual mix of the grid zone (user-supplied where the publisher's licence does not allow shipping it).
4. Grid average (the location-based factor) only as the stated last resort, flagged ``mb_grid_average_fallback``.

Coverage is applied pro rata to every month / phase slice of the site, so the market-based figure per
slice is reproducible as energy x factor. Certificates beyond the period's consumption are not carried.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Certificate, Contract, Site


@dataclass(frozen=True)
class Instrument:
    key: str              # instrument label on the ledger
    factor_row: dict      # factor table row (basis certificate / supplier)
    share: float          # share of the site's consumption it covers


def check_certificate(cert: Certificate, site: Site, year: int) -> str | None:
    """Reason the certificate fails the quality criteria, or None when it qualifies."""
    if cert.market.upper() != site.grid_zone.upper():
        return f"market {cert.market} differs from the site's grid zone {site.grid_zone}"
    if cert.vintage_year != year:
        return f"vintage {cert.vintage_year} does not match the reporting year {year}"
    if not cert.retired:
        return "not retired / cancelled on the company's behalf"
    return None


def certificate_row(cert: Certificate) -> dict:
    return {"factor_id": f"eac-{cert.id}", "zone": cert.market, "zone_name": cert.market, "basis": "certificate",
            "value": cert.factor_kg_per_kwh, "unit": "kgCO2e/kWh", "value_kg_per_kwh": cert.factor_kg_per_kwh,
            "boundary": "contractual", "source": f"{cert.type} {cert.id} ({cert.mwh:g} MWh, "
                                                 f"{'bundled' if cert.bundled else 'unbundled'})",
            "edition": "", "data_year": cert.vintage_year, "licence": "", "retrieval_date": "", "url": "",
            "note": "contract certificate (config)"}


def supplier_row(contract: Contract, zone: str, year: int) -> dict:
    return {"factor_id": f"supplier-{contract.id}", "zone": zone, "zone_name": zone, "basis": "supplier",
            "value": contract.supplier_factor_kg_per_kwh, "unit": "kgCO2e/kWh",
            "value_kg_per_kwh": contract.supplier_factor_kg_per_kwh, "boundary": "contractual",
            "source": contract.supplier_factor_source, "edition": "", "data_year": year, "licence": "",
            "retrieval_date": "", "url": "", "note": "supplier-specific rate (config)"}


def apply_certificates(contract: Contract, site: Site, year: int, consumption_kwh: float,
                       claimed: dict[str, str] | None = None) -> tuple[list[Instrument], list[dict]]:
    """Returns (qualifying instruments with their share of consumption, decision rows for every certificate).

    ``claimed`` (certificate id -> contract that claimed it) is shared across the run's contracts: an
    instrument is claimed once; a second claim of the same id is rejected (double claiming)."""
    accepted, decisions = [], []
    claimed = {} if claimed is None else claimed
    for cert in contract.certificates:
        reason = check_certificate(cert, site, year)
        if reason is None and cert.id in claimed:
            reason = f"already claimed by contract {claimed[cert.id]} (an instrument is claimed once)"
        if reason is None:
            claimed[cert.id] = contract.id
        decisions.append({"site_id": site.id, "contract_id": contract.id, "instrument": cert.id, "type": cert.type,
                          "mwh": cert.mwh, "market": cert.market, "vintage_year": cert.vintage_year,
                          "bundled": cert.bundled, "accepted": reason is None, "reason": reason or "meets the criteria checked",
                          "applied_mwh": 0.0})
        if reason is None:
            accepted.append((cert, len(decisions) - 1))
    total_kwh = sum(c.mwh * 1000.0 for c, _ in accepted)
    if consumption_kwh <= 0 or total_kwh <= 0:
        return [], decisions
    cover = min(1.0, total_kwh / consumption_kwh)
    instruments = []
    for cert, i in accepted:
        share = cover * (cert.mwh * 1000.0) / total_kwh
        decisions[i]["applied_mwh"] = share * consumption_kwh / 1000.0
        instruments.append(Instrument(cert.id, certificate_row(cert), share))
    return instruments, decisions
