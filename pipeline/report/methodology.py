"""Methodology and assumptions text (ESRS 2 BP-2, E1-6 methodology datapoint), specific to this run.

Every paragraph states a method and the parameters the run actually used, so the text in the PDF, the
XLSX "About" sheet and methodology.md in the pack never drifts from the calculation.
"""

from __future__ import annotations


def methodology(d, lib) -> list[tuple[str, str]]:  # d: Disclosure, lib: EvidenceLibrary
    cfg = d.config
    p = cfg.period
    out = [
        ("Boundary and period",
         f"Consolidation approach: {cfg.entity.consolidation_approach.replace('_', ' ')}. Reporting period "
         f"{p.start.isoformat()} to {p.end.isoformat()} (end date inclusive), days counted in {cfg.entity.timezone}; "
         "months are calendar months in that zone. A billing row belongs to the period when its charge period "
         "starts inside it; meter intervals by their start; jobs are split by time at month and period edges."),
        ("Classification",
         "Each contract is classified from its metadata and the consolidation approach by a decision table "
         "(GHG Protocol Corporate Standard, Scope 2 Guidance, Scope 3 Technical Guidance ch. 1 and 8). Public cloud "
         "usage is Scope 3 Category 1 (cloud computing and data centre services); colocation where the company "
         "contracts or is metered for electricity is Scope 2 under operational control; the rule that fired is "
         "recorded on every ledger row."),
        ("Site energy (metered)",
         "Own and colocation sites use interval meter readings. IT-load meters are multiplied by the site's PUE "
         "(stated per site) to give facility energy. Slurm jobs attribute the metered energy to phases and "
         "projects: each job's key is its measured node energy (sacct ConsumedEnergyRaw) where present, otherwise "
         "GPU-hours x accelerator board power (an upper bound). Keys are capped at the meter; energy that jobs "
         "do not explain is reported as 'unallocated' (idle and overhead), never spread over the jobs."),
        ("Cloud energy (estimated, value chain)",
         f"Instance-hour rows of known instance types are estimated with a linear power model (Cloud Carbon "
         f"Footprint's coefficients): accelerators and vCPUs at min + u x (max - min) W, memory at "
         f"{lib.constant('memory_kwh_per_gb_hour')} kWh per GiB-hour, times the provider's PUE. Utilisation u "
         f"defaults to {lib.constant('default_utilisation'):g} unless the contract states it. These are value-chain "
         "estimates with high uncertainty (ESRS 2 BP-2); rows that cannot be estimated (non-usage charges, storage, "
         "network, unknown instance types) are listed with their spend in the data-quality section."),
        ("Emission factors",
         "Location-based: the grid zone's factor with the latest data year not after the reporting year "
         "(user overrides first, with their citation); generation-boundary factors are preferred, and a lifecycle "
         "factor used for Scope 2 is flagged. Market-based Scope 2: certificates that match the site's market, the "
         "reporting year's vintage and are retired cover consumption pro rata at their stated rate; the rest takes "
         "the supplier-specific rate, else the residual mix, else the grid average as a stated last resort. "
         "Scope 3 categories carry one figure, computed with location-based factors."),
        ("What is not netted",
         "Both Scope 2 figures are disclosed, and both totals (ESRS E1-6 para 52). Projected savings, expected "
         "reductions and avoided emissions are never subtracted from these gross figures."),
        ("Precision",
         "Calculations use unrounded floating-point values; tCO2e and MWh are rounded to 3 decimals only for "
         "presentation. Every figure is re-performable from the ledger (energy x factor) in the XLSX."),
    ]
    return out
