"""The template engine: platform rules, variation per seed, category banks, honest names."""

from __future__ import annotations

import pytest

from generation.copy.request import STYLES, NoteRequest
from generation.copy.schema import HASHTAGS_MAX, HASHTAGS_MIN, TITLE_MAX_CHARS
from generation.copy.template_engine import TemplateEngine, short_name

POINTS = ["清爽不油腻", "不泛白", "可以当妆前乳", "小支便携"]


def _emoji(ch: str) -> bool:
    return 0x2600 <= ord(ch) <= 0x27BF or 0x1F000 <= ord(ch) <= 0x1FAFF or ord(ch) == 0xFE0F


def _count(text: str) -> int:
    return sum(_emoji(ch) and ord(ch) != 0xFE0F for ch in text)


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine()


def _request(**kw) -> NoteRequest:
    base = {
        "product": "山茶集轻薄水感防晒霜SPF50",
        "brand": "山茶集",
        "category": "防晒",
        "price": 89,
        "selling_points": POINTS,
        "audience": "通勤党",
        "scenario": "通勤",
    }
    return NoteRequest(**{**base, **kw})


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("length", ["short", "medium", "long"])
def test_every_style_and_length_follows_the_rules(engine, style, length):
    note = engine.write(_request(style=style, length=length), seed=3)
    assert len(note.titles) == 3 and len(set(note.titles)) == 3
    assert all(0 < len(t) <= TITLE_MAX_CHARS for t in note.titles)
    assert HASHTAGS_MIN <= len(note.hashtags) <= HASHTAGS_MAX
    assert len(set(note.hashtags)) == len(note.hashtags) and all("#" not in t for t in note.hashtags)
    assert len(note.paragraphs) >= 3 and "\n\n" in note.body
    assert all(_emoji(p[-1]) for p in note.paragraphs)  # emoji policy: one per paragraph
    assert note.selling_points_used and set(note.selling_points_used) <= set(POINTS)


def test_same_seed_same_note_other_seed_other_note(engine):
    request = _request()
    assert engine.write(request, 1) == engine.write(request, 1)
    bodies = {engine.write(request, seed).body for seed in range(6)}
    assert len(bodies) >= 5


def test_longer_notes_use_more_facts(engine):
    short = engine.write(_request(length="short"), 2)
    long = engine.write(_request(length="long"), 2)
    assert len(long.paragraphs) > len(short.paragraphs)
    assert len(long.selling_points_used) > len(short.selling_points_used)


def test_category_bank_and_keywords(engine):
    lipstick = _request(product="丝绒哑光口红", brand="", category="彩妆", selling_points=["显白", "不拔干"])
    assert engine.category_bank(lipstick)["name"] == "彩妆"
    tags = engine.write(lipstick, 0).hashtags
    assert "口红" in tags or "彩妆" in tags
    unknown = _request(product="神秘盒子", brand="", category="", selling_points=[])
    assert engine.category_bank(unknown)["name"] == "好物"
    note = engine.write(unknown, 0)
    assert len(note.titles) == 3 and HASHTAGS_MIN <= len(note.hashtags)


def test_sober_tone_has_fewer_emoji(engine):
    lively = engine.write(_request(tone="活泼"), 4)
    sober = engine.write(_request(tone="专业"), 4)
    assert not any(_emoji(t[-1]) for t in sober.titles)
    assert _count(sober.body) < _count(lively.body)


def test_english_notes(engine):
    note = engine.write(
        NoteRequest(
            product="Linen summer dress",
            category="dress",
            language="en",
            selling_points=["breathable linen", "has pockets"],
            style="review",
        ),
        1,
    )
    assert all(len(t) <= TITLE_MAX_CHARS for t in note.titles)
    assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in note.titles + note.paragraphs)
    assert "dress" in note.hashtags or "linen" in note.hashtags


def test_short_name_fits_titles():
    request = NoteRequest(product="山茶集 超长名字的轻薄水感防晒霜SPF50 清爽版 大容量家庭装", brand="山茶集")
    assert 2 <= len(short_name(request)) <= 10


def test_domain_vocabulary_keeps_ingredients_whole():
    """玻尿酸 (hyaluronic acid) must not become the hashtag 尿酸 (uric acid)."""
    from generation.copy.template_engine import extract_keywords

    words = extract_keywords("玻尿酸补水精华液，含烟酰胺，敏感肌可用", "zh")
    assert "玻尿酸" in words and "尿酸" not in words
