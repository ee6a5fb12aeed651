"""`ModelSpec`: how a model is named, where its weights are and how it should be run.

A spec is pure data, read from `models.yaml`; nothing here imports torch, so listing and checking the
configuration stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Task", "EngineKind", "ModelSpec", "SUPPORTED_ENGINES"]


class Task(StrEnum):
    """Task families; each has one abstract engine base in `models.engines.base`."""

    TEXT_GENERATION = "text-generation"
    SEQ2SEQ = "seq2seq"
    CLASSIFICATION = "classification"
    TEXT_TO_IMAGE = "text-to-image"
    IMAGE_TO_VIDEO = "image-to-video"


class EngineKind(StrEnum):
    """Backends that can run a task."""

    TRANSFORMERS = "transformers"
    DIFFUSERS = "diffusers"
    VLLM = "vllm"  # in-process vLLM engine (continuous batching, prefix caching)
    OPENAI = "openai"  # any OpenAI-compatible HTTP server (vLLM, SGLang); `source` is the served model name
    CTRANSLATE2 = "ctranslate2"  # CTranslate2; `source` is a directory written by `notestudio models convert`


#: Which engines can run which task; the loader dispatches on this table.
SUPPORTED_ENGINES: dict[Task, tuple[EngineKind, ...]] = {
    Task.TEXT_GENERATION: (EngineKind.TRANSFORMERS, EngineKind.VLLM, EngineKind.OPENAI),
    Task.SEQ2SEQ: (EngineKind.TRANSFORMERS, EngineKind.CTRANSLATE2),
    Task.CLASSIFICATION: (EngineKind.TRANSFORMERS,),
    Task.TEXT_TO_IMAGE: (EngineKind.DIFFUSERS,),
    Task.IMAGE_TO_VIDEO: (EngineKind.DIFFUSERS,),
}

_DTYPES = {"auto", "float32", "float16", "bfloat16"}


class ModelSpec(BaseModel):
    """One configured model.

    Attributes:
        name: Name used by the rest of the code base and in every response (`"model": name`).
        task: Task family, decides which engine base class serves it.
        engine: Backend that runs it.
        source: A local directory, or a Hugging Face repo id looked up in the local HF cache; for the `openai`
            engine, the model name the server serves (no local weights).
        revision: Git revision of a hub repo (branch, tag or commit); ignored for local directories.
        dtype: `auto` picks bfloat16/float16 on GPU and float32 on CPU.
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        licence: Licence of the weights, shown by `notestudio models list`.
        options: Engine-specific keyword arguments (e.g. `max_batch_size`).
    """

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")
    task: Task
    engine: EngineKind
    source: str = Field(min_length=1)
    revision: str = "main"
    dtype: str = "auto"
    device: str = "auto"
    licence: str = "unknown"
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("dtype")
    @classmethod
    def _check_dtype(cls, value: str) -> str:
        if value not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {value!r}")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value in {"auto", "cpu", "cuda", "mps"} or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {value!r}")

    @model_validator(mode="after")
    def _check_engine_for_task(self) -> ModelSpec:
        allowed = SUPPORTED_ENGINES[self.task]
        if self.engine not in allowed:
            names = ", ".join(e.value for e in allowed)
            raise ValueError(f"engine {self.engine.value!r} cannot run task {self.task.value!r}; use one of: {names}")
        return self
