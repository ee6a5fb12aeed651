"""Learnt text classifiers over folded text: the linear default and a transformer engine for GPUs.

The linear model is char 1-3-gram TF-IDF + one logistic regression per top-level label (multi-label). Its
prediction is one sparse x dense product for a whole batch, and a label's evidence is the n-grams that
pushed its score up most, mapped back to original offsets. Trained with out-of-domain clean prose as extra
negatives, it also carries an in-domain model (listings vs that prose) as one more column of the same
product: `scores` returns both, so a caller can abstain on text far from the listings it learnt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moderation.normalize import NormalizedText
from moderation.types import TOP_LABELS, Evidence

#: scikit-learn's char analyzers collapse runs of whitespace to one space first (its `_white_spaces`).
_WHITE_SPACES = re.compile(r"\s\s+")

__all__ = ["TextClassifier", "LinearClassifier", "TransformerClassifier", "ClassifierScores", "classifier_text"]


_DIGITS = str.maketrans("123456789", "000000000")
_LATIN_OR_DIGIT = re.compile(r"[a-z0-9]")


def classifier_text(title: NormalizedText, body: NormalizedText) -> str:
    """What a classifier reads: folded title and body on separate lines, every digit as 0.

    Which digits appear says nothing about a label (prices, sizes, sales counts); how many appear in a row
    does (an 11-digit run is a phone number), and that survives.
    """
    return f"{title.text}\n{body.text}".translate(_DIGITS)


@dataclass(frozen=True)
class ClassifierScores:
    """Label probabilities (n, labels) and, for engines that have one, P(text is a listing) per text (n,)."""

    probs: np.ndarray
    in_domain: np.ndarray | None = None


class TextClassifier(ABC):
    """Probabilities per top-level label for folded listing texts."""

    labels: tuple[str, ...] = TOP_LABELS
    name: str
    version: str

    @abstractmethod
    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities in [0, 1]."""

    def scores(self, texts: Sequence[str]) -> ClassifierScores:
        """Label probabilities and the in-domain probability (None: this engine has no domain model)."""
        return ClassifierScores(self.predict(texts))

    def evidence(self, field: str, normalized: NormalizedText, label: str, top_k: int = 2) -> list[Evidence]:
        """Spans that drove `label` up; engines without attribution return none."""
        return []


