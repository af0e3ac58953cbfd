"""pipeline/classify/scope.py: the scope decision table, every row under both consolidation approaches."""

from __future__ import annotations

import pytest

from pipeline.classify.scope import CATEGORY_LABELS, classify
from pipeline.config import Contract

OP, FIN = "operational_control", "financial_control"


def _contract(kind: str, purchaser: str = "company", lease: str = "operating") -> Contract:
    site = None if kind == "cloud" else "s1"
    return Contract(id="c1", kind=kind, provider="p", site=site, electricity_purchaser=purchaser, lease=lease)


# (kind, electricity_purchaser, lease, approach) -> (rule id, scope, category, own operations)
TABLE = [
    # S3-1-cloud: public cloud, any approach, whatever the other fields say
    ("cloud", "provider", "none", OP, ("S3-1-cloud", "3", "1", False)),
    ("cloud", "provider", "none", FIN, ("S3-1-cloud", "3", "1", False)),
    ("cloud", "company", "finance", OP, ("S3-1-cloud", "3", "1", False)),
    ("cloud", "company", "finance", FIN, ("S3-1-cloud", "3", "1", False)),
    # S2-owned: own data centre, any approach
    ("owned", "company", "none", OP, ("S2-owned", "2", "", True)),
    ("owned", "company", "none", FIN, ("S2-owned", "2", "", True)),
    ("owned", "provider", "operating", OP, ("S2-owned", "2", "", True)),
    ("owned", "provider", "operating", FIN, ("S2-owned", "2", "", True)),
    # S2-colo-company-power-opcontrol: colocation, company power, operational control (any lease)
    ("colocation", "company", "operating", OP, ("S2-colo-company-power-opcontrol", "2", "", True)),
    ("colocation", "company", "finance", OP, ("S2-colo-company-power-opcontrol", "2", "", True)),
    ("colocation", "company", "none", OP, ("S2-colo-company-power-opcontrol", "2", "", True)),
    # S2-colo-finance-lease-fincontrol: colocation, company power, finance lease, financial control
    ("colocation", "company", "finance", FIN, ("S2-colo-finance-lease-fincontrol", "2", "", True)),
    # S3-8-colo-operating-lease-fincontrol: colocation, company power, operating lease, financial control
    ("colocation", "company", "operating", FIN, ("S3-8-colo-operating-lease-fincontrol", "3", "8", False)),
    # S3-8-colo-bundled-power: provider buys the power, any approach and lease
    ("colocation", "provider", "operating", OP, ("S3-8-colo-bundled-power", "3", "8", False)),
    ("colocation", "provider", "operating", FIN, ("S3-8-colo-bundled-power", "3", "8", False)),
    ("colocation", "provider", "finance", OP, ("S3-8-colo-bundled-power", "3", "8", False)),
    ("colocation", "provider", "finance", FIN, ("S3-8-colo-bundled-power", "3", "8", False)),
]


@pytest.mark.parametrize("kind, purchaser, lease, approach, expected", TABLE)
def test_decision_table(kind, purchaser, lease, approach, expected):
    d = classify(_contract(kind, purchaser, lease), approach)
    assert (d.rule_id, d.scope, d.category, d.own_operations) == expected
    assert d.explanation  # every decision explains itself
    if d.category:
        assert d.category in CATEGORY_LABELS


def test_scope2_rows_are_own_operations_and_scope3_rows_are_not():
    for kind, purchaser, lease, approach, _ in TABLE:
        d = classify(_contract(kind, purchaser, lease), approach)
        assert d.own_operations == (d.scope == "2")
        assert (d.category == "") == (d.scope == "2")


def test_every_rule_of_the_table_is_reached():
    rules = {classify(_contract(k, p, le), a).rule_id for k, p, le, a, _ in TABLE}
    assert rules == {"S3-1-cloud", "S2-owned", "S2-colo-company-power-opcontrol",
                     "S2-colo-finance-lease-fincontrol", "S3-8-colo-operating-lease-fincontrol",
                     "S3-8-colo-bundled-power"}


def test_approach_decides_colocation_with_company_power():
    c = _contract("colocation", "company", "operating")
    assert classify(c, OP).scope == "2"
    assert classify(c, FIN).scope == "3"
