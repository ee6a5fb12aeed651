"""Causal LMs through transformers: batched `generate` with left padding, and token streaming."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

from models.engines.base import ChatMessage, Generation, GenerationParams, TextEngine
from models.engines.device import resolve_device, resolve_dtype
from models.engines.structured import JSON_SCHEMA_KEY, SchemaGrammars
from models.spec import ModelSpec

__all__ = ["TransformersTextEngine"]


class TransformersTextEngine(TextEngine):
    """In-process transformers engine.

    Prompts are processed in chunks of `options.max_batch_size` (default 16), left-padded so every row ends
    at the same position. Sampling with a seed holds a lock because torch's RNG is process-global.
    `GenerationParams.extra["json_schema"]` constrains the output to a JSON schema (xgrammar).

    With `options.scheduler: static` (Llama/Qwen2 family) requests go through `StaticBatchScheduler` instead:
    continuous batching over a static KV cache with bucketed shapes (`slots`, `max_len`, `compile`,
    `compile_backend`, `warmup`) - the serving path for many concurrent callers.
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
        self._rng_lock = threading.Lock()
        self._grammars: SchemaGrammars | None = None
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

    @property
    def grammars(self) -> SchemaGrammars:
        """Schema compiler for this tokenizer, built on the first constrained request."""
        if self._grammars is None:
            self._grammars = SchemaGrammars(self.tokenizer, self.model.config.vocab_size)
        return self._grammars

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        # Base models without a chat template: a plain role-prefixed transcript ending at the assistant turn.
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def _generate_kwargs(self, params: GenerationParams) -> dict:
        kwargs = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": params.temperature > 0,
        }
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        extra = dict(params.extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        if schema is not None:
            processors = list(extra.pop("logits_processor", None) or [])
            kwargs["logits_processor"] = [*processors, self.grammars.logits_processor(schema)]
        kwargs.update(extra)
        return kwargs

    def _ids(self, prompt: str) -> list[int]:
        return self.tokenizer(prompt, add_special_tokens=False)["input_ids"]

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()

    def _encode(self, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in batch.items()}

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        params = params or GenerationParams()
        if self.scheduler is not None:
            return self.scheduler.generate([self._ids(p) for p in prompts], params)
        results: list[Generation] = []
        for start in range(0, len(prompts), self.max_batch_size):
            chunk = prompts[start : start + self.max_batch_size]
            batch = self._encode(chunk)
            with self._rng_lock:
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                out = self.model.generate(**batch, **self._generate_kwargs(params))
            prompt_len = batch["input_ids"].shape[1]
            prompt_counts = batch["attention_mask"].sum(dim=1).tolist()
            for row, n_prompt in zip(out[:, prompt_len:], prompt_counts, strict=True):
                results.append(self._to_generation(row, int(n_prompt), params))
        return results

    def _to_generation(self, tokens: torch.Tensor, n_prompt: int, params: GenerationParams) -> Generation:
        ids = tokens.tolist()
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.pad_token_id}
        n = len(ids)
        while n and ids[n - 1] in eos_ids:
            n -= 1
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        finish = "stop" if n < len(ids) or n < params.max_new_tokens else "length"
        for stop in params.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Generation(text=text, prompt_tokens=n_prompt, completion_tokens=n, finish_reason=finish)

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        params = params or GenerationParams()
        if self.scheduler is not None:
            yield from self.scheduler.drain(self.scheduler.submit(self._ids(prompt), params, stream=True))
            return
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        batch = self._encode([prompt])
        kwargs = {**batch, **self._generate_kwargs(params), "streamer": streamer}
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode(), self._rng_lock:
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the consumer thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name=f"stream-{self.model_name}", daemon=True)
        worker.start()
        yield from (piece for piece in streamer if piece)
        worker.join()
        if errors:
            raise errors[0]
