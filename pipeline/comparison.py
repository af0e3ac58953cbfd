"""Comparison with a previous pack: period-over-period change, or a restatement of the same period.

Given the pack of an earlier run (``--previous PACK``):
- **different period** -> period-over-period change of the headline figures (previous, current, change, %);
- **same period** -> a restatement table (previously stated vs restated, ESRS ``ReportingScopeAxis``
  PreviouslyStated / CurrentlyStatedCorrectedOrRevisedRetrospective) with the causes found by comparing the two
  runs: *new data* (a source that was not there), *corrected data* (a source whose file changed),
  *removed data*, *factor update* (factor library version or a factor value used), *method change* (code
  version or configuration). Several causes can apply at once; all are listed.
Pure: reads the previous pack's summary.json, manifest.json and factors_used.csv; never modifies it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pipeline.errors import InputError

FIGURES = [
    ("Scope 2, location-based", ("emissions_tco2e", "scope2_location_based"), "tCO2e"),
    ("Scope 2, market-based", ("emissions_tco2e", "scope2_market_based"), "tCO2e"),
    ("Scope 3", ("emissions_tco2e", "scope3_total"), "tCO2e"),
    ("Total, location-based", ("emissions_tco2e", "total_location_based"), "tCO2e"),
    ("Total, market-based", ("emissions_tco2e", "total_market_based"), "tCO2e"),
    ("Energy, own operations", ("energy_mwh", "total_own_operations"), "MWh"),
]


def _dig(d: dict, keys) -> float | None:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return float(d) if isinstance(d, (int, float)) else None


def load_previous(pack: Path) -> tuple[dict, dict, dict[str, float]]:
    pack = Path(pack)
    try:
        summary = json.loads((pack / "summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable evidence pack ({exc})", file=str(pack),
                         fix="pass the output directory of an earlier run (it holds summary.json and manifest.json)") from None
    factors = {}
    fpath = pack / "factors_used.csv"
    if fpath.is_file():
        with open(fpath, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                try:
                    factors[row["factor_id"]] = float(row["value_kg_per_kwh"])
                except (KeyError, ValueError):
                    continue
    return summary, manifest, factors


def compare(previous_pack: Path, current: dict, *, inputs: list[dict], factors: dict[str, float],
            code_version: str, factor_library_version: str, config_sha256: str) -> dict:
    """``current``: this run's summary; ``inputs``: [{source, sha256}]; ``factors``: factor id -> value used."""
    prev, manifest, prev_factors = load_previous(previous_pack)
    same_period = (prev.get("period", {}).get("start"), prev.get("period", {}).get("end")) == (
        current["period"]["start"], current["period"]["end"])
    figures = []
    for label, keys, unit in FIGURES:
        a, b = _dig(prev, keys), _dig(current, keys)
        change = (b - a) if a is not None and b is not None else None
        figures.append({"figure": label, "unit": unit, "previous": a, "current": b, "change": change,
                        "change_pct": (change / a) if change is not None and a else None})
    out = {"kind": "restatement" if same_period else "period_over_period",
           "previous": {"path": str(previous_pack), "run_id": prev.get("run", {}).get("id"),
                        "period": prev.get("period", {}).get("label")},
           "figures": figures}
    if same_period:
        out["causes"] = _causes(manifest, prev, prev_factors, inputs, factors, code_version,
                                factor_library_version, config_sha256)
        out["restated"] = any(f["change"] not in (None, 0.0) for f in figures)
    return out


def _causes(manifest, prev, prev_factors, inputs, factors, code_version, lib_version, config_sha) -> list[dict]:
    causes = []
    before = {i["source"]: i["sha256"] for i in manifest.get("inputs", [])}
    now = {i["source"]: i["sha256"] for i in inputs}
    for s in sorted(set(now) - set(before)):
        causes.append({"cause": "new data", "detail": f"source {s} was not in the previous run"})
    for s in sorted(set(before) - set(now)):
        causes.append({"cause": "removed data", "detail": f"source {s} is no longer an input"})
    for s in sorted(set(now) & set(before)):
        if now[s] != before[s]:
            causes.append({"cause": "corrected data", "detail": f"source {s} changed (sha256 {before[s][:12]}... -> "
                                                                f"{now[s][:12]}...)"})
    prev_lib = manifest.get("factor_library_version") or prev.get("run", {}).get("factor_library_version")
    if prev_lib != lib_version:
        causes.append({"cause": "factor update", "detail": f"factor library {prev_lib} -> {lib_version}"})
    for fid in sorted(set(prev_factors) & set(factors)):
        if abs(prev_factors[fid] - factors[fid]) > 1e-12 * max(1.0, abs(prev_factors[fid])):
            causes.append({"cause": "factor update", "detail": f"factor {fid}: {prev_factors[fid]:g} -> {factors[fid]:g}"})
    prev_code = manifest.get("code_version")
    if prev_code != code_version:
        causes.append({"cause": "method change", "detail": f"code version {prev_code} -> {code_version}"})
    if manifest.get("config_sha256") != config_sha:
        causes.append({"cause": "method change", "detail": "configuration changed (contracts, rules or options)"})
    return causes
