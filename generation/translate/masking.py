"""Terms that must survive translation: masked before, restored after, verified, never silently dropped.

What is protected in a text:
- the merchant's glossary: do-not-translate terms (brands, product lines, SKUs, @mentions) stay as they are, and
  fixed terms come out as the merchant's own translation;
- what no translation should touch, found by pattern: URLs, e-mail addresses, @mentions, prices (¥89, 89元, $5.99),
  codes that mix letters and digits (SKU-2291, SPF50+, iPhone15) and emoji.

Each protected span becomes a numbered tag (`<t1>`) the engine is asked to copy; tags are what HTML-aware MT keeps
best, and a tag that comes back spaced or re-cased (`< T1 >`) is still recognised. After translation each tag is
replaced by its term. A tag the engine lost is re-inserted where its term stood in the source (at the same relative
place, on a word boundary) and reported in `reinserted`; a term the engine duplicated is kept once per tag it
returned. The check at the end (`verify`) confirms every protected term is in the output and flags any that is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["Term", "Protected", "protect", "restore", "verify", "PATTERNS"]


@dataclass(frozen=True)
class Term:
    """A glossary entry: `target` None keeps `source` as it is (do not translate)."""

    source: str
    target: str | None = None
    case_sensitive: bool = False
    kind: str = "term"


_PATTERNS_FILE = Path(__file__).parent / "data" / "protect.yaml"


def _load_patterns(path: Path = _PATTERNS_FILE) -> list[tuple[str, re.Pattern[str]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (entry["kind"], re.compile(entry["regex"], re.I if entry["kind"] == "url" else 0)) for entry in data["patterns"]
    ]


#: Spans no translation should touch (`data/protect.yaml`; earlier kinds win on overlap).
PATTERNS = _load_patterns()
_TAG = re.compile(r"<\s*[tT]\s*(\d+)\s*/?\s*>")


@dataclass
class Protected:
    """A text with its protected spans replaced by tags, and what each tag stands for."""

    text: str
    source: str
    spans: list[tuple[int, int, str, str]] = field(default_factory=list)  # (start, end, original, output)

    @property
    def terms(self) -> list[str]:
        return [output for _, _, _, output in self.spans]


def _glossary_spans(text: str, terms: Iterable[Term]) -> list[tuple[int, int, Term]]:
    """Glossary hits, longest terms first, not overlapping each other; Latin terms only on word boundaries."""
    found: list[tuple[int, int, Term]] = []
    taken = [False] * len(text)
    for term in sorted(terms, key=lambda t: -len(t.source)):
        if not term.source:
            continue
        edge_start = r"(?<![A-Za-z0-9])" if term.source[0].isascii() and term.source[0].isalnum() else ""
        edge_end = r"(?![A-Za-z0-9])" if term.source[-1].isascii() and term.source[-1].isalnum() else ""
        pattern = re.compile(edge_start + re.escape(term.source) + edge_end, 0 if term.case_sensitive else re.I)
        for match in pattern.finditer(text):
            if not any(taken[match.start() : match.end()]):
                found.append((match.start(), match.end(), term))
                taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    return found


def protect(text: str, terms: Iterable[Term] = (), patterns: bool = True) -> Protected:
    """Replace glossary terms and pattern spans by `<tN>` tags."""
    spans: list[tuple[int, int, str, str]] = []
    taken = [False] * len(text)
    for start, end, term in _glossary_spans(text, terms):
        spans.append((start, end, text[start:end], term.target if term.target is not None else text[start:end]))
        taken[start:end] = [True] * (end - start)
    if patterns:
        for _, pattern in PATTERNS:
            for match in pattern.finditer(text):
                if match.end() > match.start() and not any(taken[match.start() : match.end()]):
                    spans.append((match.start(), match.end(), match.group(), match.group()))
                    taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    spans.sort()
    out, last = [], 0
    for index, (start, end, _, _) in enumerate(spans, start=1):
        out.append(text[last:start])
        out.append(f"<t{index}>")
        last = end
    out.append(text[last:])
    return Protected("".join(out), text, spans)


def _insert_at(text: str, fraction: float, term: str, spaces: bool, keep: list[tuple[int, int]]) -> tuple[str, int]:
    """`term` put into `text` near `fraction` of its length: on a word boundary where the language has spaces, and
    never inside a term already there (`keep`, intervals of the text). Returns the text and where the term went."""
    at = round(fraction * len(text))
    inside = [False] * (len(text) + 1)
    for a, b in keep:
        for i in range(a + 1, b):
            inside[i] = True
    if spaces:
        places = [0, len(text), *(m.start() for m in re.finditer(r"\s", text))]
    else:
        places = list(range(len(text) + 1))
    places = [p for p in places if not inside[p]] or [len(text)]
    at = min(places, key=lambda p: (abs(p - at), p))
    if spaces:
        before, after = text[:at].rstrip(), text[at:].lstrip()
        joined = " ".join(part for part in (before, term, after) if part)
        return joined, len(before) + (1 if before else 0)
    return text[:at] + term + text[at:], at


def restore(translated: str, protected: Protected, spaces: bool = True) -> tuple[str, list[str]]:
    """Tags back to their terms; lost tags re-inserted. Returns the text and the terms that had to be re-inserted."""
    seen: set[int] = set()
    pieces: list[str] = []
    keep: list[tuple[int, int]] = []
    last, length = 0, 0
    for match in _TAG.finditer(translated):
        pieces.append(translated[last : match.start()])
        length += match.start() - last
        index = int(match.group(1))
        if 1 <= index <= len(protected.spans):  # a tag the engine made up is dropped
            seen.add(index)
            term = protected.spans[index - 1][3]
            pieces.append(term)
            keep.append((length, length + len(term)))
            length += len(term)
        last = match.end()
    pieces.append(translated[last:])
    text = "".join(pieces)
    reinserted = []
    for index, (start, _, _, output) in enumerate(protected.spans, start=1):
        if index not in seen:
            before = len(text)
            text, at = _insert_at(text, start / max(1, len(protected.source)), output, spaces, keep)
            grown = len(text) - before
            keep = [(a + grown, b + grown) if a >= at else (a, b) for a, b in keep]
            keep.append((at, at + len(output)))
            reinserted.append(output)
    return text, reinserted


def verify(text: str, protected: Protected) -> list[str]:
    """The protected terms missing from `text` (case-insensitively): empty when every one is there."""
    lowered = text.lower()
    return [term for term in dict.fromkeys(protected.terms) if term.lower() not in lowered]
