"""Canonical frames: one schema each, defined once, produced by every adapter of that family.

Units are in the column names. Every row keeps ``source_file`` and ``source_row`` (1-based line number
of the data row in the file, header = line 1) so any figure can be traced back to the rows it came from.
Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Cloud billing usage rows (FOCUS, CUR, ...)
USAGE = {
    "source_file": "string",
    "source_row": "int64",
    "line_item_id": "string",
    "provider": "string",            # normalised: aws, azure, gcp, oracle, ...
    "billing_account_id": "string",
    "account_id": "string",          # sub-account / project / subscription
    "region": "string",
    "service": "string",
    "service_category": "string",
    "charge_category": "string",     # Usage, Purchase, Tax, Credit, Adjustment
    "sku": "string",
    "instance_type": "string",       # e.g. p5.48xlarge, when the row is an instance-hour row
    "usage_start_utc": "datetime64[ns, UTC]",
    "usage_end_utc": "datetime64[ns, UTC]",
    "quantity": "float64",
    "unit": "string",
    "cost": "float64",
    "currency": "string",
    "tags_json": "string",           # normalised JSON object (keys sorted)
    "contract_id": "string",
    "energy_exclusion": "string",    # valid row that must not become energy (double counted, negation, rounding): why
    # what the row measures, normalised by the adapter so the energy model needs no format knowledge:
    #   instance_hours (instance_type set), accelerator_hours (accelerator_model set), vcpu_hours,
    #   memory_gb_hours, storage_gb_months, network_gb, other
    "usage_kind": "string",
    "usage_amount": "float64",       # in the unit the usage_kind names (hours, GB-hours, GB-months, GB)
    "accelerator_model": "string",   # hardware catalogue name, for accelerator_hours rows (e.g. A100-SXM-40GB)
}

# Scheduler jobs (Slurm sacct), one row per job allocation (steps never summed)
JOB = {
    "source_file": "string",
    "source_row": "int64",
    "job_id": "string",
    "job_name": "string",
    "account": "string",
    "partition": "string",
    "site_id": "string",
    "state": "string",
    "start_utc": "datetime64[ns, UTC]",
    "end_utc": "datetime64[ns, UTC]",
    "duration_s": "float64",
    "gpu_count": "float64",
    "gpu_model": "string",
    "gpu_hours": "float64",
    "energy_kwh": "float64",         # measured node energy (ConsumedEnergyRaw) when Slurm has it, else NaN
    "node_list": "string",           # hosts the job ran on, Slurm-compressed (gpu[001-004])
}

# GPU telemetry samples (nvidia-smi, DCGM, Kepler): one row per device per sample.
# power_w is an instantaneous gauge; energy_counter_j a cumulative counter (resets on reboot): either may be NaN.
# The text columns are categoricals of str: a file has millions of samples but a few hundred hosts, devices,
# jobs and label sets, so each row holds a small code (a day of DCGM at a 10 s step: ~90 MB instead of ~600 MB,
# and filtering rows copies codes, not text). Missing values are NaN, as in a "string" column.
POWER = {
    "source_file": "category",
    "source_row": "int64",
    "host": "category",
    "device_uuid": "category",       # physical GPU UUID (MIG instances of one GPU share it: de-duplicate by it)
    "gpu_index": "category",
    "gpu_model": "category",
    "ts_utc": "datetime64[ns, UTC]",
    "power_w": "float64",
    "energy_counter_j": "float64",
    "utilisation_pct": "float64",
    "job_id": "category",            # scheduler job (DCGM hpc_job label) when known
    "labels_json": "category",       # pod / namespace / container / other labels, sorted JSON object
}

# Meter intervals (interval energy after unit conversion)
METER = {
    "source_file": "string",
    "source_row": "int64",
    "meter_id": "string",
    "site_id": "string",
    "interval_start_utc": "datetime64[ns, UTC]",
    "interval_end_utc": "datetime64[ns, UTC]",
    "energy_kwh": "float64",
    "flags": "string",               # meter_register_reset / meter_register_rollover
}

# Provider-reported carbon (AWS CARBON_EMISSIONS, GCP Carbon Footprint, Azure emissions): primary data
PROVIDER_CARBON = {
    "source_file": "string",
    "source_row": "int64",
    "provider": "string",
    "billing_account_id": "string",  # payer / billing account / enrollment
    "account_id": "string",
    "region": "string",
    "service": "string",
    "month": "string",               # YYYY-MM (the provider's monthly figure)
    "location_based_kg_co2e": "float64",
    "market_based_kg_co2e": "float64",
    "model_version": "string",
}

# Activity ledger: what gets emissions. One row per (month, contract, site/region, service, phase,
# project, instrument) after aggregation; the ids of source rows are kept in ``source_rows``.
ACTIVITY = {
    "activity_id": "string",
    "month": "string",               # YYYY-MM in UTC
    "contract_id": "string",
    "contract_kind": "string",
    "provider": "string",
    "account_id": "string",          # cloud sub-account / project / subscription ("" for sites)
    "site_or_region": "string",
    "grid_zone": "string",
    "service": "string",
    "instance_type": "string",
    "phase": "string",               # training, fine_tuning, inference, evaluation, unallocated
    "phase_rule": "string",          # id of the phase rule that matched ("" = none matched / not a job)
    "project": "string",
    "scope": "string",               # "2" or "3"
    "category": "string",            # Scope 3 category number ("1", "8") or "" for Scope 2
    "rule_id": "string",             # classification rule that fired
    "own_operations": "bool",        # counts toward ESRS E1-5 energy
    "energy_kwh": "float64",
    "energy_basis": "string",        # metered, measured, estimated
    "defaults_used": "string",       # ';'-joined default flags
    "cost": "float64",               # billed cost in the billing currency (cost_currency)
    "cost_currency": "string",
    "instrument": "string",          # market-based instrument covering this slice (EAC id, supplier, residual, grid)
    # what the factors multiply: energy_kwh (unit kWh), or for provider-reported primary data the reported
    # kg CO2e (unit kgCO2e, factor 1.0) - so emissions = quantity x factor holds on every row
    "quantity": "float64",
    "quantity_unit": "string",
    "factor_id_lb": "string",
    "factor_lb_kg_per_kwh": "float64",
    "factor_id_mb": "string",
    "factor_mb_kg_per_kwh": "float64",
    "emissions_lb_kg_co2e": "float64",
    "emissions_mb_kg_co2e": "float64",
    "source_file": "string",
    "source_rows": "string",
}

BASIS_RANK = {"metered": 0, "measured": 1, "estimated": 2}


def empty(schema: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in schema.items()})


def conform(df: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """Order and type a frame's columns to a canonical schema (extra columns are kept after them).
    A "category" column holds str categories (never numbers: a host "001" stays "001")."""
    out = df.copy(deep=False)          # columns are replaced below, never written in place (copy-on-write)
    for col, dtype in schema.items():
        if col not in out.columns:
            missing = pd.Series(pd.NA if dtype == "string" else None, index=out.index,
                                dtype="string" if dtype == "category" else dtype)
            out[col] = text_category(missing) if dtype == "category" else missing
        elif dtype == "category":
            out[col] = text_category(out[col])
        elif str(out[col].dtype) != dtype:
            out[col] = out[col].astype(dtype)
    extra = [c for c in out.columns if c not in schema]
    return out[list(schema) + extra]


def text_category(col: pd.Series) -> pd.Series:
    """A text column as a categorical of str (categories from the text, missing values stay missing)."""
    if isinstance(col.dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in col.cat.categories):
        return col
    return col.astype("string").astype("category")


def category_from_codes(codes, table, index=None) -> pd.Series:
    """A categorical text column from integer codes into a small table of str / None (entries may repeat;
    code -1 and None entries are missing). No text is built per row."""
    where: dict[str, int] = {}
    remap = np.array([where.setdefault(str(t), len(where)) if t is not None and not pd.isna(t) else -1
                      for t in table] + [-1], dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(remap[codes], categories=pd.Index(list(where), dtype="string")),
                     index=index)


def device_time_order(dev: np.ndarray, t: np.ndarray, flag: np.ndarray | None = None) -> np.ndarray:
    """Positions by device, then time (then ``flag``, 0 before 1, when given), ties in input order, as
    ``np.lexsort``: one stable sort of a packed int64 key where it fits (near linear on samples that come device
    by device in time order), else lexsort. ``dev``, ``t`` (ns) and ``flag`` are int64 arrays, ``dev`` >= 0."""
    if len(t):
        lo = int(t.min())
        span = int(t.max()) - lo + 1
        if span * (1 if flag is None else 2) * (int(dev.max()) + 1) < 2**62:
            key = dev * np.int64(span) + (t - lo)
            return np.argsort(key if flag is None else key * 2 + flag, kind="stable")
    return np.lexsort((t, dev) if flag is None else (flag, t, dev))


def blank_missing(col: pd.Series) -> pd.Series:
    """``fillna("")`` for a text column, categorical or not ("" becomes a category when needed)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        if not col.isna().any():
            return col
        if "" not in col.cat.categories:
            col = col.cat.add_categories([""])
    return col.fillna("")


