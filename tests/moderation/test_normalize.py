"""Normalization folds evasions and maps every normalized character back to the original text."""

from __future__ import annotations

import pytest

from moderation.normalize import fold, normalize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ＷＥＣＨＡＴ１２３", "wechat123"),  # full-width
        ("高仿貨 發貨", "高仿货发货"),  # Traditional -> Simplified
        ("高\u200b仿", "高仿"),  # zero-width space
        ("高 仿", "高仿"),
        ("高*仿", "高仿"),
        ("国.家.级", "国家级"),
        ("❶❸⑧", "138"),  # negative circled, circled digits
        ("①②③", "123"),
        ("⑴⑵", "12"),  # parenthesized
        ("1️⃣3️⃣", "13"),  # emoji keycaps
        ("一三八零", "1380"),  # Chinese numerals
        ("壹贰叁", "123"),  # financial numerals
        ("sрeсiаl", "special"),  # Cyrillic look-alikes
        ("高😀仿", "高仿"),  # emoji between characters
        ("Buy  now", "buy now"),  # spaces between latin words survive, collapsed
        ("V❤信", "v信"),
    ],
)
def test_folds_evasions(raw, folded):
    assert fold(raw) == folded


def test_offsets_point_into_the_original():
    raw = "加 薇 信：ＷＸ１２３"
    normalized = normalize(raw)
    start = normalized.text.index("wx123")
    o_start, o_end = normalized.span(start, start + 5)
    assert raw[o_start:o_end] == "ＷＸ１２３"
    assert len(normalized.offsets) == len(normalized.text)
    assert all(0 <= o < len(raw) for o in normalized.offsets)


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "😀😀"])
def test_empty_and_symbol_only_text(raw):
    normalized = normalize(raw)
    assert normalized.text == "" and len(normalized.offsets) == 0


def test_astral_and_lone_surrogates_do_not_crash():
    assert fold("𠀀abc") == "𠀀abc"
    normalize("a\ud800b")  # lone surrogate from a broken client: no exception


def test_normalization_is_fast_enough():
    """Guard against accidental per-character Python: 2,000 note-length texts well under a second."""
    import time

    text = "这款口红颜色超级显白，质地滋润不拔干 ✨ 加V: abc123 #好物推荐 " * 3
    started = time.perf_counter()
    for _ in range(2000):
        normalize(text)
    assert time.perf_counter() - started < 2.0
