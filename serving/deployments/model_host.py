"""`ModelHost`: one registry model in its own Ray Serve deployment, so GPU placement is config only.

A capability that needs a model gets a handle to a `ModelHost` bound by `build_app`; the replica loads the
engine once (`num_gpus` comes from the config's `ray_actor_options`). Methods mirror the engine family of
the model's task; calling a method of another family is a clear error, not a guess.

Diffusion models: `diffuse` / `diffuse_stream` run any `DiffusionEngine` task with images as PNG bytes both
ways (PIL images do not cross processes cheaply). Per-merchant LoRA adapters are Ray Serve multiplexed
"models": a request sent with `handle.options(multiplexed_model_id=<adapter name>)` is routed to a replica
that has the adapter loaded when there is one, and the replica loads it from the spec's `options.lora_dir`
on first use, keeping the `MAX_LORAS_PER_REPLICA` most recently used (`@serve.multiplexed`, LRU). Clients
name adapters, never paths. `HostedDiffusionEngine` is the `DiffusionEngine` over such a handle.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ray import serve

from models.engines.base import (
    CancelHook,
    ClassifierEngine,
    DiffusionCancelled,
    DiffusionEngine,
    Generation,
    GenerationParams,
    Prompt,
    Seq2SeqEngine,
    StepCallback,
    TextEngine,
    row_params,
)
from models.engines.diffusion_inputs import DiffusionInputError
from models.spec import ModelSpec
from serving.services import build_services
from serving.settings import Settings

__all__ = [
    "ModelHost",
    "HostedTextEngine",
    "HostedDiffusionEngine",
    "deployment_name",
    "DIFFUSION_METHODS",
    "MAX_LORAS_PER_REPLICA",
]

#: `DiffusionEngine` tasks `ModelHost.diffuse` runs, and their image arguments (PNG bytes on the wire).
DIFFUSION_METHODS: dict[str, tuple[str, ...]] = {
    "text_to_image": (),
    "image_to_image": ("image",),
    "inpaint": ("image", "mask_image"),
    "replace_background": ("product_rgba",),
    "outpaint": ("image",),
    "variations": ("image",),
}
#: LoRA adapters each replica keeps loaded (least recently used evicted first).
MAX_LORAS_PER_REPLICA = 8


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
        """Counters of the hosted engine where it keeps them (forward passes, steps run after cancellations,
        denoising steps, LoRA adapters loaded now)."""
        stats: dict[str, Any] = {}
        for name in ("forward_passes", "cancelled_steps", "denoise_steps", "loras"):
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

    async def text_to_image(self, prompt: str | list[str], **kwargs: Any) -> list[bytes]:
        """PNG bytes per image (PIL images do not cross process boundaries cheaply)."""
        images = await self.diffuse("text_to_image", {"prompt": prompt, **kwargs})
        return [image["png"] for image in images]

    # -- diffusion ---------------------------------------------------------------------------------------
    def diffusion_info(self) -> dict[str, Any]:
        """What a client needs to size requests: native size, side granularity, adapters on offer."""
        engine: DiffusionEngine = self._expect(DiffusionEngine)
        options = getattr(engine, "options", None)
        from models.engines.diffusion_lora import available_adapters

        return {
            "native_size": list(engine.native_size),
            "size_multiple": engine.size_multiple,
            "loras": available_adapters(getattr(options, "lora_dir", None)),
        }

    @serve.multiplexed(max_num_models_per_replica=MAX_LORAS_PER_REPLICA)
    async def lora(self, name: str) -> _HostedLora:
        """A LoRA adapter loaded into this replica's pipeline (a "model" to Serve's multiplexing)."""
        engine: DiffusionEngine = self._expect(DiffusionEngine)
        return await asyncio.to_thread(_HostedLora, engine, name)

    async def diffuse(self, method: str, kwargs: dict[str, Any], lora: str | None = None) -> list[dict[str, Any]]:
        """Run `DiffusionEngine.<method>(**kwargs)` with the request's adapter (`multiplexed_model_id`).

        Image arguments (`DIFFUSION_METHODS`) are PNG bytes; the result is one `{"png", "seed"[, "placement"]}`
        per image. Bad arguments raise `DiffusionInputError` (a `ValueError` naming the argument). Send adapter
        requests with `handle.options(multiplexed_model_id=name)` and `lora=name`.
        """
        adapter = await self._request_lora(lora)
        return await asyncio.to_thread(self._diffuse, adapter, method, kwargs, None, None)

    async def diffuse_stream(
        self, method: str, kwargs: dict[str, Any], lora: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """`diffuse` as a stream (call through a streaming handle): `{"step", "total"}` after every denoising
        step, then `{"images": [...]}`. Cancelling the stream stops the run after the current step."""
        adapter = await self._request_lora(lora)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def progress(step: int, total: int) -> None:
            loop.call_soon_threadsafe(events.put_nowait, {"step": step, "total": total})

        def cancel() -> None:
            if stop.is_set():
                raise DiffusionCancelled("the caller cancelled the request")

        run = asyncio.ensure_future(asyncio.to_thread(self._diffuse, adapter, method, kwargs, progress, cancel))
        try:
            while not run.done():
                waiter = asyncio.ensure_future(events.get())
                await asyncio.wait({waiter, run}, return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    yield waiter.result()
                else:
                    waiter.cancel()
            while not events.empty():
                yield events.get_nowait()
            yield {"images": run.result()}
        finally:
            if not run.done():
                stop.set()  # the worker thread stops at its next step and releases the engine

    async def _request_lora(self, lora: str | None) -> _HostedLora | None:
        """The request's adapter: its `multiplexed_model_id` (what Serve routes by), which `HostedDiffusionEngine`
        also sends as `lora` (Serve's local testing mode drops multiplexed ids; there adapters raise Serve's
        "`@serve.multiplex` can only be used within a deployment" instead of silently using the base model)."""
        routed = serve.get_multiplexed_model_id()
        if lora and routed and lora != routed:
            raise DiffusionInputError("lora", f"{lora!r} differs from the multiplexed_model_id {routed!r}")
        name = lora or routed
        if not name:
            return None
        self._expect(DiffusionEngine)
        from models.engines.diffusion_lora import check_adapter_name

        return await self.lora(check_adapter_name(name))

    def _diffuse(
        self,
        adapter: _HostedLora | None,
        method: str,
        kwargs: dict[str, Any],
        callback: StepCallback | None,
        cancel: CancelHook | None,
    ) -> list[dict[str, Any]]:
        engine: DiffusionEngine = self._expect(DiffusionEngine)
        if method not in DIFFUSION_METHODS:
            raise DiffusionInputError("method", f"one of {sorted(DIFFUSION_METHODS)}, got {method!r}")
        arguments = dict(kwargs)
        for key in DIFFUSION_METHODS[method]:
            if key in arguments:
                arguments[key] = _decode_png(key, arguments[key])
        with engine.lock:  # the adapter and the run it serves, together
            with engine.using_lora(adapter.name if adapter else None):
                images = getattr(engine, method)(**arguments, callback=callback, cancel=cancel)
            if adapter is not None and adapter.evicted:
                engine.unload_lora(adapter.name)  # evicted while this request waited: loaded again just for it
        return [_encode_image(image) for image in images]


class _HostedLora:
    """A LoRA adapter in a host's pipeline; Serve's LRU eviction calls `__del__`, which frees it."""

    def __init__(self, engine: DiffusionEngine, name: str) -> None:
        self.engine, self.name, self.evicted = engine, name, False
        engine.load_lora(name)

    def __del__(self) -> None:
        if not self.evicted:
            self.evicted = True
            self.engine.unload_lora(self.name)


def _encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encode_image(image: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"png": _encode_png(image), "seed": image.info.get("seed")}
    if "placement" in image.info:
        out["placement"] = list(image.info["placement"])
    return out


def _decode_png(param: str, data: Any) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, bytes | bytearray):
        raise DiffusionInputError(param, f"expected image bytes (PNG), got {type(data).__name__}")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise DiffusionInputError(param, f"not a readable image ({err})") from None
    return image


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


class HostedDiffusionEngine(DiffusionEngine):
    """A `DiffusionEngine` over a `ModelHost` deployment handle (the pipeline sits on its own GPU replica).

    Synchronous like the local engine (call it from worker threads, e.g. jobs). Every call goes through the
    host's streaming `diffuse_stream`: progress events reach `callback`, `cancel` runs between them, and a
    hook that raises cancels the Serve request, which stops the run on the replica after its current step.
    Adapters: `set_lora(name)` / `using_lora(name)` apply to the calling thread's following calls, which are
    sent with `multiplexed_model_id=name` (routed to a replica holding the adapter); the host loads adapters
    from its own `lora_dir`, so `load_lora` only checks that the name exists there.
    """

    def __init__(self, spec: ModelSpec, handle: Any) -> None:
        super().__init__(spec)
        self._handle = handle
        self.engine_name = handle.info.remote().result()["engine"]
        info = handle.diffusion_info.remote().result()
        self.native_size = tuple(info["native_size"])
        self.size_multiple = info["size_multiple"]
        self._local = threading.local()

    # -- tasks: the arguments of `DiffusionEngine`'s signatures, forwarded as they are ---------------------
    def text_to_image(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("text_to_image", args, kwargs)

    def image_to_image(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("image_to_image", args, kwargs)

    def inpaint(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("inpaint", args, kwargs)

    def replace_background(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("replace_background", args, kwargs)

    def outpaint(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("outpaint", args, kwargs)

    def variations(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._forward("variations", args, kwargs)

    def _forward(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """Bind to the base class's signature (a wrong argument is the same TypeError as locally), then call."""
        bound = inspect.signature(getattr(DiffusionEngine, method)).bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        callback, cancel = arguments.pop("callback"), arguments.pop("cancel")
        return self._call(method, arguments, callback, cancel)

    # -- LoRA adapters (per calling thread) ---------------------------------------------------------------
    @property
    def loras(self) -> list[str]:
        """Adapters the host offers (its `lora_dir`); it loads them on demand."""
        return list(self._handle.diffusion_info.remote().result()["loras"])

    @property
    def active_lora(self) -> str | None:
        return getattr(self._local, "lora", None)

    def load_lora(self, name: str, path: str | Path | None = None) -> None:
        from models.engines.diffusion_lora import check_adapter_name

        if path is not None:
            raise DiffusionInputError("path", "a hosted model loads adapters from its own options.lora_dir only")
        if check_adapter_name(name) not in self.loras:
            raise DiffusionInputError("lora", f"no LoRA adapter {name!r} for model {self.model_name!r}")

    def set_lora(self, name: str | None, scale: float = 1.0) -> None:
        from models.engines.diffusion_lora import check_adapter_name

        if scale != 1.0:
            raise DiffusionInputError("scale", "a hosted model applies adapters at scale 1.0")
        self._local.lora = None if name is None else check_adapter_name(name)

    def unload_lora(self, name: str) -> None:
        """Nothing to free here: each host replica evicts its least recently used adapters itself."""
        if self.active_lora == name:
            self._local.lora = None

    @contextmanager
    def using_lora(self, name: str | None) -> Iterator[DiffusionEngine]:
        previous = self.active_lora
        self.set_lora(name)
        try:
            yield self
        finally:
            self._local.lora = previous

    # -- the call -----------------------------------------------------------------------------------------
    def _call(
        self, method: str, kwargs: dict[str, Any], callback: StepCallback | None, cancel: CancelHook | None
    ) -> list[Any]:
        from PIL import Image
        from ray.exceptions import RayTaskError

        wire = dict(kwargs)
        for key in DIFFUSION_METHODS[method]:
            if isinstance(wire.get(key), Image.Image):
                wire[key] = _encode_png(wire[key])
        if cancel is not None:
            cancel()
        lora = self.active_lora
        handle = self._handle.options(stream=True, multiplexed_model_id=lora or "")
        responses = handle.diffuse_stream.remote(method, wire, lora)
        results: list[dict[str, Any]] | None = None
        try:
            for event in responses:
                if "images" in event:
                    results = event["images"]
                    continue
                if callback is not None:
                    callback(event["step"], event["total"])
                if cancel is not None:
                    cancel()
        except RayTaskError as err:  # the replica's own exception, not Ray's wrapper
            if isinstance(err.cause, ValueError | DiffusionCancelled):
                raise err.cause from None
            raise
        finally:
            if results is None:
                responses.cancel()
        images = []
        for item in results:
            image = Image.open(io.BytesIO(item["png"]))
            image.load()
            image.info["seed"] = item["seed"]
            if "placement" in item:
                image.info["placement"] = tuple(item["placement"])
            images.append(image)
        return images