def is_currency_code(col: pd.Series) -> pd.Series:
    """True where a text is a three-letter currency code (ISO 4217 form, ``EUR``); missing values are not."""
    return col.fillna("").astype("string").str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool)


def worst_basis(values) -> str:
    vals = [v for v in values if isinstance(v, str) and v in BASIS_RANK]
    return max(vals, key=BASIS_RANK.__getitem__) if vals else "estimated"


def ranges_text(rows) -> str:
    """Row numbers as ranges: 2-5,9,12-13 (sorted, each number once)."""
    nums = np.unique(np.asarray(rows, dtype="int64"))
    if not len(nums):
        return ""
    breaks = np.flatnonzero(np.diff(nums) != 1)
    starts = np.concatenate([nums[:1], nums[breaks + 1]])
    ends = np.concatenate([nums[breaks], nums[-1:]])
    return runs_text(starts, ends)


def runs_text(starts, ends) -> str:
    """Runs of consecutive row numbers (first, last), in order and apart, as ``ranges_text`` writes them."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(np.asarray(starts).tolist(),
                                                                     np.asarray(ends).tolist()))


def or_flags(values) -> str:
    flags: set[str] = set()
    for v in values:
        if isinstance(v, str) and v:
            flags.update(f for f in v.split(";") if f)
    return ";".join(sorted(flags))


# Capital-goods asset register (Scope 3 Category 2): one row per asset line as acquired.
# acquisition_date is a calendar date (the day control / ownership passed), not an instant: no time, no zone;
# it is compared with the reporting period's inclusive start and end dates.
ASSET = {
    "source_file": "string",
    "source_row": "int64",
    "asset_id": "string",
    "description": "string",
    "asset_class": "string",                      # gpu, server, network, storage, other (lower-cased)
    "accelerator_model": "string",                # hardware catalogue name of the GPUs in the asset, when given
    "site_id": "string",                          # where the asset is installed, when given
    "quantity": "float64",                        # units acquired
    "acquisition_date": "datetime64[ns]",         # date (midnight, naive)
    "embodied_kg_co2e_per_unit": "float64",       # cradle-to-gate kg CO2e per unit
    "factor_source": "string",                    # citation of the embodied factor
    "cost": "float64",                            # purchase cost in ``currency`` (not used in emission figures)
    "currency": "string",
}


# Hourly grid carbon intensity (``grid_intensity_hourly``: Electricity Maps CSV export or plain zone/datetime CSV).
# One row per zone, UTC clock hour and boundary given. Two boundaries, never mixed:
#   ci_direct_kg_per_kwh     generation (direct, combustion) emissions only: the one Scope 2 may use
#   ci_lifecycle_kg_per_kwh  lifecycle (LCA: + upstream fuel chain, construction): kept for reference, never used
#                            for Scope 2 (its upstream part belongs in Scope 3 Cat. 3)
# Either may be NaN (a plain-CSV row states one boundary). hour_start_utc is on a UTC hour boundary.
GRID_INTENSITY = {
    "source_file": "string",
    "source_row": "int64",
    "zone": "string",                             # grid zone as the publisher names it (Electricity Maps zone id)
    "hour_start_utc": "datetime64[ns, UTC]",
    "ci_direct_kg_per_kwh": "float64",
    "ci_lifecycle_kg_per_kwh": "float64",
    "estimated": "boolean",                       # publisher marks the hour as estimated (NA: not stated)
    "estimation_method": "string",
    "data_source": "string",                      # publisher's upstream source (e.g. entsoe.eu)
}

# Hourly generation of contractual instruments (``certificate_generation_hourly``: PPA / 24x7 CFE meter data).
# One row per instrument and UTC clock hour; energy_kwh is what the instrument generated in that hour.
INSTRUMENT_HOURLY = {
    "source_file": "string",
    "source_row": "int64",
    "instrument_id": "string",
    "hour_start_utc": "datetime64[ns, UTC]",
    "energy_kwh": "float64",
    "unit_known": "bool",                         # unit was Wh, kWh or MWh
}
