"""Lexicon matching: Aho-Corasick over folded text, context rules, word boundaries and grammar
(`moderation.grammar`), evidence mapped to original offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import numpy as np
import yaml

from moderation.grammar import DEFAULT_GRAMMAR, Grammar, readable
from moderation.normalize import NormalizedText, fold
from moderation.types import Evidence, Hit

__all__ = ["Lexicon", "LexiconEntry", "DEFAULT_LEXICON"]

DEFAULT_LEXICON = Path(__file__).with_name("data") / "lexicon.yaml"
_SENTENCE_MARKS = ("。", "！", "？", "!", "?", "；", ";", "\n")
#: Folding deletes punctuation, so "包，过验" reads "包过验"; a match may not span clause punctuation.
_CLAUSE_MARKS = frozenset("，。！？、；：,!?;:\n")


def _separated(normalized: NormalizedText, i: int) -> bool:
    """Whether the writer separated folded characters `i - 1` and `i` (see `Lexicon._clause`)."""
    left, right = int(normalized.offsets[i - 1]), int(normalized.offsets[i])
    if right - left == 1:
        return False
    original = normalized.original
    between = original[left + 1 : right]
    if not between.isspace():
        return True
    return not (original[left].isascii() or original[right].isascii())


#: Brackets and the like inside a Latin term as written mean it is not that term.
_BRACKETED = re.compile(r"[()\[\]{}<>（）【】=/\\|]")
#: What joins Latin digits into one number or range as written: 1.1.4, 1,000, 1-7, 1–7, 1~7.
_NUMBER_JOINERS = frozenset([".", ",", "-", "–", "—", "~", "～"])


def _one_number(normalized: NormalizedText, i: int) -> bool:
    """Whether digits `i - 1` and `i` belong to one written number or range: adjacent, or Latin digits around a
    decimal point, thousands separator or range dash (第 1–7 行); 第一，七天 are two."""
    left, right = int(normalized.offsets[i - 1]), int(normalized.offsets[i])
    if right - left == 1:
        return True
    original = normalized.original
    return original[left + 1 : right] in _NUMBER_JOINERS and original[left].isascii() and original[right].isascii()


def _folded(values: list[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for f in (fold(v) for v in values or []) if f))


@dataclass(frozen=True)
class LexiconEntry:
    code: str
    weight: float
    not_before: tuple[str, ...] = ()
    not_after: tuple[str, ...] = ()
    unless_near: tuple[str, ...] = ()
    require_near: tuple[str, ...] = ()
    window: int = 8
    ascii_word: bool = False
    skip_categories: tuple[str, ...] = ()
    only_categories: tuple[str, ...] = ()
    category_words: tuple[str, ...] = ()
    word_boundary: bool = True

    def accepts(self, text: str, start: int, end: int, category: str | None) -> bool:
        """Context rules on the folded text around `text[start:end]`."""
        if category and self.skip_categories and any(c in category.lower() for c in self.skip_categories):
            return False
        if self.only_categories:
            # A claim only some goods may not make (除螨 is fine for a vacuum cleaner, not for a face cream):
            # the listing's category decides; without one, words naming such goods anywhere in the field do.
            if category:
                if not any(c in category.lower() for c in self.only_categories):
                    return False
            elif not any(word in text for word in self.category_words):
                return False
        if self.ascii_word and text[start:end].isascii():
            if (start > 0 and text[start - 1].isascii() and text[start - 1].isalpha()) or (
                end < len(text) and text[end].isascii() and text[end].isalpha()
            ):
                return False
        if self.not_after and text.startswith(self.not_after, end):
            return False
        if self.not_before and text[max(0, start - 8) : start].endswith(self.not_before):
            return False
        if self.unless_near or self.require_near:
            around = text[max(0, start - self.window) : start] + " " + text[end : end + self.window]
            if self.unless_near and any(term in around for term in self.unless_near):
                return False
            if self.require_near and not any(term in around for term in self.require_near):
                return False
        return True


class Lexicon:
    """All entries of a lexicon file in one automaton; `version` goes into every audit record."""

    def __init__(self, path: Path = DEFAULT_LEXICON, grammar_path: Path = DEFAULT_GRAMMAR) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.version = str(raw["version"])
        self.entries: list[LexiconEntry] = []
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, list[int]] = {}
        written: list[str] = []
        for item in raw["entries"]:
            entry = LexiconEntry(
                code=item["code"],
                weight=float(item["weight"]),
                not_before=_folded(item.get("not_before")),
                not_after=_folded(item.get("not_after")),
                unless_near=_folded(item.get("unless_near")),
                require_near=_folded(item.get("require_near")),
                window=int(item.get("window", 8)),
                ascii_word=bool(item.get("ascii_word", False)),
                skip_categories=tuple(c.lower() for c in item.get("skip_categories", [])),
                only_categories=tuple(c.lower() for c in item.get("only_categories", [])),
                category_words=_folded(item.get("category_words")),
                word_boundary=bool(item.get("word_boundary", True)),
            )
            self.entries.append(entry)
            combos = [p + s for p in item.get("prefixes", []) for s in item.get("stems", [])]
            written += item["terms"] + combos
            for term in _folded(item["terms"] + combos):
                patterns.setdefault(term, []).append(len(self.entries) - 1)
        for term, entry_ids in patterns.items():
            self._automaton.add_word(term, (term, tuple(entry_ids)))
        self._automaton.make_automaton()
        self.grammar = Grammar(tuple(written), grammar_path)
        self.codes = sorted({e.code for e in self.entries})
        self.warning_cues = _folded(raw.get("warning_cues"))
        self._cue_pattern = re.compile("|".join(map(re.escape, self.warning_cues))) if self.warning_cues else None
        self.weak_weight = float(raw.get("weak_weight", 0.0))

    @staticmethod
    def _clause(normalized: NormalizedText, start: int, end: int, reach: int = 6) -> tuple[int, int]:
        """Folded `[lo, hi)` around a hit, at most `reach` characters each way, stopping at separators folding
        deleted: punctuation or an emoji between two characters, or a space between two Chinese characters, is a
        boundary its writer put there (高仿 古驰 is not 高|仿古|驰), though the hit itself may span such
        separators (高 仿). A space next to a Latin letter or digit is typography (第 1 节), not a boundary."""
        lo = start
        while lo > 0 and start - lo < reach and not _separated(normalized, lo):
            lo -= 1
        hi = end
        while hi < len(normalized.offsets) and hi - end < reach and not _separated(normalized, hi):
            hi += 1
        return lo, hi

    @staticmethod
    def _crosses_clause(normalized: NormalizedText, start: int, end: int) -> bool:
        o_start, o_end = normalized.span(start, end)
        return any(ch in _CLAUSE_MARKS for ch in normalized.original[o_start:o_end])

    def warns_about(self, normalized: NormalizedText, o_start: int, o_end: int) -> bool:
        """Whether the sentence around original `[o_start, o_end)` warns (for evidence found by other means)."""
        if self._cue_pattern is None or not normalized.text:
            return False
        start, end = np.searchsorted(normalized.offsets, [o_start, o_end])
        start = min(int(start), len(normalized.text) - 1)
        return self._in_warning(normalized, start, max(start + 1, int(end)))

    def _in_warning(self, normalized: NormalizedText, start: int, end: int) -> bool:
        """Whether the sentence around normalized `[start, end)` carries a warning cue.

        Sentence marks exist only in the original; their positions are mapped into the folded text, so the
        cue search reads the already-folded sentence.
        """
        original = normalized.original
        o_start, o_end = normalized.span(start, end)
        left = max(original.rfind(mark, 0, o_start) for mark in _SENTENCE_MARKS) + 1
        rights = [i for i in (original.find(mark, o_end) for mark in _SENTENCE_MARKS) if i >= 0]
        right = min(rights) if rights else len(original)
        lo, hi = np.searchsorted(normalized.offsets, [left, right])
        return self._cue_pattern.search(normalized.text, int(lo), int(hi)) is not None

    def match(
        self,
        field: str,
        normalized: NormalizedText,
        category: str | None = None,
        explained: list[tuple[int, int]] | None = None,
    ) -> list[Hit]:
        """Hits in one field; overlapping matches of the same code keep the longest (全网第一 over 第一).

        `explained`, when given, receives the folded spans of terms found in the text and judged NOT to be
        hits (an ordinal 第一, advice 最好, a warning, a drug's own claim) and overlapping no hit: the rules
        have read those words, and a classifier should not read them again as a claim.
        """
        text = normalized.text
        found: dict[str, list[tuple[int, int, float]]] = {}
        candidates: list[tuple[int, int]] = []
        for end_index, (term, entry_ids) in self._automaton.iter(text):
            end = end_index + 1
            start = end - len(term)
            candidates.append((start, end))
            if (term[-1].isdigit() and end < len(text) and text[end].isdigit() and _one_number(normalized, end)) or (
                term[0].isdigit() and start > 0 and text[start - 1].isdigit() and _one_number(normalized, start)
            ):
                continue  # part of a longer number: 第1 in 第12章, 7天 in 17天 (not 第一，七天)
            if term.isascii() and _BRACKETED.search(normalized.original, *normalized.span(start, end)):
                continue  # a Latin term split by brackets as written: top(1) is a man-page reference, not top1
            is_word: bool | None = None  # asked once per span, only if an entry's own rules pass
            for entry_id in entry_ids:
                entry = self.entries[entry_id]
                if not entry.accepts(text, start, end, category):
                    continue
                if entry.word_boundary:
                    if is_word is None:
                        lo, hi = self._clause(normalized, start, end)
                        a = max(0, min(lo, start - 8))  # grammar reads up to 8 characters before (销量第一)
                        window = readable(normalized, a, hi)
                        is_word = self.grammar.is_claim(window, start - a, end - a, lo - a, hi - a)
                    if not is_word:
                        continue
                found.setdefault(entry.code, []).append((start, end, entry.weight))
        hits = []
        taken: list[tuple[int, int]] = []  # folded spans of the hits (for `explained`)
        has_cue = bool(found) and self._cue_pattern is not None and self._cue_pattern.search(text) is not None
        for code, spans in found.items():
            spans = [
                span
                for span in spans
                if not self._crosses_clause(normalized, span[0], span[1])
                and not (has_cue and (span[2] < self.weak_weight or self._in_warning(normalized, span[0], span[1])))
            ]
            if not spans:
                continue
            spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
            kept: list[tuple[int, int, float]] = []
            for span in spans:
                if kept and span[0] < kept[-1][1]:  # overlaps the previous kept span
                    if span[1] - span[0] > kept[-1][1] - kept[-1][0]:
                        kept[-1] = span
                    continue
                kept.append(span)
            evidence = []
            taken += [(start, end) for start, end, _ in kept]
            for start, end, _ in kept:
                o_start, o_end = normalized.span(start, end)
                evidence.append(Evidence(field, o_start, o_end, normalized.original[o_start:o_end]))
            hits.append(Hit(code, max(w for _, _, w in kept), tuple(evidence), "lexicon"))
        if explained is not None and candidates:
            explained += [(a, b) for a, b in candidates if not any(a < y and x < b for x, y in taken)]
        return hits
