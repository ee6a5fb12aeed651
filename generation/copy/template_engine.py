"""The template engine: notes from product facts and phrase banks, no model weights.

Every sentence is either the merchant's own fact placed in a phrase-bank frame or a generic line of the
product's category, so nothing is invented. Variation comes from a seeded RNG (same seed, same note);
hashtags come from jieba's TF-IDF keywords of the product facts plus category and style tags; emoji follow
the policy in `data/phrases.yaml`.
"""

from __future__ import annotations

import functools
import random
import re
import string
from pathlib import Path
from typing import Any

import yaml

from generation.copy.request import NoteRequest
from generation.copy.schema import HASHTAG_MAX_CHARS, HASHTAGS_MAX, HASHTAGS_MIN, TITLE_MAX_CHARS, NoteContent

__all__ = ["TemplateEngine", "PHRASES_PATH", "extract_keywords", "short_name"]

PHRASES_PATH = Path(__file__).with_name("data") / "phrases.yaml"
#: length -> (selling points in the body, extra lines among scene/audience/price)
_BODY_SHAPE = {"short": (1, 0), "medium": (2, 1), "long": (4, 3)}
_FIELDS = ("short", "brand", "product", "point", "point2", "scenario", "audience", "price", "category", "i")


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _width(text: str) -> int:
    """Characters as the platform counts them (code points; the banks avoid variation selectors in titles)."""
    return len(text)


def short_name(request: NoteRequest, limit: int = 10) -> str:
    """A product name short enough for titles: the name without the brand, cut at a separator or jieba word."""
    name = request.product
    if request.brand and name.startswith(request.brand) and len(name) > len(request.brand) + 1:
        name = name[len(request.brand) :].strip(" ·-|")
    if request.language == "en":
        words = name.split()
        while len(words) > 1 and _width(" ".join(words)) > limit + 4:
            words.pop()
        return " ".join(words)[: limit + 4]
    if _width(name) <= limit:
        return name
    head = re.split(r"[\s,，|｜/（(【\[]", name)[0]
    if 2 <= _width(head) <= limit:
        return head
    if request.language == "zh":
        kept = ""
        for word in _jieba().lcut(name):
            if _width(kept + word) > limit:
                break
            kept += word
        if len(kept) >= 2:
            return kept
    return name[:limit].rstrip()


@functools.lru_cache(maxsize=1)
def _jieba():
    """jieba with the project's e-commerce vocabulary (data/jieba_userdict.txt): 玻尿酸 stays one word, so a
    hashtag never reads 尿酸."""
    import jieba

    jieba.load_userdict(str(Path(__file__).with_name("data") / "jieba_userdict.txt"))
    return jieba


def extract_keywords(text: str, language: str, top_k: int = 8) -> list[str]:
    """Topic words of the product facts (jieba TF-IDF for Chinese; content words for English)."""
    if language == "zh":
        _jieba()
        import jieba.analyse

        words = jieba.analyse.extract_tags(text, topK=top_k * 2, allowPOS=("n", "nz", "vn", "nr", "ns", "eng", "an"))
        # Units and numbers (120kg, 30ml) are facts, not topics people follow.
        return [w for w in words if 2 <= len(w) <= HASHTAG_MAX_CHARS and not re.search(r"\d|^[A-Za-z]{1,3}$", w)][
            :top_k
        ]
    stop = {"with", "and", "the", "for", "that", "this", "from", "your", "very", "into", "have", "are", "not", "all"}
    seen: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z\-]{3,}", text):
        word = word.lower()
        if word not in stop and word not in seen:
            seen.append(word)
    return seen[:top_k]


