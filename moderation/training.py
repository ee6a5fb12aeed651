"""Train and evaluate moderation classifiers on the project's labelled listings.

`train_linear` fits the default classifier on the train split, with the calibration part of the precision
corpus (real clean Chinese prose from installed packages, `precision_corpus.py`) as extra negatives and as the
out-of-domain class of its in-domain model. `fine_tune_transformer` fine-tunes any
sequence-classification checkpoint from the model registry (multi-label head over the top-level labels)
and saves it with `save_pretrained`, so it loads back through `models/` for GPU serving. `evaluate` runs
the WHOLE moderator (rules + classifier + policy) on the held-out split and reports what the platform
cares about: per-label precision / recall / F1 and how many clean listings would be blocked.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moderation.classifier import LinearClassifier, classifier_text
from moderation.dataset import DEFAULT_DATASET, LabelledListing, load_dataset
from moderation.normalize import normalize
from moderation.precision_corpus import load_precision_corpus
from moderation.types import TOP_LABELS, Listing

__all__ = [
    "train_linear",
    "ensure_linear_classifier",
    "fine_tune_transformer",
    "evaluate",
    "EvalReport",
    "calibrate_classifier_policy",
    "Calibration",
]

log = logging.getLogger(__name__)


def _texts_and_targets(rows: Sequence[LabelledListing]) -> tuple[list[str], np.ndarray]:
    texts = [classifier_text(normalize(r.title), normalize(r.body)) for r in rows]
    targets = np.array([[label in r.labels for label in TOP_LABELS] for r in rows], dtype=np.int8)
    return texts, targets


# One prose sentence weighs this many clean listings in every label model: the corpus (~4,200 sentences) then
# weighs like ~40 clean listings. That cuts the label models' flags on prose (36% -> ~6% without abstention) and
# the clean listings they send to review, at the cost of one diversion listing of the test split (0.02 cost
# three, 0.1 five). The in-domain model (listings vs prose, C = DOMAIN_C) and its abstention do the rest.
NEGATIVE_WEIGHT = 0.01
DOMAIN_C = 8.0


def train_linear(
    dataset: Path = DEFAULT_DATASET, c: float = 8.0, seed: int = 0, prose: bool = True
) -> LinearClassifier:
    """Fit the linear classifier on the train split (cached per process: training is deterministic).

    With `prose` (the default, and what serving uses) the precision corpus' calibration part joins as clean
    negatives and trains the in-domain model; its packages must be installed (`CorpusMissing` says which).
    """
    return _train_linear_cached(dataset.resolve(), dataset.stat().st_mtime_ns, c, seed, prose)


def ensure_linear_classifier(path: Path, dataset: Path = DEFAULT_DATASET) -> tuple[LinearClassifier, bool]:
    """Load the classifier at `path`, training it first if it is missing — once, whoever asks.

    Replicas (processes, maybe on several hosts sharing the data directory) that start together take an
    exclusive lock on `<path>.lock`; the first trains and writes the file atomically, the others wait and
    then load what it wrote. Returns the classifier and whether this call trained it.
    """
    recipe = training_recipe(dataset)
    if path.exists() and (classifier := LinearClassifier.load(path)).recipe == recipe:
        return classifier, False
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                classifier = LinearClassifier.load(path)
                if classifier.recipe == recipe:  # another replica trained it while we waited
                    return classifier, False
                log.warning("the moderation classifier at %s was trained from other data or code: retraining", path)
            else:
                log.warning("no moderation classifier at %s: training one from the shipped dataset (once)", path)
            classifier = train_linear(dataset)
            classifier.recipe = recipe
            classifier.save(path)
            return classifier, True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


#: Bump when what training does changes in a way the inputs below do not show.
TRAINING_FORMAT = "2026.11.29"


def training_recipe(dataset: Path = DEFAULT_DATASET) -> str:
    """A fingerprint of what the classifier is trained from: the dataset, the corpus spec, the weights, the
    format. A saved model with another fingerprint is stale (an upgrade changed one of them) and is retrained."""
    from moderation.precision_corpus import DEFAULT_CORPUS_SPEC

    digest = hashlib.sha256()
    for part in (dataset.read_bytes(), DEFAULT_CORPUS_SPEC.read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(f"{TRAINING_FORMAT}|{NEGATIVE_WEIGHT}|{DOMAIN_C}".encode())
    return digest.hexdigest()[:16]


def prose_negatives() -> list[str]:
    """The precision corpus' calibration part as classifier texts (a sentence as a listing body)."""
    empty = normalize("")
    return [classifier_text(empty, normalize(s.text)) for s in load_precision_corpus("calibration")]


