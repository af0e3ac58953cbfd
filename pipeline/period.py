"""The reporting period as UTC instants, and month buckets.

The period's days are counted in the entity's time zone and the end date is inclusive:
2026-Q3 in Europe/London is [2026-06-30T23:00Z, 2026-09-30T23:00Z). Months are also calendar months in
the entity's zone, so an activity at 2026-07-31T23:30Z (00:30 BST on 1 August) belongs to 2026-08.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from pipeline.config import Config


@dataclass(frozen=True)
class PeriodBounds:
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp          # exclusive: midnight after the inclusive end date
    zone: str

    @property
    def hours(self) -> float:
        return (self.end_utc - self.start_utc).total_seconds() / 3600.0

    def month_edges(self) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
        """(YYYY-MM, start UTC, end UTC) for each calendar month of the period, clipped to the period."""
        tz = ZoneInfo(self.zone)
        local = self.start_utc.tz_convert(tz)
        out = []
        y, m = local.year, local.month
        while True:
            m_start = pd.Timestamp(dt.datetime(y, m, 1), tz=tz).tz_convert("UTC")
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            m_end = pd.Timestamp(dt.datetime(ny, nm, 1), tz=tz).tz_convert("UTC")
            s, e = max(m_start, self.start_utc), min(m_end, self.end_utc)
            if s >= self.end_utc:
                break
            if e > s:
                out.append((f"{y:04d}-{m:02d}", s, e))
            y, m = ny, nm
        return out


def bounds(cfg: Config) -> PeriodBounds:
    tz = ZoneInfo(cfg.entity.timezone)
    start = pd.Timestamp(dt.datetime.combine(cfg.period.start, dt.time()), tz=tz).tz_convert("UTC")
    end = pd.Timestamp(dt.datetime.combine(cfg.period.end + dt.timedelta(days=1), dt.time()), tz=tz).tz_convert("UTC")
    return PeriodBounds(start, end, cfg.entity.timezone)


def month_of(ts: pd.Series, zone: str) -> pd.Series:
    """Calendar month (YYYY-MM) of UTC timestamps, in the entity's zone."""
    return ts.dt.tz_convert(zone).dt.strftime("%Y-%m").astype("string")


def month_codes(utc_ns, zone: str) -> tuple[np.ndarray, list[str]]:
    """Calendar month, in ``zone``, of UTC instants given as int64 nanoseconds: (code per instant, "YYYY-MM" per
    code). Looked up among the months' first instants (local midnight of the 1st, or the first instant after it
    where midnight does not exist), so no per-instant zone conversion: ~10 x faster than ``tz_convert`` and the
    calendar fields for a million instants (the telemetry stream's intervals)."""
    utc_ns = np.asarray(utc_ns, dtype=np.int64)
    if not len(utc_ns):
        return np.zeros(0, dtype=np.int64), []
    first = pd.Timestamp(int(utc_ns.min()), tz="UTC").tz_convert(zone)
    last = pd.Timestamp(int(utc_ns.max()), tz="UTC").tz_convert(zone)
    periods = pd.period_range(pd.Period(year=first.year, month=first.month, freq="M") - 1,
                              pd.Period(year=last.year, month=last.month, freq="M") + 1, freq="M")
    # midnight that happens twice (clocks back at 01:00): the first one; midnight that never happens: the next
    starts = pd.DatetimeIndex(periods.start_time).tz_localize(
        zone, ambiguous=np.ones(len(periods), dtype=bool), nonexistent="shift_forward")
    bounds = starts.tz_convert("UTC").as_unit("ns").asi8
    idx = np.searchsorted(bounds, utc_ns, side="right") - 1
    return idx, [str(p) for p in periods]
