"""`ModelHost`: one registry model in its own Ray Serve deployment, so GPU placement is config only.

A capability that needs a model gets a handle to a `ModelHost` bound by `build_app`; the replica loads the
engine once (`num_gpus` comes from the config's `ray_actor_options`). Methods mirror the engine family of
the model's task; calling a method of another family is a clear error, not a guess.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

from ray import serve

from models.engines.base import (
    ChatMessage,
    ClassifierEngine,
    DiffusionEngine,
    Generation,
    GenerationParams,
    Seq2SeqEngine,
    TextEngine,
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

    def generate(self, prompts: list[str], params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        engine: TextEngine = self._expect(TextEngine)
        results = engine.generate(prompts, GenerationParams(**(params or {})))
        return [vars(r) for r in results]

    def format_chat(self, messages: list[dict[str, str]]) -> str:
        return self._expect(TextEngine).format_chat(messages)

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

    Calls block on the handle, so they must come from a worker thread (the copy service calls engines from
    threads). `ModelHost` has no token stream: `stream` yields the whole completion as one piece. For LLMs
    on GPUs prefer Ray Serve LLM (an OpenAI-compatible app, see `serving/configs/gpu.yaml`).
    """

    def __init__(self, spec: ModelSpec, handle: Any) -> None:
        super().__init__(spec)
        self._handle = handle
        self.engine_name = handle.info.remote().result()["engine"]

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        return self._handle.format_chat.remote(list(messages)).result()

    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        fields = vars(params or GenerationParams())
        return [Generation(**g) for g in self._handle.generate.remote(list(prompts), fields).result()]

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        yield self.generate([prompt], params)[0].text
