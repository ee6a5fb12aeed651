"""One abstract base per task family.

The domain packages (`generation`, `moderation`) program against these interfaces only, so a transformers,
vLLM or HTTP backend can be swapped by configuration. Every engine exposes `model_name` and `engine_name` so
responses can say exactly what produced them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

    from models.spec import ModelSpec

__all__ = [
    "Engine",
    "GenerationParams",
    "Generation",
    "TextEngine",
    "Seq2SeqEngine",
    "ClassifierEngine",
    "DiffusionEngine",
    "ChatMessage",
]

ChatMessage = dict[str, str]


class Engine:
    """What every engine has: the spec it was built from and honest names for responses."""

    engine_name: str = "engine"

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def model_name(self) -> str:
        return self.spec.name

    def close(self) -> None:
        """Release devices, threads or processes; engines that hold none keep the default."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class GenerationParams:
    """Sampling parameters shared by every text engine.

    Attributes:
        max_new_tokens: Upper bound of generated tokens per prompt (1..8192).
        temperature: 0 means greedy decoding.
        top_p: Nucleus sampling mass in (0, 1].
        seed: Makes sampling reproducible for one prompt batch.
        stop: Strings that end generation; they are not part of the returned text.
        extra: Engine-specific options (for example logits processors for constrained decoding).
    """

    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None
    stop: Sequence[str] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 8192:
            raise ValueError(f"max_new_tokens must be in 1..8192, got {self.max_new_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise ValueError(f"temperature must be in 0..5, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class Generation:
    """One completed generation."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (eos or stop string) or "length"


class TextEngine(Engine, ABC):
    """Causal language models: batched generation and token streaming."""

    @abstractmethod
    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        """Complete every prompt; the result is in prompt order."""

    @abstractmethod
    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        """Yield text pieces of one completion as they are decoded."""

    @abstractmethod
    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        """Render chat messages with the model's own chat template."""


class Seq2SeqEngine(Engine, ABC):
    """Encoder-decoder models (translation)."""

    @abstractmethod
    def generate(self, texts: Sequence[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        """Transform every text; the result is in input order."""


class ClassifierEngine(Engine, ABC):
    """Sequence classification models."""

    @property
    @abstractmethod
    def labels(self) -> list[str]:
        """Label names in the model's output order."""

    @abstractmethod
    def classify(self, texts: Sequence[str], multi_label: bool = False) -> list[dict[str, float]]:
        """Scores per label for every text (softmax, or sigmoid when `multi_label`)."""


class DiffusionEngine(Engine, ABC):
    """Diffusion pipelines (text-to-image)."""

    @abstractmethod
    def text_to_image(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: Any = None,
    ) -> list[Image]:
        """Generate images; `callback(step, total)` reports progress for jobs."""
