"""`ModelHost`: one registry model in its own Ray Serve deployment, so GPU placement is config only.

A capability that needs a model gets a handle to a `ModelHost` bound by `build_app`; the replica loads the
engine once (`num_gpus` comes from the config's `ray_actor_options`). Methods mirror the engine family of
the model's task; calling a method of another family is a clear error, not a guess.
"""

from __future__ import annotations

import io
from typing import Any

from ray import serve

from models.engines.base import ClassifierEngine, DiffusionEngine, GenerationParams, Seq2SeqEngine, TextEngine
from models.loader import load_engine
from models.registry import ModelRegistry

__all__ = ["ModelHost", "deployment_name"]


def deployment_name(model: str) -> str:
    """Deployment names are per model, so each can have its own replicas and GPUs in the config."""
    return f"ModelHost.{model}"


@serve.deployment(max_ongoing_requests=32)
class ModelHost:
    def __init__(self, model: str, registry_path: str | None = None) -> None:
        self.spec = ModelRegistry.from_yaml(registry_path).get(model)
        self.engine = load_engine(self.spec)

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
