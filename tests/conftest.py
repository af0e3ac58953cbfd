"""Options and fixtures shared by the whole suite: one Great Expectations validator per session and a helper
that runs ``pipeline.ingest.ingest_source`` the way ``ingest_all`` does (adapter and corpus tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest import ingest_source
from pipeline.period import bounds
from pipeline.validate.great_expectations import Validator


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the current output (review the diff!)")


@pytest.fixture(scope="session")
def validator(tmp_path_factory) -> Validator:
    return Validator(tmp_path_factory.mktemp("gx"))


@pytest.fixture
def ingest(validator, tmp_path):
    """ingest(cfg, index=0, path=None) -> Ingested, as ingest_all would call it for one file."""

    def _run(cfg, index: int = 0, path: Path | None = None):
        src = cfg.sources[index]
        p = Path(path) if path is not None else cfg.resolve(src.path)
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        return ingest_source(cfg, src, src.id or p.stem, p, validator, bounds(cfg), out)

    return _run
