"""Embodied emissions of cloud hardware (optional, per contract ``embodied_emissions: true``): the Scope 3
Cat. 1 share of manufacturing the servers the company's instances ran on, by the SCI method:

    M = TE x (TR / EL) x (RR / TR)
    TE  host embodied kg CO2e (Cloud Carbon Footprint's coefficients, evidence/hardware/embodied.csv)
    TR  hours the instance ran;  EL  expected server lifespan (evidence constant, 4 years)
    RR / TR  the instance's share of the host = its vCPUs / the host's vCPUs. AWS: vCPUs from the size name
             (xlarge = 4 vCPUs, Nxlarge = 4N, large = 2), the host being the family's largest size in CCF's
             list; other providers: the largest size of the family in the hardware catalogue.

Reported separately from operational emissions and NOT added to the E1-6 totals: the providers' own Cat. 1
figures may already contain it, and the coefficients are coarse. Instance types without a coefficient are
counted in the coverage figure, never priced silently.
"""

from __future__ import annotations

import pandas as pd

from pipeline.energy.cloud import family_of
from pipeline.evidence import EvidenceLibrary


def embodied_kg(est: pd.DataFrame, lib: EvidenceLibrary, enabled_contracts: set[str]) -> dict:
    rows = est[(est["usage_kind"] == "instance_hours") & est["energy_kwh"].notna()
               & est["contract_id"].isin(enabled_contracts)]
    if rows.empty:
        return {}
    te = {(r["provider"], r["instance_type"]): float(r["host_embodied_kg_co2e"]) for r in lib.embodied.to_dict("records")}
    lifespan = lib.constant("server_expected_lifespan_hours")
    total_kg, covered_h, all_h, missing = 0.0, 0.0, 0.0, set()
    # one coefficient and host share per instance type (the benchmark found the per-row lookup at 80 % of a
    # 1 M-row run): hours are summed per type first, then multiplied once
    hours_by_type = rows.groupby([rows["provider"], rows["instance_type"].astype(str)], sort=True)["usage_amount"].sum()
    for (provider, instance_type), hours in hours_by_type.items():
        hours = float(hours)
        all_h += hours
        share = host_share(lib, provider, instance_type)
        key = (provider, instance_type)
        if key not in te or share is None:
            missing.add(f"{provider}/{instance_type}")
            continue
        total_kg += te[key] * (hours / lifespan) * share
        covered_h += hours
    return {"cloud_category_1_tco2e": total_kg / 1000.0, "included_in_totals": False,
            "instance_hours_covered_share": (covered_h / all_h) if all_h else 0.0,
            "instance_types_without_coefficient": ", ".join(sorted(missing)),
            "method": "SCI: M = TE x (TR/EL) x (RR/TR); TE from Cloud Carbon Footprint coefficients; EL = "
                      f"{lifespan:g} h; RR/TR = instance vCPUs / largest size vCPUs of the family"}


def aws_size_vcpus(size: str) -> float | None:
    """vCPUs implied by an AWS size name (the EC2 naming convention: 1 xlarge = 4 vCPUs)."""
    if size == "large":
        return 2.0
    if size == "xlarge":
        return 4.0
    if size.endswith("xlarge") and size[:-6].isdigit():
        return 4.0 * int(size[:-6])
    return None


def host_share(lib: EvidenceLibrary, provider: str, instance_type: str) -> float | None:
    fam, size = family_of(provider, instance_type)
    if provider == "aws":
        mine = aws_size_vcpus(size)
        sizes = [family_of("aws", t)[1] for p, t in zip(lib.embodied["provider"], lib.embodied["instance_type"])
                 if p == "aws" and family_of("aws", t)[0] == fam]
        host = max((v for v in map(aws_size_vcpus, sizes) if v), default=None)
        return (mine / host) if mine and host else None
    inst = lib.instances[lib.instances["provider"] == provider]
    same = inst[inst["instance_type"].map(lambda t: family_of(provider, t)[0]) == fam]
    mine = inst[inst["instance_type"] == instance_type]
    if mine.empty or same.empty:
        return None
    return float(mine["vcpus"].iloc[0]) / float(same["vcpus"].max())
