"""Replicas that start together train the linear classifier once: one trains under the lock, others load."""

from __future__ import annotations

import multiprocessing

from moderation.classifier import LinearClassifier
from moderation.training import ensure_linear_classifier


def _ensure(path: str, results) -> None:
    from pathlib import Path

    _, trained = ensure_linear_classifier(Path(path))
    results.put(trained)


def test_concurrent_replicas_train_once(tmp_path):
    path = tmp_path / "models" / "moderation-linear.pkl"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_ensure, args=(str(path), results)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0
    trained = sorted(results.get(timeout=5) for _ in processes)
    assert trained == [False, False, True]
    assert LinearClassifier.load(path).version
    assert not list(path.parent.glob("*.partial"))  # the write was atomic: no half file left behind


def test_a_model_trained_from_other_data_is_retrained(tmp_path):
    """An upgrade that changes the dataset, the corpus spec or training must not keep serving the old model."""
    from pathlib import Path

    path = Path(tmp_path) / "moderation-linear.pkl"
    first, trained = ensure_linear_classifier(path)
    assert trained and first.recipe
    again, trained = ensure_linear_classifier(path)
    assert not trained and again.recipe == first.recipe
    first.recipe = "an older recipe"
    first.save(path)
    renewed, trained = ensure_linear_classifier(path)
    assert trained and renewed.recipe == again.recipe
