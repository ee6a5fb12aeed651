"""`StaticBatchScheduler` (experimental): continuous batching for transformers decoder LMs over a static KV cache.

Experimental and off by default (`options.scheduler: static` turns it on). It has to earn its place on a
GPU: `benchmarks/gpu_copy_serving.py` must show it at >= 2x transformers' own continuous batching
(`ContinuousBatchingManager`) at 64 concurrent clients, or it goes. On the GPUs that serve production,
vLLM (in-process `engine: vllm`, or Ray Serve LLM behind `engine: openai`) is the serving path.

Why: `generate()` on a padded batch wastes the GPU on padding and waits for the longest row; transformers'
own continuous batching was slower than that on the H100 here (see ENVIRONMENT.md). This scheduler keeps
`slots` sequences in one preallocated KV cache and decodes all of them in one forward per step; a
request that finishes frees its slot and a waiting one is prefilled into it at once (no waiting for the
batch). Every tensor shape comes from a small fixed set - prefill (batch bucket x length bucket), decode
(slots x context bucket) - so `torch.compile` compiles each shape once at warm-up and never again.

Runs the Llama/Qwen2 family (pre-norm decoder layers with q/k/v/o projections, rotary embeddings, GQA)
with the model's own modules; the forward is re-assembled here only to read and write the static cache
per slot. Constrained decoding (xgrammar matchers per request) and per-request seeds are supported. A
cancelled request (a closed stream) frees its slot before the next step.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb  # same rotary as Qwen2/Mistral

from models.engines.base import Generation, GenerationParams
from models.engines.sampling import row_generator, sample_rows
from models.engines.structured import JSON_SCHEMA_KEY

__all__ = ["StaticBatchScheduler", "buckets_up_to"]

_DONE = object()


def buckets_up_to(limit: int, smallest: int) -> list[int]:
    """Powers of two from `smallest`, with `limit` last (shapes the compiler sees)."""
    out, size = [], smallest
    while size < limit:
        out.append(size)
        size *= 2
    return [*out, limit]


def _bucket(value: int, buckets: Sequence[int]) -> int:
    for size in buckets:
        if value <= size:
            return size
    raise ValueError(f"{value} exceeds the largest bucket {buckets[-1]}")


class _LoopSink:
    """Delivers a request's items to a queue of an asyncio loop (the caller's), from the scheduler thread."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody is listening
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def get(self) -> Any:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item


@dataclass
class _Request:
    ids: list[int]
    params: GenerationParams
    sink: Any  # queue.Queue or _LoopSink: anything with put()
    stream: bool
    submitted: float = field(default_factory=time.perf_counter)
    slot: int = -1
    out: list[int] = field(default_factory=list)
    matcher: Any = None
    generator: torch.Generator | None = None
    on_first_token: Any = None
    text: str = ""  # decoded so far (streams and stop strings), extended incrementally
    prefix_offset: int = 0
    read_offset: int = 0
    hit_stop: bool = False
    sent: int = 0  # characters of `text` already streamed
    steps: int = 0  # forward passes (prefill or decode) this request took part in
    steps_at_cancel: int | None = None
    done: bool = False


