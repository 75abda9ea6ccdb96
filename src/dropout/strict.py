"""The base of every configuration and request model: unknown keys are refused.

A typo in a YAML file or a request must never fall back silently to a default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Refuses unknown fields; frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
