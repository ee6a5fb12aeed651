"""`LLMCopyEngine`: notes from any `TextEngine` (transformers, vLLM, OpenAI-compatible server).

The engine is asked for JSON constrained to `note_json_schema` (`extra["json_schema"]`; each backend maps it
to its own structured-output mechanism), then the answer is parsed and tidied to the platform's rules
(3 titles <= 20 characters, 5-8 hashtags without `#`). Tidying never invents content: missing hashtags are
filled from jieba keywords of the merchant's own facts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

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
from models.engines.base import ChatMessage, GenerationParams, TextEngine
from models.engines.structured import JSON_SCHEMA_KEY

__all__ = ["LLMCopyEngine", "Written", "tidy"]

_TEMPERATURE = 0.8
_TOP_P = 0.9


@dataclass
class Written:
    """One variant as an LLM wrote it: the tidied content, the model's raw answer, and what had to be filled."""

    content: NoteContent
    raw: str
    filled: list[str] = field(default_factory=list)


def tidy(content: NoteContent, request: NoteRequest) -> tuple[NoteContent, list[str]]:
    """Hold an LLM's note to the platform's rules without inventing anything.

    Returns:
        The tidied content and the fields that had to be completed from the merchant's own facts
        (`titles` when fewer than 3 distinct titles came back, `hashtags` when fewer than 5): the draft
        reports them in `filled`, so a completed field is never passed off as model output.
    """
    filled: list[str] = []
    titles = [t.strip()[:TITLE_MAX_CHARS] for t in content.titles if t.strip()]
    titles = list(dict.fromkeys(titles))[:3]
    if len(titles) < 3:
        filled.append("titles")
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
        filled.append("hashtags")
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
    return NoteContent(titles, paragraphs, tags, used), filled


class LLMCopyEngine:
    """Prompts a `TextEngine` for schema-constrained notes; `engine_name`/`model_name` come from it.

    Every variant is its own row with its own seed (the draft reports it), so any variant can be reproduced
    alone; the variants of one call go to the engine together (`generate_many`), which batches them. The
    prompt is chat messages: the engine applies the model's own chat template (or the server does).
    """

    def __init__(self, engine: TextEngine, prompts: PromptBook | None = None) -> None:
        self.engine = engine
        self.prompts = prompts or PromptBook()

    @property
    def engine_name(self) -> str:
        return self.engine.engine_name

    @property
    def model_name(self) -> str | None:
        return self.engine.model_name

    def prompt(self, request: NoteRequest) -> list[ChatMessage]:
        return self.prompts.messages(request)

    def params(self, request: NoteRequest, seed: int | None) -> GenerationParams:
        """Sampling with the schema attached; the token budget always fits a complete schema-valid answer."""
        return GenerationParams(
            max_new_tokens=min(8192, max_json_tokens(request.length)),
            temperature=_TEMPERATURE,
            top_p=_TOP_P,
            seed=seed,
            extra={JSON_SCHEMA_KEY: note_json_schema(request.length)},
        )

    def finish(self, raw: str, request: NoteRequest) -> Written:
        """Parse and tidy one raw answer.

        Raises:
            NoteParseError: a backend without constrained decoding answered something that is not a note.
        """
        content, filled = tidy(parse_note_json(raw), request)
        return Written(content, raw, filled)

    async def write_many(self, jobs: Sequence[tuple[NoteRequest, int]]) -> list[Written]:
        """One variant per `(request, seed)`: one `generate_many` call with per-row parameters."""
        if not jobs:
            return []
        prompts = [self.prompt(request) for request, _ in jobs]
        params = [self.params(request, seed) for request, seed in jobs]
        generations = await self.engine.generate_many(prompts, params)
        return [self.finish(g.text, request) for g, (request, _) in zip(generations, jobs, strict=True)]

    async def stream(self, request: NoteRequest, seed: int) -> AsyncIterator[str]:
        """Raw JSON text pieces of one variant as the engine decodes them; closing this iterator (or
        cancelling its task) stops the engine's generation within one decode step."""
        async with aclosing(self.engine.stream(self.prompt(request), self.params(request, seed))) as pieces:
            async for piece in pieces:
                yield piece
