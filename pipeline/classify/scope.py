"""Scope and category of each contract, from its metadata and the consolidation approach.

The decision table (GHG Protocol Corporate Standard ch. 3-4, Scope 2 Guidance, Scope 3 Technical
Guidance ch. 1 and 8; see docs/methodology.md). First matching rule fires; its id is recorded on every
activity row and in the report.

| rule id                               | arrangement                                        | approach    | result          |
|---------------------------------------|----------------------------------------------------|-------------|-----------------|
| S3-1-cloud                            | public cloud (instances, managed services)         | any         | Scope 3 Cat 1   |
| S2-owned                              | own data centre / own servers on own premises      | any         | Scope 2         |
| S2-colo-company-power-opcontrol       | colocation, company contracts / is metered for power | operational | Scope 2       |
| S2-colo-finance-lease-fincontrol      | colocation, company power, finance lease           | financial   | Scope 2         |
| S3-8-colo-operating-lease-fincontrol  | colocation, company power, operating lease         | financial   | Scope 3 Cat 8   |
| S3-1-colo-service-fincontrol          | colocation, company power, no lease (service)      | financial   | Scope 3 Cat 1   |
| S3-8-colo-bundled-power               | colocation, provider buys power, bundled in fee    | any         | Scope 3 Cat 8   |

Only Scope 2 energy is "own operations" energy for ESRS E1-5.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Contract

CATEGORY_LABELS = {
    "1": "Cat. 1 Purchased goods and services (cloud computing and data centre services)",
    "2": "Cat. 2 Capital goods",
    "3": "Cat. 3 Fuel- and energy-related activities",
    "8": "Cat. 8 Upstream leased assets",
}


@dataclass(frozen=True)
class Decision:
    rule_id: str
    scope: str            # "2" or "3"
    category: str         # "" for Scope 2
    own_operations: bool
    explanation: str


def classify(contract: Contract, approach: str) -> Decision:
    if contract.kind == "cloud":
        return Decision("S3-1-cloud", "3", "1", False,
                        "Public cloud usage: the provider operates the data centre and buys its electricity; "
                        "reported as purchased cloud computing and data centre services (Scope 3 Cat. 1).")
    if contract.kind == "owned":
        return Decision("S2-owned", "2", "", True,
                        "Own facility: purchased electricity consumed under the company's control is Scope 2.")
    # colocation
    if contract.electricity_purchaser == "provider":
        return Decision("S3-8-colo-bundled-power", "3", "8", False,
                        "Colocation where the operator buys the electricity and bundles it in the fee: the company "
                        "neither contracts nor is metered for the power; reported as upstream leased assets (Cat. 8).")
    if approach == "operational_control":
        return Decision("S2-colo-company-power-opcontrol", "2", "", True,
                        "Colocation where the company contracts / is metered for the electricity and runs its own "
                        "servers: under operational control the consumption is Scope 2.")
    if contract.lease == "none":
        return Decision("S3-1-colo-service-fincontrol", "3", "1", False,
                        "Colocation bought as a service without a lease of identified space, under financial "
                        "control: no leased asset; reported as purchased data centre services (Scope 3 Cat. 1).")
    if contract.lease == "finance":
        return Decision("S2-colo-finance-lease-fincontrol", "2", "", True,
                        "Colocation under a finance lease: under financial control the leased asset is the company's, "
                        "so its electricity is Scope 2.")
    return Decision("S3-8-colo-operating-lease-fincontrol", "3", "8", False,
                    "Colocation under an operating lease with the financial control approach: the space is a leased "
                    "asset not on the balance sheet as owned; its electricity is Scope 3 Cat. 8 (upstream leased assets).")