class StaticBatchScheduler:
    """Slots over one static KV cache, a scheduler thread, bucketed shapes.

    Args:
        model: A loaded `*ForCausalLM` of the Llama/Qwen2 family (eval mode, on its device).
        tokenizer: Its tokenizer (decoding and grammar vocab).
        slots: Sequences decoded together (the static batch).
        max_len: Prompt + completion tokens per slot (KV cache length).
        compile: `torch.compile` the prefill and decode steps (GPU); shapes are warmed up by `warmup()`.
        grammars: `SchemaGrammars` for requests with `extra["json_schema"]`.
        max_prefill_tokens: Prompt tokens prefilled in one forward (bounds the decode stall of an admission).
        max_prefill_batch: Prompts prefilled in one forward (batch buckets 1, 2, 4, ... up to it).
        compile_backend: `torch.compile` backend (`inductor`; `eager` checks tracing and shapes cheaply).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        slots: int = 8,
        max_len: int = 2048,
        compile: bool = False,
        grammars: Any = None,
        max_prefill_tokens: int = 8192,
        max_prefill_batch: int = 8,
        compile_backend: str = "inductor",
    ) -> None:
        self.model, self.tokenizer, self.grammars = model, tokenizer, grammars
        self.slots, self.max_len = slots, max_len
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        config = model.config
        self.n_kv = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        layers = model.model.layers
        self.batch_buckets = buckets_up_to(min(slots, max_prefill_batch), 1)
        # Rows past `slots` are scratch: padding rows of a bucketed prefill batch write there, never into a
        # slot in use. Decode reads only the first `slots` rows.
        shape = (slots + self.batch_buckets[-1], self.n_kv, max_len, self.head_dim)
        self.k_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in layers]
        self.v_cache = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in layers]
        self.length_buckets = buckets_up_to(max_len, 64)
        self.max_prefill_tokens = max_prefill_tokens
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else []) | (
            {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        )
        self._prefill_fn, self._decode_fn = self._prefill, self._decode
        if compile:
            # One graph per shape: dynamo's default limit (8 per function) would silently fall back to eager
            # past the eighth prefill shape, so the limit is raised to the number of shapes warm-up compiles.
            import torch._dynamo as dynamo

            shapes = len(self.batch_buckets) * len(self.length_buckets) + len(self.length_buckets)
            dynamo.config.recompile_limit = max(dynamo.config.recompile_limit, shapes + 4)
            self._prefill_fn = torch.compile(self._prefill, dynamic=False, backend=compile_backend)
            self._decode_fn = torch.compile(self._decode, dynamic=False, backend=compile_backend)
        #: (step, batch, length) of every forward run; `warmup()` runs them all, so traffic adds none.
        self.shapes: set[tuple[str, int, int]] = set()
        self._active: list[_Request | None] = [None] * slots
        self._pending: queue.Queue[_Request] = queue.Queue()
        self._waiting: list[_Request] = []
        self._cancels: queue.Queue[_Request] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Forward passes (prefill and decode) run so far.
        self.forward_passes = 0
        #: For recent cancelled requests: forward passes each took part in after its cancellation (at most 1).
        self.cancelled_steps: collections.deque[int] = collections.deque(maxlen=256)
        self._thread = threading.Thread(target=self._loop, name="static-batch-scheduler", daemon=True)
        self._thread.start()

    # -- model steps (pure tensor code: what torch.compile sees) ------------------------------------------
    def _layers(self, h: torch.Tensor, pos: torch.Tensor, attend: Any) -> torch.Tensor:
        cos, sin = self.model.model.rotary_emb(h, pos)
        b, t = h.shape[:2]
        for index, layer in enumerate(self.model.model.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(h)
            q = attn.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            o = attend(index, q, k, v, attn.scaling)
            h = h + attn.o_proj(o.transpose(1, 2).reshape(b, t, -1))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        return self.model.model.norm(h)

    def _prefill(self, ids: torch.Tensor, slots: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Right-padded prompts [B, L] into their slots' cache rows [0, L); logits of each last real token."""
        b, length = ids.shape
        pos = torch.arange(length, device=ids.device).expand(b, length)

        def attend(i: int, q, k, v, scale):
            self.k_cache[i][slots, :, :length] = k
            self.v_cache[i][slots, :, :length] = v
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale, enable_gqa=True)

        h = self._layers(self.model.model.embed_tokens(ids), pos, attend)
        return self.model.lm_head(h[torch.arange(b, device=ids.device), last]).float()

    def _decode(self, ids: torch.Tensor, pos: torch.Tensor, ctx: int) -> torch.Tensor:
        """One token per slot [S]; slot s writes position pos[s] and attends to [0, pos[s]] of [0, ctx)."""
        rows = torch.arange(ids.shape[0], device=ids.device)
        mask = (torch.arange(ctx, device=ids.device)[None, :] <= pos[:, None])[:, None, None, :]

        def attend(i: int, q, k, v, scale):
            self.k_cache[i][rows, :, pos] = k[:, :, 0]
            self.v_cache[i][rows, :, pos] = v[:, :, 0]
            keys, values = self.k_cache[i][: self.slots, :, :ctx], self.v_cache[i][: self.slots, :, :ctx]
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=scale, enable_gqa=True)

        h = self._layers(self.model.model.embed_tokens(ids[:, None]), pos[:, None], attend)
        return self.model.lm_head(h[:, 0]).float()

    # -- public API ---------------------------------------------------------------------------------------
    def submit(
        self,
        prompt_ids: list[int],
        params: GenerationParams,
        stream: bool = False,
        on_first_token: Any = None,
        sink: Any = None,
    ) -> _Request:
        """Queue one request; its `sink` (default a new `queue.Queue`) receives text pieces (stream) or one
        `Generation`, then `_DONE`. `on_first_token()` is called from the scheduler thread when its first token
        is sampled (TTFT). The returned handle is what `drain` and `cancel` take."""
        if len(prompt_ids) + params.max_new_tokens > self.max_len:
            raise ValueError(
                f"prompt ({len(prompt_ids)} tokens) + max_new_tokens ({params.max_new_tokens}) exceeds the "
                f"scheduler's max_len {self.max_len}; raise options.max_len"
            )
        request = _Request(
            list(prompt_ids), params, sink if sink is not None else queue.Queue(), stream, on_first_token=on_first_token
        )
        schema = params.extra.get(JSON_SCHEMA_KEY)
        if schema is not None:
            request.matcher = self.grammars.matcher(schema)
        request.generator = row_generator(params.seed)
        self._pending.put(request)
        self._wake.set()
        return request

    def cancel(self, request: _Request) -> None:
        """Stop a request from any thread: its slot is freed before the next step, then its sink gets `_DONE`."""
        if request.steps_at_cancel is None and not request.done:
            request.steps_at_cancel = request.steps
            self._cancels.put(request)
            self._wake.set()

    @staticmethod
    def drain(request: _Request) -> Iterator[Any]:
        """What a request's `queue.Queue` sink receives, until `_DONE` (sync callers)."""
        while (item := request.sink.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def stream_async(self, prompt_ids: list[int], params: GenerationParams) -> AsyncIterator[str]:
        """Text pieces of one request; closing the iterator (or cancelling its task) cancels the request."""
        request = self.submit(prompt_ids, params, stream=True, sink=_LoopSink())
        finished = False
        try:
            while (item := await request.sink.get()) is not _DONE:
                yield item
            finished = True
        finally:
            if not finished:
                self.cancel(request)  # synchronous: holds even where the awaits below are cancelled again
                while await request.sink.get() is not _DONE:
                    pass

    async def generate_async(
        self, prompts_ids: Sequence[list[int]], rows: Sequence[GenerationParams]
    ) -> list[Generation]:
        """One `Generation` per prompt with its row's parameters; cancelling the call cancels every row."""
        requests = [self.submit(ids, row, sink=_LoopSink()) for ids, row in zip(prompts_ids, rows, strict=True)]
        try:
            results = []
            for request in requests:
                results.append(await request.sink.get())
                await request.sink.get()  # _DONE
            return results
        finally:
            for request in requests:
                self.cancel(request)  # a finished request ignores it

    def warmup(self) -> None:
        """Run every prefill and decode shape once (compiles them all before traffic arrives)."""
        with torch.inference_mode():
            for batch in self.batch_buckets:
                for length in self.length_buckets:
                    if batch > self._prefill_rows(length):
                        continue
                    ids = torch.zeros(batch, length, dtype=torch.long, device=self.device)
                    slots = torch.arange(batch, device=self.device)
                    self.shapes.add(("prefill", batch, length))
                    self._prefill_fn(ids, slots, torch.zeros(batch, dtype=torch.long, device=self.device))
            for ctx in self.length_buckets:
                # distinct tensors: dynamo guards on aliasing, and traffic never passes the same one twice
                ids = torch.zeros(self.slots, dtype=torch.long, device=self.device)
                pos = torch.zeros(self.slots, dtype=torch.long, device=self.device)
                self.shapes.add(("decode", self.slots, ctx))
                self._decode_fn(ids, pos, ctx)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    # -- the scheduler loop ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            while True:
                try:
                    self._waiting.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            self._reap_cancelled()
            try:
                with torch.inference_mode():
                    self._admit()
                    if any(self._active):
                        self._step()
                        continue
            except Exception as exc:  # noqa: BLE001 - fail every caller, keep serving later requests
                for request in [r for r in self._active if r] + self._waiting:
                    request.done = True
                    request.sink.put(exc)
                    request.sink.put(_DONE)
                self._active = [None] * self.slots
                self._waiting = []
            self._wake.wait(0.05)
            self._wake.clear()

    def _reap_cancelled(self) -> None:
        """Drop cancelled requests: waiting ones never start, running ones free their slot now."""
        while True:
            try:
                request = self._cancels.get_nowait()
            except queue.Empty:
                return
            if request.done:
                continue
            if request in self._waiting:
                self._waiting.remove(request)
            elif 0 <= request.slot < self.slots and self._active[request.slot] is request:
                self._active[request.slot] = None
            else:  # still in _pending (cancelled before the loop saw it): next round
                self._cancels.put(request)
                return
            request.done = True
            self.cancelled_steps.append(request.steps - (request.steps_at_cancel or 0))
            request.sink.put(_DONE)

    def _prefill_rows(self, length: int) -> int:
        """Most prompts of bucket `length` in one prefill: a batch bucket, within the token budget."""
        budget = max(1, self.max_prefill_tokens // length)
        return max(b for b in self.batch_buckets if b <= budget)

    def _admit(self) -> None:
        """Prefill waiting requests into free slots, grouped by length bucket, within the token budget."""
        free = [i for i, r in enumerate(self._active) if r is None]
        while free and self._waiting:
            length = _bucket(len(self._waiting[0].ids), self.length_buckets)
            group = [r for r in self._waiting if _bucket(len(r.ids), self.length_buckets) == length]
            group = group[: min(len(free), self._prefill_rows(length))]
            batch = _bucket(len(group), self.batch_buckets)
            ids = torch.full((batch, length), self.tokenizer.pad_token_id or 0, dtype=torch.long)
            for row, request in enumerate(group):
                ids[row, : len(request.ids)] = torch.tensor(request.ids)
                request.slot = free.pop(0)
                self._active[request.slot] = request
                self._waiting.remove(request)
            spare = [r.slot for r in group] + [self.slots + i for i in range(batch - len(group))]
            last = [len(r.ids) - 1 for r in group] + [0] * (batch - len(group))
            self.shapes.add(("prefill", batch, length))
            logits = self._prefill_fn(
                ids.to(self.device),
                torch.tensor(spare, device=self.device),
                torch.tensor(last, device=self.device),
            )
            self._count(group)
            self._accept(group, logits[: len(group)])

    def _step(self) -> None:
        ids = torch.zeros(self.slots, dtype=torch.long)
        pos = torch.zeros(self.slots, dtype=torch.long)
        live = [r for r in self._active if r is not None]
        for request in live:
            ids[request.slot] = request.out[-1]
            pos[request.slot] = len(request.ids) + len(request.out) - 1
        ctx = _bucket(int(pos.max()) + 1, self.length_buckets)
        self.shapes.add(("decode", self.slots, ctx))
        logits = self._decode_fn(ids.to(self.device), pos.to(self.device), ctx)
        self._count(live)
        self._accept(live, logits[torch.tensor([r.slot for r in live], device=self.device)])

    def _count(self, requests: list[_Request]) -> None:
        self.forward_passes += 1
        for request in requests:
            request.steps += 1

    def _sample(self, requests: list[_Request], logits: torch.Tensor) -> list[int]:
        constrained = [i for i, r in enumerate(requests) if r.matcher is not None]
        if constrained:
            import xgrammar as xgr

            mask = xgr.allocate_token_bitmask(len(requests), logits.shape[-1])
            for i in constrained:
                requests[i].matcher.fill_next_token_bitmask(mask, i)
            on_cpu = logits.device.type != "cuda"
            target = logits.cpu() if on_cpu else logits
            xgr.apply_token_bitmask_inplace(target, mask.to(target.device), indices=constrained)
            logits = target.to(logits.device) if on_cpu else target
        return sample_rows(
            logits,
            [r.params.temperature for r in requests],
            [r.params.top_p for r in requests],
            [r.generator for r in requests],
        ).tolist()

    def _detokenize(self, request: _Request) -> str:
        """New text of the last token, decoding only a small window (O(1) per step, not O(length)): the
        incremental scheme of vLLM/TGI; byte fragments (U+FFFD) wait for the token that completes them."""
        tokens = [t for t in request.out if t not in self.eos]
        window = self.tokenizer.decode(tokens[request.prefix_offset :], skip_special_tokens=True)
        prefix = self.tokenizer.decode(tokens[request.prefix_offset : request.read_offset], skip_special_tokens=True)
        if len(window) <= len(prefix) or window.endswith("\ufffd"):
            return ""
        request.prefix_offset, request.read_offset = request.read_offset, len(tokens)
        return window[len(prefix) :]

    @staticmethod
    def _holdback(text: str, stops: Sequence[str]) -> int:
        """Characters at the end of `text` that may be the start of a stop string (not streamed yet)."""
        return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)

    def _accept(self, requests: list[_Request], logits: torch.Tensor) -> None:
        for request, token in zip(requests, self._sample(requests, logits), strict=True):
            if not request.out and request.on_first_token is not None:
                request.on_first_token()
            if request.matcher is not None and not request.matcher.is_terminated():
                request.matcher.accept_token(token)
            request.out.append(token)
            finished = token in self.eos or (request.matcher is not None and request.matcher.is_terminated())
            length = len(request.out) >= request.params.max_new_tokens
            if request.stream or request.params.stop:
                request.text += self._detokenize(request)
                hits = [request.text.find(s) for s in request.params.stop if s in request.text]
                if hits:
                    request.text, finished, request.hit_stop = request.text[: min(hits)], True, True
                if request.stream and not (finished or length):
                    end = len(request.text) - self._holdback(request.text, request.params.stop)
                    if end > request.sent:
                        request.sink.put(request.text[request.sent : end])
                        request.sent = end
            if finished or length:
                self._finish(request, "stop" if finished else "length")

    def _finish(self, request: _Request, reason: str) -> None:
        tokens = [t for t in request.out if t not in self.eos]
        if request.stream or request.params.stop:
            if not request.hit_stop:  # what the decode window held back (a trailing byte fragment)
                full = self.tokenizer.decode(tokens, skip_special_tokens=True)
                if full.startswith(request.text):
                    request.text = full
            text = request.text
            if request.stream and len(text) > request.sent:
                request.sink.put(text[request.sent :])
        else:
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if not request.stream:
            request.sink.put(Generation(text, len(request.ids), len(tokens), reason))
        request.done = True
        request.sink.put(_DONE)
        self._active[request.slot] = None
