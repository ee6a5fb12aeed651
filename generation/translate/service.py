"""`TranslationService`: texts and whole notes across languages, with the merchant's terms kept.

Every text goes the same way: language detected when the source is `auto` (lingua, Chinese script by OpenCC),
protected spans masked (`masking`: glossary, do-not-translate terms, URLs, prices, codes, emoji), the route's
translators run (`engines`), tags restored, lost terms re-inserted, and every protected term checked in the output:
a result names the engine and model that made it, the terms it had to re-insert, and any still missing (never
silently dropped). A note keeps its shape (`note`): titles, body line by line, hashtags as hashtags.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from common.errors import InputError
from generation.translate.detect import Detection, Detector
from generation.translate.engines import OpenCCTranslator, Route, Router, Translator
from generation.translate.languages import Languages, load_languages
from generation.translate.masking import Protected, Term, protect, restore, verify
from generation.translate.note import HTML_TEXT, hashtag, split_line
from generation.translate.scripts import Scripts, Variant

__all__ = [
    "TranslationService",
    "TextOut",
    "NoteOut",
    "LanguageOut",
    "DEFAULT_CHAR_LIMIT",
    "TEXT_PATTERN",
    "HASHTAG_PATTERN",
    "LINES_PATTERN",
]

DEFAULT_CHAR_LIMIT = 5000
_TAGS = re.compile(r"<t\d+>")
# C0 controls but tab and line breaks, DEL, and the bidi overrides that can flip how a text reads (U+202A-202E,
# U+2066-2069): never part of a real note, a way to smuggle text past readers.
_CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
#: What `translate_texts` accepts as a text, as a JSON-schema pattern: not blank, none of those characters.
TEXT_PATTERN = rf"^[^{_CONTROL_CHARS}]*[^\s{_CONTROL_CHARS}][^{_CONTROL_CHARS}]*$"
#: A hashtag `translate_note` accepts: a text once its leading `#` are gone.
HASHTAG_PATTERN = rf"^[^{_CONTROL_CHARS}]*[^\s#＃{_CONTROL_CHARS}][^{_CONTROL_CHARS}]*$"
#: Text with line breaks (a note's body): none of those characters.
LINES_PATTERN = rf"^[^{_CONTROL_CHARS}]*$"


class TextOut(BaseModel):
    text: str
    source: str = Field(description="The source language (detected when `auto` was asked).")
    confidence: float | None = Field(None, description="Detection confidence 0-100 when the source was detected.")
    target: str
    engine: str = Field(description="What translated it: opencc, transformers, ctranslate2, an LLM engine, or none.")
    model: str | None = None
    reinserted: list[str] = Field(default_factory=list, description="Protected terms the engine lost, put back.")
    missing: list[str] = Field(default_factory=list, description="Protected terms not in the output (flagged).")


class NoteOut(BaseModel):
    note: dict[str, Any] = Field(description="The note translated: titles, body, hashtags (other fields kept).")
    source: str
    target: str
    engine: str
    model: str | None = None
    reinserted: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)


class LanguageOut(BaseModel):
    code: str
    name: str
    targets: list[str]


class TranslationService:
    """Args:
    translators: builds the configured translators (called once, on first use): seq2seq models, the LLM.
    hint: what to configure when a pair is not served (in the 503).
    char_limit: most characters in one request (all texts together); -1 for none.
    """

    def __init__(
        self,
        translators: Callable[[], list[Translator]] | None = None,
        hint: str = "configure a seq2seq model for it (translation_models) or an LLM (copy_model)",
        char_limit: int = DEFAULT_CHAR_LIMIT,
    ) -> None:
        self.languages: Languages = load_languages()
        self.scripts = Scripts()
        self.char_limit = char_limit
        self._translators = translators or (lambda: [])
        self._hint = hint
        self._router: Router | None = None
        self._detector: Detector | None = None
        self._lock = threading.Lock()

    # -- parts built on first use -------------------------------------------------------------------------------
    @property
    def router(self) -> Router:
        with self._lock:
            if self._router is None:
                self._router = Router(self._translators(), OpenCCTranslator(self.scripts), self._hint)
            return self._router

    @property
    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                self._detector = Detector(self.languages, self.scripts)
            return self._detector

    # -- languages and detection --------------------------------------------------------------------------------
    def language_list(self) -> list[LanguageOut]:
        codes = [lang.code for lang in self.languages]
        reachable = self.router.pairs(codes)
        return [LanguageOut(code=c, name=self.languages.get(c).name, targets=reachable[c]) for c in codes]

    def detect(self, text: str, top: int = 3) -> list[Detection]:
        return self.detector.detect(text, top)

    def check_size(self, texts: Iterable[str], param: str) -> None:
        """413 naming `param` when the request holds more characters than the limit."""
        size = sum(len(t) for t in texts)
        if self.char_limit >= 0 and size > self.char_limit:
            raise InputError(
                f"{param}: the request holds {size} characters, the limit is {self.char_limit}", param, status=413
            )

    def resolve(self, source: str, target: str, sample: str) -> tuple[str, str, float | None]:
        """Our codes for `source` (detected from `sample` when `auto`) and `target`."""
        target_code = self.languages.code(target, "target")
        if (source or "").strip().lower() == "auto":
            found = self.detector.best(sample)
            if found is None:
                return target_code, target_code, None  # nothing to translate (digits, emoji): returned as it is
            return found.language, target_code, found.confidence
        return self.languages.code(source, "source"), target_code, None

    # -- texts --------------------------------------------------------------------------------------------------
    def translate_texts(
        self,
        texts: Sequence[str],
        source: str,
        target: str,
        terms: Iterable[Term] = (),
        variant: Variant | None = None,
        fmt: Literal["text", "html"] = "text",
        param: str = "text",
    ) -> list[TextOut]:
        """Each text translated (an `auto` source is detected per text)."""
        self.check_size(texts, param)
        for i, text in enumerate(texts):
            where = param if len(texts) == 1 else f"{param}.{i}"
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{where}: empty text", where)
            if _CONTROL.search(text):
                raise InputError(f"{where}: contains control or bidirectional-override characters", where)
        target_code = self.languages.code(target, "target")
        terms = list(terms)
        groups: dict[str, list[int]] = {}
        detected: dict[int, tuple[str, float | None]] = {}
        for i, text in enumerate(texts):
            src, _, confidence = self.resolve(source, target_code, _plain(text, fmt))
            detected[i] = (src, confidence)
            groups.setdefault(src, []).append(i)
        results: list[TextOut | None] = [None] * len(texts)
        for src, indices in groups.items():
            chunk = [texts[i] for i in indices]
            outs = self._translate_group(chunk, src, target_code, terms, variant, fmt)
            for i, out in zip(indices, outs, strict=True):
                results[i] = out.model_copy(update={"confidence": detected[i][1]})
        return [r for r in results if r is not None]

    def _translate_group(
        self, texts: list[str], source: str, target: str, terms: list[Term], variant: Variant | None, fmt: str
    ) -> list[TextOut]:
        if source == target and not (source in ("zh-Hans", "zh-Hant") and variant):
            return [TextOut(text=t, source=source, target=target, engine="none") for t in texts]
        route = self.router.route(source, target) if source != target else self.router.route("zh-Hans", target)
        if fmt == "html":
            return [self._html(t, source, target, route, terms, variant) for t in texts]
        made = self._run(texts, route, terms, variant, target)
        return [
            TextOut(
                text=text,
                source=source,
                target=target,
                engine=route.engine,
                model=route.model,
                reinserted=re_,
                missing=miss,
            )  # fmt: skip
            for text, re_, miss in made
        ]

    def _run(
        self, texts: list[str], route: Route, terms: list[Term], variant: Variant | None, target: str
    ) -> list[tuple[str, list[str], list[str]]]:
        """Protect, translate through every step of the route, restore, verify."""
        protected: list[Protected] = [protect(t, terms) for t in texts]
        todo = [i for i, p in enumerate(protected) if _has_words(p.text)]
        current = [protected[i].text for i in todo]
        for translator, src, tgt in route.steps:
            if current:
                current = translator.translate(current, src, tgt, variant)
        outputs = [p.source for p in protected]  # texts without words are returned as they are
        for i, text in zip(todo, current, strict=True):
            outputs[i] = text
        spaces = self.languages.get(target).spaces
        made = []
        for i, p in enumerate(protected):
            if i in todo:
                text, reinserted = restore(outputs[i], p, spaces)
            else:
                text, reinserted = p.source, []
            made.append((text, reinserted, verify(text, p)))
        return made

    def _html(
        self, html: str, source: str, target: str, route: Route, terms: list[Term], variant: Variant | None
    ) -> TextOut:
        """Text between tags translated, tags kept as they are."""
        parts = HTML_TEXT.split(html)
        slots = [i for i, part in enumerate(parts) if part and not part.startswith("<") and part.strip()]
        made = self._run([parts[i] for i in slots], route, terms, variant, target)
        reinserted, missing = [], []
        for i, (text, re_, miss) in zip(slots, made, strict=True):
            lead = parts[i][: len(parts[i]) - len(parts[i].lstrip())]
            trail = parts[i][len(parts[i].rstrip()) :]
            parts[i] = lead + text.strip() + trail
            reinserted += re_
            missing += miss
        return TextOut(text="".join(parts), source=source, target=target, engine=route.engine, model=route.model,
                       reinserted=reinserted, missing=missing)  # fmt: skip

    # -- notes --------------------------------------------------------------------------------------------------
    def translate_note(
        self, note: dict[str, Any], source: str, target: str, terms: Iterable[Term] = (), variant: Variant | None = None
    ) -> NoteOut:
        """A note translated field by field, its shape kept (see `note`)."""
        titles = [t for t in note.get("titles") or [] if isinstance(t, str)]
        body = note.get("body") if isinstance(note.get("body"), str) else ""
        tags = [t.lstrip("#＃") for t in note.get("hashtags") or [] if isinstance(t, str)]
        self.check_size([*titles, body, *tags], "note")
        sample = "\n".join([*titles, body]) or " ".join(tags)
        src, target_code, _ = self.resolve(source, target, sample)
        lines = body.split("\n")
        shaped = [split_line(line) for line in lines]
        pieces = [*titles, *[text for _, text, _ in shaped if text], *tags]
        outs = self.translate_texts(pieces, src, target_code, terms, variant, param="note") if pieces else []
        it = iter(outs)
        new_titles = [next(it).text for _ in titles]
        new_lines = []
        for prefix, text, suffix in shaped:
            new_lines.append(prefix + (next(it).text if text else "") + suffix)
        spaces = self.languages.get(target_code).spaces
        new_tags = [hashtag(next(it).text, spaces, tag).lstrip("#") for tag in tags]
        engines = [o for o in outs if o.engine != "none"] or outs
        translated = {**note, "titles": new_titles, "body": "\n".join(new_lines), "hashtags": new_tags}
        translated["language"] = target_code
        return NoteOut(
            note=translated,
            source=src,
            target=target_code,
            engine=engines[0].engine if engines else "none",
            model=engines[0].model if engines else None,
            reinserted=[term for o in outs for term in o.reinserted],
            missing=[term for o in outs for term in o.missing],
        )


def _plain(text: str, fmt: str) -> str:
    return " ".join(p for p in HTML_TEXT.split(text) if not p.startswith("<")) if fmt == "html" else text


def _has_words(text: str) -> bool:
    """Anything left to translate once the tags are out (a text of a price and an emoji is not)."""
    return any(ch.isalpha() for ch in _TAGS.sub("", text))
