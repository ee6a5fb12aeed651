"""`CopyService`: the note-copy capability — one product, a stream, or many products — with its writer.

Which writer runs is decided once, when the service is built (by `serving.services.build_services`): an LLM
`TextEngine` (transformers, vLLM, an OpenAI-compatible server, a Ray-hosted model) or, with none, the
template engine. Every note goes through the compliance pass. Each variant is written with its own seed
(`seed + index`) and the draft reports it, so any variant is reproduced by the same request with `n=1`.

The methods are coroutines: HTTP routes await them, streams stop when the client goes away, and sync
callers (CLI, job workers) run them with `asyncio.run`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Any, Literal

import anyio
from pydantic import BaseModel, Field

from common.errors import InputError, UpstreamError
from common.text import strip_bidi
from generation.copy.compliance import CompliancePass
from generation.copy.llm import LLMCopyEngine, Written
from generation.copy.request import MAX_VARIANTS, NoteRequest
from generation.copy.schema import NoteContent, NoteDraft, NoteParseError
from generation.copy.template_engine import TemplateEngine
from models.engines.base import TextEngine

__all__ = ["CopyService", "NotesResult", "BatchItem", "BatchResult", "CopyEvent", "ProgressCallback"]

#: `on_progress(done, total)` after each chunk of a batch; it may raise to stop the batch (job cancel).
ProgressCallback = Callable[[int, int], None]
#: One server-sent event of a stream: (`token` | `draft` | `done` | `error`, its JSON data).
CopyEvent = tuple[Literal["token", "draft", "done", "error"], dict[str, Any]]


class NotesResult(BaseModel):
    """The drafts for one product and the writer that produced them."""

    drafts: list[NoteDraft]
    engine: str = Field(description="template, transformers, vllm, openai or ray (a hosted model).")
    model: str | None = Field(description="Registry model; null for the template engine.")


class BatchItem(BaseModel):
    """One product of a batch: its drafts, or the error that kept it from being written."""

    index: int
    id: str | int | None = None
    drafts: list[NoteDraft] | None = None
    error: dict[str, Any] | None = None


class BatchResult(BaseModel):
    products: int
    failed: int
    flagged_drafts: int
    engine: str
    model: str | None
    results: list[BatchItem]


class CopyService:
    """Note copy for one product, as a stream, or for many products.

    Args:
        engine: An LLM text engine; None uses the template engine (no weights, `model: null`).
        compliance: The compliance pass (moderate, rewrite claims, moderate again).
    """

    def __init__(self, engine: TextEngine | None, compliance: CompliancePass) -> None:
        self.writer: TemplateEngine | LLMCopyEngine = LLMCopyEngine(engine) if engine is not None else TemplateEngine()
        self.compliance = compliance

    @property
    def engine_name(self) -> str:
        return self.writer.engine_name

    @property
    def model_name(self) -> str | None:
        return self.writer.model_name

    @staticmethod
    def base_seed(request: NoteRequest) -> int:
        """The request's seed, or a fresh one (every draft reports the seed that reproduces it)."""
        return request.seed if request.seed is not None else secrets.randbelow(2**31)

    # -- one product -----------------------------------------------------------------------------------
    async def notes(self, request: NoteRequest) -> NotesResult:
        """`request.n` drafts, each through the compliance pass.

        Raises:
            UpstreamError: an LLM without constrained decoding answered something that is not a note.
        """
        seed = self.base_seed(request)
        drafts = await self._write([(request, seed + i, i) for i in range(request.n)])
        return NotesResult(drafts=drafts, engine=self.engine_name, model=self.model_name)

    async def stream(self, request: NoteRequest) -> AsyncIterator[CopyEvent]:
        """`token` events ({variant, text}) as text is written, a `draft` per variant, then `done`.

        The template engine has no tokens: it sends each variant's finished text as one `token` event, so
        clients handle both writers alike. A failure after the stream started arrives as an `error` event.
        Closing the iterator (a client that disconnects) stops the engine's generation.
        """
        seed = self.base_seed(request)
        try:
            for index in range(request.n):
                variant_seed = seed + index
                if isinstance(self.writer, LLMCopyEngine):
                    pieces: list[str] = []
                    async with aclosing(self.writer.stream(request, variant_seed)) as pieces_in:
                        async for piece in pieces_in:  # closing this stream closes the engine's at once
                            pieces.append(piece)
                            yield "token", {"variant": index, "text": piece}
                    written = self.writer.finish("".join(pieces), request)
                else:
                    written = self._template(request, variant_seed)
                    text = "\n".join(written.content.titles) + "\n\n" + written.content.body
                    yield "token", {"variant": index, "text": text}
                draft = await anyio.to_thread.run_sync(self._draft, request, written, index, variant_seed)
                yield "draft", draft.to_dict()
            yield "done", {"engine": self.engine_name, "model": self.model_name}
        except NoteParseError as exc:
            yield "error", _not_a_note(exc).to_dict()

    # -- many products ---------------------------------------------------------------------------------
    async def batch(
        self,
        records: Sequence[Any],
        n: int | None = None,
        on_progress: ProgressCallback | None = None,
        chunk: int = 16,
    ) -> BatchResult:
        """Every product in input order; a bad product becomes an error entry and the rest are written.

        `n` overrides each product's own `n`. Products are written `chunk` at a time (all their variants
        concurrently, which LLM engines batch); `on_progress` is called after each chunk.
        """
        if n is not None and not 1 <= n <= MAX_VARIANTS:
            raise InputError(f"n: must be in 1..{MAX_VARIANTS}, got {n}", "n")
        items: list[BatchItem] = []
        valid: list[tuple[BatchItem, NoteRequest]] = []
        for index, record in enumerate(records):
            item = BatchItem(index=index, id=record.get("id") if isinstance(record, dict) else None)
            items.append(item)
            try:
                fields = {**record, "n": n} if n is not None and isinstance(record, dict) else record
                valid.append((item, NoteRequest.parse(fields, f"products.{index}")))
            except InputError as exc:
                item.error = exc.to_dict()
        done = 0
        for start in range(0, len(valid), chunk):
            part = valid[start : start + chunk]
            jobs = []
            for _, request in part:
                seed = self.base_seed(request)
                jobs += [(request, seed + i, i) for i in range(request.n)]
            drafts = iter(await self._write(jobs))
            for item, request in part:
                item.drafts = [next(drafts) for _ in range(request.n)]
            done += len(part)
            if on_progress:
                on_progress(done, len(valid))
        flagged = sum(1 for i in items for d in i.drafts or [] if d.compliance and d.compliance.status == "flagged")
        return BatchResult(
            products=len(items),
            failed=sum(1 for i in items if i.error),
            flagged_drafts=flagged,
            engine=self.engine_name,
            model=self.model_name,
            results=items,
        )

    # -- steps -----------------------------------------------------------------------------------------
    def _template(self, request: NoteRequest, seed: int) -> Written:
        content: NoteContent = self.writer.write(request, seed)  # type: ignore[union-attr]
        return Written(content, raw="", filled=[])

    async def _write(self, jobs: Sequence[tuple[NoteRequest, int, int]]) -> list[NoteDraft]:
        """Write then check every `(request, seed, variant index)`."""
        if isinstance(self.writer, LLMCopyEngine):
            try:
                written = await self.writer.write_many([(request, seed) for request, seed, _ in jobs])
            except NoteParseError as exc:
                raise _not_a_note(exc) from None
        else:
            written = [self._template(request, seed) for request, seed, _ in jobs]

        def check() -> list[NoteDraft]:
            return [self._draft(r, w, i, s) for (r, s, i), w in zip(jobs, written, strict=True)]

        return await anyio.to_thread.run_sync(check)

    def _draft(self, request: NoteRequest, written: Written, variant: int, seed: int) -> NoteDraft:
        """Compliance pass over one written note, then the typed draft."""
        content, compliance, moderation = self.compliance(written.content, request)
        return NoteDraft(  # an LLM may write bidi controls: the note never carries them
            titles=[strip_bidi(t) for t in content.titles],
            body=strip_bidi(content.body),
            hashtags=[strip_bidi(t) for t in content.hashtags],
            selling_points=content.selling_points_used,
            engine=self.engine_name,
            model=self.model_name,
            style=request.style,
            language=request.language,
            variant=variant,
            seed=seed,
            filled=written.filled,
            moderation=moderation,
            compliance=compliance,
        )


def _not_a_note(exc: NoteParseError) -> UpstreamError:
    return UpstreamError(f"the copy model answered something that is not a note: {exc}")
