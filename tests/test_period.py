"""``month_codes``: the local calendar month of UTC instants without converting each instant, checked against
pandas' own zone conversion around every month start, in zones whose clocks change at midnight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.period import month_codes

ZONES = ["Europe/London", "America/Sao_Paulo", "America/Havana", "Asia/Beirut", "Pacific/Apia",
         "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


def _reference(utc_ns: np.ndarray, zone: str) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(utc_ns, tz="UTC").tz_convert(zone).strftime("%Y-%m"))


@pytest.mark.parametrize("zone", ZONES)
def test_months_around_every_month_start_match_the_zone_conversion(zone):
    # every 7 minutes (and the nanosecond either side of each step) within 30 hours of each UTC month start,
    # 2000-2030: local month starts lie within 14 hours of the UTC ones, DST changes included
    month_starts = pd.date_range("2000-01-01", "2030-12-01", freq="MS", tz="UTC").as_unit("ns").asi8
    offsets = np.arange(-30 * 3600, 30 * 3600, 7 * 60, dtype=np.int64) * 1_000_000_000
    grid = (month_starts[:, None] + offsets[None, :]).ravel()
    instants = np.concatenate([grid, grid - 1, grid + 1])
    codes, names = month_codes(instants, zone)
    assert (np.asarray(names)[codes] == _reference(instants, zone)).all()


def test_a_local_month_start_by_hand():
    # Europe/London is UTC+1 in summer: 2026-06-30T23:00Z is local midnight of 1 July
    july = pd.Timestamp("2026-06-30T23:00:00Z").value
    codes, names = month_codes(np.array([july - 1, july, july + 3_600 * 10**9]), "Europe/London")
    assert [names[c] for c in codes] == ["2026-06", "2026-07", "2026-07"]


def test_no_instants():
    codes, names = month_codes(np.zeros(0, dtype=np.int64), "Europe/London")
    assert len(codes) == 0 and names == []
