"""Word boundaries around lexicon hits, from jieba with a domain dictionary.

A Chinese lexicon term is a string of characters, and the same characters occur inside ordinary words:
原单 (replica "original order") inside 原单位 ("the former employer"), 小香 inside 小香皂 ("small soap"),
纯原 inside 纯原装 ("all original parts"). Whether a hit is a word is a segmentation question, so the
segmenter answers it — but only in a small window around each candidate hit: segmenting whole texts would
cost far more than matching them. jieba's own dictionary does not know the domain (it reads 微信号 as
微 + 信号), so every lexicon term is added to it with the frequency jieba suggests for keeping it whole;
longer ordinary words still win where they exist, as they do in the examples above.

Most hits touch no dictionary word across their edges at all; a dictionary probe (a handful of dict
lookups) settles those without running the segmenter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Segmenter", "Token", "is_han"]

#: Characters either side of a hit that the segmenter sees; jieba's longest common words are 4 characters.
WINDOW = 4
_MAX_WORD = 6


def is_han(text: str) -> bool:
    """Whether every character is a CJK ideograph (only such terms have word-boundary questions)."""
    return bool(text) and all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


@dataclass(frozen=True)
class Token:
    """One word of a segmented window, with offsets in the text the window was cut from."""

    word: str
    start: int
    end: int
    tag: str


class Segmenter:
    """A jieba tokenizer that knows the lexicon's terms; thread-safe, built once per process (~1 s)."""

    def __init__(self, terms: Iterable[str] = (), phrases: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._lock = threading.Lock()
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._tags = _default_tags(self._jieba)
        for term in terms:
            if is_han(term) and len(term) > 1 and not self._jieba.FREQ.get(term):
                # suggest_freq(term, tune=False): just enough to keep the term whole when it stands alone
                self._jieba.add_word(term, self._jieba.suggest_freq(term, False), "nz")
        for phrase in phrases:  # set phrases stay whole (安全第一), so their parts are not words
            self._jieba.add_word(phrase, max(self._jieba.suggest_freq(phrase, False), 1000), "l")
        self._freq = self._jieba.FREQ
        self._cut_cached = lru_cache(maxsize=65536)(self._cut)

    def tag(self, word: str) -> str:
        """jieba's part-of-speech tag for a dictionary word (`x` when unknown)."""
        return self._tags.get(word, "x")

    def straddled(self, text: str, position: int, lo: int = 0, hi: int | None = None) -> bool:
        """Whether some dictionary word inside `text[lo:hi]` starts before `position` and ends after it."""
        freq = self._freq
        hi = len(text) if hi is None else hi
        for start in range(max(lo, position - _MAX_WORD + 1), position):
            for end in range(position + 1, min(hi, start + _MAX_WORD) + 1):
                if freq.get(text[start:end]):
                    return True
        return False

    def window(self, text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> list[Token]:
        """Tokens of `text[start - WINDOW : end + WINDOW]`, kept inside `text[lo:hi]`, offsets in `text`."""
        left = max(lo, start - WINDOW)
        right = min(len(text) if hi is None else hi, end + WINDOW)
        return [Token(word, left + s, left + e, tag) for word, s, e, tag in self._cut_cached(text[left:right])]

    def _cut(self, window: str) -> tuple[tuple[str, int, int, str], ...]:
        with self._lock:  # jieba's tokenizer keeps per-call state in its DAG helpers; one caller at a time
            words = self._jieba.lcut(window, HMM=False)
        tokens, position = [], 0
        for word in words:
            tokens.append((word, position, position + len(word), self.tag(word)))
            position += len(word)
        return tuple(tokens)


def _default_tags(tokenizer) -> dict[str, str]:
    """word -> POS tag, from the dictionary file jieba loaded (its third column)."""
    tags: dict[str, str] = {}
    with tokenizer.get_dict_file() as handle:
        for raw in handle:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    return tags
