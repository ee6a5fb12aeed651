"""Is a lexicon hit a word, and is that word used as a claim? Word boundaries plus grammar from data.

`Grammar.is_claim` is asked about every candidate hit of a Chinese term after the entry's own context rules
passed. It answers no when the hit is:
- inside a set phrase or fixed term of `data/grammar.yaml` (安全第一, 绝对路径);
- cut across words by the segmenter (原单 in 原|单位, 小香 in 小|香皂);
- an everyday use that grammar tells apart (`uses` in the data): 第一 + measure word is an ordinal, 最好 +
  verb is advice — unless a ranking scope precedes it (销量第一名).
A term inside one longer word (山寨版, 微信号) is a compound of the term and keeps its meaning.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from moderation.normalize import NormalizedText, normalize
from moderation.segment import Segmenter, Token, is_han

__all__ = ["Grammar", "DEFAULT_GRAMMAR", "readable"]

DEFAULT_GRAMMAR = Path(__file__).with_name("data") / "grammar.yaml"
_HAN_NUMERALS = "〇一二三四五六七八九"


def readable(normalized: NormalizedText, a: int = 0, b: int | None = None) -> str:
    """The folded text (or its `[a:b]` slice) with numerals as Chinese writes them, for the segmenter.

    Folding reads 一 as 1 (so 一三八 is a phone number), which leaves 第1行 for jieba, who knows only 第一行; a
    digit that came from a Han character gets that character back, and any other digit its Chinese numeral
    (第 1 节 reads 第一节: an ordinal either way). Same length as the folded slice.
    """
    text = normalized.text[a:b]
    if not any("0" <= ch <= "9" for ch in text):
        return text
    original, offsets = normalized.original, normalized.offsets
    out = []
    for i, ch in enumerate(text, start=a):
        if "0" <= ch <= "9":
            source = original[offsets[i]]
            ch = source if is_han(source) else _HAN_NUMERALS[int(ch)]
        out.append(ch)
    return "".join(out)


def _folded(values) -> tuple[str, ...]:
    """Terms as `readable` text reads them."""
    return tuple(dict.fromkeys(f for f in (readable(normalize(str(v))) for v in values or []) if f))


@dataclass(frozen=True)
class _Use:
    """One everyday use of some terms (see `uses` in data/grammar.yaml for the fields)."""

    name: str
    prev: tuple[str, ...]
    inside_pos: frozenset[str]
    next_pos: frozenset[str]
    unless_next: frozenset[str]
    unless_prev: tuple[str, ...]
    adjective_after: frozenset[str]

    def everyday(self, text: str, start: int, end: int, tokens: list[Token]) -> bool:
        """Whether the hit `text[start:end]` is this everyday (non-claim) use."""
        before = text[max(0, start - 8) : start]
        if self.unless_prev and before.endswith(self.unless_prev):
            return False
        if self.prev and before.endswith(self.prev):
            return True
        # Where the word the hit starts ends: 最好 + 用 may read 最 + 好用, an adjective ("the most usable").
        core_end = end if any(text.startswith(word, end - len(word)) for word in self.unless_next) else None
        containing = next(
            (t for t in tokens if t.start <= start and end <= t.end and t.end - t.start > end - start), None
        )
        if containing is not None:
            rest = text[end : containing.end]
            if rest in self.unless_next and self.adjective_after:
                core_end = containing.end
            else:
                return ("*" in self.inside_pos or containing.tag in self.inside_pos) and rest not in self.unless_next
        following = next((t for t in tokens if t.start == end), None)
        if core_end is None and following is not None and following.word in self.unless_next:
            core_end = following.end
        if core_end is not None:
            # The adjective reading stands before 的 or at the end of a clause; with an object after it, the
            # phrase is advice again (最好用温水洗, 最好看一下说明书).
            after = next((t for t in tokens if t.start == core_end), None)
            return bool(self.adjective_after) and after is not None and after.word not in self.adjective_after
        return following is not None and following.tag in self.next_pos


class Grammar:
    """Set phrases, uses and the segmenter; the segmenter (jieba, ~1 s) is built on first use."""

    def __init__(self, terms: tuple[str, ...] = (), path: Path = DEFAULT_GRAMMAR) -> None:
        """`terms`: the lexicon's terms as written (they join the segmenter's dictionary)."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.version = str(raw["version"])
        self._terms = tuple(t for t in _folded(terms) if is_han(t))
        self.set_phrases = _folded(raw.get("set_phrases"))
        self._uses: dict[str, list[_Use]] = {}
        for item in raw.get("uses", []):
            use = _Use(
                name=item["name"],
                prev=_folded(item.get("prev")),
                inside_pos=frozenset(item.get("inside_pos", [])),
                next_pos=frozenset(item.get("next_pos", [])),
                unless_next=frozenset(_folded(item.get("unless_next"))),
                unless_prev=_folded(item.get("unless_prev")),
                adjective_after=frozenset(_folded(item.get("adjective_after"))),
            )
            terms = list(item["terms"])
            if use.adjective_after:  # 最好 + 用 = 最好用: the compound terms take the same grammar
                terms += [term + word for term in item["terms"] for word in item.get("unless_next", [])]
            for term in _folded(terms):
                self._uses.setdefault(term, []).append(use)
        # term -> [(offset of the term inside the phrase, phrase)] for every set phrase that contains it
        self._phrases_of: dict[str, list[tuple[int, str]]] = {}
        for term in set(self._terms) | set(self._uses):
            for phrase in self.set_phrases:
                offset = phrase.find(term)
                while offset >= 0:
                    self._phrases_of.setdefault(term, []).append((offset, phrase))
                    offset = phrase.find(term, offset + 1)
        self._segmenter: Segmenter | None = None
        self._lock = threading.Lock()
        self._is_claim_cached = lru_cache(maxsize=65536)(self._is_claim)

    @property
    def segmenter(self) -> Segmenter:
        with self._lock:
            if self._segmenter is None:
                self._segmenter = Segmenter(self._terms, self.set_phrases)
            return self._segmenter

    def warm_up(self) -> None:
        """Build the segmenter now (a service start pays for it, not the first request)."""
        _ = self.segmenter

    def in_set_phrase(self, text: str, start: int, term: str) -> bool:
        return any(text.startswith(phrase, start - offset) for offset, phrase in self._phrases_of.get(term, ()))

    def is_claim(self, text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> bool:
        """Whether the hit `text[start:end]` of `readable` text is a word used as the lexicon means it.

        `text[lo:hi]` is the clause around the hit: folding deletes punctuation, so 原单，纯原 reads 原单纯原,
        and 单纯 must not count as a word across the comma. Pass only the few characters around the hit
        (`Lexicon` does): answers are cached by that window, and listings repeat their phrases.
        """
        return self._is_claim_cached(text, start, end, lo, len(text) if hi is None else hi)

    def _is_claim(self, text: str, start: int, end: int, lo: int, hi: int) -> bool:
        term = text[start:end]
        if not is_han(term):
            return True
        if term in self._phrases_of and self.in_set_phrase(text, start, term):
            return False
        uses = self._uses.get(term)
        segmenter = self.segmenter
        if not uses and not (segmenter.straddled(text, start, lo, hi) or segmenter.straddled(text, end, lo, hi)):
            return True  # no dictionary word crosses either edge: the hit is a word
        tokens = segmenter.window(text, start, end, lo, hi)
        starts = {t.start for t in tokens}
        ends = {t.end for t in tokens}
        if start not in starts or end not in ends:
            inside = any(t.start <= start and end <= t.end for t in tokens)
            if not inside:
                return False  # cut across words: 原|单位
        return not (uses and any(use.everyday(text, start, end, tokens) for use in uses))
