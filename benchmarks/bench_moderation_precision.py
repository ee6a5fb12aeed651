"""Moderation precision on real clean prose, before vs after the prose calibration, in one run.

What it measures: each held-out sentence of the precision corpus (`moderation/precision_corpus.py`: Debian
manuals and JupyterLab's UI catalog in Chinese, read from the installed packages; the classifier never trained
on this part) is moderated as a listing body. It reports the share sent to review or blocked, by corpus source
and by what drove the decision (the classifier alone, or a lexicon/rule/price hit), for three stacks: rules
alone; the classifier as it was (trained on listings only, no abstention, `review_alone` 0.5); and the shipped
one (prose negatives, in-domain abstention, thresholds from policy.yaml). Then the same stacks on the listings'
test split: recall per label and the clean listings flagged/blocked.

Run: `.venv/bin/python benchmarks/bench_moderation_precision.py [--calibrate] [--examples 5]`
"""

from __future__ import annotations

import argparse
import collections

from moderation import Listing, Moderator
from moderation.dataset import load_dataset
from moderation.policy import Policy
from moderation.precision_corpus import load_precision_corpus
from moderation.training import calibrate_classifier_policy, evaluate, train_linear


def _driver(result) -> str:
    return "classifier" if all(label.sources == ["classifier"] for label in result.labels) else "rules"


def prose_report(name: str, moderator: Moderator, sentences, examples: int) -> None:
    results = []
    for start in range(0, len(sentences), 256):
        chunk = sentences[start : start + 256]
        results += moderator.moderate_batch([Listing(body=s.text) for s in chunk])
    n = len(results)
    flagged = [r.decision != "pass" for r in results]
    blocked = [r.decision == "block" for r in results]
    print(f"\n[{name}] held-out prose: {n} sentences, flagged {sum(flagged) / n:.2%}, blocked {sum(blocked) / n:.2%}")
    by_driver = collections.Counter((_driver(r), r.decision) for r in results if r.decision != "pass")
    for (driver, decision), count in sorted(by_driver.items()):
        print(f"  {decision:<7} driven by {driver:<11}{count:>6}  {count / n:.2%}")
    per_source: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for sentence, result in zip(sentences, results, strict=True):
        row = per_source[sentence.source]
        row[0] += 1
        row[1] += result.decision != "pass"
        row[2] += result.decision == "block"
    for source, (total, f, b) in per_source.items():
        print(f"  source {source:<18}{total:>6} sentences  flagged {f / total:>7.2%}  blocked {b / total:>6.2%}")
    if examples:
        codes = collections.Counter(r.labels[0].code for r in results if r.decision != "pass")
        print("  top labels: " + ", ".join(f"{code} {count}" for code, count in codes.most_common(8)))
        shown = [(s, r) for s, r in zip(sentences, results, strict=True) if r.decision != "pass"][:examples]
        for sentence, result in shown:
            evidence = [e.text for label in result.labels for e in label.evidence][:3]
            print(f"    {result.decision}: {result.labels[0].code} {evidence} <- {sentence.text[:70]}")


def listing_report(name: str, moderator: Moderator) -> None:
    report = evaluate(moderator, load_dataset(split="test"))
    recall = " ".join(f"{label}={m['recall']:.3f}" for label, m in report.labels.items())
    print(f"[{name}] test split recall: {recall}")
    print(
        f"[{name}] clean listings flagged {report.clean_flagged_rate:.2%}, blocked {report.clean_blocked_rate:.2%}, "
        f"macro-F1 {report.macro_f1:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5, help="flagged sentences to print per stack")
    parser.add_argument("--calibrate", action="store_true", help="also rerun the threshold calibration")
    args = parser.parse_args()

    sentences = load_precision_corpus("heldout")
    shipped = Policy.load()
    before_policy = shipped.model_copy(deep=True)
    before_policy.classifier.review_alone = shipped.default.review
    before_policy.classifier.abstain_below = 0.0
    stacks = {
        "rules alone": Moderator(classifier=None),
        "before: listings-only classifier": Moderator(classifier=train_linear(prose=False), policy=before_policy),
        "after: prose-calibrated classifier": Moderator(classifier=train_linear()),
    }
    print(
        f"policy classifier: review_alone {shipped.classifier.review_alone}, "
        f"abstain_below {shipped.classifier.abstain_below}"
    )
    for name, moderator in stacks.items():
        prose_report(name, moderator, sentences, args.examples)
    print()
    for name, moderator in stacks.items():
        listing_report(name, moderator)
    if args.calibrate:
        print("\ncalibration (out of fold; compare with policy.yaml):")
        print(calibrate_classifier_policy().format())


if __name__ == "__main__":
    main()
