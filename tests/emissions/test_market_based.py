"""pipeline/emissions/market_based.py: certificate quality criteria and coverage shares."""

from __future__ import annotations

import pytest

from pipeline.config import Certificate, Contract, Site
from pipeline.emissions.market_based import apply_certificates, check_certificate

SITE = Site(id="s1", grid_zone="GB", pue=1.3)


def _cert(cid="GO-1", mwh=40.0, market="GB", vintage=2026, retired=True, factor=0.0) -> Certificate:
    return Certificate(id=cid, type="GO", mwh=mwh, market=market, vintage_year=vintage, retired=retired,
                       factor_kg_per_kwh=factor)


def _contract(*certs) -> Contract:
    return Contract(id="colo", kind="colocation", provider="Colo", site="s1", certificates=list(certs))


def test_qualifying_certificate():
    assert check_certificate(_cert(), SITE, 2026) is None
    # market compared case-insensitively
    assert check_certificate(_cert(market="gb"), SITE, 2026) is None


@pytest.mark.parametrize("cert, reason", [
    (_cert(market="DE"), "market DE differs from the site's grid zone GB"),
    (_cert(vintage=2025), "vintage 2025 does not match the reporting year 2026"),
    (_cert(retired=False), "not retired / cancelled on the company's behalf"),
])
def test_rejected_certificate_reason(cert, reason):
    assert check_certificate(cert, SITE, 2026) == reason


def test_forty_percent_coverage():
    # 40 MWh = 40,000 kWh of 100,000 kWh -> share 0.4
    inst, dec = apply_certificates(_contract(_cert(mwh=40)), SITE, 2026, 100_000.0)
    assert [i.key for i in inst] == ["GO-1"]
    assert inst[0].share == pytest.approx(0.4, rel=1e-9)
    assert inst[0].factor_row["value_kg_per_kwh"] == 0.0
    assert inst[0].factor_row["factor_id"] == "eac-GO-1"
    assert dec[0]["accepted"] is True
    assert dec[0]["applied_mwh"] == pytest.approx(40.0, rel=1e-9)


def test_two_certificates():
    # 30 + 10 MWh of 100 MWh -> 0.3 + 0.1
    inst, dec = apply_certificates(_contract(_cert("A", 30), _cert("B", 10)), SITE, 2026, 100_000.0)
    assert {i.key: i.share for i in inst} == {"A": pytest.approx(0.3, rel=1e-9), "B": pytest.approx(0.1, rel=1e-9)}
    assert [d["applied_mwh"] for d in dec] == [pytest.approx(30.0, rel=1e-9), pytest.approx(10.0, rel=1e-9)]


def test_over_coverage_capped_at_one():
    # 80 + 40 = 120 MWh for 100 MWh consumed: coverage 1.0, split 80/120 and 40/120
    inst, dec = apply_certificates(_contract(_cert("A", 80), _cert("B", 40)), SITE, 2026, 100_000.0)
    shares = {i.key: i.share for i in inst}
    assert shares == {"A": pytest.approx(80 / 120, rel=1e-9), "B": pytest.approx(40 / 120, rel=1e-9)}
    assert sum(shares.values()) == pytest.approx(1.0, rel=1e-9)
    # applied volume = share x 100 MWh: 66.67 + 33.33 = 100 MWh (20 MWh not carried)
    assert [d["applied_mwh"] for d in dec] == [pytest.approx(100 * 80 / 120, rel=1e-9),
                                               pytest.approx(100 * 40 / 120, rel=1e-9)]


def test_rejected_certificate_covers_nothing():
    inst, dec = apply_certificates(_contract(_cert("OK", 40), _cert("DE", 50, market="DE"),
                                             _cert("OLD", 50, vintage=2024)), SITE, 2026, 100_000.0)
    assert [(i.key, round(i.share, 12)) for i in inst] == [("OK", 0.4)]
    assert [(d["instrument"], d["accepted"], d["applied_mwh"]) for d in dec] == [
        ("OK", True, pytest.approx(40.0, rel=1e-9)), ("DE", False, 0.0), ("OLD", False, 0.0)]
    assert dec[1]["reason"] == "market DE differs from the site's grid zone GB"


def test_no_consumption_no_instruments():
    inst, dec = apply_certificates(_contract(_cert()), SITE, 2026, 0.0)
    assert inst == [] and len(dec) == 1 and dec[0]["applied_mwh"] == 0.0


def test_certificate_claimed_twice_is_rejected_the_second_time():
    claimed: dict[str, str] = {}
    inst1, _ = apply_certificates(_contract(_cert(mwh=40)), SITE, 2026, 100_000.0, claimed)
    other = Contract(id="colo-2", kind="colocation", provider="Colo", site="s1", certificates=[_cert(mwh=40)])
    inst2, dec2 = apply_certificates(other, SITE, 2026, 100_000.0, claimed)
    assert [i.key for i in inst1] == ["GO-1"] and inst2 == []
    assert dec2[0]["accepted"] is False
    assert dec2[0]["reason"] == "already claimed by contract colo (an instrument is claimed once)"
    assert dec2[0]["applied_mwh"] == 0.0
