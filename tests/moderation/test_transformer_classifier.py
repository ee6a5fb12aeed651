"""The transformer classifier path: fine-tune a tiny BERT on the dataset, load it through models/, moderate."""

from __future__ import annotations

import json

import numpy as np
import yaml

from models import load_engine
from models.testing import build_tiny_bert_classifier
from moderation import Listing, Moderator, TransformerClassifier
from moderation.dataset import DEFAULT_DATASET
from moderation.training import fine_tune_transformer
from moderation.types import TOP_LABELS


def test_fine_tune_then_serve_through_the_registry(tmp_path):
    base_spec = build_tiny_bert_classifier(tmp_path / "base", ["a", "b"])
    subset = tmp_path / "subset.jsonl"
    lines = DEFAULT_DATASET.read_text(encoding="utf-8").splitlines()
    subset.write_text("\n".join(lines[:: len(lines) // 120]), encoding="utf-8")  # ~120 varied rows
    steps: list[int] = []
    out = fine_tune_transformer(
        tmp_path / "base",
        tmp_path / "tuned",
        dataset=subset,
        epochs=1,
        batch_size=16,
        progress=lambda s, t: steps.append(s),
    )
    assert steps and steps[-1] == len(steps)
    config = json.loads((out / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(TOP_LABELS))] == list(TOP_LABELS)

    spec = base_spec.model_copy(update={"name": "tuned", "source": str(out)})
    classifier = TransformerClassifier(load_engine(spec))
    probs = classifier.predict(["加微信", "好用的面霜"])
    assert probs.shape == (2, len(TOP_LABELS)) and np.all((probs >= 0) & (probs <= 1))
    result = Moderator(classifier=classifier).moderate(Listing(title="加微信 shop8888 领券"))
    assert result.engine == "rules+transformer" and result.versions["classifier"] == "transformer:tuned"
    assert result.decision == "block"  # the rule evidence decides; the tiny model only adds a score

    registry = tmp_path / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json")]}))
    from serving.services import build_services
    from serving.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", moderation_classifier="tuned", models=registry)
    served = build_services(settings).moderator
    assert served.engine == "rules+transformer"