class LinearClassifier(TextClassifier):
    name = "linear-tfidf"

    def __init__(self, vectorizer, coef: np.ndarray, intercept: np.ndarray, version: str) -> None:
        """`coef` is (labels, features) or (labels + 1, features): the extra last row is the in-domain model."""
        if coef.shape[0] not in (len(self.labels), len(self.labels) + 1):
            raise ValueError(f"coef has {coef.shape[0]} rows; expected {len(self.labels)} or {len(self.labels) + 1}")
        self.vectorizer = vectorizer
        self.coef = np.ascontiguousarray(coef.T, dtype=np.float32)  # (features, labels [+ domain])
        self.intercept = intercept.astype(np.float32)
        self.version = version
        #: What it was trained from (`moderation.training.training_recipe`): a file from older data is retrained.
        self.recipe = ""
        self.has_domain = coef.shape[0] == len(self.labels) + 1
        self._vocab = vectorizer.vocabulary_
        self._idf = vectorizer.idf_.astype(np.float32)
        # Our own feature pass when the vectorizer is the shape `train` makes (scikit-learn's is ~1.6x slower)
        self._fast_features = (
            vectorizer.analyzer == "char"
            and tuple(vectorizer.ngram_range) == (1, 3)
            and not vectorizer.lowercase
            and vectorizer.preprocessor is None
            and vectorizer.sublinear_tf
            and vectorizer.use_idf
            and vectorizer.norm == "l2"
        )

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        targets: np.ndarray,
        c: float = 8.0,
        seed: int = 0,
        negatives: Sequence[str] = (),
        negative_weight: float = 1.0,
        domain_c: float = 1.0,
    ) -> LinearClassifier:
        """Fit on folded texts and a (n, labels) 0/1 matrix.

        Args:
            texts: folded listing texts (`classifier_text`).
            targets: (len(texts), labels) 0/1.
            c: inverse regularization of the label models.
            seed: random state of the solver.
            negatives: clean text from outside the listings' domain (real prose): a negative for every label,
                each weighing `negative_weight` times a clean listing, and the out-of-domain class of the
                in-domain model (listings vs negatives, regularized by `domain_c`), stored as a last column.
            negative_weight: weight of one negative relative to one clean listing of the same label model.
            domain_c: inverse regularization of the in-domain model.
        """
        import scipy.sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if negative_weight < 0:
            raise ValueError(f"negative_weight must be >= 0, got {negative_weight}")
        vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, 3),
            min_df=2,
            sublinear_tf=True,
            max_features=300_000,
            dtype=np.float32,
            lowercase=False,  # the text is folded (and lower-cased) already
        )
        n, n_neg = len(texts), len(negatives)
        # the vocabulary and idf are the listings' own: prose only teaches weights over what listings contain
        features = vectorizer.fit_transform(texts)
        if n_neg:
            features = scipy.sparse.vstack([features, vectorizer.transform(negatives)], format="csr")
        coefs, intercepts = [], []
        for column in range(targets.shape[1]):
            y = targets[:, column]
            if y.min() == y.max():  # a label absent from the data can never fire
                coefs.append(np.zeros(features.shape[1], np.float32))
                intercepts.append(-10.0)
                continue
            # balanced like class_weight="balanced": positives and negatives (clean listings plus prose, one
            # sentence weighing `negative_weight` clean listings) each carry half the listings' total weight
            positive = int(y.sum())
            negative_mass = (n - positive) + negative_weight * n_neg
            weights = np.where(y == 1, n / (2 * positive), n / (2 * negative_mass))
            weights = np.concatenate([weights, np.full(n_neg, negative_weight * n / (2 * negative_mass))])
            model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
            model.fit(features, np.concatenate([y, np.zeros(n_neg, y.dtype)]), sample_weight=weights)
            coefs.append(model.coef_[0])
            intercepts.append(float(model.intercept_[0]))
        if n_neg:
            # The in-domain model reads no n-gram with a Latin letter or digit: random ids, links and codes make
            # a listing look like a manual otherwise, and they are what a diversion listing carries.
            han_only = np.array([not _LATIN_OR_DIGIT.search(gram) for gram in vectorizer.get_feature_names_out()])
            domain = np.concatenate([np.ones(n, np.int8), np.zeros(n_neg, np.int8)])
            weights = np.where(domain == 1, (n + n_neg) / (2 * n), (n + n_neg) / (2 * n_neg))
            model = LogisticRegression(C=domain_c, max_iter=2000, random_state=seed)
            model.fit(features @ scipy.sparse.diags(han_only.astype(np.float32)), domain, sample_weight=weights)
            coefs.append(model.coef_[0])
            intercepts.append(float(model.intercept_[0]))
        digest = hashlib.sha256(np.asarray(coefs, np.float32).tobytes()).hexdigest()[:10]
        return cls(vectorizer, np.asarray(coefs), np.asarray(intercepts), version=f"{cls.name}@{digest}")

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.scores(texts).probs

    def scores(self, texts: Sequence[str]) -> ClassifierScores:
        """One sparse x dense product for the batch: label probabilities and, if trained, P(in domain)."""
        if not texts:
            empty = np.zeros((0, len(self.labels)), np.float32)
            return ClassifierScores(empty, np.zeros(0, np.float32) if self.has_domain else None)
        features = self._features(texts) if self._fast_features else self.vectorizer.transform(texts)
        logits = features @ self.coef + self.intercept
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        if self.has_domain:
            return ClassifierScores(probs[:, : len(self.labels)], probs[:, -1])
        return ClassifierScores(probs)

    def _features(self, texts: Sequence[str]):
        """The TF-IDF rows scikit-learn's `transform` gives for this vectorizer (char 1-3-grams after runs of
        whitespace become one space, sublinear tf, idf, l2 rows), built straight into one CSR matrix."""
        import scipy.sparse

        get = self._vocab.get
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            text = _WHITE_SPACES.sub(" ", text)
            n = len(text)
            found = [get(text[i : i + k]) for k in (1, 2, 3) for i in range(n - k + 1)]
            indices += [feature for feature in found if feature is not None]
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int64)
        matrix = scipy.sparse.csr_matrix(
            (np.ones(len(columns), np.float32), columns, np.asarray(indptr, dtype=np.int64)),
            shape=(len(texts), len(self._idf)),
        )
        matrix.sum_duplicates()
        matrix.data = (1.0 + np.log(matrix.data)) * self._idf[matrix.indices]
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), np.float32).ravel())
        norms[norms == 0] = 1.0
        return scipy.sparse.diags(1.0 / norms) @ matrix

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
                    "recipe": self.recipe,
                },
                handle,
            )
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LinearClassifier:
        """Load a model written by `save` (a trusted file of this installation: pickle)."""
        with path.open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - written by `notestudio moderation train` on this host
        model = cls(state["vectorizer"], state["coef"], state["intercept"], state["version"])
        model.recipe = state.get("recipe", "")
        return model


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
