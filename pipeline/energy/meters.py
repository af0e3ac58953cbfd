"""Site meters: coverage of the period, gaps (listed one by one, optionally filled) and kWh per month.

Meter intervals arrive from the adapter already in kWh, de-duplicated and with register resets handled.
Here, per meter of a site:

1. Coverage: the union of the intervals inside the period. Below 95 % of the period's hours the run stops
   (a quarter's figure resting on a fraction of its readings is not a measurement).
2. Gaps: every stretch of the period no interval covers (before the first reading, between readings, after
   the last) is listed with its start, end and duration. A DST change is not a gap: timestamps carry their
   UTC offset, so the 25-hour autumn day simply has 25 hourly intervals.
3. Fill (``meters[].gap_fill``): ``none`` (default) adds no energy for a gap - an undercount, stated;
   ``neighbour_average`` fills it with the average power (kWh/h) of the interval before and the interval
   after it (or the one that exists at a period edge) x the gap's hours. Filled energy is a separate row
   flagged ``meter_gap_filled``, split at month edges, so it is visible in the ledger's defaults.
4. Months: the month of an interval's start, in the entity's zone. IT-load meters are scaled by the site's
   PUE to facility energy; facility meters are taken as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import Site
from pipeline.errors import ValidationFailed
from pipeline.period import PeriodBounds

MIN_METER_COVERAGE = 0.95
FLAG_GAP_FILLED = "meter_gap_filled"


def _in_period(mm: pd.DataFrame, bounds: PeriodBounds) -> pd.DataFrame:
    s = mm["interval_start_utc"].clip(lower=bounds.start_utc)
    e = mm["interval_end_utc"].clip(upper=bounds.end_utc)
    keep = e > s
    out = mm[keep].assign(_s=s[keep], _e=e[keep])
    return out.sort_values(["_s", "_e"], kind="stable")


def meter_gaps(mm: pd.DataFrame, bounds: PeriodBounds) -> pd.DataFrame:
    """Uncovered stretches of the period for ONE meter's intervals: gap_start_utc, gap_end_utc, duration_h,
    and the neighbouring intervals' average power (before_kw, after_kw; NaN at a period edge)."""
    iv = _in_period(mm, bounds)
    cols = ["gap_start_utc", "gap_end_utc", "duration_h", "before_kw", "after_kw", "before_row", "after_row",
            "source_file"]
    if iv.empty:
        return pd.DataFrame([{"gap_start_utc": bounds.start_utc, "gap_end_utc": bounds.end_utc,
                              "duration_h": bounds.hours, "before_kw": float("nan"), "after_kw": float("nan"),
                              "before_row": pd.NA, "after_row": pd.NA, "source_file": ""}], columns=cols)
    hours = (iv["interval_end_utc"] - iv["interval_start_utc"]).dt.total_seconds() / 3600.0
    kw = (iv["energy_kwh"] / hours.where(hours > 0)).to_numpy()
    starts, ends = iv["_s"].reset_index(drop=True), iv["_e"].reset_index(drop=True)
    covered_to = ends.cummax()
    prev_end = covered_to.shift(1)
    prev_end.iloc[0] = bounds.start_utc
    rows = iv["source_row"].to_numpy()
    # for each position, the latest interval (so far) whose end is the covered frontier
    reach = pd.Series(np.where(ends.to_numpy() == covered_to.to_numpy(), np.arange(len(ends)), -1)).cummax().to_numpy()
    files = iv["source_file"].astype(str).to_numpy()
    out = []
    for i in (starts > prev_end).to_numpy().nonzero()[0]:
        # the interval that ends the covered stretch before the gap: the last one reaching the frontier
        before = int(reach[i - 1]) if i > 0 else -1
        out.append({"gap_start_utc": prev_end.iloc[i], "gap_end_utc": starts.iloc[i],
                    "before_kw": kw[before] if before >= 0 else float("nan"), "after_kw": kw[i],
                    "before_row": int(rows[before]) if before >= 0 else pd.NA, "after_row": int(rows[i]),
                    "source_file": files[i]})
    if covered_to.iloc[-1] < bounds.end_utc:
        out.append({"gap_start_utc": covered_to.iloc[-1], "gap_end_utc": bounds.end_utc,
                    "before_kw": kw[-1], "after_kw": float("nan"), "before_row": int(rows[-1]), "after_row": pd.NA,
                    "source_file": files[-1]})
    g = pd.DataFrame(out, columns=cols)
    for c in ("gap_start_utc", "gap_end_utc"):
        g[c] = pd.to_datetime(g[c], utc=True)
    g["duration_h"] = (g["gap_end_utc"] - g["gap_start_utc"]).dt.total_seconds() / 3600.0
    return g


