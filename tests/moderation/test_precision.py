"""Precision on real clean prose (the precision corpus) and the classifier's calibration and abstention."""

from __future__ import annotations

import pytest

from moderation import Listing, Moderator
from moderation.dataset import load_dataset
from moderation.policy import Policy
from moderation.precision_corpus import load_precision_corpus, split_sentences
from moderation.training import calibrate_classifier_policy, evaluate, train_linear

# Whole-pipeline recall per label on the test split when the prose calibration landed (benchmarks/RESULTS.md);
# the listings-only classifier had diversion 0.951, the rest equal.
RECALL_FLOOR = {
    "ad_law": 1.0,
    "medical_claim": 1.0,
    "diversion": 0.942,
    "counterfeit": 0.988,
    "prohibited": 0.890,
    "sexual": 0.938,
    "fraud": 1.0,
}


@pytest.fixture(scope="module")
def heldout():
    return load_precision_corpus("heldout")


@pytest.fixture(scope="module")
def moderator():
    return Moderator(classifier=train_linear())


@pytest.fixture(scope="module")
def prose_results(moderator, heldout):
    results = []
    for start in range(0, len(heldout), 256):
        results += moderator.moderate_batch([Listing(body=s.text) for s in heldout[start : start + 256]])
    return results


def _classifier_only(result) -> bool:
    return bool(result.labels) and all(label.sources == ["classifier"] for label in result.labels)


def test_corpus_is_large_split_and_deterministic(heldout):
    calibration = load_precision_corpus("calibration")
    everything = load_precision_corpus("all")
    assert len(everything) >= 5000
    assert len(calibration) >= 2000 and len(heldout) >= 2000
    assert not {s.text for s in calibration} & {s.text for s in heldout}
    assert sorted(s.text for s in calibration + heldout) == sorted(s.text for s in everything)
    assert len({s.text for s in everything}) == len(everything)
    assert len({s.source for s in heldout}) >= 3


def test_sentences_are_cleaned():
    text = "已连接: %1。共 %(count)s 个文件，{name} 已保存到磁盘上\n的目录中。短句。"
    assert split_sentences(text, min_han=8) == ["共 个文件， 已保存到磁盘上的目录中。"]
    with pytest.raises(ValueError, match="part"):
        load_precision_corpus("train")


def test_heldout_prose_is_rarely_flagged(prose_results):
    """Real clean prose: at most 3% flagged overall, and the classifier alone sends almost none to review."""
    n = len(prose_results)
    flagged = sum(r.decision != "pass" for r in prose_results) / n
    classifier_only = sum(_classifier_only(r) for r in prose_results) / n
    assert classifier_only <= 0.005, f"classifier alone flagged {classifier_only:.2%} of held-out prose"
    assert flagged <= 0.03, f"held-out prose flagged {flagged:.2%}"


def test_heldout_prose_is_almost_never_blocked(prose_results):
    blocked = sum(r.decision == "block" for r in prose_results) / len(prose_results)
    assert blocked <= 0.001, f"held-out prose blocked {blocked:.2%}"


def test_classifier_abstains_on_prose_and_keeps_listings(moderator, heldout):
    """Out-of-domain text gets no classifier-only label (and says the classifier abstained); listings keep it."""
    prose = moderator.moderate_batch([Listing(body=s.text) for s in heldout[:400]])
    abstained = [r for r in prose if any("classifier abstained" in reason for reason in r.reasons)]
    assert len(abstained) >= 0.9 * len(prose)
    assert not any(_classifier_only(r) for r in abstained)
    rows = load_dataset(split="test")
    listings = moderator.moderate_batch([Listing(title=r.title, body=r.body) for r in rows])
    kept = sum(not any("classifier abstained" in reason for reason in r.reasons) for r in listings)
    assert kept >= 0.95 * len(rows)  # 96.6% when calibrated: the test split's templates are unseen


def test_policy_thresholds_gate_classifier_only_labels(heldout):
    """`abstain_below` 1 silences the classifier's own labels everywhere; `review_alone` 1 too; 0/0 lets
    the listings-only behaviour back (the classifier then flags prose, which is why the thresholds exist)."""
    classifier = train_linear()
    rows = load_dataset(split="test")
    listings = [Listing(title=r.title, body=r.body) for r in rows]
    open_policy = Policy.load()
    open_policy.classifier.abstain_below = 0.0
    open_policy.classifier.review_alone = 0.0
    opened = Moderator(classifier=classifier, policy=open_policy).moderate_batch(listings)
    assert any(_classifier_only(r) for r in opened)
    for field, value in (("abstain_below", 1.0), ("review_alone", 1.0)):
        policy = Policy.load()
        setattr(policy.classifier, field, value)
        results = Moderator(classifier=classifier, policy=policy).moderate_batch(listings)
        assert not any(label.code.endswith(".classifier") for r in results for label in r.labels), field


def test_recall_on_test_split_is_kept(moderator):
    report = evaluate(moderator, load_dataset(split="test"))
    for label, floor in RECALL_FLOOR.items():
        assert round(report.labels[label]["recall"], 3) >= floor, report.format()
    assert report.clean_blocked_rate == 0.0, report.format()


def test_policy_thresholds_are_the_calibrated_ones():
    """policy.yaml's classifier thresholds are what the calibration gives (rerun it after changing the data)."""
    calibration = calibrate_classifier_policy()
    shipped = Policy.load().classifier
    assert (shipped.abstain_below, shipped.review_alone) == (calibration.abstain_below, calibration.review_alone), (
        calibration.format()
    )
    assert calibration.prose_flagged_alone <= 0.01 and calibration.listings_abstained <= 0.006
