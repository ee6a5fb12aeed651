"""The whole moderator on the project's dataset: training, held-out quality and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from moderation import Listing, Moderator
from moderation.dataset import load_dataset
from moderation.training import evaluate, train_linear


@pytest.fixture(scope="module")
def classifier():
    return train_linear()


def test_dataset_is_large_varied_and_split_by_template():
    rows = load_dataset()
    assert len(rows) >= 2000
    train = {r.group for r in rows if r.split == "train"}
    test = {r.group for r in rows if r.split == "test"}
    assert train and test and not (train & test)
    clean = [r for r in rows if not r.labels]
    assert 0.3 < len(clean) / len(rows) < 0.6


def test_held_out_quality(classifier):
    """Guards against regressions well below the targets (macro-F1 >= 0.90, <= 2% clean blocked)."""
    report = evaluate(Moderator(classifier=classifier), load_dataset(split="test"))
    assert report.macro_f1 >= 0.85, report.format()
    assert report.clean_blocked_rate <= 0.05, report.format()


def test_batch_equals_one_by_one(classifier):
    moderator = Moderator(classifier=classifier)
    listings = [Listing(id=str(r.id), title=r.title, body=r.body, price=r.price) for r in load_dataset()[:40]]
    batched = moderator.moderate_batch(listings)
    single = [moderator.moderate(listing) for listing in listings]
    assert [(b.decision, [label.code for label in b.labels]) for b in batched] == [
        (s.decision, [label.code for label in s.labels]) for s in single
    ]


def test_classifier_only_label_never_blocks(classifier):
    """Labels found by the classifier alone (no lexicon, rule, price or image evidence) may send a listing
    to review, never block it — checked on every dataset listing where that happens."""
    moderator = Moderator(classifier=classifier)
    rows = load_dataset()
    results = moderator.moderate_batch([Listing(title=r.title, body=r.body, price=r.price) for r in rows])
    classifier_only = [r for r in results if r.labels and all(label.sources == ["classifier"] for label in r.labels)]
    assert classifier_only, "no listing was labelled by the classifier alone: the check below would be vacuous"
    assert {r.decision for r in classifier_only} == {"review"}


def test_cli_moderate_writes_one_result_per_line_in_order(tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "1", "title": "好用的面霜", "body": "保湿不油腻"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "3", "title": "加薇信 shop88888 领券"}, ensure_ascii=False),
        json.dumps({"id": "4", "title": 12}),
    ]
    source.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    model = tmp_path / "clf.pkl"
    result = CliRunner().invoke(app, ["moderate", "--input", str(source), "--output", str(out), "--model", str(model)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in records] == ["1", None, "3", "4"]  # a bad record keeps its id
    assert records[0]["decision"] == "pass" and records[2]["decision"] == "block"
    assert records[1]["error"]["param"] == "line 2" and "not JSON" in records[1]["error"]["message"]
    assert records[3]["error"]["param"] == "line 4.title" and "line 4.title" in records[3]["error"]["message"]
    assert model.exists()  # trained on first use, reused next time


def test_cli_train_and_eval(tmp_path):
    model = tmp_path / "m.pkl"
    runner = CliRunner()
    assert runner.invoke(app, ["moderation", "train", "--model", str(model)]).exit_code == 0
    result = runner.invoke(app, ["moderation", "eval", "--model", str(model)])
    assert result.exit_code == 0 and "macro-F1" in result.output and "confusion" in result.output
    missing = runner.invoke(app, ["moderate", "--input", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_english_text_is_judged_by_rules_alone(classifier):
    """The classifier learnt Chinese listings; on English it would only add noise (and says so)."""
    moderator = Moderator(classifier=classifier)
    clean = moderator.moderate(
        Listing(title="Lightweight sunscreen", body="No white cast, SPF 50, great under makeup.")
    )
    assert clean.decision == "pass" and clean.engine == "rules"
    spam = moderator.moderate(Listing(title="Cheap bags", body="add me on wechat: bagshop888"))
    assert spam.decision == "block" and spam.labels[0].code == "diversion.contact"
    chinese = moderator.moderate(Listing(title="好用的面霜", body="保湿不油腻"))
    assert chinese.engine == "rules+linear-tfidf"


def test_fast_features_equal_scikit_learns(classifier):
    """The classifier's own TF-IDF pass gives scikit-learn's rows (it is only faster)."""
    from moderation import normalize
    from moderation.classifier import classifier_text

    rows = load_dataset()[:400]
    texts = [classifier_text(normalize(r.title), normalize(r.body)) for r in rows] + ["", "  a  b\n\n c ", "😀😀"]
    assert classifier._fast_features
    ours = classifier._features(texts)
    theirs = classifier.vectorizer.transform(texts)
    assert abs(ours - theirs).max() < 1e-5
