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

import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeAlias

from models.engines.aio import iterate_sync, run_sync
from models.engines.translation import LanguageTable, UnsupportedPairError, check_translate_args

if TYPE_CHECKING:
    from pathlib import Path

    from PIL.Image import Image

    from models.spec import ModelSpec

__all__ = [
    "Engine",
    "GenerationParams",
    "Generation",
    "TextEngine",
    "Seq2SeqEngine",
    "UnsupportedPairError",
    "ClassifierEngine",
    "DiffusionEngine",
    "DiffusionCancelled",
    "StepCallback",
    "CancelHook",
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
    """Encoder-decoder models (translation).

    `generate` runs the checkpoint as it is configured (no language handling). `translate` is language-aware:
    `source` / `target` are our codes, spelled as LibreTranslate spells them (`en`, `zh-Hans`, `ja`, ...), and the
    spec's `options.pairs` (bilingual models) or `options.languages` (multilingual models, our code -> the model's
    code) say which directions are served (see `models.engines.translation`). Decoding is greedy by default, so
    the same texts give the same translations.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        #: The directions this model serves, from `options.pairs` / `options.languages`.
        self.languages = LanguageTable.from_options(spec.name, spec.options)

    @abstractmethod
    def generate(self, texts: Sequence[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        """Transform every text; the result is in input order."""

    def pairs(self) -> set[tuple[str, str]]:
        """Every ordered (source, target) pair `translate` accepts (empty when the spec declares none)."""
        return self.languages.pairs()

    def translate(
        self, texts: Sequence[str], source: str, target: str, *, num_beams: int = 1, max_new_tokens: int = 256
    ) -> list[str]:
        """Translate every text from `source` into `target`; the result is in input order.

        An empty or whitespace-only text translates to `""` without running the model.

        Raises:
            ValueError: a bad argument (named in the message).
            UnsupportedPairError: the model does not serve `source -> target` (a `ValueError`; `served` lists
                what it does serve).
            ModelConfigError: the spec declares no languages.
        """
        # 1. check inputs
        rows = check_translate_args(texts, num_beams, max_new_tokens)
        self.languages.check(self.model_name, source, target)
        # 2. run on the texts that hold something
        outputs = [""] * len(rows)
        filled = [i for i, text in enumerate(rows) if text.strip()]
        if filled:
            translated = self._translate(
                [rows[i] for i in filled], source, target, num_beams=num_beams, max_new_tokens=max_new_tokens
            )
            for i, text in zip(filled, translated, strict=True):
                outputs[i] = text
        return outputs

    @abstractmethod
    def _translate(
        self, texts: list[str], source: str, target: str, *, num_beams: int, max_new_tokens: int
    ) -> list[str]:
        """Backend part of `translate`: arguments are checked and the pair is served."""


class ClassifierEngine(Engine, ABC):
    """Sequence classification models."""

    @property
    @abstractmethod
    def labels(self) -> list[str]:
        """Label names in the model's output order."""

    @abstractmethod
    def classify(self, texts: Sequence[str], multi_label: bool = False) -> list[dict[str, float]]:
        """Scores per label for every text (softmax, or sigmoid when `multi_label`)."""


#: `callback(step, total)`: called after every denoising step (`total` is the steps actually run).
StepCallback: TypeAlias = Callable[[int, int], None]
#: `cancel()`: called before the first step and after every step; raising stops the run there.
CancelHook: TypeAlias = Callable[[], None]


class DiffusionCancelled(Exception):
    """A diffusion run stopped by its cancel hook (hosts raise it; a job's own exception works the same)."""


class DiffusionEngine(Engine, ABC):
    """Diffusion pipelines: text-to-image, image-to-image, inpainting, background replacement that keeps the
    product's own pixels, outpainting to another aspect, variations, and per-merchant LoRA adapters.

    Shared arguments: `prompt` (a string, or a list for a batch), `negative_prompt`, `num_inference_steps`
    (1..150), `guidance_scale` (0..30), `seed`, `height` / `width` (multiples of 8), `num_images_per_prompt`
    (at most 8 images per call). Image `i` of a call uses the seed `seed + i` (one generator per image), so a
    row reproduces alone; every returned image carries its seed in `image.info["seed"]`.

    Hooks, for jobs: `callback(step, total)` after every denoising step and `cancel()` before the first step
    and after every step. Either may raise (e.g. a job's `JobCancelled`) to stop between steps; the exception
    propagates unchanged.

    Errors: a bad argument raises `DiffusionInputError` (a `ValueError`) whose `param` names it; map it to 4xx.
    Images in and out are PIL images.
    """

    #: Resolution the model was trained at (width, height) and the side granularity of its fast path.
    native_size: tuple[int, int] = (512, 512)
    size_multiple: int = 8

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        #: Held by every call; hold it yourself to run several calls with one adapter (see `using_lora`).
        self.lock = threading.RLock()

    def size_for_aspect(self, aspect_width: float, aspect_height: float) -> tuple[int, int]:
        """(width, height) for an aspect (3:4 -> `(3, 4)`) at about the model's native pixel count."""
        from models.engines.diffusion_inputs import size_for_aspect

        width, height = self.native_size
        return size_for_aspect(aspect_width, aspect_height, width * height, self.size_multiple)

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
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image]:
        """Generate images from text; height/width default to the model's native size."""

    @abstractmethod
    def image_to_image(
        self,
        image: Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        strength: float = 0.6,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image]:
        """Restyle `image`: `strength` in (0, 1] is how much of it is re-noised (1 ignores it). The output size is
        height x width, by default the image's aspect at the model's native pixel count."""

    @abstractmethod
    def inpaint(
        self,
        image: Image,
        mask_image: Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        strength: float = 1.0,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 0,
    ) -> list[Image]:
        """Repaint where `mask_image` is white; pixels under black come back exactly (output at the image's
        size; height/width set the generation size)."""

    @abstractmethod
    def replace_background(
        self,
        product_rgba: Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 8,
    ) -> list[Image]:
        """A new scene around a product cut-out (RGBA on its canvas; alpha >= 128 is the product).

        The product's pixels come back exactly (colours, logo, text); its edge fades into the scene over
        `feather` pixels outside it. Output at the canvas size; height/width set the generation size.
        """

    @abstractmethod
    def outpaint(
        self,
        image: Image,
        width: int,
        height: int,
        prompt: str | list[str] = "",
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 8,
    ) -> list[Image]:
        """Extend `image` to width x height (another aspect, e.g. `size_for_aspect(9, 16)`): it is scaled to fit,
        centred and kept exactly; the new area is painted. `image.info["placement"]` is its (x, y, w, h)."""

    @abstractmethod
    def variations(
        self,
        image: Image,
        n: int = 4,
        strength: float = 0.5,
        seed: int | None = None,
        prompt: str = "",
        negative_prompt: str | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image]:
        """`n` restyles of `image`, one seed each (`seed + i`)."""

    # -- LoRA adapters ------------------------------------------------------------------------------------
    @property
    @abstractmethod
    def loras(self) -> list[str]:
        """Adapters loaded now."""

    @property
    @abstractmethod
    def active_lora(self) -> str | None:
        """The adapter every call uses now (None: the base model)."""

    @abstractmethod
    def load_lora(self, name: str, path: str | Path | None = None) -> None:
        """Load adapter `name` from `path`, or from the spec's `options.lora_dir` when `path` is None."""

    @abstractmethod
    def set_lora(self, name: str | None, scale: float = 1.0) -> None:
        """Use adapter `name` (loaded) for the following calls, or none (exactly the base model's output)."""

    @abstractmethod
    def unload_lora(self, name: str) -> None:
        """Free adapter `name`."""

    @contextmanager
    def using_lora(self, name: str | None) -> Iterator[DiffusionEngine]:
        """Calls inside the block use adapter `name` (loaded on demand from `lora_dir`); other threads wait."""
        with self.lock:
            previous = self.active_lora
            if name is not None and name not in self.loras:
                self.load_lora(name)
            self.set_lora(name)
            try:
                yield self
            finally:
                self.set_lora(previous if previous in self.loras else None)
