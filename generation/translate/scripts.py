"""Simplified <-> Traditional Chinese through OpenCC (no weights), with Taiwan and Hong Kong variants.

`zh-Hant` is generic Traditional (OpenCC `s2t`); the variant `tw` uses Taiwan characters and phrases (`s2twp`:
软件 -> 軟體, 鼠标 -> 滑鼠) and `hk` Hong Kong characters (`s2hk`). Back to Simplified: `t2s`, or `tw2sp` / `hk2s`
for text written in those variants.
"""

from __future__ import annotations

import threading
from typing import Literal

import opencc

__all__ = ["Scripts", "Variant"]

Variant = Literal["tw", "hk"]
_TO_HANT = {None: "s2t", "tw": "s2twp", "hk": "s2hk"}
_TO_HANS = {None: "t2s", "tw": "tw2sp", "hk": "hk2s"}


class Scripts:
    """OpenCC converters, built on first use and shared (they are thread-safe once built)."""

    def __init__(self) -> None:
        self._converters: dict[str, opencc.OpenCC] = {}
        self._lock = threading.Lock()

    def _converter(self, config: str) -> opencc.OpenCC:
        with self._lock:
            if config not in self._converters:
                self._converters[config] = opencc.OpenCC(f"{config}.json")
            return self._converters[config]

    def convert(self, text: str, source: str, target: str, variant: Variant | None = None) -> str:
        """`text` from `source` to `target` (zh-Hans / zh-Hant); the same script returns the text unchanged."""
        if source == target:
            return text
        table = _TO_HANT if target == "zh-Hant" else _TO_HANS
        return self._converter(table[variant]).convert(text)

    def which_chinese(self, text: str) -> str:
        """zh-Hant when the text reads as Traditional, else zh-Hans."""
        to_hans = sum(a != b for a, b in zip(text, self._converter("t2s").convert(text), strict=False))
        to_hant = sum(a != b for a, b in zip(text, self._converter("s2t").convert(text), strict=False))
        return "zh-Hant" if to_hans > to_hant else "zh-Hans"
