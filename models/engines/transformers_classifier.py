"""Sequence classifiers (BERT / RoBERTa class) through transformers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from models.engines.base import ClassifierEngine
from models.engines.device import resolve_device, resolve_dtype
from models.spec import ModelSpec

__all__ = ["TransformersClassifierEngine"]


class TransformersClassifierEngine(ClassifierEngine):
    """Batched classification; labels come from the checkpoint's `id2label`."""

    engine_name = "transformers"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.max_batch_size = int(spec.options.get("max_batch_size", 64))
        self.max_length = int(spec.options.get("max_length", 256))
        self.tokenizer = AutoTokenizer.from_pretrained(weights)
        self.model = (
            AutoModelForSequenceClassification.from_pretrained(weights, dtype=self.dtype).to(self.device).eval()
        )
        id2label = self.model.config.id2label
        self._labels = [id2label[i] for i in range(self.model.config.num_labels)]

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @torch.inference_mode()
    def classify(self, texts: Sequence[str], multi_label: bool = False) -> list[dict[str, float]]:
        results: list[dict[str, float]] = []
        for start in range(0, len(texts), self.max_batch_size):
            chunk = list(texts[start : start + self.max_batch_size])
            batch = self.tokenizer(
                chunk, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
            ).to(self.device)
            logits = self.model(**batch).logits.float()
            probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
            results.extend(dict(zip(self._labels, row.tolist(), strict=True)) for row in probs.cpu())
        return results
