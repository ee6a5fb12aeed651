"""`LLMCopyEngine`: notes from any `TextEngine` (transformers, vLLM, OpenAI-compatible server).

The engine is asked for JSON constrained to `note_json_schema` (`extra["json_schema"]`; each backend maps it
to its own structured-output mechanism), then the answer is parsed and tidied to the platform's rules
(3 titles <= 20 characters, 5-8 hashtags without `#`). Tidying never invents content: missing hashtags are
filled from jieba keywords of the merchant's own facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from generation.copy.prompts import PromptBook
from generation.copy.request import NoteRequest
from generation.copy.schema import (
    HASHTAG_MAX_CHARS,
    HASHTAGS_MAX,
    HASHTAGS_MIN,
    TITLE_MAX_CHARS,
    NoteContent,
    max_json_tokens,
    note_json_schema,
    parse_note_json,
)
from generation.copy.template_engine import extract_keywords, short_name
from models.engines.base import GenerationParams, TextEngine
from models.engines.structured import JSON_SCHEMA_KEY

__all__ = ["LLMCopyEngine", "tidy"]

_TEMPERATURE = 0.8
_TOP_P = 0.9


def tidy(content: NoteContent, request: NoteRequest) -> NoteContent:
    """Hold an LLM's note to the platform's rules without inventing anything."""
    titles = [t.strip()[:TITLE_MAX_CHARS] for t in content.titles if t.strip()]
    titles = list(dict.fromkeys(titles))[:3]
    name = short_name(request, limit=TITLE_MAX_CHARS)
    for extra in (name, f"{name} {request.style}"[:TITLE_MAX_CHARS], request.product[:TITLE_MAX_CHARS]):
        if len(titles) >= 3:
            break
        if extra not in titles:
            titles.append(extra)
    while len(titles) < 3:
        titles.append(f"{name[: TITLE_MAX_CHARS - 2]} {len(titles) + 1}")
    tags = [re.sub(r"[#\s]", "", t)[:HASHTAG_MAX_CHARS] for t in content.hashtags]
    tags = list(dict.fromkeys(t for t in tags if t))[:HASHTAGS_MAX]
    if len(tags) < HASHTAGS_MIN:
        facts = " ".join([request.product, request.category, *request.selling_points])
        fill = [request.category, request.brand, *extract_keywords(facts, request.language)]
        fill += (
            ["好物分享", "生活记录", "日常分享"]
            if request.language == "zh"
            else ["lifestyle", "dailyfinds", "shopping"]
        )
        for tag in fill:
            tag = re.sub(r"[#\s]", "", tag or "")[:HASHTAG_MAX_CHARS]
            if tag and tag not in tags:
                tags.append(tag)
            if len(tags) >= HASHTAGS_MIN:
                break
    paragraphs = [p.strip() for p in content.paragraphs if p.strip()]
    used = [p for p in request.selling_points if p in content.selling_points_used or any(p in x for x in paragraphs)]
    return NoteContent(titles, paragraphs, tags, used)


class LLMCopyEngine:
    """Prompts a `TextEngine` for schema-constrained notes; `engine_name`/`model_name` come from it."""

    def __init__(self, engine: TextEngine, prompts: PromptBook | None = None) -> None:
        self.engine = engine
        self.prompts = prompts or PromptBook()

    @property
    def engine_name(self) -> str:
        return self.engine.engine_name

    @property
    def model_name(self) -> str | None:
        return self.engine.model_name

    def prompt(self, request: NoteRequest) -> str:
        return self.engine.format_chat(self.prompts.messages(request))

    def params(self, request: NoteRequest, seed: int | None) -> GenerationParams:
        """Sampling with the schema attached; the token budget always fits a complete schema-valid answer."""
        return GenerationParams(
            max_new_tokens=min(8192, max_json_tokens(request.length)),
            temperature=_TEMPERATURE,
            top_p=_TOP_P,
            seed=seed,
            extra={JSON_SCHEMA_KEY: note_json_schema(request.length)},
        )

    def write_many(self, request: NoteRequest, seed: int, n: int) -> list[NoteContent]:
        """`n` variants in one batched call (rows sample independently from one seed).

        Raises:
            NoteParseError: a backend without constrained decoding answered something that is not a note.
        """
        prompt = self.prompt(request)
        generations = self.engine.generate([prompt] * n, self.params(request, seed))
        return [tidy(parse_note_json(g.text), request) for g in generations]

    def write_batch(self, requests: Sequence[tuple[NoteRequest, int]]) -> list[NoteContent]:
        """One variant each for many requests of the same length, batched into one engine call."""
        if not requests:
            return []
        first, seed = requests[0]
        prompts = [self.prompt(request) for request, _ in requests]
        generations = self.engine.generate(prompts, self.params(first, seed))
        return [tidy(parse_note_json(g.text), r) for g, (r, _) in zip(generations, requests, strict=True)]

    def stream(self, request: NoteRequest, seed: int) -> Iterator[str]:
        """Raw JSON text pieces of one variant as the engine decodes them."""
        yield from self.engine.stream(self.prompt(request), self.params(request, seed))
