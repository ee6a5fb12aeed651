"""Decision policy (`data/policy.yaml`): per-label thresholds, which labels block, classifier weighting."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from moderation.types import TOP_LABELS

__all__ = ["Policy", "Thresholds", "DEFAULT_POLICY"]

DEFAULT_POLICY = Path(__file__).with_name("data") / "policy.yaml"


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    review: float = Field(0.5, ge=0, le=1)
    block: float = Field(0.88, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.block < self.review:
            raise ValueError(f"block threshold {self.block} is below review threshold {self.review}")
        return self


class _ClassifierPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    veto_below: float = Field(0.08, ge=0, le=1)
    veto_scale: float = Field(0.8, ge=0, le=1)
    # A label the classifier finds alone (no rule evidence) needs at least this probability to send to review.
    review_alone: float = Field(0.5, ge=0, le=1)
    # The classifier abstains (rules alone decide) on text whose in-domain probability is below this.
    abstain_below: float = Field(0.0, ge=0, le=1)


class _CounterfeitPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_ratio: float = Field(0.3, gt=0, le=1)


class Policy(BaseModel):
    """Validated policy; build with `Policy.load()` or `Policy.model_validate(user_config)`."""

    model_config = ConfigDict(extra="forbid")
    version: str = "custom"
    default: Thresholds = Thresholds()
    labels: dict[str, Thresholds] = {}
    block_labels: list[str] = list(TOP_LABELS)
    classifier: _ClassifierPolicy = _ClassifierPolicy()
    counterfeit: _CounterfeitPolicy = _CounterfeitPolicy()

    @model_validator(mode="after")
    def _known_labels(self) -> Policy:
        unknown = (set(self.labels) | set(self.block_labels)) - set(TOP_LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; known: {list(TOP_LABELS)}")
        return self

    @classmethod
    def load(cls, path: Path = DEFAULT_POLICY) -> Policy:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def thresholds(self, label: str) -> Thresholds:
        return self.labels.get(label, self.default)
