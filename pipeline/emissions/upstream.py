"""Scope 3 Category 3 (fuel- and energy-related activities) for purchased electricity in Scope 2.

GHG Protocol Scope 3 Technical Guidance, chapter 3 (Table 3.1), activities:
  3b  upstream emissions of purchased electricity: extraction, production and transport of the fuels burned
      to generate it ("well-to-tank", WTT)
  3c  transmission and distribution (T&D) losses: generation of the electricity lost on the grid between the
      plant and the company (plus the WTT of that lost generation)
Cloud usage has no Category 3 here: its electricity is inside the provider's Category 1 figure.

Inputs: the Scope 2 electricity per grid zone (consumed kWh) and an upstream factor table (``FACTOR_COLUMNS`` +
``component``). Components, all in kg CO2e per kWh **consumed**, except ``td_loss_rate``:

    td_losses          3c  generation emissions of the T&D losses
    wtt_generation     3b  WTT of the electricity generated
    wtt_td_losses      3c  WTT of the T&D losses
    upstream_combined  3b + 3c as one published figure
    td_loss_rate       fraction of generation lost in T&D (0 <= rate < 1); read from ``value_kg_per_kwh``
                       when it is filled, else from ``value`` (unit ``%`` is divided by 100)

Rules per grid zone (to be stated in docs/methodology.md and the report's methodology text):
1. Zones where Scope 2 used a **lifecycle** factor (``lifecycle_zones``): Category 3 is set to 0 and flagged
   ``cat3_included_in_lifecycle_scope2``. A lifecycle factor (e.g. Ember) already contains the upstream
   emissions of generation (3b), so adding them again would count them twice; the Scope 2 figure carries the
   matching flag ``lifecycle_factor_for_scope2``. Caveat, stated in the report: a lifecycle factor is per kWh
   *generated*, so T&D losses (3c) are not inside it; this zero therefore understates 3c for those zones. The
   fix is a generation-boundary factor for Scope 2, not an estimate added here.
2. Published per-kWh components, each chosen by the year rule below:
   - ``td_losses`` and ``wtt_generation`` both present: their sum plus ``wtt_td_losses`` (flag
     ``cat3_wtt_td_losses_not_available`` when that one is missing). ``upstream_combined`` is then ignored.
   - else ``upstream_combined`` present: it alone (never added to components: it already holds them).
   - else whatever part exists: T&D from ``td_losses``, or from the loss rate (rule 3); WTT from
     ``wtt_generation`` (+ ``wtt_td_losses``) or flag ``cat3_wtt_not_available``; T&D missing -> flag
     ``cat3_td_not_available``.
3. Loss-rate route (no published T&D factor): T&D kg = kWh x rate / (1 - rate) x generation factor, where the
   generation factor is the zone's **generation-boundary** location factor (normally the one Scope 2 used).
   Flag ``cat3_td_from_loss_rate``. A loss rate gives no WTT: WTT comes only from published components, else
   it is not estimated (flag ``cat3_wtt_not_available``).
4. Nothing applicable: the zone is **not estimated**. It is returned in ``not_estimated`` with its kWh and the
   reason; no factor is invented or borrowed from another zone.
Year rule: per (zone, component), the latest data_year <= the reporting year (older: flagged
``factor_year_before_period``), else the earliest later one (``factor_year_after_period``) - the rule of
``pipeline.emissions.factors``. Factors are grid averages whatever the market-based instruments: Category 3
is one figure, not split location / market.

Every output row keeps the input row's columns, the component kg, the factor ids, the effective
``cat3_kg_per_kwh`` (so energy_kwh x cat3_kg_per_kwh = cat3_kg_co2e on every row) and the flags.
Pure functions: no files, no logging.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd

from pipeline.canonical import or_flags
from pipeline.emissions.factors import FactorChoice, _pick
from pipeline.errors import ConfigError, ValidationFailed
from pipeline.evidence import FACTOR_COLUMNS

PER_KWH = ("td_losses", "wtt_generation", "wtt_td_losses", "upstream_combined")
COMPONENTS = PER_KWH + ("td_loss_rate",)
UPSTREAM_COLUMNS = FACTOR_COLUMNS + ["component"]

# added to each electricity row (the input's own columns come first)
CAT3_COLUMNS = {
    "cat3_method": "string",                  # components, combined, loss_rate, lifecycle_scope2
    "td_losses_kg_co2e": "float64",           # NaN when that part was not estimated
    "wtt_generation_kg_co2e": "float64",
    "wtt_td_losses_kg_co2e": "float64",
    "upstream_combined_kg_co2e": "float64",
    "cat3_kg_per_kwh": "float64",             # effective factor of the row
    "cat3_kg_co2e": "float64",
    "factor_id_td_losses": "string",
    "factor_id_wtt_generation": "string",
    "factor_id_wtt_td_losses": "string",
    "factor_id_upstream_combined": "string",
    "factor_id_td_loss_rate": "string",
    "td_loss_rate": "float64",
    "factor_id_generation": "string",         # generation factor used with the loss rate
    "cat3_flags": "string",                   # ';'-joined
}

NOT_ESTIMATED = {
    "grid_zone": "string",
    "energy_kwh": "float64",
    "input_rows": "int64",
    "months": "string",                       # ';'-joined YYYY-MM
    "reason": "string",
}


@dataclass(frozen=True)
class Category3:
    rows: pd.DataFrame            # input columns + CAT3_COLUMNS, zones estimated or set to 0 (lifecycle)
    not_estimated: pd.DataFrame   # NOT_ESTIMATED, one row per zone
    factors: pd.DataFrame         # UPSTREAM_COLUMNS: every factor row used (generation factors: component "generation")

    @property
    def total_kg_co2e(self) -> float:
        return float(self.rows["cat3_kg_co2e"].sum())

    @property
    def kwh_not_estimated(self) -> float:
        return float(self.not_estimated["energy_kwh"].sum())


@dataclass(frozen=True)
class _ZoneResult:
    method: str
    parts: dict            # component -> kg per kWh consumed (td_losses from a loss rate included)
    ids: dict              # column -> factor id
    rate: float | None
    flags: tuple[str, ...]
    used: tuple[dict, ...]


def generation_factors(zones: Collection[str], year: int, grid: pd.DataFrame) -> dict[str, FactorChoice]:
    """The generation-boundary location factor of each zone from a FACTOR_COLUMNS grid table, by the year rule.

    Zones with only lifecycle rows are left out (a lifecycle factor cannot price T&D losses without counting
    its upstream share). Callers with user overrides should pass the Scope 2 choices whose boundary is generation.
    """
    out = {}
    for zone in zones:
        rows = grid[(grid["zone"] == zone) & (grid["boundary"] == "generation")]
        row, flags = _pick(rows, year)
        if row is not None:
            out[zone] = FactorChoice(row, tuple(flags))
    return out


def _table(upstream: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in UPSTREAM_COLUMNS if c not in upstream.columns]
    if missing:
        raise ConfigError(f"upstream factor table lacks column(s) {', '.join(missing)}",
                          fix="restore evidence/factors/upstream_electricity.csv from the release")
    t = upstream.copy()
    for c in ("value", "value_kg_per_kwh", "data_year"):
        t[c] = pd.to_numeric(t[c].replace("", None), errors="coerce")
    unknown = sorted(set(t["component"]) - set(COMPONENTS))
    if unknown:
        raise ConfigError(f"upstream factor table has unknown component(s) {', '.join(map(str, unknown))}",
                          fix="use one of: " + ", ".join(COMPONENTS))
    bad_year = t.loc[t["data_year"].isna(), "factor_id"].tolist()
    if bad_year:
        raise ConfigError(f"upstream factor row(s) without a data year: {', '.join(bad_year)}",
                          fix="give each row its data_year")
    rate = t["component"] == "td_loss_rate"
    pct = t["unit"].astype(str).str.strip().isin(["%", "percent"])
    t.loc[rate, "value_kg_per_kwh"] = t.loc[rate, "value_kg_per_kwh"].fillna(
        t.loc[rate, "value"].where(~pct[rate], t.loc[rate, "value"] / 100.0))
    bad = t[(rate & ~t["value_kg_per_kwh"].between(0, 1, inclusive="left"))
            | (~rate & ~(t["value_kg_per_kwh"] >= 0))]
    if not bad.empty:
        raise ConfigError("upstream factor row(s) with a missing or impossible value: "
                          + ", ".join(bad["factor_id"].astype(str)),
                          fix="per-kWh components need value_kg_per_kwh >= 0; td_loss_rate a fraction 0 <= rate < 1")
    return t


def _choose(rows: pd.DataFrame, year: int) -> tuple[dict | None, list[str]]:
    """The year rule of factors._pick for one (zone, component). Its generation-before-lifecycle preference is
    about Scope 2 grid factors and does not apply to upstream components, so the boundary is neutralised for
    the choice and the chosen row returned as published."""
    if rows.empty:
        return None, []
    picked, flags = _pick(rows.assign(boundary="generation"), year)
    row = rows[rows["factor_id"] == picked["factor_id"]].iloc[0]
    return {c: row[c] for c in UPSTREAM_COLUMNS}, flags


def _zone(zone: str, table: pd.DataFrame, year: int, generation: FactorChoice | None) -> _ZoneResult | str:
    """Category 3 factors of one zone, or the reason it cannot be estimated."""
    chosen: dict[str, dict] = {}
    year_flags: dict[str, list[str]] = {}
    for comp in COMPONENTS:
        row, f = _choose(table[(table["zone"] == zone) & (table["component"] == comp)], year)
        if row is not None:
            chosen[comp], year_flags[comp] = row, f

    def result(method: str, comps: tuple[str, ...], flags: list[str], loss_rate: bool = False) -> _ZoneResult:
        """Only the factors the route uses give ids and year flags (a row the route ignores flags nothing)."""
        used = [c for c in comps if c in chosen]
        parts = {c: float(chosen[c]["value_kg_per_kwh"]) for c in used if c != "td_loss_rate"}
        ids = {f"factor_id_{c}": chosen[c]["factor_id"] for c in used}
        rows = [chosen[c] for c in used]
        flags = flags + [f for c in used for f in year_flags[c]]
        rate = None
        if loss_rate:
            rate = float(chosen["td_loss_rate"]["value_kg_per_kwh"])
            # generation G, consumption C = G (1 - rate): lost = G x rate = C x rate / (1 - rate)
            parts["td_losses"] = rate / (1.0 - rate) * generation.kg_per_kwh
            ids["factor_id_generation"] = generation.id
            rows.append({**generation.row, "component": "generation"})
            flags += list(generation.flags)
        return _ZoneResult(method, parts, ids, rate, tuple(sorted(set(flags))), tuple(rows))

    wtt = ("wtt_generation", "wtt_td_losses")
    wtt_flags = (["cat3_wtt_not_available"] if "wtt_generation" not in chosen else
                 ["cat3_wtt_td_losses_not_available"] if "wtt_td_losses" not in chosen else [])
    if "td_losses" in chosen and "wtt_generation" in chosen:
        return result("components", ("td_losses",) + wtt, wtt_flags)
    if "upstream_combined" in chosen:
        return result("combined", ("upstream_combined",), [])
    if "td_losses" in chosen:
        return result("components", ("td_losses",) + wtt, wtt_flags)

    # no published T&D factor: the loss-rate route, when the zone's generation-boundary factor is known
    rate_row = chosen.get("td_loss_rate")
    gen_ok = generation is not None and generation.row.get("boundary") == "generation"
    if rate_row is not None and gen_ok:
        method = "components" if "wtt_generation" in chosen else "loss_rate"
        return result(method, ("td_loss_rate",) + wtt, ["cat3_td_from_loss_rate"] + wtt_flags, loss_rate=True)
    if "wtt_generation" in chosen or "wtt_td_losses" in chosen:
        return result("components", wtt, ["cat3_td_not_available"] + wtt_flags)
    if rate_row is not None:
        what = ("none is known" if generation is None else
                f"{generation.id} has boundary '{generation.row.get('boundary')}'")
        return (f"a T&D loss rate ({rate_row['factor_id']}) is known but no generation-boundary location factor "
                f"for the zone ({what}), and no published upstream or T&D factor: not estimated")
    return ("no published upstream (WTT) or T&D factor and no T&D loss rate for the zone: not estimated; "
            "add the zone's published factors (with source and data year) to the upstream factor table")


def category3(electricity: pd.DataFrame, upstream: pd.DataFrame, *, reporting_year: int,
              generation: Mapping[str, FactorChoice], lifecycle_zones: Collection[str] = ()) -> Category3:
    """Category 3 (3b + 3c) for each Scope 2 electricity row (columns grid_zone, month, energy_kwh + any keys).

    ``upstream``: the upstream factor table (UPSTREAM_COLUMNS). ``generation``: each zone's generation-boundary
    location factor (``generation_factors`` or the Scope 2 choices), used only by the loss-rate route.
    ``lifecycle_zones``: zones whose Scope 2 used a lifecycle factor (Category 3 = 0 there, see module doc).
    """
    missing = [c for c in ("grid_zone", "month", "energy_kwh") if c not in electricity.columns]
    if missing:
        raise ValueError(f"electricity frame lacks column(s) {', '.join(missing)}")
    kwh = electricity["energy_kwh"]
    if kwh.isna().any() or (kwh < 0).any():
        raise ValidationFailed("Scope 2 electricity rows with missing or negative energy_kwh reached Category 3",
                               fix="this is a bug in the energy stage; please report it with the run's inputs")
    table = _table(upstream)
    lifecycle = set(lifecycle_zones)

    results: dict[str, _ZoneResult | str] = {}
    for zone in sorted(electricity["grid_zone"].dropna().unique()):
        if zone in lifecycle:
            results[zone] = _ZoneResult("lifecycle_scope2", {}, {}, None, ("cat3_included_in_lifecycle_scope2",), ())
        else:
            results[zone] = _zone(zone, table, reporting_year, generation.get(zone))

    rows, skipped, used = [], {}, {}
    for rec in electricity.to_dict("records"):
        zone = rec["grid_zone"]
        res = results.get(zone) if isinstance(zone, str) else "the row has no grid zone: not estimated"
        if isinstance(res, str):
            key = zone if isinstance(zone, str) else ""
            s = skipped.setdefault(key, {"grid_zone": key, "energy_kwh": 0.0, "input_rows": 0, "months": set(),
                                         "reason": res})
            s["energy_kwh"] += float(rec["energy_kwh"])
            s["input_rows"] += 1
            s["months"].add(str(rec["month"]))
            continue
        for u in res.used:
            used[u["factor_id"]] = u
        per_kwh = sum(res.parts.values())
        out = dict(rec)
        out["cat3_method"] = res.method
        for comp in PER_KWH:
            out[f"{comp}_kg_co2e"] = rec["energy_kwh"] * res.parts[comp] if comp in res.parts else float("nan")
        out["cat3_kg_per_kwh"] = per_kwh
        out["cat3_kg_co2e"] = rec["energy_kwh"] * per_kwh
        for col in ("factor_id_td_losses", "factor_id_wtt_generation", "factor_id_wtt_td_losses",
                    "factor_id_upstream_combined", "factor_id_td_loss_rate", "factor_id_generation"):
            out[col] = res.ids.get(col, pd.NA)
        out["td_loss_rate"] = res.rate if res.rate is not None else float("nan")
        out["cat3_flags"] = or_flags([";".join(res.flags)])
        rows.append(out)

    frame = pd.DataFrame(rows, columns=list(electricity.columns) + list(CAT3_COLUMNS))
    frame = frame.astype({**electricity.dtypes.to_dict(), **CAT3_COLUMNS})
    not_est = pd.DataFrame(
        [{**s, "months": ";".join(sorted(s["months"]))} for _, s in sorted(skipped.items())],
        columns=list(NOT_ESTIMATED)).astype(NOT_ESTIMATED)
    factors = pd.DataFrame([used[k] for k in sorted(used)], columns=UPSTREAM_COLUMNS)
    return Category3(rows=frame, not_estimated=not_est, factors=factors)
