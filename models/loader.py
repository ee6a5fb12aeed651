"""Turn a `ModelSpec` into a running engine: resolve weights offline, import the backend, load.

Backends are imported lazily so that `notestudio models list` and the HTTP layer never pay for torch,
transformers or diffusers imports they do not use.
"""

from __future__ import annotations

import importlib
import threading

from models.engines.base import Engine
from models.registry import ModelRegistry, resolve_weights
from models.spec import EngineKind, ModelSpec, Task

__all__ = ["load_engine", "EngineCache", "ENGINE_CLASSES"]

#: (task, engine) -> "module:Class" of the backend.
ENGINE_CLASSES: dict[tuple[Task, EngineKind], str] = {
    (
        Task.TEXT_GENERATION,
        EngineKind.TRANSFORMERS,
    ): "models.engines.transformers_text:TransformersTextEngine",
    (Task.TEXT_GENERATION, EngineKind.VLLM): "models.engines.vllm_text:VLLMTextEngine",
    (Task.TEXT_GENERATION, EngineKind.OPENAI): "models.engines.openai_text:OpenAITextEngine",
    (Task.SEQ2SEQ, EngineKind.TRANSFORMERS): "models.engines.transformers_seq2seq:TransformersSeq2SeqEngine",
    (Task.SEQ2SEQ, EngineKind.CTRANSLATE2): "models.engines.ctranslate2_seq2seq:CTranslate2Seq2SeqEngine",
    (Task.CLASSIFICATION, EngineKind.TRANSFORMERS): (
        "models.engines.transformers_classifier:TransformersClassifierEngine"
    ),
    (Task.TEXT_TO_IMAGE, EngineKind.DIFFUSERS): "models.engines.diffusers_image:DiffusersImageEngine",
    (Task.IMAGE_TO_VIDEO, EngineKind.DIFFUSERS): "models.engines.diffusers_video:DiffusersVideoEngine",
}


def load_engine(spec: ModelSpec) -> Engine:
    """Load the engine for `spec`.

    Raises:
        MissingWeightsError: the weights are not on disk (message says how to add them).
        EngineUnavailableError: the requested device is not available.
    """
    weights = resolve_weights(spec)
    module_name, class_name = ENGINE_CLASSES[(spec.task, spec.engine)].split(":")
    engine_cls = getattr(importlib.import_module(module_name), class_name)
    return engine_cls(spec, weights.path)


class EngineCache:
    """Loads each named model once per process; concurrent first requests wait for one load."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Engine:
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = self._engines[name] = load_engine(self.registry.get(name))
            return engine

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
