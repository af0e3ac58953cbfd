"""Source-adapter tests: where the shared vendor samples live (the ``validator`` and ``ingest`` fixtures are in
tests/conftest.py, shared with the corpus tests)."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