def check_meter_coverage(meters: pd.DataFrame, site: Site, bounds: PeriodBounds, source_label: str
                         ) -> tuple[list[dict], pd.DataFrame]:
    """Stops the run when a meter of the site covers less than 95 % of the period.

    Returns (one report row per gap, fill intervals for meters with ``gap_fill: neighbour_average``)."""
    problems, gap_rows, fills = [], [], []
    for meter in site.meters:
        mm = meters[meters["meter_id"] == meter.id]
        gaps = meter_gaps(mm, bounds)
        missing = float(gaps["duration_h"].sum())
        share = 1.0 - missing / bounds.hours if bounds.hours else 0.0
        if share < MIN_METER_COVERAGE - 1e-12:
            first, last = mm["interval_start_utc"].min(), mm["interval_end_utc"].max()
            span = f"{first:%Y-%m-%d %H:%M}Z..{last:%Y-%m-%d %H:%M}Z" if len(mm) else "no readings"
            problems.append(f"meter {meter.id} at site {site.id} covers {share:.2%} of the period ({span}); "
                            f"at least {MIN_METER_COVERAGE:.0%} is needed")
            continue
        for g in gaps.itertuples(index=False):
            fill_kwh = float("nan")
            if meter.gap_fill == "neighbour_average":
                kws = [k for k in (g.before_kw, g.after_kw) if pd.notna(k)]
                fill_kwh = (sum(kws) / len(kws)) * g.duration_h if kws else float("nan")
            treatment = (f"filled with the neighbours' average power ({fill_kwh:.3f} kWh), flagged {FLAG_GAP_FILLED}"
                         if pd.notna(fill_kwh) else "not filled: the gap adds no energy (undercount)")
            gap_rows.append({"site": site.id, "meter": meter.id,
                             "gap_start_utc": g.gap_start_utc.isoformat(), "gap_end_utc": g.gap_end_utc.isoformat(),
                             "duration_h": round(float(g.duration_h), 6),
                             "fill_kwh": None if pd.isna(fill_kwh) else float(fill_kwh), "treatment": treatment})
            if pd.notna(fill_kwh) and fill_kwh > 0:
                row = g.before_row if pd.notna(g.before_row) else g.after_row
                fills.append({"source_file": g.source_file, "source_row": int(row), "meter_id": meter.id,
                              "site_id": site.id, "interval_start_utc": g.gap_start_utc,
                              "interval_end_utc": g.gap_end_utc, "energy_kwh": fill_kwh, "flags": FLAG_GAP_FILLED})
    if problems:
        raise ValidationFailed(
            "the reporting period is not covered by meter readings", file=source_label, problems=problems,
            fix="supply the missing readings (or remove the meter from the site if it was decommissioned)")
    return gap_rows, _split_at_months(pd.DataFrame(fills), bounds)


def _split_at_months(fills: pd.DataFrame, bounds: PeriodBounds) -> pd.DataFrame:
    """A fill interval that crosses a month edge becomes one row per month, energy pro rata to time."""
    if fills.empty:
        return fills
    rows = []
    for f in fills.to_dict("records"):
        total = (f["interval_end_utc"] - f["interval_start_utc"]).total_seconds()
        for _month, m_start, m_end in bounds.month_edges():
            s, e = max(f["interval_start_utc"], m_start), min(f["interval_end_utc"], m_end)
            if e > s:
                rows.append({**f, "interval_start_utc": s, "interval_end_utc": e,
                             "energy_kwh": f["energy_kwh"] * (e - s).total_seconds() / total})
    return pd.DataFrame(rows)


def meter_months(meters: pd.DataFrame, site: Site, bounds: PeriodBounds) -> pd.DataFrame:
    """Meter intervals of the site with month (entity zone), hours, and facility kWh (IT-load meters x PUE)."""
    measures = {m.id: m.measures for m in site.meters}
    m = meters[meters["site_id"] == site.id].copy()
    m["month"] = m["interval_start_utc"].dt.tz_convert(bounds.zone).dt.strftime("%Y-%m")
    m["hours"] = (m["interval_end_utc"] - m["interval_start_utc"]).dt.total_seconds() / 3600.0
    m["scale"] = m["meter_id"].map(lambda mid: site.pue if measures.get(mid) == "it_load" else 1.0)
    m["facility_kwh"] = m["energy_kwh"] * m["scale"]
    return m
