"""Encoder-decoder models (MarianMT, M2M100, NLLB) through transformers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from models.engines.base import Seq2SeqEngine
from models.engines.device import resolve_device, resolve_dtype
from models.spec import ModelSpec

__all__ = ["TransformersSeq2SeqEngine"]


class TransformersSeq2SeqEngine(Seq2SeqEngine):
    """Batched seq2seq generation; `options.max_batch_size` (default 32) bounds memory per call."""

    engine_name = "transformers"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.max_batch_size = int(spec.options.get("max_batch_size", 32))
        self.max_input_tokens = int(spec.options.get("max_input_tokens", 512))
        self.tokenizer = AutoTokenizer.from_pretrained(weights)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(weights, dtype=self.dtype).to(self.device).eval()

    @torch.inference_mode()
    def generate(self, texts: Sequence[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        outputs: list[str] = []
        for start in range(0, len(texts), self.max_batch_size):
            chunk = list(texts[start : start + self.max_batch_size])
            batch = self.tokenizer(
                chunk, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
            ).to(self.device)
            out = self.model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=num_beams)
            outputs.extend(self.tokenizer.batch_decode(out, skip_special_tokens=True))
        return outputs
