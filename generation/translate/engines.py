"""Translators (what turns protected text in one language into another) and the router that picks them.

- `OpenCCTranslator`: zh-Hans <-> zh-Hant with no weights (and the Taiwan / Hong Kong variants).
- `Seq2SeqTranslator`: a registry seq2seq model (Marian, M2M100, NLLB; transformers or CTranslate2) through
  `models/`; the model's spec says which pairs it serves.
- `LLMTranslator`: the copy LLM, asked to translate and to keep the `<tN>` tags.

A pair is served directly, or through OpenCC on the Chinese side (zh-Hant -> en = OpenCC to zh-Hans, then a
zh-Hans -> en model). A pair nothing serves is a 503 that says what to configure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.errors import ModelUnavailableError
from generation.translate.languages import CHINESE, Languages
from generation.translate.scripts import Scripts, Variant

__all__ = ["Translator", "OpenCCTranslator", "Seq2SeqTranslator", "LLMTranslator", "Route", "Router"]


class Translator(ABC):
    """Translates texts (with `<tN>` tags to keep) from one language to another."""

    engine: str = "translator"
    model: str | None = None

    @abstractmethod
    def supports(self, source: str, target: str) -> bool: ...

    @abstractmethod
    def translate(self, texts: Sequence[str], source: str, target: str, variant: Variant | None = None) -> list[str]:
        """Every text translated, in order."""


class OpenCCTranslator(Translator):
    engine = "opencc"

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    def supports(self, source: str, target: str) -> bool:
        return source in CHINESE and target in CHINESE and source != target

    def translate(self, texts: Sequence[str], source: str, target: str, variant: Variant | None = None) -> list[str]:
        return [self.scripts.convert(t, source, target, variant) for t in texts]


class Seq2SeqTranslator(Translator):
    """A seq2seq engine from `models/` (loaded on first use)."""

    def __init__(self, name: str, pairs: set[tuple[str, str]], load: Callable[[], object], engine: str) -> None:
        self.model = name
        self.engine = engine
        self._pairs = pairs
        self._load = load
        self._loaded = None

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in self._pairs

    def translate(self, texts: Sequence[str], source: str, target: str, variant: Variant | None = None) -> list[str]:
        if self._loaded is None:
            self._loaded = self._load()
        return list(self._loaded.translate(list(texts), source, target))


_LLM_PROMPT = (
    "Translate the text below from {source} into {target}. It is part of a social-media product note: keep its "
    "tone, line breaks and emoji. Copy every tag such as <t1> exactly as it is, in the right place. Answer with "
    "the translation only.\n\n{text}"
)


class LLMTranslator(Translator):
    """The copy LLM as a translator of any pair of known languages."""

    engine = "llm"

    def __init__(self, name: str, load: Callable[[], object], languages: Languages) -> None:
        self.model = name
        self._load = load
        self._engine = None
        self.languages = languages

    def supports(self, source: str, target: str) -> bool:
        return source in self.languages.by_code and target in self.languages.by_code and source != target

    def translate(self, texts: Sequence[str], source: str, target: str, variant: Variant | None = None) -> list[str]:
        from models.engines.base import GenerationParams

        if self._engine is None:
            self._engine = self._load()
            self.engine = getattr(self._engine, "engine_name", "llm")
        names = self.languages.get(source).name, self.languages.get(target).name
        prompts = [_LLM_PROMPT.format(source=names[0], target=names[1], text=t) for t in texts]
        params = GenerationParams(max_new_tokens=1024, temperature=0.0)
        return [g.text.strip() for g in self._engine.generate_many_sync(prompts, params)]


@dataclass(frozen=True)
class Route:
    """The steps of a translation: (translator, source, target) in order."""

    steps: tuple[tuple[Translator, str, str], ...]

    @property
    def engine(self) -> str:
        return "+".join(t.engine for t, _, _ in self.steps)

    @property
    def model(self) -> str | None:
        models = [t.model for t, _, _ in self.steps if t.model]
        return "+".join(models) if models else None


class Router:
    """Picks translators for a pair: the first configured one that serves it, or a bridge through OpenCC."""

    def __init__(self, translators: list[Translator], opencc: OpenCCTranslator, hint: str) -> None:
        self.translators = [opencc, *translators]
        self.opencc = opencc
        self.hint = hint

    def _direct(self, source: str, target: str) -> Translator | None:
        return next((t for t in self.translators if t.supports(source, target)), None)

    def route(self, source: str, target: str) -> Route:
        """Raises `ModelUnavailableError` (503) naming what to configure when nothing serves the pair."""
        direct = self._direct(source, target)
        if direct is not None:
            return Route(((direct, source, target),))
        if source == "zh-Hant" and (step := self._direct("zh-Hans", target)) is not None:
            return Route(((self.opencc, "zh-Hant", "zh-Hans"), (step, "zh-Hans", target)))
        if target == "zh-Hant" and (step := self._direct(source, "zh-Hans")) is not None:
            return Route(((step, source, "zh-Hans"), (self.opencc, "zh-Hans", "zh-Hant")))
        raise ModelUnavailableError(f"no engine translates {source} -> {target} here: {self.hint}", "target")

    def pairs(self, codes: Sequence[str]) -> dict[str, list[str]]:
        """For `GET /languages`: every source's reachable targets."""
        out: dict[str, list[str]] = {}
        for source in codes:
            targets = []
            for target in codes:
                if target == source:
                    continue
                try:
                    self.route(source, target)
                except ModelUnavailableError:
                    continue
                targets.append(target)
            out[source] = targets
        return out
