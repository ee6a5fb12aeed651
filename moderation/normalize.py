"""Evasion-proof text normalization that keeps a map back to the original offsets.

Sellers dodge filters with full-width letters, Traditional characters, zero-width characters, separators
between characters (高 仿, 国.家.级), circled or Chinese-numeral digits, emoji keycaps and look-alike
Cyrillic letters. Everything is folded by ONE code-point table built at import (NFKC, case, OpenCC t2s,
confusables, numerals, deletions), applied with numpy in a few microseconds per listing; the index of every
kept character is the offset map, so a match in the normalized text is reported on the original text.

Whitespace is the one context-dependent rule: it is dropped next to non-ASCII characters (高 仿 -> 高仿)
and collapsed to one space between ASCII letters or digits, so English words stay words.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

__all__ = ["NormalizedText", "normalize", "fold"]

_DATA = Path(__file__).with_name("data") / "confusables.yaml"
_SPACE = ord(" ")
#: Code points the table covers: the BMP and the emoji / symbol planes. Others pass through unchanged.
_TABLE_SIZE = 0x20000
_DELETE_CATEGORIES = {"Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Po", "Pd", "Ps", "Pe", "Pi", "Pf", "Pc", "Sm", "Sk"}
_SYMBOL_CATEGORIES = {"So", "Sc", "Co", "Cs"}


@dataclass(frozen=True)
class NormalizedText:
    """Folded text plus, for each of its characters, the index of the original character it came from."""

    text: str
    offsets: np.ndarray  # int32, len(text)
    original: str

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original `[start, end)` covering normalized `[start, end)`."""
        return int(self.offsets[start]), int(self.offsets[end - 1]) + 1


def _fold_char(ch: str) -> str:
    """Fold one character without context: NFKC, digits of circled forms, case. '' deletes it."""
    category = unicodedata.category(ch)
    if ch.isspace():
        return " "
    if category in _DELETE_CATEGORIES:
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        # ⑴ -> "(1)", ⒈ -> "1.": keep the alphanumerics when exactly one remains.
        kept = [c for c in folded if c.isalnum()]
        if len(kept) != 1:
            return "" if category in _SYMBOL_CATEGORIES else ch.lower()
        folded = kept[0]
    if category == "No" and folded == ch:
        digit = unicodedata.digit(ch, None)  # ❶ (negative circled) has no NFKC form but a digit value
        if digit is not None:
            return str(digit)
    if unicodedata.category(folded) in _SYMBOL_CATEGORIES:
        return ""  # emoji, dingbats, hearts between characters: separators, not content
    lowered = folded.lower()
    return lowered if len(lowered) == 1 else folded  # 'İ'.lower() is two code points: keep it as is


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    """code point -> folded code point (0 = delete). Built once, ~0.3 s."""
    import opencc

    data = yaml.safe_load(_DATA.read_text(encoding="utf-8"))
    extra = {**data["latin_confusables"], **data["digits"], **data["separators"]}
    table = np.arange(_TABLE_SIZE, dtype=np.uint32)
    for cp in range(_TABLE_SIZE):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if ch.isascii() and (ch.isalnum()):
            table[cp] = ord(ch.lower())
            continue
        folded = _fold_char(ch)
        table[cp] = ord(folded) if folded else 0
    # Traditional -> Simplified, character by character (phrase-level rewrites would break the offset map).
    converter = opencc.OpenCC("t2s")
    cjk = [chr(cp) for cp in range(0x3400, 0xA000)] + [chr(cp) for cp in range(0xF900, 0xFB00)]
    for source, target in zip(cjk, converter.convert("\n".join(cjk)).split("\n"), strict=True):
        if len(target) == 1 and target != source:
            table[ord(source)] = ord(target)
    for source, target in extra.items():
        table[ord(source)] = ord(target) if target else 0
    # Full-width and other forms folded by NFKC must also pass through the extra rules (Ｏ -> o, 〇 -> 0).
    for cp in range(_TABLE_SIZE):
        mapped = int(table[cp])
        if mapped and mapped < _TABLE_SIZE and chr(mapped) in extra:
            target = extra[chr(mapped)]
            table[cp] = ord(target) if target else 0
    return table


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    """The table as a `str.translate` map: one output character per input character, deletions as NUL."""
    table = _table()
    changed = np.flatnonzero(table != np.arange(_TABLE_SIZE, dtype=np.uint32))
    return {int(cp): chr(int(table[cp])) if table[cp] else "\x00" for cp in changed}


def normalize(text: str) -> NormalizedText:
    """Fold `text` for matching; see the module docstring for what is folded."""
    if not text:
        return NormalizedText("", np.zeros(0, dtype=np.int32), text)
    # Fast path (C speed): a length-preserving translate; most texts need nothing more.
    translated = text.translate(_translation())
    if "\x00" not in translated and " " not in translated:
        return NormalizedText(translated, np.arange(len(text), dtype=np.int32), text)
    if len(translated) < _SHORT:
        return _normalize_short(translated, text)
    codes = np.frombuffer(translated.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    keep = codes != 0
    index = np.flatnonzero(keep).astype(np.int32)
    mapped = codes[keep]
    spaces = mapped == _SPACE
    if spaces.any():
        ascii_alnum = (mapped < 128) & ~spaces
        # Look past runs of spaces: a space survives only between two ASCII alphanumerics, once.
        positions = np.arange(len(mapped))
        prev_kept = np.maximum.accumulate(np.where(~spaces, positions, -1))
        after = np.where(~spaces, positions, len(mapped))
        next_kept = np.minimum.accumulate(after[::-1])[::-1]
        prev_is_alnum = np.where(prev_kept >= 0, ascii_alnum[np.maximum(prev_kept, 0)], False)
        next_is_alnum = np.where(next_kept < len(mapped), ascii_alnum[np.minimum(next_kept, len(mapped) - 1)], False)
        first_of_run = ~np.concatenate(([False], spaces[:-1]))
        keep2 = ~(spaces & ~(prev_is_alnum & next_is_alnum & first_of_run))
        mapped, index = mapped[keep2], index[keep2]
    folded = mapped.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    return NormalizedText(folded, index, text)


#: Below this many characters a plain Python pass beats numpy's per-call overhead (~3x on listing fields).
_SHORT = 512


def _normalize_short(translated: str, text: str) -> NormalizedText:
    """The slow path of `normalize` for short texts, in plain Python; same rules as the numpy path."""
    kept = [(i, ch) for i, ch in enumerate(translated) if ch != "\x00"]
    chars: list[str] = []
    index: list[int] = []
    for k, (i, ch) in enumerate(kept):
        if ch == " ":
            # one space survives, between two ASCII alphanumerics, for a run of spaces
            if k == 0 or kept[k - 1][1] == " ":
                continue
            after = k + 1
            while after < len(kept) and kept[after][1] == " ":
                after += 1
            if after == len(kept) or not (kept[k - 1][1].isascii() and kept[after][1].isascii()):
                continue
        chars.append(ch)
        index.append(i)
    return NormalizedText("".join(chars), np.array(index, dtype=np.int32), text)


def fold(text: str) -> str:
    """Just the folded text (for lexicon terms and classifier features)."""
    return normalize(text).text
