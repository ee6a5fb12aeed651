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


def test_bidi_controls_do_not_hide_a_violation():
    """U+202A-U+202E and U+2066-U+2069 change how text displays: folded away, the same labels are found."""
    from moderation import Moderator
    from moderation.types import Listing

    moderator = Moderator.from_files()
    plain = "全网最低价，加微信 abc12345 私聊"
    hidden = "全网\u202e最低价\u202c，加\u2066微信\u2069 abc12345 私\u202d聊"
    a = moderator.moderate(Listing(id="a", title=plain, body=""))
    b = moderator.moderate(Listing(id="b", title=hidden, body=""))
    assert a.decision == b.decision == "block"
    assert {label.code for label in a.labels} == {label.code for label in b.labels}


def test_short_and_long_paths_agree():
    """Short texts take a plain-Python path, long ones numpy: the same folding and offsets either way."""
    import importlib
    import random

    module = importlib.import_module("moderation.normalize")
    rng = random.Random(7)
    alphabet = list("ab1 ，。高仿\u200b\u0007 ＡＢ①🙂 .-_国家级x y\t\n")
    short = module._SHORT
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        fast = module.normalize(text)
        module._SHORT = 0
        try:
            slow = module.normalize(text)
        finally:
            module._SHORT = short
        assert fast.text == slow.text and fast.offsets.tolist() == slow.offsets.tolist(), repr(text)