@functools.lru_cache(maxsize=4)
def _train_linear_cached(dataset: Path, mtime_ns: int, c: float, seed: int, prose: bool) -> LinearClassifier:
    rows = load_dataset(dataset, split="train")
    if not rows:
        raise ValueError(f"{dataset} has no train split")
    texts, targets = _texts_and_targets(rows)
    negatives = prose_negatives() if prose else []
    return LinearClassifier.train(
        texts, targets, c=c, seed=seed, negatives=negatives, negative_weight=NEGATIVE_WEIGHT, domain_c=DOMAIN_C
    )


@dataclass
class Calibration:
    """Thresholds for policy.yaml's `classifier:` section, from out-of-fold scores (see the function)."""

    abstain_below: float
    review_alone: float
    listings_abstained: float  # out-of-fold train listings the classifier would abstain on
    prose_abstained: float  # out-of-fold calibration prose it abstains on
    prose_flagged_alone: float  # out-of-fold prose that the classifier alone would send to review
    listings_recall_alone: dict[str, float]  # out-of-fold per-label recall of the classifier alone

    def format(self) -> str:
        recall = " ".join(f"{label}={value:.3f}" for label, value in self.listings_recall_alone.items())
        return (
            f"classifier:\n  abstain_below: {self.abstain_below}\n  review_alone: {self.review_alone}\n"
            f"# out of fold: listings abstained {self.listings_abstained:.2%}, prose abstained "
            f"{self.prose_abstained:.2%}, prose sent to review by the classifier alone {self.prose_flagged_alone:.2%}\n"
            f"# classifier-alone recall on listings: {recall}"
        )


def calibrate_classifier_policy(
    dataset: Path = DEFAULT_DATASET,
    listing_abstain_rate: float = 0.005,
    prose_flag_budget: float = 0.01,
    folds: int = 2,
) -> Calibration:
    """Choose `abstain_below` and `review_alone` from scores of texts each model did not train on.

    The train split (folded by template group, so a fold's templates are unseen) and the corpus' calibration
    part (folded by a hash of the sentence) are cut into `folds`; a classifier trained on the other folds
    scores each. `abstain_below` is the in-domain probability that `listing_abstain_rate` of the held listings
    fall below (rounded down to 0.01); `review_alone` is the lowest of 0.50, 0.55, ... 0.95 at which at most
    `prose_flag_budget` of the held prose would go to review on the classifier alone. The test split is never read.
    """
    rows = load_dataset(dataset, split="train")
    texts, targets = _texts_and_targets(rows)
    prose = prose_negatives()

    def fold_of(key: str) -> int:
        return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % folds  # noqa: S324 - a split, not security

    listing_fold = np.array([fold_of(r.group) for r in rows])
    prose_fold = np.array([fold_of(t) for t in prose])
    listing_domain = np.zeros(len(rows), np.float32)
    listing_probs = np.zeros(targets.shape, np.float32)
    prose_domain = np.zeros(len(prose), np.float32)
    prose_probs = np.zeros((len(prose), targets.shape[1]), np.float32)
    for k in range(folds):
        fit = np.flatnonzero(listing_fold != k)
        model = LinearClassifier.train(
            [texts[i] for i in fit],
            targets[fit],
            negatives=[t for t, f in zip(prose, prose_fold, strict=True) if f != k],
            negative_weight=NEGATIVE_WEIGHT,
            domain_c=DOMAIN_C,
        )
        held = np.flatnonzero(listing_fold == k)
        scores = model.scores([texts[i] for i in held])
        listing_domain[held], listing_probs[held] = scores.in_domain, scores.probs
        held = np.flatnonzero(prose_fold == k)
        scores = model.scores([prose[i] for i in held])
        prose_domain[held], prose_probs[held] = scores.in_domain, scores.probs
    abstain_below = float(np.floor(np.quantile(listing_domain, listing_abstain_rate) * 100) / 100)
    prose_kept = prose_domain >= abstain_below
    review_alone = 0.95
    for candidate in np.round(np.arange(0.5, 0.951, 0.05), 2):
        if float(np.mean(prose_kept & (prose_probs.max(axis=1) >= candidate))) <= prose_flag_budget:
            review_alone = float(candidate)
            break
    listing_kept = listing_domain >= abstain_below
    recall = {}
    for column, label in enumerate(TOP_LABELS):
        positive = targets[:, column] == 1
        found = positive & listing_kept & (listing_probs[:, column] >= review_alone)
        recall[label] = float(found.sum() / max(1, positive.sum()))
    return Calibration(
        abstain_below=abstain_below,
        review_alone=review_alone,
        listings_abstained=float(np.mean(~listing_kept)),
        prose_abstained=float(np.mean(~prose_kept)),
        prose_flagged_alone=float(np.mean(prose_kept & (prose_probs.max(axis=1) >= review_alone))),
        listings_recall_alone=recall,
    )


