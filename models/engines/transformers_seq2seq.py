"""Encoder-decoder models (MarianMT, M2M100, NLLB) through transformers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from models.engines.base import Seq2SeqEngine
from models.engines.device import resolve_device, resolve_dtype
from models.engines.translation import check_options, decode_without_languages, language_tokens, option_int
from models.spec import ModelSpec

__all__ = ["TransformersSeq2SeqEngine"]

#: Options this engine reads.
OPTIONS = ("max_batch_size", "max_input_tokens", "pairs", "languages")


class TransformersSeq2SeqEngine(Seq2SeqEngine):
    """Batched seq2seq generation with transformers.

    Options: `max_batch_size` (default 32) bounds memory per call, `max_input_tokens` (default 512) truncates
    long inputs, `pairs` / `languages` declare the directions `translate` serves. For a multilingual model the
    tokenizer's `src_lang` is set to the source's model code and the target's language token is forced as the
    first generated token (`forced_bos_token_id`).

    Raises (at load):
        ModelConfigError: an unknown or malformed option (named in the message).
    """

    engine_name = "transformers"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        check_options(spec.name, spec.options, OPTIONS)
        self.max_batch_size = option_int(spec.name, spec.options, "max_batch_size", 32, 1)
        self.max_input_tokens = option_int(spec.name, spec.options, "max_input_tokens", 512, 1)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(weights)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(weights, dtype=self.dtype).to(self.device).eval()
        #: Our code -> the id of the model's language token (multilingual models only).
        self._language_ids = {
            code: self.tokenizer.convert_tokens_to_ids(token)
            for code, token in language_tokens(spec.name, self.tokenizer, self.languages).items()
        }
        self._drop_ids = set(self._language_ids.values())
        # `src_lang` is tokenizer state: tokenize under a lock so concurrent calls in other directions do not mix.
        self._tokenizer_lock = threading.Lock()

    def generate(self, texts: Sequence[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        return self._run(list(texts), None, max_new_tokens=max_new_tokens, num_beams=num_beams, extra={})

    def _translate(
        self, texts: list[str], source: str, target: str, *, num_beams: int, max_new_tokens: int
    ) -> list[str]:
        extra: dict[str, Any] = {"do_sample": False}
        src_lang = None
        if self.languages.multilingual:
            src_lang = self.languages.model_code(source)
            extra["forced_bos_token_id"] = self._language_ids[target]
        return self._run(texts, src_lang, max_new_tokens=max_new_tokens, num_beams=num_beams, extra=extra)

    @torch.inference_mode()
    def _run(
        self, texts: list[str], src_lang: str | None, *, max_new_tokens: int, num_beams: int, extra: dict[str, Any]
    ) -> list[str]:
        outputs: list[str] = []
        for start in range(0, len(texts), self.max_batch_size):
            chunk = texts[start : start + self.max_batch_size]
            with self._tokenizer_lock:
                if src_lang is not None:
                    self.tokenizer.src_lang = src_lang
                batch = self.tokenizer(
                    chunk, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
                )
            out = self.model.generate(
                **batch.to(self.device), max_new_tokens=max_new_tokens, num_beams=num_beams, **extra
            )
            outputs.extend(decode_without_languages(self.tokenizer, out.tolist(), self._drop_ids))
        return outputs