class TemplateEngine:
    """Writes `NoteContent` from a `NoteRequest` with phrase banks; `engine_name = "template"`, no model."""

    engine_name = "template"
    model_name: str | None = None

    def __init__(self, phrases_path: Path = PHRASES_PATH) -> None:
        self.data = _load(phrases_path)
        self.policy = self.data["emoji_policy"]

    # -- pieces ---------------------------------------------------------------------------------------
    def category_bank(self, request: NoteRequest) -> dict[str, Any]:
        """The first bank whose `match` words occur in the category, else in the product name (the merchant's
        category says more than a word inside the name: 10包装 is not a bag)."""
        for haystack in (request.category.lower(), request.product.lower()):
            for bank in self.data["categories"]:
                if haystack and any(word.lower() in haystack for word in bank["match"]):
                    return bank
        return self.data["categories"][-1]

    def _slots(self, request: NoteRequest, rng: random.Random) -> dict[str, str]:
        points = list(request.selling_points)
        rng.shuffle(points)
        price = f"{request.price:g}" if request.price is not None else ""
        return {
            "short": short_name(request),
            "brand": request.brand,
            "product": request.product,
            "point": points[0] if points else "",
            "point2": points[1] if len(points) > 1 else "",
            "scenario": request.scenario,
            "audience": request.audience,
            "price": price,
            "category": request.category,
        }

    @staticmethod
    def _fill(pattern: str, slots: dict[str, str]) -> str | None:
        """`pattern` with its placeholders filled, or None when a placeholder has no value."""
        names = {f for _, f, _, _ in string.Formatter().parse(pattern) if f}
        if any(not slots.get(name) for name in names if name in _FIELDS):
            return None
        return pattern.format(**{k: slots.get(k, "") for k in names})

    def _pick(self, rng: random.Random, patterns: list[str], slots: dict[str, str]) -> str | None:
        options = [text for text in (self._fill(p, slots) for p in patterns) if text]
        return rng.choice(options) if options else None

    def _sober(self, request: NoteRequest) -> bool:
        tone = request.tone.lower()
        return any(word.lower() in tone for word in self.policy["sober_tones"])

    # -- the note -------------------------------------------------------------------------------------
    def titles(self, request: NoteRequest, rng: random.Random, slots: dict[str, str], emoji: list[str]) -> list[str]:
        """3 distinct titles <= 20 characters; one emoji each where it fits and the tone allows."""
        patterns = self.data["common"][request.language]["titles"][request.style]
        candidates = [t for t in (self._fill(p, slots) for p in patterns) if t and _width(t) <= TITLE_MAX_CHARS]
        rng.shuffle(candidates)
        titles = list(dict.fromkeys(candidates))[:3]
        if request.language == "zh":
            fallback = [slots["short"], f"{slots['short']}分享", f"{request.style}｜{slots['short']}"]
        else:
            fallback = [slots["short"], f"{slots['short']} notes", f"{request.style_en.title()}: {slots['short']}"]
        for extra in fallback:
            if len(titles) >= 3:
                break
            extra = extra[:TITLE_MAX_CHARS]
            if extra not in titles:
                titles.append(extra)
        while len(titles) < 3:
            titles.append(f"{slots['short'][: TITLE_MAX_CHARS - 2]}{len(titles) + 1}")
        if self.policy["title_emoji"] and not self._sober(request):
            sep = " " if request.language == "en" else ""
            titles = [
                t + sep + e if _width(t + sep + e) <= TITLE_MAX_CHARS else t
                for t, e in zip(titles, emoji, strict=False)
            ]
        return titles

    def paragraphs(self, request: NoteRequest, rng: random.Random, slots: dict[str, str], bank: dict) -> list[str]:
        lang = self.data["common"][request.language]
        style = request.style
        lines: list[str] = []
        opener = self._pick(rng, lang["openers"][style], slots)
        lines.append(opener or request.product)
        n_points, n_extra = _BODY_SHAPE[request.length]
        points = list(request.selling_points)
        rng.shuffle(points)
        if style == "开箱":
            lines.append(rng.choice(lang["unboxing_lines"]))
        key = {"测评": "review_pros", "教程": "steps", "合集": "roundup_lines"}.get(style, "point_lines")
        numbered = key != "point_lines"
        # Numbered lists keep one frame for the whole note; free lines never repeat a frame.
        frames = [rng.choice(lang[key])] if numbered else rng.sample(lang[key], len(lang[key]))
        for i, point in enumerate(points[:n_points], 1):
            line = self._fill(frames[0 if numbered else (i - 1) % len(frames)], {**slots, "point": point, "i": str(i)})
            if line:
                lines.append(line)
        lines.append(rng.choice(bank["lines"][request.language]))
        if style == "测评":
            lines.append(rng.choice(lang["review_cons"]))
        extras = [self._pick(rng, lang[k], slots) for k in ("scene_lines", "audience_lines", "price_lines")]
        extras = [line for line in extras if line]
        rng.shuffle(extras)
        lines += extras[:n_extra]
        lines.append(rng.choice(lang["closers"][style]))
        return lines

    def decorate(self, request: NoteRequest, lines: list[str], emoji: list[str], rng: random.Random) -> list[str]:
        """The emoji policy: `per_paragraph` emoji closing each paragraph (only first and last for sober tones)."""
        sober = self._sober(request)
        out = []
        for index, line in enumerate(lines):
            line = line.rstrip("。.!！～~")
            mark = {"zh": "！" if index in (0, len(lines) - 1) else "", "en": "!" if index == 0 else "."}[
                request.language
            ]
            if sober and 0 < index < len(lines) - 1:
                out.append(line + ("。" if request.language == "zh" else "."))
                continue
            tail = "".join(rng.choice(emoji) for _ in range(int(self.policy["per_paragraph"])))
            out.append(f"{line}{mark} {tail}".strip() if request.language == "en" else f"{line}{mark}{tail}")
        return out

    def hashtags(self, request: NoteRequest, bank: dict, rng: random.Random) -> list[str]:
        """5-8 tags: keywords of the facts first, then the category's and the style's tags, no duplicates."""
        lang = request.language
        # What the product is comes first; words from the selling points only fill up (they name details).
        product_words = extract_keywords(f"{request.product} {request.category}", lang, top_k=3)
        if not product_words:  # jieba knows no noun in the name (折叠露营椅): the short name is the topic
            product_words = [re.sub(r"[\s#]", "", short_name(request))[:HASHTAG_MAX_CHARS]]
        detail_words = extract_keywords(" ".join([*request.selling_points, request.scenario]), lang, top_k=4)
        tags: list[str] = []
        if request.brand:
            tags.append(re.sub(r"[\s#]", "", request.brand))
        tags += product_words
        if request.category:
            tags.append(re.sub(r"[\s#]", "", request.category))
        tags += bank["tags"][lang]
        tags += self.data["common"][lang]["hashtags"][request.style]
        tags += detail_words
        tags = [t[:HASHTAG_MAX_CHARS] for t in dict.fromkeys(t for t in tags if t)]
        count = rng.randint(HASHTAGS_MIN, HASHTAGS_MAX)
        chosen = tags[:count]
        generic = ["好物分享", "生活记录", "日常分享"] if lang == "zh" else ["lifestyle", "dailyfinds", "shopping"]
        for tag in generic:
            if len(chosen) >= HASHTAGS_MIN:
                break
            if tag not in chosen:
                chosen.append(tag)
        return chosen

    def write(self, request: NoteRequest, seed: int) -> NoteContent:
        """One variant; the same `seed` gives the same note."""
        rng = random.Random(seed)
        bank = self.category_bank(request)
        emoji = list(bank["emoji"])
        rng.shuffle(emoji)
        emoji += self.policy["generic"]
        slots = self._slots(request, rng)
        titles = self.titles(request, rng, slots, emoji)
        body = self.decorate(request, self.paragraphs(request, rng, slots, bank), emoji, rng)
        used = [p for p in request.selling_points if any(p in line for line in body)]
        return NoteContent(
            titles=titles, paragraphs=body, hashtags=self.hashtags(request, bank, rng), selling_points_used=used
        )
