"""`ModelHost`: one registry model in its own Ray Serve deployment, so GPU placement is config only.

A capability that needs a model gets a handle to a `ModelHost` bound by `build_app`; the replica loads the
engine once (`num_gpus` comes from the config's `ray_actor_options`). Methods mirror the engine family of
the model's task; calling a method of another family is a clear error, not a guess.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import asdict
from typing import Any

from ray import serve

from models.engines.base import (
    ClassifierEngine,
    DiffusionEngine,
    Generation,
    GenerationParams,
    Prompt,
    Seq2SeqEngine,
    TextEngine,
    row_params,
)
from models.spec import ModelSpec
from serving.services import build_services
from serving.settings import Settings

__all__ = ["ModelHost", "HostedTextEngine", "deployment_name"]


def deployment_name(model: str) -> str:
    """Deployment names are per model, so each can have its own replicas and GPUs in the config."""
    return f"ModelHost.{model}"


@serve.deployment(max_ongoing_requests=32)
class ModelHost:
    def __init__(self, model: str, settings: dict[str, Any]) -> None:
        services = build_services(Settings(**settings))
        self.spec = services.registry.get(model)
        self.engine = services.load_engine(model)

    def info(self) -> dict[str, str]:
        """What every response built on this host must report (`engine`, `model`)."""
        return {"model": self.spec.name, "engine": self.engine.engine_name, "task": self.spec.task.value}

    def _expect(self, family: type) -> Any:
        if not isinstance(self.engine, family):
            raise TypeError(f"model {self.spec.name!r} is a {self.spec.task.value} model, not a {family.__name__}")
        return self.engine

    async def generate(
        self, prompts: list[Prompt], params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Complete every prompt (text or chat messages); `params` is one dict of `GenerationParams` fields for
        all rows or one per row."""
        engine: TextEngine = self._expect(TextEngine)
        if isinstance(params, list):
            rows: Any = [GenerationParams(**p) for p in params]
        else:
            rows = GenerationParams(**(params or {}))
        return [asdict(g) for g in await engine.generate_many(prompts, rows)]

    async def stream(self, prompt: Prompt, params: dict[str, Any] | None = None) -> AsyncIterator[str]:
        """Text pieces of one completion (call through a streaming handle); a caller that cancels stops it."""
        engine: TextEngine = self._expect(TextEngine)
        async with aclosing(engine.stream(prompt, GenerationParams(**(params or {})))) as pieces:
            async for piece in pieces:
                yield piece

    def engine_stats(self) -> dict[str, Any]:
        """Counters of the hosted engine where it keeps them (forward passes, steps run after cancellations)."""
        stats: dict[str, Any] = {}
        for name in ("forward_passes", "cancelled_steps"):
            value = getattr(self.engine, name, None)
            if value is not None:
                stats[name] = list(value) if not isinstance(value, int) else value
        return stats

    def seq2seq(self, texts: list[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        engine: Seq2SeqEngine = self._expect(Seq2SeqEngine)
        return engine.generate(texts, max_new_tokens=max_new_tokens, num_beams=num_beams)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def classify(self, texts: list[str]) -> list[dict[str, float]]:
        """Single texts from many callers are batched into one forward pass."""
        engine: ClassifierEngine = self._expect(ClassifierEngine)
        return engine.classify(texts)

    def text_to_image(self, prompt: str, **kwargs: Any) -> list[bytes]:
        """PNG bytes per image (PIL images do not cross process boundaries cheaply)."""
        engine: DiffusionEngine = self._expect(DiffusionEngine)
        pngs = []
        for image in engine.text_to_image(prompt, **kwargs):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
        return pngs


class HostedTextEngine(TextEngine):
    """A `TextEngine` over a `ModelHost` deployment handle (the model sits on its own GPU replica).

    Async like every text engine: `generate_many` awaits one `ModelHost.generate` call (rows keep their own
    parameters), `stream` iterates a Serve streaming handle (`ModelHost.stream`). Closing the stream cancels
    the Serve request, which cancels the replica's generator and so the engine's generation. For LLMs on GPUs
    prefer Ray Serve LLM (an OpenAI-compatible app; `engine: openai`, see `serving/configs/gpu.yaml`).
    """

    def __init__(self, spec: ModelSpec, handle: Any) -> None:
        super().__init__(spec)
        self._handle = handle
        self.engine_name = handle.info.remote().result()["engine"]

    @staticmethod
    def _wire(prompt: Prompt) -> Prompt:
        return prompt if isinstance(prompt, str) else [dict(m) for m in prompt]

    async def generate_many(
        self, prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None = None
    ) -> list[Generation]:
        rows = [asdict(p) for p in row_params(prompts, params)]
        results = await self._handle.generate.remote([self._wire(p) for p in prompts], rows)
        return [Generation(**g) for g in results]

    async def stream(self, prompt: Prompt, params: GenerationParams | None = None) -> AsyncIterator[str]:
        fields = asdict(params or GenerationParams())
        responses = self._handle.options(stream=True).stream.remote(self._wire(prompt), fields)
        finished = False
        try:
            async for piece in responses:
                yield piece
            finished = True
        finally:
            if not finished:
                responses.cancel()
