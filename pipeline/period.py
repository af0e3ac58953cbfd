"""The reporting period as UTC instants, and month buckets.

The period's days are counted in the entity's time zone and the end date is inclusive:
2026-Q3 in Europe/London is [2026-06-30T23:00Z, 2026-09-30T23:00Z). Months are also calendar months in
the entity's zone, so an activity at 2026-07-31T23:30Z (00:30 BST on 1 August) belongs to 2026-08.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
