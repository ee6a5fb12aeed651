"""Per-row sampling, stopping and detokenization for the in-process transformers engines.

`transformers.generate` samples every row of a batch from torch's one global RNG, so a seeded row's text
depends on what else is in the batch, and seeding needs a process-wide lock. Here each row samples from its
own `torch.Generator` instead: `RowSampler` is the last logits processor of a greedy `generate` call; it
applies the row's grammar, temperature and top-p, draws the row's token by inverse-CDF sampling with one
uniform number from the row's generator, and hands `generate` a one-hot score row (so greedy decoding picks
exactly that token). A row therefore reproduces alone with its seed, in any batch, with no lock.

`RowStopper` ends each row at its own `max_new_tokens` and the whole call at once when its `Cancel` is set
(checked after every forward pass, so a cancelled call runs at most one more). `TextDelta` turns tokens into
stream pieces incrementally, holding back what may be the start of a stop string.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from models.engines.base import GenerationParams

__all__ = ["Cancel", "RowSampler", "RowStopper", "TextDelta", "PieceStreamer", "sample_rows", "row_generator"]


def row_generator(seed: int | None) -> torch.Generator:
    """A CPU generator for one row: seeded, or from fresh OS entropy (never torch's global RNG)."""
    return torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))


def sample_rows(
    logits: torch.Tensor, temperature: Sequence[float], top_p: Sequence[float], generators: Sequence[torch.Generator]
) -> torch.Tensor:
    """One token per row [B]: argmax where temperature is 0, else a top-p draw with the row's generator.

    The draw is inverse-CDF sampling over the probabilities sorted in descending order with one uniform number
    per row, so it depends only on the row's own logits and generator.
    """
    greedy = logits.argmax(dim=-1)
    temps = torch.tensor(list(temperature), device=logits.device, dtype=torch.float32)
    if not bool((temps > 0).any()):
        return greedy
    probs = torch.softmax(logits.float() / temps.clamp(min=1e-5)[:, None], dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    nucleus = torch.tensor(list(top_p), device=logits.device, dtype=torch.float32)
    sorted_probs = sorted_probs.masked_fill(sorted_probs.cumsum(-1) - sorted_probs >= nucleus[:, None], 0.0)
    cumulative = sorted_probs.cumsum(-1)
    uniform = torch.stack([torch.rand((), generator=g) for g in generators]).to(logits.device)
    index = torch.searchsorted(cumulative, (uniform * cumulative[:, -1])[:, None]).clamp(max=logits.shape[-1] - 1)
    picked = order.gather(-1, index)[:, 0]
    return torch.where(temps > 0, picked, greedy)


class Cancel:
    """A cancel flag for one generation call, set from any thread; counts the forward passes it waited for."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.steps = 0  # forward passes of the call so far (RowStopper counts them)
        self.steps_at_cancel: int | None = None
        self.finished = False  # set by the worker when generation has ended: a later set() changes nothing

    def set(self) -> None:
        if not self.finished and not self._event.is_set():
            self.steps_at_cancel = self.steps
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    @property
    def steps_after_cancel(self) -> int | None:
        """Forward passes that completed after `set()` (at most 1), or None when not cancelled."""
        return None if self.steps_at_cancel is None else self.steps - self.steps_at_cancel


class RowSampler(LogitsProcessor):
    """Samples every row itself (grammar, temperature, top-p, its own generator); must run last, with
    `do_sample=False`.

    Args:
        rows: Parameters per row (temperature, top_p, seed).
        matchers: An xgrammar `GrammarMatcher` per row, or None for unconstrained rows.
    """

    def __init__(self, rows: Sequence[GenerationParams], matchers: Sequence[Any] | None = None) -> None:
        self.rows = list(rows)
        self.matchers = list(matchers) if matchers is not None else [None] * len(self.rows)
        self.generators = [row_generator(p.seed) for p in self.rows]
        self.temperature = [p.temperature for p in self.rows]
        self.top_p = [p.top_p for p in self.rows]
        self.done = [False] * len(self.rows)
        self._last: list[int] | None = None

    def _advance(self, tail: list[int]) -> None:
        """Rows whose last token is not what was sampled for them were finished and padded by `generate`."""
        assert self._last is not None
        for i, token in enumerate(tail):
            if self.done[i]:
                continue
            if token != self._last[i]:
                self.done[i] = True
            elif self.matchers[i] is not None and not self.matchers[i].is_terminated():
                if not self.matchers[i].accept_token(token):
                    raise RuntimeError(f"row {i}: the grammar rejected token {token} it allowed one step earlier")

    def _constrain(self, scores: torch.Tensor) -> torch.Tensor:
        rows = [i for i, m in enumerate(self.matchers) if m is not None and not self.done[i] and not m.is_terminated()]
        if not rows:
            return scores
        import xgrammar as xgr

        mask = xgr.allocate_token_bitmask(len(self.rows), scores.shape[-1])
        for i in rows:
            self.matchers[i].fill_next_token_bitmask(mask, i)
        target = scores if scores.device.type == "cuda" else scores.cpu()
        xgr.apply_token_bitmask_inplace(target, mask.to(target.device), indices=rows)
        return target.to(scores.device)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._last is not None:
            self._advance(input_ids[:, -1].tolist())
        scores = self._constrain(scores.float())
        tokens = sample_rows(scores, self.temperature, self.top_p, self.generators)
        self._last = tokens.tolist()
        one_hot = torch.full_like(scores, float("-inf"))
        return one_hot.scatter_(1, tokens[:, None], 0.0)


class RowStopper(StoppingCriteria):
    """Each row stops at its own `max_new_tokens`; every row stops once `cancel` is set."""

    def __init__(self, prompt_length: int, limits: Sequence[int], cancel: Cancel) -> None:
        self.prompt_length = prompt_length
        self.limits = torch.tensor(list(limits))
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        self.cancel.steps += 1
        if self.cancel.is_set():
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.prompt_length
        return (generated >= self.limits).to(input_ids.device)


class TextDelta:
    """Incremental detokenization of one sequence, with stop strings.

    New text is decoded from a small window of tokens (O(1) per token, the scheme of vLLM/TGI); a trailing
    byte fragment (U+FFFD) waits for the tokens that complete it (up to 4: a UTF-8 character's bytes), and
    text that may be the start of a stop string is held back until it is known not to be one. Once a stop
    string appears, the text ends before it.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str] = (), skip_ids: set[int] | None = None) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.skip_ids = skip_ids or set()
        self.tokens: list[int] = []
        self.text = ""
        self.sent = 0
        self.stopped = False
        self._prefix = 0
        self._read = 0

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def add(self, token_ids: Sequence[int]) -> str:
        """Take new tokens; return the text that can be streamed now ('' when nothing is certain yet)."""
        if self.stopped:
            return ""
        self.tokens += [t for t in token_ids if t not in self.skip_ids]
        window = self._decode(self.tokens[self._prefix :])
        prefix = self._decode(self.tokens[self._prefix : self._read])
        # A UTF-8 character spans at most 4 byte tokens: past that, a replacement character is final.
        pending = len(self.tokens) - self._read
        if len(window) > len(prefix) and (not window.endswith("\ufffd") or pending >= 4):
            self.text += window[len(prefix) :]
            self._prefix, self._read = self._read, len(self.tokens)
        hits = [self.text.find(s) for s in self.stops if s in self.text]
        if hits:
            self.text, self.stopped = self.text[: min(hits)], True
            return self._take(len(self.text))
        held = max((k for s in self.stops for k in range(1, len(s)) if self.text.endswith(s[:k])), default=0)
        return self._take(len(self.text) - held)

    def finish(self) -> str:
        """The rest of the text once generation has ended (held-back fragments included)."""
        if not self.stopped:
            full = self._decode(self.tokens)
            if full.startswith(self.text):
                self.text = full
            hits = [self.text.find(s) for s in self.stops if s in self.text]
            if hits:
                self.text = self.text[: min(hits)]
        return self._take(len(self.text))

    def _take(self, end: int) -> str:
        if end <= self.sent:
            return ""
        piece, self.sent = self.text[self.sent : end], end
        return piece


class PieceStreamer(BaseStreamer):
    """A `generate(streamer=...)` for one row: text pieces go to `emit` (called from the generating thread)."""

    def __init__(self, delta: TextDelta, emit: Callable[[str], None]) -> None:
        self.delta = delta
        self.emit = emit
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        piece = self.delta.add(value.reshape(-1).tolist())
        if piece:
            self.emit(piece)

    def end(self) -> None:
        piece = self.delta.finish()
        if piece:
            self.emit(piece)
