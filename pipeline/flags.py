"""Default and fallback flags carried on ledger rows (``defaults_used``), with what each one means.

A flag marks a figure that rests on an assumption or a fallback rather than on the inputs alone. Aggregation
ORs them, so "this total rests on an assumption" survives into the report (ESRS 2 BP-2).
"""

from __future__ import annotations

import pandas as pd

MEANINGS = {
    "utilisation_default": "Cloud utilisation assumed at the default (not measured, not stated in the contract)",
    "pue_provider_default": "Cloud PUE taken from the provider's published average (not region-specific)",
    "power_model_ccf_linear": "Cloud energy estimated with the linear min/max power model (Cloud Carbon Footprint coefficients)",
    "factor_year_before_period": "Factor's data year is earlier than the reporting year (latest published)",
    "factor_year_after_period": "Only a factor for a later year than the reporting year exists; it was used",
    "factor_user_override": "Factor supplied by the user in the config (factor_overrides), with its citation",
    "lifecycle_factor_for_scope2": "Scope 2 used a lifecycle factor (includes upstream emissions) - no generation factor exists",
    "mb_grid_average_fallback": "Market-based: no instrument, supplier rate or residual mix - grid average used as last resort",
    "job_energy_board_power": "Job's share of the site meter keyed on GPU-hours x board power (no measured job energy)",
    "job_gpu_model_unknown": "Job's GPU model is not in the hardware catalogue: it could not take a share of the meter",
    "job_end_unknown_clipped_to_period_end": "Job still running (End=Unknown): counted up to the period end",
    "job_keys_scaled_to_meter": "Job keys exceeded the metered energy and were scaled down to it",
    "site_energy_from_job_estimates": "No meter for the site: energy is the jobs' estimate x PUE",
    "job_energy_gpu_telemetry": "Job's share of the site meter keyed on its measured GPU energy (nvidia-smi / DCGM / Kepler)",
    "meter_register_reset": "A cumulative meter register went down: read as a reset to zero (energy before the reset lost)",
    "meter_register_rollover": "A cumulative meter register rolled over at its stated maximum",
    "counter_reset": "An energy counter reset (reboot): energy since the reset counted, the part before it lost",
    "shared_host_split": "Telemetry of a node shared by several jobs split by their GPUs per node",
    "instance_type_from_family": "Instance type not in the catalogue: estimated from its family's accelerators",
    "storage_assumed_ssd": "Cloud storage energy with the SSD coefficient (storage type not in the bill)",
    "cpu_family_average": "CPU model unknown: the provider's average CPU coefficients used",
    "provider_reported_primary_data": "Provider-reported carbon (primary data) replaces the estimate for this account-month",
    "memory_above_ccf_baseline": "ccf-compatible profile: memory counted above CCF's per-processor baseline",
    "factor_national_for_subnational": "No factor for the sub-national grid zone: its country's factor used",
    "meter_gap_filled": "A meter gap was filled with the neighbouring intervals' average power (gap_fill: neighbour_average)",
    "job_energy_codecarbon": "Job's share of the site meter keyed on the GPU energy CodeCarbon measured in runs inside it",
    "job_label_not_in_jobs": "Telemetry names a job the scheduler export lacks: keyed as a job of its own",
    "shared_host_split_equal": "Telemetry of a shared node split equally (no job on it has GPUs)",
    "hourly_intensity_missing": "Hourly Scope 2: an hour without an hourly grid intensity, priced with the annual factor",
    "hourly_intensity_estimated": "Hourly Scope 2: the publisher marks the hour's grid intensity as estimated",
    "cat3_td_from_loss_rate": "Cat. 3 T&D losses from the grid loss rate x the generation factor (no published T&D factor)",
    "cat3_wtt_not_available": "Cat. 3: no well-to-tank factor for the zone - upstream of generation (3b) not included",
    "cat3_wtt_td_losses_not_available": "Cat. 3: no well-to-tank factor for the T&D losses - that part not included",
    "cat3_td_not_available": "Cat. 3: no T&D loss factor or loss rate for the zone - 3c not included",
    "cat3_included_in_lifecycle_scope2": "Cat. 3 set to 0: Scope 2 used a lifecycle factor that already holds the upstream",
}


def meaning(flag: str) -> str:
    return MEANINGS.get(flag, "")


def defaults_shares(ledger: pd.DataFrame) -> list[dict]:
    """Each flag with the ledger rows, energy and location-based tCO2e resting on it, and its share of the
    total. A row carrying two flags counts toward both, so shares need not add up to 100 %."""
    total_kg = float(ledger["emissions_lb_kg_co2e"].sum())
    acc: dict[str, list[float]] = {}
    for raw, kg, kwh in zip(ledger["defaults_used"], ledger["emissions_lb_kg_co2e"], ledger["energy_kwh"]):
        for flag in sorted({f for f in str(raw or "").split(";") if f and f != "<NA>"}):
            slot = acc.setdefault(flag, [0, 0.0, 0.0])
            slot[0] += 1
            slot[1] += float(kwh)
            slot[2] += float(kg)
    return [{"flag": f, "meaning": meaning(f), "ledger_rows": n, "energy_mwh": kwh / 1000.0,
             "tco2e_location_based": kg / 1000.0, "share_of_total_location_based": (kg / total_kg) if total_kg else 0.0}
            for f, (n, kwh, kg) in sorted(acc.items())]
