"""Typed inputs and outputs of moderation (library side; the HTTP wire models mirror them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Listing", "Evidence", "Label", "Hit", "ModerationResult", "TOP_LABELS", "TEXT_FIELDS"]

#: Top-level label codes, fixed by the public contract.
TOP_LABELS = ("ad_law", "medical_claim", "diversion", "counterfeit", "prohibited", "sexual", "fraud")
#: Text fields a listing is checked on, in report order.
TEXT_FIELDS = ("title", "body")


@dataclass
class Listing:
    """One input record; unknown fields of the wire format are dropped before this point."""

    title: str = ""
    body: str = ""
    id: str | None = None
    price: float | None = None
    brand: str | None = None
    category: str | None = None
    images: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Evidence:
    """A span of the ORIGINAL field text (`start`/`end` are Python string indices)."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    """One signal: a lexicon/rule match or another detector, with its own score and evidence."""

    code: str
    score: float
    evidence: tuple[Evidence, ...] = ()
    source: str = "lexicon"  # lexicon | rule | classifier | counterfeit | image


@dataclass
class Label:
    code: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the wire and the audit log (dataclasses.asdict deep-copies: 10x slower)."""
        return {
            "code": self.code,
            "score": self.score,
            "evidence": [{"field": e.field, "start": e.start, "end": e.end, "text": e.text} for e in self.evidence],
            "sources": list(self.sources),
        }


@dataclass
class ModerationResult:
    id: str | None
    decision: str  # pass | review | block
    risk: float
    labels: list[Label]
    engine: str
    versions: dict[str, str]
    decision_id: str | None = None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "risk": self.risk,
            "labels": [label.to_dict() for label in self.labels],
            "engine": self.engine,
            "versions": dict(self.versions),
            "decision_id": self.decision_id,
            "reasons": list(self.reasons),
        }
