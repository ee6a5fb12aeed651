"""The compliance pass: lexicon-driven rewrites, re-check, flags what cannot be fixed."""

from __future__ import annotations

import pytest
import yaml

from generation.copy.compliance import CompliancePass, RewriteTable
from generation.copy.request import NoteRequest
from generation.copy.schema import NoteContent
from moderation import Moderator
from moderation.lexicon import DEFAULT_LEXICON

TAGS = ["面霜", "护肤", "好物", "分享", "日常"]


@pytest.fixture(scope="module")
def compliance() -> CompliancePass:
    return CompliancePass(Moderator.from_files())  # rules only: the rewrites answer the lexicon


def _note(*paragraphs: str, titles=("好物分享", "面霜分享", "日常护肤")) -> NoteContent:
    return NoteContent(list(titles), list(paragraphs), list(TAGS))


def test_clean_note_is_untouched(compliance):
    note = _note("这款面霜很保湿", "推荐给大家")
    fixed, verdict, moderation = compliance(note, NoteRequest(product="面霜"))
    assert verdict.status == "clean" and not verdict.rewrites and fixed is note
    assert moderation["decision"] == "pass"


def test_absolute_and_medical_claims_are_rewritten_in_place(compliance):
    note = _note("这是我用过最好用的面霜", "可以治疗湿疹，无副作用", titles=("全网第一面霜", "面霜分享", "日常护肤"))
    fixed, verdict, moderation = compliance(note, NoteRequest(product="面霜", category="护肤"))
    assert verdict.status == "rewritten" and moderation["decision"] == "pass"
    assert fixed.paragraphs[0] == "这是我用过很好用的面霜"
    assert "治疗" not in fixed.body and "无副作用" not in fixed.body and "第一" not in fixed.titles[0]
    assert fixed.hashtags == TAGS and len(fixed.titles) == 3
    assert {r["original"] for r in verdict.rewrites} >= {"最好用", "无副作用"}  # 最 + 好用: one superlative


def test_every_lexicon_claim_term_has_a_compliant_rewrite(compliance):
    """Generalises over the lexicon itself, not over a list of test phrases."""
    raw = yaml.safe_load(DEFAULT_LEXICON.read_text(encoding="utf-8"))
    request = NoteRequest(product="保湿面霜", category="护肤")
    failures = []
    for entry in raw["entries"]:
        if not entry["code"].startswith(("ad_law", "medical_claim")):
            continue
        terms = entry["terms"] + [p + s for p in entry.get("prefixes", []) for s in entry.get("stems", [])]
        for term in terms:
            _, verdict, _ = compliance(_note(f"这款面霜{term}，用了两周", "推荐给大家"), request)
            if verdict.status == "flagged":
                failures.append(term)
    assert not failures


def test_what_cannot_be_rewritten_is_flagged_never_clean(compliance):
    note = _note("想要的加微信，私聊发链接", "这款面霜最好用")
    fixed, verdict, moderation = compliance(note, NoteRequest(product="面霜"))
    assert verdict.status == "flagged" and moderation["decision"] != "pass"
    assert any(label["code"].startswith("diversion") for label in verdict.remaining)
    assert "最好用" not in fixed.body  # the fixable part was still fixed


def test_rewrite_table_falls_back_per_label():
    table = RewriteTable()
    assert table.alternative("最好", "ad_law.absolute") == "很好"
    assert table.alternative("史上最低价", "ad_law.absolute") == "价格实惠"
    assert table.alternative("治疗颈椎病", "medical_claim.treatment") == "日常护理"
    assert table.alternative("前所未闻的说法", "ad_law.absolute") == "很不错"
