"""The languages the service knows (`data/languages.yaml`) and their codes, spelled as LibreTranslate spells them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from common.errors import InputError

__all__ = ["Language", "Languages", "load_languages", "CHINESE"]

_DATA = Path(__file__).parent / "data" / "languages.yaml"
CHINESE = ("zh-Hans", "zh-Hant")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    lingua: str
    m2m: str
    nllb: str
    spaces: bool  # words are separated by spaces (hashtags become CamelCase)


class Languages:
    """Look-ups by code and alias; unknown codes are `InputError`s naming the field."""

    def __init__(self, languages: list[Language], aliases: dict[str, str]) -> None:
        self.by_code = {lang.code: lang for lang in languages}
        self.aliases = {k.lower(): v for k, v in aliases.items()}
        self._alias_spellings = list(aliases)
        self._lower = {code.lower(): code for code in self.by_code}

    def __iter__(self):
        return iter(self.by_code.values())

    def code(self, value: str, param: str) -> str:
        """Our code for what a client sent (case-insensitive; `zh`, `zh-TW`, `zt`... are aliases)."""
        key = (value or "").strip().lower()
        found = self._lower.get(key) or self.aliases.get(key)
        if found is None:
            known = ", ".join(self.by_code)
            raise InputError(f"{param}: {value!r} is not a supported language code; supported: {known}", param)
        return found

    def spellings(self) -> list[str]:
        """Every code, then every alias, as the data spells them (`code` accepts them in any case too)."""
        return [*self.by_code, *(alias for alias in self._alias_spellings if alias.lower() not in self._lower)]

    def get(self, code: str) -> Language:
        return self.by_code[code]


@lru_cache(maxsize=2)
def load_languages(path: Path = _DATA) -> Languages:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Languages([Language(**entry) for entry in data["languages"]], data.get("aliases", {}))
