from __future__ import annotations

import pytest
from synthetic import make_disclosure

from pipeline.result import Disclosure


@pytest.fixture
def synthetic_disclosure() -> Disclosure:
    return make_disclosure()
