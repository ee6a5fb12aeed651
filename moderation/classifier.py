"""Learnt text classifiers over folded text: the linear default and a transformer engine for GPUs.

The linear model is char 1-3-gram TF-IDF + one logistic regression per top-level label (multi-label). Its
prediction is one sparse x dense product for a whole batch, and a label's evidence is the n-grams that
pushed its score up most, mapped back to original offsets.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from moderation.normalize import NormalizedText
from moderation.types import TOP_LABELS, Evidence

__all__ = ["TextClassifier", "LinearClassifier", "TransformerClassifier", "classifier_text"]


_DIGITS = str.maketrans("123456789", "000000000")


def classifier_text(title: NormalizedText, body: NormalizedText) -> str:
    """What a classifier reads: folded title and body on separate lines, every digit as 0.

    Which digits appear says nothing about a label (prices, sizes, sales counts); how many appear in a row
    does (an 11-digit run is a phone number), and that survives.
    """
    return f"{title.text}\n{body.text}".translate(_DIGITS)


class TextClassifier(ABC):
    """Probabilities per top-level label for folded listing texts."""

    labels: tuple[str, ...] = TOP_LABELS
    name: str
    version: str

    @abstractmethod
    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities in [0, 1]."""

    def evidence(self, field: str, normalized: NormalizedText, label: str, top_k: int = 2) -> list[Evidence]:
        """Spans that drove `label` up; engines without attribution return none."""
        return []


class LinearClassifier(TextClassifier):
    name = "linear-tfidf"

    def __init__(self, vectorizer, coef: np.ndarray, intercept: np.ndarray, version: str) -> None:
        self.vectorizer = vectorizer
        self.coef = np.ascontiguousarray(coef.T, dtype=np.float32)  # (features, labels)
        self.intercept = intercept.astype(np.float32)
        self.version = version
        self._vocab = vectorizer.vocabulary_
        self._idf = vectorizer.idf_.astype(np.float32)

    @classmethod
    def train(cls, texts: Sequence[str], targets: np.ndarray, c: float = 8.0, seed: int = 0) -> LinearClassifier:
        """Fit on folded texts and a (n, labels) 0/1 matrix."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, 3),
            min_df=2,
            sublinear_tf=True,
            max_features=300_000,
            dtype=np.float32,
            lowercase=False,  # the text is folded (and lower-cased) already
        )
        features = vectorizer.fit_transform(texts)
        coefs, intercepts = [], []
        for column in range(targets.shape[1]):
            y = targets[:, column]
            if y.min() == y.max():  # a label absent from the data can never fire
                coefs.append(np.zeros(features.shape[1], np.float32))
                intercepts.append(-10.0)
                continue
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
            model.fit(features, y)
            coefs.append(model.coef_[0])
            intercepts.append(float(model.intercept_[0]))
        digest = hashlib.sha256(np.asarray(coefs, np.float32).tobytes()).hexdigest()[:10]
        return cls(vectorizer, np.asarray(coefs), np.asarray(intercepts), version=f"{cls.name}@{digest}")

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)), np.float32)
        logits = self.vectorizer.transform(texts) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))

    def evidence(self, field: str, normalized: NormalizedText, label: str, top_k: int = 2) -> list[Evidence]:
        text = normalized.text
        column = self.labels.index(label)
        best: dict[str, float] = {}
        for n in (3, 2):
            for i in range(len(text) - n + 1):
                gram = text[i : i + n]
                feature = self._vocab.get(gram)
                if feature is not None and gram.strip():
                    weight = float(self.coef[feature, column] * self._idf[feature])
                    if weight > best.get(gram, 0.0):
                        best[gram] = weight
        spans = []
        for gram, weight in sorted(best.items(), key=lambda kv: -kv[1])[:top_k]:
            if weight <= 0.5:
                break
            start = text.find(gram)
            o_start, o_end = normalized.span(start, start + len(gram))
            spans.append(Evidence(field, o_start, o_end, normalized.original[o_start:o_end]))
        return spans

    def save(self, path: Path) -> None:
        """Atomic: replicas starting together may train and save at once; readers never see half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with partial.open("wb") as handle:
            pickle.dump(
                {
                    "vectorizer": self.vectorizer,
                    "coef": self.coef.T,
                    "intercept": self.intercept,
                    "version": self.version,
                },
                handle,
            )
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LinearClassifier:
        """Load a model written by `save` (a trusted file of this installation: pickle)."""
        with path.open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - written by `notestudio moderation train` on this host
        return cls(state["vectorizer"], state["coef"], state["intercept"], state["version"])


class TransformerClassifier(TextClassifier):
    """A fine-tuned sequence classifier from the model registry (multi-label, sigmoid), for GPU serving."""

    name = "transformer"

    def __init__(self, engine) -> None:
        missing = set(TOP_LABELS) - set(engine.labels)
        if missing:
            raise ValueError(
                f"model {engine.model_name!r} lacks labels {sorted(missing)}; train it with "
                "`notestudio moderation train --engine transformer`"
            )
        self.engine = engine
        self.version = f"transformer:{engine.model_name}"
        self._order = [engine.labels.index(label) for label in TOP_LABELS]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        scores = self.engine.classify(list(texts), multi_label=True)
        return np.asarray([[row[label] for label in TOP_LABELS] for row in scores], np.float32).reshape(-1, 7)