def fine_tune_transformer(
    base: Path,
    output: Path,
    dataset: Path = DEFAULT_DATASET,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 3e-5,
    max_length: int = 256,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Fine-tune a sequence classifier (e.g. chinese-roberta-wwm-ext) for multi-label moderation."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    rows = load_dataset(dataset, split="train")
    texts, targets = _texts_and_targets(rows)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(TOP_LABELS),
        problem_type="multi_label_classification",
        id2label=dict(enumerate(TOP_LABELS)),
        label2id={label: i for i, label in enumerate(TOP_LABELS)},
        ignore_mismatched_sizes=True,
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    order = np.random.default_rng(seed)
    steps_per_epoch = (len(texts) + batch_size - 1) // batch_size
    total, step = epochs * steps_per_epoch, 0
    for _ in range(epochs):
        permutation = order.permutation(len(texts))
        for start in range(0, len(texts), batch_size):
            index = permutation[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in index], return_tensors="pt", padding=True, truncation=True, max_length=max_length
            ).to(device)
            labels = torch.tensor(targets[index], dtype=torch.float32, device=device)
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if progress:
                progress(step, total)
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


@dataclass
class EvalReport:
    labels: dict[str, dict[str, float]]
    macro_f1: float
    clean_blocked_rate: float
    clean_flagged_rate: float
    n: int
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"{'label':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
        for label, m in self.labels.items():
            lines.append(
                f"{label:<15}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{int(m['support']):>9}"
            )
        lines.append(f"{'macro-F1':<15}{self.macro_f1:>30.3f}")
        lines.append(
            f"clean listings blocked: {self.clean_blocked_rate:.2%}   sent to review: {self.clean_flagged_rate:.2%}"
        )
        columns = [*TOP_LABELS, "none"]
        lines.append("")
        lines.append("confusion (rows: true label or clean; columns: predicted labels, 'none' = no label)")
        lines.append(f"{'':<15}" + "".join(f"{c[:9]:>10}" for c in columns))
        for row in [*TOP_LABELS, "clean"]:
            counts = self.confusion.get(row, {})
            lines.append(f"{row:<15}" + "".join(f"{counts.get(c, 0):>10}" for c in columns))
        return "\n".join(lines)


def evaluate(moderator, rows: Sequence[LabelledListing], batch_size: int = 256) -> EvalReport:
    """Whole-pipeline metrics on `rows`: a label counts as predicted when the moderator reports it."""
    predicted: list[set[str]] = []
    decisions: list[str] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        listings = [Listing(**{k: v for k, v in r.record().items()}) for r in chunk]
        for result in moderator.moderate_batch(listings):
            predicted.append({label.code.split(".", 1)[0] for label in result.labels})
            decisions.append(result.decision)
    metrics: dict[str, dict[str, float]] = {}
    for label in TOP_LABELS:
        tp = sum(label in p and label in r.labels for p, r in zip(predicted, rows, strict=True))
        fp = sum(label in p and label not in r.labels for p, r in zip(predicted, rows, strict=True))
        fn = sum(label not in p and label in r.labels for p, r in zip(predicted, rows, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    clean = [i for i, r in enumerate(rows) if not r.labels]
    confusion: dict[str, dict[str, int]] = {}
    for p, r in zip(predicted, rows, strict=True):
        for true in r.labels or {"clean"}:
            row = confusion.setdefault(true, {})
            for column in p or {"none"}:
                row[column] = row.get(column, 0) + 1
    return EvalReport(
        labels=metrics,
        macro_f1=float(np.mean([m["f1"] for m in metrics.values()])),
        clean_blocked_rate=sum(decisions[i] == "block" for i in clean) / max(1, len(clean)),
        clean_flagged_rate=sum(decisions[i] != "pass" for i in clean) / max(1, len(clean)),
        n=len(rows),
        confusion=confusion,
    )
