"""The compliance pass: moderate a draft, rewrite advertising-law and medical-claim spans, check again.

Rewrites are driven by the moderation result's evidence (spans in the ORIGINAL text) and a data file of
compliant alternatives, looked up by the folded term, so every term of the lexicon has an answer without a
hand-written case per phrase. A draft that still does not pass after rewriting is `flagged` with what
remains; nothing that moderation would not let through is reported as clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generation.copy.request import NoteRequest
from generation.copy.schema import Compliance, NoteContent
from moderation import Listing, ModerationResult, Moderator, fold

__all__ = ["CompliancePass", "RewriteTable", "REWRITE_CODES"]

COMPLIANCE_PATH = Path(__file__).with_name("data") / "compliance.yaml"
#: Label families the pass rewrites; anything else (diversion, counterfeit, ...) can only be flagged.
REWRITE_CODES = ("ad_law", "medical_claim")
_TAGS_SEPARATOR = "\n\n#"
_MAX_ROUNDS = 3


class RewriteTable:
    """Folded flagged term -> compliant alternative (`data/compliance.yaml`)."""

    def __init__(self, path: Path = COMPLIANCE_PATH) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.version = str(raw["version"])
        self.exact = {fold(k): v for k, v in raw["exact"].items()}
        self.patterns = [(re.compile(p["match"]), p["replace"]) for p in raw["patterns"]]
        self.defaults: dict[str, str] = raw["defaults"]

    def alternative(self, text: str, code: str) -> str:
        """The replacement for a flagged span `text` of label `code`."""
        term = fold(text)
        if term in self.exact:
            return self.exact[term]
        for pattern, replacement in self.patterns:
            match = pattern.fullmatch(term)
            if match:
                return match.expand(replacement)
        parts = code.split(".")
        for end in range(len(parts), 0, -1):
            key = ".".join(parts[:end])
            if key in self.defaults:
                return self.defaults[key]
        raise KeyError(f"no compliant alternative for label {code!r}; add a `defaults` entry to {COMPLIANCE_PATH}")


@dataclass
class _Fields:
    title: str
    body: str

    @classmethod
    def of(cls, content: NoteContent) -> _Fields:
        body = content.body + _TAGS_SEPARATOR + " #".join(content.hashtags) if content.hashtags else content.body
        return cls("\n".join(content.titles), body)

    def content(self, used: list[str]) -> NoteContent:
        body, _, tags = self.body.partition(_TAGS_SEPARATOR)
        hashtags = [t.strip() for t in tags.split(" #") if t.strip()] if tags else []
        return NoteContent(self.title.split("\n"), body.split("\n\n"), hashtags, used)


class CompliancePass:
    """Moderate -> rewrite `ad_law`/`medical_claim` evidence -> moderate again (a few rounds) -> verdict."""

    def __init__(self, moderator: Moderator, table: RewriteTable | None = None) -> None:
        self.moderator = moderator
        self.table = table or RewriteTable()

    def _listing(self, fields: _Fields, request: NoteRequest) -> Listing:
        # The platform moderates a note with its product facts, so price floors of brands apply here too.
        return Listing(
            title=fields.title,
            body=fields.body,
            brand=request.brand or None,
            category=request.category or None,
            price=request.price,
        )

    def _rewrite(self, fields: _Fields, result: ModerationResult, log: list[dict[str, str]]) -> bool:
        """Replace every rewritable evidence span; True when something changed."""
        spans: dict[str, list[tuple[int, int, str, str]]] = {"title": [], "body": []}
        for label in result.labels:
            if not label.code.startswith(REWRITE_CODES):
                continue
            for ev in label.evidence:
                if ev.field in spans and ev.end > ev.start:
                    spans[ev.field].append((ev.start, ev.end, ev.text, label.code))
        changed = False
        for name, items in spans.items():
            text = getattr(fields, name)
            last_start = len(text) + 1
            for start, end, original, code in sorted(set(items), key=lambda s: (-s[0], s[1])):
                if end > last_start or text[start:end] != original:
                    continue  # overlaps a span already rewritten in this round
                replacement = self.table.alternative(original, code)
                text = text[:start] + replacement + text[end:]
                last_start = start
                changed = True
                log.append({"field": name, "original": original, "replacement": replacement, "code": code})
            setattr(fields, name, text)
        return changed

    def __call__(self, content: NoteContent, request: NoteRequest) -> tuple[NoteContent, Compliance, dict[str, Any]]:
        """Check and fix one note.

        Returns:
            The (possibly rewritten) content, what the pass did, and the final moderation result as a dict.
        """
        fields = _Fields.of(content)
        rewrites: list[dict[str, str]] = []
        result = self.moderator.moderate(self._listing(fields, request))
        for _ in range(_MAX_ROUNDS):
            if result.decision == "pass" or not self._rewrite(fields, result, rewrites):
                break
            result = self.moderator.moderate(self._listing(fields, request))
        if result.decision == "pass":
            status = "rewritten" if rewrites else "clean"
            remaining: list[dict[str, Any]] = []
        else:
            status = "flagged"
            remaining = [label.to_dict() for label in result.labels]
        fixed = fields.content(content.selling_points_used) if rewrites else content
        return fixed, Compliance(status=status, rewrites=rewrites, remaining=remaining), result.to_dict()
