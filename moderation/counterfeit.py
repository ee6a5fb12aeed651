"""Counterfeit signals beyond slang: brand mentions, price far below a reference floor, registry images.

Each signal is a `Hit` with a reason; `moderation.decision` combines them. A brand mention alone is not a
signal (genuine listings name brands); it only gives the price check its floor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import yaml

from moderation.normalize import NormalizedText, fold
from moderation.types import Evidence, Hit

__all__ = ["BrandBook", "BrandMention", "DEFAULT_BRANDS"]

DEFAULT_BRANDS = Path(__file__).with_name("data") / "brands.yaml"


@dataclass(frozen=True)
class BrandMention:
    brand: str
    evidence: Evidence


class BrandBook:
    """Brand aliases (zh/en/slang) and estimated price floors per category."""

    def __init__(self, path: Path = DEFAULT_BRANDS) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.version = str(raw["version"])
        self.floors: dict[str, dict[str, float]] = {}
        self._automaton = ahocorasick.Automaton()
        for brand in raw["brands"]:
            self.floors[brand["name"]] = {k: float(v) for k, v in brand["floors"].items()}
            for alias in {fold(a) for a in brand["aliases"] + [brand["name"]]}:
                if alias:
                    self._automaton.add_word(alias, (alias, brand["name"]))
        self._automaton.make_automaton()
        self._category_words = {cat: [fold(w) for w in words] for cat, words in raw["categories"].items()}
        self._canonical = {fold(b["name"]): b["name"] for b in raw["brands"]}
        for brand in raw["brands"]:
            for alias in brand["aliases"]:
                self._canonical.setdefault(fold(alias), brand["name"])

    def canonical(self, brand: str | None) -> str | None:
        """The dictionary name for a free-text brand field (`路易威登` -> Louis Vuitton), or None."""
        return self._canonical_cached(brand) if brand else None

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one BrandBook per process; brand fields repeat a lot
    def _canonical_cached(self, brand: str) -> str | None:
        return self._canonical.get(fold(brand))

    def mentions(self, field: str, normalized: NormalizedText) -> list[BrandMention]:
        text = normalized.text
        found = []
        for end_index, (alias, brand) in self._automaton.iter(text):
            start, end = end_index + 1 - len(alias), end_index + 1
            if alias.isascii() and (
                (start > 0 and text[start - 1].isascii() and text[start - 1].isalnum())
                or (end < len(text) and text[end].isascii() and text[end].isalpha())
            ):
                continue  # "lv" inside "lvl", "bv" inside "bvlgari"
            o_start, o_end = normalized.span(start, end)
            found.append(BrandMention(brand, Evidence(field, o_start, o_end, normalized.original[o_start:o_end])))
        return found

    def floor_category(self, category: str | None, title: str) -> str | None:
        """Which floor applies: the listing category first, then words of the title."""
        for source in (fold(category or ""), fold(title)):
            for cat, words in self._category_words.items():
                if source and any(w in source for w in words):
                    return cat
        return None

    def price_hit(
        self, brand: str, price: float, floor_category: str | None, ratio: float, evidence: Evidence | None
    ) -> Hit | None:
        """A `counterfeit.price` hit when `price < floor * ratio`; the further below, the higher the score."""
        floors = self.floors.get(brand, {})
        floor = floors.get(floor_category or "") if floor_category else None
        if floor is None and floors:
            floor = min(floors.values())  # category unknown: the cheapest genuine category is the safe bound
        if floor is None or price <= 0 or price >= floor * ratio:
            return None
        depth = 1.0 - price / (floor * ratio)  # 0 at the threshold, -> 1 as the price -> 0
        score = round(0.55 + 0.35 * depth, 3)
        reason = f"price {price:g} CNY is below {ratio:.0%} of the estimated floor {floor:g} CNY for {brand}"
        return Hit("counterfeit.price", score, (evidence,) if evidence else (), "counterfeit:" + reason)
