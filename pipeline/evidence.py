"""Loads the reference evidence shipped under ``evidence/``: factor tables and hardware specs.

Every table is data with source, licence and vintage columns; nothing here is a constant in code.
The library version is ``evidence/VERSION`` and is recorded in every run's summary and manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipeline.errors import ConfigError

EVIDENCE_DIR = Path(__file__).resolve().parents[1] / "evidence"

FACTOR_COLUMNS = ["factor_id", "zone", "zone_name", "basis", "value", "unit", "value_kg_per_kwh", "boundary",
                  "source", "edition", "data_year", "licence", "retrieval_date", "url", "note"]


def _read(rel: str, required: list[str]) -> pd.DataFrame:
    path = EVIDENCE_DIR / rel
    if not path.is_file():
        raise ConfigError("evidence file missing from the installation", file=str(path),
                          fix="reinstall carbon-disclosure or restore the evidence/ folder")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ConfigError(f"evidence table lacks column(s) {', '.join(missing)}", file=str(path),
                          fix="restore the file from the release")
    return df


@dataclass(frozen=True)
class EvidenceLibrary:
    version: str
    grid: pd.DataFrame            # FACTOR_COLUMNS, basis location
    residual: pd.DataFrame        # FACTOR_COLUMNS, basis residual_mix
    regions: pd.DataFrame         # provider, region, grid_zone, location, source
    accelerators: pd.DataFrame    # accelerator_model, min_w, max_w, board_power_w, source ...
    instances: pd.DataFrame       # provider, instance_type, accelerator_model, accelerator_count, vcpus, memory_gib, cpu_family
    cpu_power: pd.DataFrame       # cpu_family, min_w_per_vcpu, max_w_per_vcpu
    pue: pd.DataFrame             # provider, pue, source
    constants: pd.DataFrame       # name, value, unit, source
    families: pd.DataFrame        # provider, family, accelerator_model, accelerators_per_size_rule, cpu_family
    embodied: pd.DataFrame        # provider, instance_type, host_embodied_kg_co2e, source
    upstream: pd.DataFrame        # FACTOR_COLUMNS + component: Cat. 3 WTT / T&D factors and loss rates
    grid_mix: pd.DataFrame        # zone, data_year, fossil / nuclear / renewable / other shares (E1-5 mix)

    def constant(self, name: str) -> float:
        row = self.constants[self.constants["name"] == name]
        if row.empty:
            raise ConfigError(f"constant '{name}' missing", file=str(EVIDENCE_DIR / "hardware" / "constants.csv"),
                              fix="restore the evidence files from the release")
        return float(row.iloc[0]["value"])

    def constant_source(self, name: str) -> str:
        row = self.constants[self.constants["name"] == name]
        return "" if row.empty else str(row.iloc[0]["source"])


def _numeric(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        df[c] = pd.to_numeric(df[c].replace("", None), errors="coerce")
    return df


@lru_cache(maxsize=1)
def load_library() -> EvidenceLibrary:
    grid = _numeric(_read("factors/grid_location.csv", FACTOR_COLUMNS), ["value", "value_kg_per_kwh", "data_year"])
    residual = _numeric(_read("factors/residual_mix.csv", FACTOR_COLUMNS), ["value", "value_kg_per_kwh", "data_year"])
    regions = _read("factors/cloud_regions.csv", ["provider", "region", "grid_zone"])
    acc = _numeric(_read("hardware/accelerators.csv", ["accelerator_model", "min_w", "max_w", "board_power_w", "source"]),
                   ["min_w", "max_w", "board_power_w"])
    inst = _numeric(_read("hardware/instances.csv", ["provider", "instance_type", "accelerator_model",
                                                     "accelerator_count", "vcpus", "memory_gib", "cpu_family"]),
                    ["accelerator_count", "vcpus", "memory_gib"])
    cpu = _numeric(_read("hardware/cpu_power.csv", ["cpu_family", "min_w_per_vcpu", "max_w_per_vcpu", "source"]),
                   ["min_w_per_vcpu", "max_w_per_vcpu"])
    pue = _numeric(_read("hardware/pue.csv", ["provider", "pue", "source"]), ["pue"])
    const = _read("hardware/constants.csv", ["name", "value", "unit", "source"])
    families = _read("hardware/instance_families.csv", ["provider", "family", "accelerator_model",
                                                        "accelerators_per_size_rule", "cpu_family"])
    embodied = _read("hardware/embodied.csv", ["provider", "instance_type", "host_embodied_kg_co2e", "source"])
    upstream = _numeric(_read("factors/upstream_electricity.csv", FACTOR_COLUMNS + ["component"]),
                        ["value", "value_kg_per_kwh", "data_year"])
    mix = _numeric(_read("factors/grid_mix.csv", ["mix_id", "zone", "data_year", "fossil_share", "nuclear_share",
                                                  "renewable_share", "other_share", "source", "licence"]),
                   ["data_year", "fossil_share", "nuclear_share", "renewable_share", "other_share"])
    version = (EVIDENCE_DIR / "VERSION").read_text(encoding="utf-8").strip()
    return EvidenceLibrary(version, grid, residual, regions, acc, inst, cpu, pue, const, families, embodied, upstream,
                           mix)
