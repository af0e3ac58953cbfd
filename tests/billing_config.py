"""The one-source billing config the corpus and engine tests build (tests/corpus, tests/engines)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Config, config_from_dict


def billing_config(base_dir: Path, name: str, kind: str, provider: str, period: str, *, source_id: str,
                   contract_id: str, timezone: str = "UTC", engine: str | None = None,
                   entity: str = "Corpus") -> Config:
    """A config with one cloud contract of ``provider`` and one billing source ``name`` (in ``base_dir``)."""
    data = {
        "entity": {"name": entity, "consolidation_approach": "operational_control", "currency": "USD",
                   "timezone": timezone},
        "period": period,
        "contracts": [{"id": contract_id, "kind": "cloud", "provider": provider}],
        "sources": [{"id": source_id, "kind": kind, "path": name, "contracts": [contract_id]}],
    }
    if engine is not None:
        data["engine"] = engine
    return config_from_dict(data, base_dir=base_dir)
