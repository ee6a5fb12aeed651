"""Causal LMs through transformers: batched `generate` with left padding, per-row seeds, async streaming.

Each call runs `model.generate` in a worker thread; calls take turns on the model (one `generate` at a time:
concurrent calls would only split the same cores - 1.35 vs 2.44 notes/s for 4 clients on 2 cores - while the
rows of one call are batched; batching across callers is what the serving engines are for). Rows sample from
their own generators (`RowSampler`), so a seeded row gives the same text alone or in any batch. A `Cancel`
flag checked after every forward pass (`RowStopper`) makes a closed stream or a cancelled call stop within
one decode step; a call cancelled while waiting for its turn never starts.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList, StoppingCriteriaList

from models.engines.aio import call_in_thread, stream_from_thread
from models.engines.base import (
    ChatMessage,
    Generation,
    GenerationParams,
    Prompt,
    TextEngine,
    render_chat,
    row_params,
)
from models.engines.device import resolve_device, resolve_dtype
from models.engines.sampling import Cancel, PieceStreamer, RowSampler, RowStopper, TextDelta
from models.engines.structured import JSON_SCHEMA_KEY, SchemaGrammars, schema_key
from models.spec import ModelSpec

__all__ = ["TransformersTextEngine"]


class TransformersTextEngine(TextEngine):
    """In-process transformers engine.

    Prompts are processed in chunks of `options.max_batch_size` (default 16), left-padded so every row ends
    at the same position; rows with different stop strings, schemas or engine options go in separate
    batches. `GenerationParams.extra["json_schema"]` constrains the output to a JSON schema (xgrammar).

    Experimental: `options.scheduler: static` (Llama/Qwen2 family) sends requests through
    `StaticBatchScheduler` instead (continuous batching over a static KV cache with bucketed shapes:
    `slots`, `max_len`, `compile`, `compile_backend`, `warmup`). It is off by default and stays experimental
    until `benchmarks/gpu_copy_serving.py` shows it at >= 2x transformers' own continuous batching on a GPU.

    Attributes:
        forward_passes: Model forward passes run so far (all calls together).
        cancelled_steps: For recent cancelled generations, the forward passes each ran after its cancellation
            (the contract is at most 1).
    """

    engine_name = "transformers"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.max_batch_size = int(spec.options.get("max_batch_size", 16))
        self.tokenizer = AutoTokenizer.from_pretrained(weights, padding_side="left")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(weights, dtype=self.dtype).to(self.device).eval()
        self.forward_passes = 0
        self.model.register_forward_pre_hook(self._count_forward)
        self.cancelled_steps: collections.deque[int] = collections.deque(maxlen=256)
        self._turn = threading.Lock()  # one generate() at a time on this model
        self._grammars: SchemaGrammars | None = None
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.scheduler = None
        if spec.options.get("scheduler") == "static":
            from models.engines.transformers_batching import StaticBatchScheduler

            self.scheduler = StaticBatchScheduler(
                self.model,
                self.tokenizer,
                slots=int(spec.options.get("slots", self.max_batch_size)),
                max_len=int(spec.options.get("max_len", 2048)),
                compile=bool(spec.options.get("compile", False)),
                compile_backend=str(spec.options.get("compile_backend", "inductor")),
                grammars=self.grammars,
            )
            if spec.options.get("warmup", bool(spec.options.get("compile", False))):
                self.scheduler.warmup()

    def _count_forward(self, module: Any, args: Any) -> None:
        self.forward_passes += 1

    @property
    def grammars(self) -> SchemaGrammars:
        """Schema compiler for this tokenizer, built on the first constrained request."""
        if self._grammars is None:
            self._grammars = SchemaGrammars(self.tokenizer, self.model.config.vocab_size)
        return self._grammars

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model sees for chat messages (its own chat template)."""
        return render_chat(self.tokenizer, list(messages))

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()

    # -- TextEngine ---------------------------------------------------------------------------------------
    async def generate_many(
        self, prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None = None
    ) -> list[Generation]:
        rows = row_params(prompts, params)
        texts = [render_chat(self.tokenizer, p) for p in prompts]
        if self.scheduler is not None:
            return await self.scheduler.generate_async([self._ids(t) for t in texts], rows)
        cancel = Cancel()
        return await call_in_thread(
            lambda: self._until_done(cancel, self._generate_rows, texts, rows, cancel),
            cancel.set,
            f"generate-{self.model_name}",
        )

    async def stream(self, prompt: Prompt, params: GenerationParams | None = None) -> AsyncIterator[str]:
        params = params or GenerationParams()
        text = render_chat(self.tokenizer, prompt)
        if self.scheduler is not None:
            async with aclosing(self.scheduler.stream_async(self._ids(text), params)) as pieces:
                async for piece in pieces:
                    yield piece
            return
        cancel = Cancel()

        def work(emit: Callable[[str], None]) -> None:
            streamer = PieceStreamer(TextDelta(self.tokenizer, params.stop, self._skip_ids), emit)
            self._until_done(cancel, self._run_batch, [text], [params], cancel, streamer)

        async with aclosing(stream_from_thread(work, cancel.set, f"stream-{self.model_name}")) as pieces:
            async for piece in pieces:
                yield piece

    # -- generation (worker threads) -----------------------------------------------------------------------
    @property
    def _skip_ids(self) -> set[int]:
        return self.eos_ids | {self.tokenizer.pad_token_id}

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @staticmethod
    def _batch_key(params: GenerationParams) -> str:
        """Rows that can share one `generate` call: same stop strings, schema and engine options."""
        extra = {k: v for k, v in params.extra.items() if k != JSON_SCHEMA_KEY}
        schema = params.extra.get(JSON_SCHEMA_KEY)
        return json.dumps(
            [list(params.stop), schema_key(schema) if schema is not None else None, sorted(extra.items(), key=str)],
            default=repr,
        )

    def _until_done(self, cancel: Cancel, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one call's generation; afterwards a cancel changes nothing, and a cancellation is recorded."""
        try:
            return fn(*args)
        finally:
            cancel.finished = True
            if cancel.steps_after_cancel is not None:
                self.cancelled_steps.append(cancel.steps_after_cancel)

    def _generate_rows(self, texts: list[str], rows: list[GenerationParams], cancel: Cancel) -> list[Generation]:
        results: list[Generation | None] = [None] * len(texts)
        groups: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            groups.setdefault(self._batch_key(row), []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), self.max_batch_size):
                chunk = indices[start : start + self.max_batch_size]
                if cancel.is_set():
                    break
                outputs = self._run_batch([texts[i] for i in chunk], [rows[i] for i in chunk], cancel)
                if cancel.is_set():
                    break
                for i, generation in zip(chunk, outputs, strict=True):
                    results[i] = generation
        if cancel.is_set():
            raise RuntimeError("generation was cancelled")  # the caller has already raised CancelledError
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _run_batch(
        self,
        texts: list[str],
        rows: list[GenerationParams],
        cancel: Cancel,
        streamer: PieceStreamer | None = None,
    ) -> list[Generation]:
        """One left-padded `generate` call; every row with its own limit, seed, sampling and grammar. Returns
        nothing when cancelled before its turn came."""
        while not self._turn.acquire(timeout=0.05):
            if cancel.is_set():
                return []
        try:
            return self._generate_locked(texts, rows, cancel, streamer)
        finally:
            self._turn.release()

    def _generate_locked(
        self,
        texts: list[str],
        rows: list[GenerationParams],
        cancel: Cancel,
        streamer: PieceStreamer | None,
    ) -> list[Generation]:
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        prompt_len = batch["input_ids"].shape[1]
        extra = dict(rows[0].extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        matchers = [self.grammars.matcher(schema) for _ in rows] if schema is not None else None
        processors = [*(extra.pop("logits_processor", None) or []), RowSampler(rows, matchers)]
        stopper = RowStopper(prompt_len, [r.max_new_tokens for r in rows], cancel)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(r.max_new_tokens for r in rows),
            "do_sample": False,  # RowSampler has sampled already: greedy decoding takes its token
            "pad_token_id": self.tokenizer.pad_token_id,
            "logits_processor": LogitsProcessorList(processors),
            "stopping_criteria": StoppingCriteriaList([stopper]),
            "streamer": streamer,
        }
        if rows[0].stop:
            kwargs.update(stop_strings=list(rows[0].stop), tokenizer=self.tokenizer)
        kwargs.update(extra)
        out = self.model.generate(**batch, **kwargs)
        prompt_counts = batch["attention_mask"].sum(dim=1).tolist()
        return [
            self._to_generation(tokens, int(n_prompt), row)
            for tokens, n_prompt, row in zip(out[:, prompt_len:], prompt_counts, rows, strict=True)
        ]

    def _to_generation(self, tokens: torch.Tensor, n_prompt: int, params: GenerationParams) -> Generation:
        ids = tokens.tolist()[: params.max_new_tokens]
        skip = self._skip_ids
        n = len(ids)
        while n and ids[n - 1] in skip:
            n -= 1
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        finish = "stop" if n < len(ids) or n < params.max_new_tokens else "length"
        for stop in params.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Generation(text=text, prompt_tokens=n_prompt, completion_tokens=n, finish_reason=finish)
