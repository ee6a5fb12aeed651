"""`CopyPipeline`: NoteRequest -> n NoteDrafts, each through the compliance pass.

Steps (one run method, numbered): 1. check inputs, 2. pick seeds, 3. write the content with the
configured writer (template engine, or an LLM text engine), 4. compliance pass, 5. typed drafts that name
the engine and model that wrote them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from generation.copy.compliance import CompliancePass
from generation.copy.llm import LLMCopyEngine
from generation.copy.request import NoteRequest
from generation.copy.schema import NoteContent, NoteDraft
from generation.copy.template_engine import TemplateEngine
from models.engines.base import TextEngine

__all__ = ["CopyPipeline", "ProgressCallback"]

ProgressCallback = Callable[[int, int], None]


class CopyPipeline:
    """Writes notes with `writer` (default: the template engine) and checks them with `compliance`.

    Args:
        engine: A `TextEngine` for LLM notes; None uses the template engine (no weights, `model: null`).
        compliance: The compliance pass (one moderator per process is shared by default).
    """

    def __init__(self, engine: TextEngine | None = None, compliance: CompliancePass | None = None) -> None:
        self.writer: TemplateEngine | LLMCopyEngine = LLMCopyEngine(engine) if engine is not None else TemplateEngine()
        self.compliance = compliance or CompliancePass()

    @property
    def engine_name(self) -> str:
        return self.writer.engine_name

    @property
    def model_name(self) -> str | None:
        return self.writer.model_name

    @staticmethod
    def seed_for(request: NoteRequest) -> int:
        """The request's seed, or a fresh one that the drafts report so they can be reproduced."""
        return request.seed if request.seed is not None else secrets.randbelow(2**31)

    def finish(self, request: NoteRequest, content: NoteContent, variant: int, seed: int) -> NoteDraft:
        """Compliance pass over one written note, then the typed draft."""
        content, compliance, moderation = self.compliance(content, request)
        return NoteDraft(
            titles=content.titles,
            body=content.body,
            hashtags=content.hashtags,
            selling_points=content.selling_points_used,
            engine=self.engine_name,
            model=self.model_name,
            style=request.style,
            language=request.language,
            variant=variant,
            seed=seed,
            moderation=moderation,
            compliance=compliance,
        )

    def _write(self, request: NoteRequest, seed: int) -> list[NoteContent]:
        if isinstance(self.writer, TemplateEngine):
            return [self.writer.write(request, seed + i) for i in range(request.n)]
        return self.writer.write_many(request, seed, request.n)

    def __call__(self, request: NoteRequest) -> list[NoteDraft]:
        # 1. check inputs (again: callers may have mutated the request after construction)
        request.check_inputs()
        # 2. seeds
        seed = self.seed_for(request)
        # 3. write
        contents = self._write(request, seed)
        # 4-5. compliance, drafts
        return [self.finish(request, content, i, seed) for i, content in enumerate(contents)]

    def many(
        self, requests: Sequence[NoteRequest], on_progress: ProgressCallback | None = None, chunk: int = 16
    ) -> list[list[NoteDraft]]:
        """Many products. LLM writers batch products of the same length into one engine call per chunk (one
        variant each when n == 1), which is where GPU throughput comes from; the template engine goes one by one."""
        results: list[list[NoteDraft] | None] = [None] * len(requests)
        done = 0
        if isinstance(self.writer, LLMCopyEngine):
            singles = [i for i, r in enumerate(requests) if r.n == 1]
            by_length: dict[str, list[int]] = {}
            for i in singles:
                by_length.setdefault(requests[i].length, []).append(i)
            for indices in by_length.values():
                for start in range(0, len(indices), chunk):
                    part = indices[start : start + chunk]
                    seeds = [self.seed_for(requests[i]) for i in part]
                    contents = self.writer.write_batch([(requests[i], s) for i, s in zip(part, seeds, strict=True)])
                    for i, seed, content in zip(part, seeds, contents, strict=True):
                        results[i] = [self.finish(requests[i], content, 0, seed)]
                        done += 1
                    if on_progress:
                        on_progress(done, len(requests))
        for i, request in enumerate(requests):
            if results[i] is None:
                results[i] = self(request)
                done += 1
                if on_progress:
                    on_progress(done, len(requests))
        return [r for r in results if r is not None]
