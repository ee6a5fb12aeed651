"""Which language a text is in: lingua (statistical, offline, its data ships in the wheel), with Chinese split into
Simplified and Traditional by which OpenCC direction would change the text.

Lingua tells Chinese from Japanese and Korean by script and n-grams but does not tell the two Chinese scripts apart;
a text whose characters the Simplified->Traditional conversion leaves alone and the reverse changes is Traditional.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lingua import Language as LinguaLanguage
from lingua import LanguageDetectorBuilder

from generation.translate.languages import Languages
from generation.translate.scripts import Scripts

__all__ = ["Detector", "Detection"]


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # 0-100, as LibreTranslate reports it


class Detector:
    """Built once (lingua loads its models lazily per language; the first call costs ~1 s)."""

    def __init__(self, languages: Languages, scripts: Scripts) -> None:
        self.languages = languages
        self.scripts = scripts
        self._by_lingua: dict[str, list[str]] = {}
        for lang in languages:
            self._by_lingua.setdefault(lang.lingua, []).append(lang.code)
        wanted = [getattr(LinguaLanguage, name) for name in self._by_lingua]
        self._detector = LanguageDetectorBuilder.from_languages(
            *wanted
        ).build()  # models load per language on first use
        self._lock = threading.Lock()

    def detect(self, text: str, top: int = 3) -> list[Detection]:
        """The likeliest languages, best first (an empty or letterless text gives an empty list)."""
        if not any(ch.isalpha() for ch in text):
            return []
        with self._lock:
            values = self._detector.compute_language_confidence_values(text)
        out: list[Detection] = []
        for value in values[:top]:
            if value.value <= 0:
                continue
            codes = self._by_lingua.get(value.language.name, [])
            if not codes:
                continue
            code = codes[0]
            if value.language.name == "CHINESE":
                code = self.scripts.which_chinese(text)
            out.append(Detection(code, round(value.value * 100, 1)))
        return out

    def best(self, text: str) -> Detection | None:
        found = self.detect(text, top=1)
        return found[0] if found else None
