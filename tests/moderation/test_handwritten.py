"""Hand-written listings, not generated from the training templates: clean listings full of the ordinary uses
of risky words (第一次, 最好 as advice, 原单位, 小香风, 官方复刻, 安全第一, 免费送 + 自提) must pass, and violations
written in plain merchant language must be caught in their own category.

Both sets are judged by the rules alone (lexicon, grammar, contact rules): what they decide may not depend on
a classifier trained on templates that look like them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.moderator import Moderator
from moderation.types import Listing

DATA = Path(__file__).with_name("data")


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator()  # rules only


def _listing(record: dict) -> Listing:
    return Listing(title=record["title"], body=record["body"], category=record.get("category"))


@pytest.mark.parametrize("record", _load("handwritten_clean.jsonl"), ids=lambda r: r["title"])
def test_clean_listing_passes(moderator, record):
    result = moderator.moderate(_listing(record))
    assert result.decision == "pass", [(label.code, [e.text for e in label.evidence]) for label in result.labels]


@pytest.mark.parametrize("record", _load("handwritten_violations.jsonl"), ids=lambda r: r["title"])
def test_violation_is_caught_in_its_categories(moderator, record):
    result = moderator.moderate(_listing(record))
    found = {label.code.split(".")[0] for label in result.labels}
    assert result.decision != "pass" and set(record["labels"]) <= found, (record["labels"], sorted(found))


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("第一次用这款面霜", "最好先在耳后试用，安全第一。"),
        ("精华", "第一步洁面，第二步精华，最好配合按摩"),
    ],
)
def test_words_the_rules_explained_do_not_return_through_the_classifier(title, body):
    """An ordinal 第一 or advice 最好 that the grammar read is hidden from the classifier's labels."""
    from moderation.training import train_linear

    result = Moderator(classifier=train_linear(), image_checks=False).moderate(Listing(title=title, body=body))
    assert result.decision == "pass", [(label.code, [e.text for e in label.evidence]) for label in result.labels]
