"""Cloud instance usage -> estimated energy (a value-chain estimate: basis ``estimated``).

Power model (Cloud Carbon Footprint's linear model, Apache-2.0, coefficients in evidence/hardware/):
    accelerator W = count x (min_w + u x (max_w - min_w))
    CPU W         = vCPUs x (min_w_per_vcpu + u x (max_w_per_vcpu - min_w_per_vcpu))
    memory kWh    = GiB x hours x memory_kwh_per_gb_hour
    energy kWh    = ((accelerator W + CPU W) / 1000 x hours + memory kWh) x provider PUE
u is the contract's ``utilisation`` or the default (flagged ``utilisation_default``); PUE is the contract's
``pue`` or the provider's published figure (flagged ``pue_provider_default``).

Only instance-hour rows of known instance types are estimated. Every other billing row is kept with the
reason it was not turned into energy (non-usage charge, not an instance-hour row, unknown instance type),
so its spend is shown in the data-quality section instead of disappearing.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Contract
from pipeline.evidence import EvidenceLibrary

NOT_USAGE = "non-usage charge"
NOT_INSTANCE_HOURS = "not an instance-hour row (storage, network, requests: not estimated)"
UNKNOWN_TYPE = "instance type not in the hardware catalogue"


def estimate(usage: pd.DataFrame, contracts: dict[str, Contract], lib: EvidenceLibrary) -> pd.DataFrame:
    """Adds energy columns to usage rows: energy_kwh (NaN when not estimated), defaults_used,
    not_estimated_reason, accelerator/CPU/memory parts, utilisation and PUE used."""
    out = usage.copy()
    inst = lib.instances.set_index(["provider", "instance_type"])
    acc = lib.accelerators.set_index("accelerator_model")
    cpu = lib.cpu_power.set_index("cpu_family")
    pue_by_provider = dict(zip(lib.pue["provider"], lib.pue["pue"]))
    default_u = lib.constant("default_utilisation")
    mem_coeff = lib.constant("memory_kwh_per_gb_hour")

    reasons, kwh, gpu_kwh, cpu_kwh, mem_kwh, flags, u_used, pue_used = ([] for _ in range(8))
    for row in out.itertuples(index=False):
        contract = contracts[row.contract_id]
        reason, parts, f = None, (float("nan"),) * 4, []
        u = contract.utilisation if contract.utilisation is not None else default_u
        pue = contract.pue if contract.pue is not None else pue_by_provider.get(row.provider)
        if row.charge_category != "Usage":
            reason = f"{NOT_USAGE} ({row.charge_category})"
        elif pd.isna(row.instance_type):
            reason = NOT_INSTANCE_HOURS
        elif (row.provider, row.instance_type) not in inst.index:
            reason = f"{UNKNOWN_TYPE}: {row.instance_type}"
        elif pue is None or pd.isna(pue):
            reason = f"no PUE for provider {row.provider}"
        else:
            spec = inst.loc[(row.provider, row.instance_type)]
            hours = float(row.quantity)
            g_w = 0.0
            if spec["accelerator_count"] and spec["accelerator_count"] > 0:
                a = acc.loc[spec["accelerator_model"]]
                g_w = spec["accelerator_count"] * (a["min_w"] + u * (a["max_w"] - a["min_w"]))
            c = cpu.loc[spec["cpu_family"]]
            c_w = spec["vcpus"] * (c["min_w_per_vcpu"] + u * (c["max_w_per_vcpu"] - c["min_w_per_vcpu"]))
            m_kwh = spec["memory_gib"] * hours * mem_coeff
            g_kwh, c_kwh = g_w / 1000.0 * hours, c_w / 1000.0 * hours
            total = (g_kwh + c_kwh + m_kwh) * pue
            parts = (total, g_kwh, c_kwh, m_kwh)
            if contract.utilisation is None:
                f.append("utilisation_default")
            if contract.pue is None:
                f.append("pue_provider_default")
            f.append("power_model_ccf_linear")
        reasons.append(reason)
        kwh.append(parts[0]); gpu_kwh.append(parts[1]); cpu_kwh.append(parts[2]); mem_kwh.append(parts[3])
        flags.append(";".join(sorted(f)))
        u_used.append(u); pue_used.append(pue)
    out["energy_kwh"] = pd.Series(kwh, index=out.index, dtype="float64")
    out["accelerator_it_kwh"] = pd.Series(gpu_kwh, index=out.index, dtype="float64")
    out["cpu_it_kwh"] = pd.Series(cpu_kwh, index=out.index, dtype="float64")
    out["memory_it_kwh"] = pd.Series(mem_kwh, index=out.index, dtype="float64")
    out["utilisation"] = pd.Series(u_used, index=out.index, dtype="float64")
    out["pue"] = pd.Series(pue_used, index=out.index, dtype="float64")
    out["defaults_used"] = pd.Series(flags, index=out.index, dtype="string")
    out["not_estimated_reason"] = pd.Series(reasons, index=out.index, dtype="string")
    return out
