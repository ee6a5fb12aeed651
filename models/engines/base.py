"""One abstract base per task family.

The domain packages (`generation`, `moderation`) program against these interfaces only, so a transformers,
vLLM or HTTP backend can be swapped by configuration. Every engine exposes `model_name` and `engine_name` so
responses can say exactly what produced them.

Text engines are async: `stream` yields text pieces as they are decoded, `generate_many` completes many prompts
with per-row parameters. A prompt is plain text or chat messages (the engine applies the model's own chat
template, or sends the messages to a server's `/chat/completions`). Closing a stream (`aclose()`, or
cancelling the task that iterates it) stops its generation within one decode step. `*_sync` helpers serve
threads without an event loop (CLI, benchmarks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeAlias

from models.engines.aio import iterate_sync, run_sync

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
    "Prompt",
    "is_chat",
    "row_params",
    "render_chat",
]

ChatMessage: TypeAlias = dict[str, str]
#: Plain text (sent as is) or chat messages (rendered with the model's chat template).
Prompt: TypeAlias = str | Sequence[ChatMessage]


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
        seed: Makes sampling reproducible: the same prompt, parameters and seed give the same text, alone or
            batched with other rows (each row samples from its own generator).
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
    """Causal language models: async token streaming and batched generation with per-row parameters."""

    @abstractmethod
    def stream(self, prompt: Prompt, params: GenerationParams | None = None) -> AsyncIterator[str]:
        """Yield text pieces of one completion as they are decoded (an async generator).

        Closing the iterator or cancelling the task that iterates it stops the generation within one decode
        step: the engine frees the sequence, aborts the request or closes the HTTP stream.
        """

    @abstractmethod
    async def generate_many(
        self, prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None = None
    ) -> list[Generation]:
        """Complete every prompt (batched where the engine can); the result is in prompt order.

        `params` is one `GenerationParams` per prompt, or one for all (row `i` then samples with `seed + i`,
        see `row_params`). Cancelling the call stops the generation.
        """

    async def generate(self, prompt: Prompt, params: GenerationParams | None = None) -> Generation:
        """Complete one prompt."""
        [generation] = await self.generate_many([prompt], [params or GenerationParams()])
        return generation

    # -- sync helpers (threads without an event loop: CLI, benchmarks, job workers) -----------------------
    def generate_sync(self, prompt: Prompt, params: GenerationParams | None = None) -> Generation:
        return run_sync(lambda: self.generate(prompt, params))

    def generate_many_sync(
        self, prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None = None
    ) -> list[Generation]:
        return run_sync(lambda: self.generate_many(prompts, params))

    def stream_sync(self, prompt: Prompt, params: GenerationParams | None = None) -> Iterator[str]:
        """`stream` from a thread; closing the returned iterator (or leaving a `for` loop) stops generation."""
        return iterate_sync(lambda: self.stream(prompt, params))


def is_chat(prompt: Prompt) -> bool:
    """Chat messages rather than plain text."""
    if isinstance(prompt, str):
        return False
    if not all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
        raise ValueError("prompt: expected a string or a list of {'role', 'content'} chat messages")
    return True


def row_params(
    prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None
) -> list[GenerationParams]:
    """One `GenerationParams` per prompt.

    A single seeded `GenerationParams` for many prompts gives row `i` the seed `seed + i`, so rows differ and
    each reproduces alone with its own seed.

    Raises:
        ValueError: a params list whose length is not the number of prompts.
    """
    if params is None or isinstance(params, GenerationParams):
        shared = params or GenerationParams()
        if shared.seed is None:
            return [shared] * len(prompts)
        return [replace(shared, seed=shared.seed + i) for i in range(len(prompts))]
    rows = list(params)
    if len(rows) != len(prompts):
        raise ValueError(f"params: expected one GenerationParams per prompt ({len(prompts)}), got {len(rows)}")
    return rows


def render_chat(tokenizer: Any, prompt: Prompt) -> str:
    """The text a local model sees: chat messages through the tokenizer's chat template; text as is.

    Base models without a chat template get a plain role-prefixed transcript ending at the assistant turn.
    """
    if not is_chat(prompt):
        return prompt  # type: ignore[return-value]
    messages = [dict(m) for m in prompt]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


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
