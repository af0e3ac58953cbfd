"""Cloud usage -> estimated energy (a value-chain estimate: basis ``estimated``).

Power model (Cloud Carbon Footprint's linear model, Apache-2.0, coefficients in evidence/hardware/), per
canonical ``usage_kind`` (set by each billing adapter):

    instance_hours     accelerators: count x (min_w + u_gpu x (max_w - min_w))
                       + vCPUs x (min_w_per_vcpu + u x (max_w_per_vcpu - min_w_per_vcpu))   [W x hours]
                       + memory GiB x hours x memory_kwh_per_gb_hour
    accelerator_hours  one accelerator of ``accelerator_model`` (GCP GPU / TPU SKUs)
    vcpu_hours         one vCPU of the provider's average CPU
    memory_gb_hours    x memory_kwh_per_gb_hour
    storage_gb_months  x 730 h / 1000 -> TB-hours x SSD Wh per TB-hour (storage type unknown: SSD assumed, flagged)
    network_gb         x network_kwh_per_gb
    energy kWh         = IT kWh x PUE (the contract's, else the provider's published average, flagged)

Profiles (``contracts[].energy_profile``):
    default         memory counted in full (every GiB of the instance draws power)
    ccf-compatible  memory counted only above CCF's per-processor baseline, as Cloud Carbon Footprint does,
                    so results can be compared line by line with CCF
An instance type missing from the catalogue is estimated from its family (evidence/hardware/instance_families.csv)
when the family fixes the accelerator and its count, flagged ``instance_type_from_family``; otherwise it is not
estimated, and its spend is listed. Nothing is priced silently.
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline.config import Contract
from pipeline.errors import ConfigError
from pipeline.evidence import EvidenceLibrary

NOT_USAGE = "non-usage charge"
NOT_ESTIMATED_KIND = "usage of a kind not converted to energy (requests, licences, managed services)"
UNKNOWN_TYPE = "instance type not in the hardware catalogue and its family gives no accelerator count"
HOURS_PER_MONTH = 730.0
CPU_AVERAGE = {"aws": "AWS average", "gcp": "GCP median", "azure": "Azure average"}


def family_of(provider: str, instance_type: str) -> tuple[str, str]:
    """(family, size) of an instance type name: aws g6.12xlarge -> (g6, 12xlarge); gcp a2-highgpu-1g -> (a2, highgpu-1g)."""
    if provider == "aws" and "." in instance_type:
        fam, size = instance_type.split(".", 1)
        return fam, size
    if provider == "gcp" and "-" in instance_type:
        fam, size = instance_type.split("-", 1)
        return fam, size
    return instance_type, ""


def _family_match(lib: EvidenceLibrary, provider: str, instance_type: str) -> dict | None:
    fams = getattr(lib, "families", None)
    if fams is None or fams.empty:
        return None
    fam, size = family_of(provider, instance_type)
    rows = fams[fams["provider"] == provider]
    for r in rows.to_dict("records"):
        key = str(r["family"])
        if provider == "azure":
            pattern = "^" + re.escape(key).replace(r"\.\.", ".*").replace(r"\*", ".*") + "$"
            if not re.match(pattern, instance_type, re.I):
                continue
        elif key != fam:
            continue
        count = None
        rule = str(r.get("accelerators_per_size_rule") or "")
        if rule.startswith("per_size:"):
            table = dict(kv.split("=") for kv in rule.split(":", 1)[1].replace(" ", "").split(",") if "=" in kv)
            if size in table:
                count = float(table[size])
        return {**r, "accelerator_count": count}
    return None


def _linear(min_w: float, max_w: float, u: float) -> float:
    return min_w + u * (max_w - min_w)


def estimate(usage: pd.DataFrame, contracts: dict[str, Contract], lib: EvidenceLibrary) -> pd.DataFrame:
    """Adds energy columns to usage rows: energy_kwh (NaN when not estimated), the IT parts, utilisation and
    PUE used, defaults_used flags and not_estimated_reason."""
    out = usage.copy()
    inst = {(r["provider"], r["instance_type"]): r for r in lib.instances.to_dict("records")}
    acc = {str(r["accelerator_model"]).upper(): r for r in lib.accelerators.to_dict("records")}
    cpu = {r["cpu_family"]: r for r in lib.cpu_power.to_dict("records")}
    pue_by_provider = dict(zip(lib.pue["provider"], lib.pue["pue"]))
    default_u = lib.constant("default_utilisation")
    mem_coeff = lib.constant("memory_kwh_per_gb_hour")
    ssd_wh_tbh = lib.constant("ssd_wh_per_tb_hour")
    net_kwh_gb = lib.constant("network_kwh_per_gb")

    cols = {k: [] for k in ("energy_kwh", "accelerator_it_kwh", "cpu_it_kwh", "memory_it_kwh", "other_it_kwh",
                            "utilisation", "pue", "defaults_used", "not_estimated_reason")}

    def accel_w(model: object, count: float, u: float) -> float | None:
        a = acc.get(str(model).upper()) if isinstance(model, str) else None
        if a is None or pd.isna(a["min_w"]) or pd.isna(a["max_w"]):
            return None
        return count * _linear(a["min_w"], a["max_w"], u)

    def cpu_w(family: object, vcpus: float, u: float) -> float | None:
        c = cpu.get(family)
        if c is None:
            return None
        return vcpus * _linear(c["min_w_per_vcpu"], c["max_w_per_vcpu"], u)

    for row in out.itertuples(index=False):
        contract = contracts[row.contract_id]
        u = contract.utilisation if contract.utilisation is not None else default_u
        u_gpu = contract.gpu_utilisation if contract.gpu_utilisation is not None else u
        pue = contract.pue if contract.pue is not None else pue_by_provider.get(row.provider)
        profile = contract.energy_profile
        flags: list[str] = []
        parts = [0.0, 0.0, 0.0, 0.0]   # accelerator, cpu, memory, other IT kWh
        reason = None
        kind = row.usage_kind if isinstance(row.usage_kind, str) else "other"
        amount = float(row.usage_amount) if not pd.isna(row.usage_amount) else float("nan")
        if row.charge_category != "Usage":
            reason = f"{NOT_USAGE} ({row.charge_category})"
        elif isinstance(row.energy_exclusion, str) and row.energy_exclusion:
            reason = row.energy_exclusion
        elif kind == "other":
            reason = NOT_ESTIMATED_KIND
        elif pue is None or pd.isna(pue):
            reason = f"no PUE for provider {row.provider}"
        elif pd.isna(amount):
            reason = "usage amount missing"
        elif kind == "instance_hours":
            spec = inst.get((row.provider, row.instance_type))
            if spec is None:
                fam = _family_match(lib, row.provider, str(row.instance_type))
                if fam is not None and fam.get("accelerator_count") is not None:
                    spec = {"accelerator_model": fam["accelerator_model"], "accelerator_count": fam["accelerator_count"],
                            "vcpus": None, "memory_gib": None, "cpu_family": fam.get("cpu_family")}
                    flags.append("instance_type_from_family")
                else:
                    reason = f"{UNKNOWN_TYPE}: {row.instance_type}"
            if reason is None:
                count = float(spec["accelerator_count"] or 0)
                if count > 0:
                    w = accel_w(spec["accelerator_model"], count, u_gpu)
                    if w is None:
                        reason = f"no power figures for accelerator {spec['accelerator_model']}"
                    else:
                        parts[0] = w / 1000.0 * amount
                if reason is None and spec.get("vcpus") and not pd.isna(spec["vcpus"]):
                    w = cpu_w(spec["cpu_family"], float(spec["vcpus"]), u)
                    if w is None:
                        w = cpu_w(CPU_AVERAGE.get(row.provider), float(spec["vcpus"]), u)
                        flags.append("cpu_family_average")
                    parts[1] = (w or 0.0) / 1000.0 * amount
                elif reason is None:
                    flags.append("cpu_and_memory_not_estimated")
                if reason is None and spec.get("memory_gib") and not pd.isna(spec["memory_gib"]):
                    gib = float(spec["memory_gib"])
                    if profile == "ccf-compatible":
                        gib, flag = ccf_memory_gb(lib, row.provider, str(row.instance_type), spec)
                        flags.append(flag)
                    parts[2] = gib * amount * mem_coeff
                flags.append("power_model_ccf_linear")
        elif kind == "accelerator_hours":
            w = accel_w(row.accelerator_model, 1.0, u_gpu)
            if w is None:
                reason = f"no power figures for accelerator {row.accelerator_model}"
            else:
                parts[0] = w / 1000.0 * amount
                flags.append("power_model_ccf_linear")
        elif kind == "vcpu_hours":
            w = cpu_w(CPU_AVERAGE.get(row.provider), 1.0, u)
            if w is None:
                reason = f"no average CPU coefficients for provider {row.provider}"
            else:
                parts[1] = w / 1000.0 * amount
                flags += ["cpu_family_average", "power_model_ccf_linear"]
        elif kind == "memory_gb_hours":
            parts[2] = amount * mem_coeff
        elif kind == "storage_gb_months":
            parts[3] = amount * HOURS_PER_MONTH / 1000.0 * ssd_wh_tbh / 1000.0
            flags.append("storage_assumed_ssd")
        elif kind == "network_gb":
            parts[3] = amount * net_kwh_gb
        if reason is None:
            if kind in ("instance_hours", "accelerator_hours", "vcpu_hours") and contract.utilisation is None:
                flags.append("utilisation_default")
            if contract.pue is None:
                flags.append("pue_provider_default")
            total = sum(parts) * float(pue)
        else:
            total, parts, flags = float("nan"), [float("nan")] * 4, []
        cols["energy_kwh"].append(total)
        cols["accelerator_it_kwh"].append(parts[0]); cols["cpu_it_kwh"].append(parts[1])
        cols["memory_it_kwh"].append(parts[2]); cols["other_it_kwh"].append(parts[3])
        cols["utilisation"].append(u); cols["pue"].append(pue)
        cols["defaults_used"].append(";".join(sorted(set(flags))))
        cols["not_estimated_reason"].append(reason)
    for name, values in cols.items():
        dtype = "string" if name in ("defaults_used", "not_estimated_reason") else "float64"
        out[name] = pd.Series(values, index=out.index, dtype=dtype)
    return out


def ccf_memory_gb(lib: EvidenceLibrary, provider: str, instance_type: str, spec: dict) -> tuple[float, str]:
    """Memory counted per hour by Cloud Carbon Footprint (AWS rule, constants and citations in
    evidence/hardware/constants.csv): the family's largest size (V vCPUs, L GB) has ceil(V / 96) physical chips;
    only memory above the CPU family's per-chip memory P is counted:
        GB = max(0, L / chips - P) x (instance GB / L);  burstable t* types: 0.
    Other providers: CCF's rules are not reproduced; all memory is counted (flagged)."""
    if provider != "aws":
        return float(spec["memory_gib"]), "ccf_memory_rule_not_available_all_memory_counted"
    family, _ = family_of(provider, instance_type)
    if family.startswith("t"):
        return 0.0, "memory_above_ccf_baseline"
    same = lib.instances[(lib.instances["provider"] == "aws")
                         & lib.instances["instance_type"].str.startswith(family + ".")]
    largest = same.sort_values(["vcpus", "memory_gib"]).iloc[-1] if len(same) else spec
    vcpus, big_gb = float(largest["vcpus"]), float(largest["memory_gib"])
    chips = max(1.0, float(-(-vcpus // lib.constant("ccf_vcpus_per_physical_chip"))))
    slug = str(spec.get("cpu_family") or "").lower().replace(" ", "_")
    try:
        per_chip = lib.constant(f"ccf_aws_memory_gb_per_chip_{slug}")
    except ConfigError:
        per_chip = lib.constant("ccf_aws_memory_gb_per_chip_default")
    excess = max(0.0, big_gb / chips - per_chip)
    return excess * (float(spec["memory_gib"]) / big_gb), "memory_above_ccf_baseline"
