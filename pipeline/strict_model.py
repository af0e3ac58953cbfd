"""The base of every config model: unknown keys are errors (a typo must not be silently ignored), and a
validated config is immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
