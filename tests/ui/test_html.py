"""Note cards and moderation highlights: everything escaped, spans placed by code points (emoji included),
overlapping spans marked with both labels, the writer named exactly as the API named it."""

from __future__ import annotations

from ui.html import Span, highlight, moderation_report, note_cards
from ui.i18n import translator


def test_highlight_escapes_and_marks_in_place():
    text = "<b>全网最低</b> & 高仿"
    start = text.index("全网最低")
    out = highlight(text, [Span(start, start + 4, "ad_law"), Span(len(text) - 2, len(text), "counterfeit")])
    assert "<b>" not in out and "&lt;b&gt;" in out and "&amp;" in out
    assert '<mark title="ad_law">全网最低</mark><sup class="ns-label">ad_law</sup>' in out
    assert out.endswith('<mark title="counterfeit">高仿</mark><sup class="ns-label">counterfeit</sup>')


def test_offsets_are_code_points_so_emoji_before_a_span_do_not_shift_it():
    text = "🔥🔥👍🏻 加薇信 abc12345"
    start = text.index("加薇信")
    out = highlight(text, [Span(start, start + 3, "diversion.wechat")])
    assert '<mark title="diversion.wechat">加薇信</mark>' in out and out.startswith("🔥🔥👍🏻 ")


def test_overlapping_and_nested_spans_carry_every_label():
    text = "高仿LV老花包"
    out = highlight(text, [Span(0, 4, "counterfeit.replica"), Span(2, 6, "counterfeit.brand_alias")])
    assert '<mark title="counterfeit.replica">高仿</mark>' in out
    assert '<mark title="counterfeit.replica, counterfeit.brand_alias">LV</mark>' in out
    assert '<mark title="counterfeit.brand_alias">老花</mark>' in out and out.endswith("包")


def test_spans_outside_the_text_are_ignored():
    assert highlight("短", [Span(0, 5, "x"), Span(1, 1, "y"), Span(-1, 1, "z")]) == "短"


def test_labels_with_quotes_cannot_break_out_of_the_attribute():
    out = highlight("abc", [Span(0, 1, '"><script>alert(1)</script>')])
    assert "<script>" not in out and "&quot;&gt;&lt;script&gt;" in out


DRAFT = {
    "titles": ["<i>夏日</i>防晒", "通勤必备"],
    "body": "清爽不油腻\n\n一抹成膜",
    "hashtags": ["防晒", "通勤"],
    "engine": "template",
    "model": None,
    "variant": 0,
    "seed": 7,
    "filled": [],
    "compliance": {
        "status": "rewritten",
        "rewrites": [{"field": "body", "original": "最好用", "replacement": "很好用", "code": "ad_law.absolute"}],
        "remaining": [],
    },
}


def test_note_cards_show_parts_with_copy_buttons_the_verdict_and_the_writer():
    html = note_cards({"drafts": [DRAFT], "engine": "template", "model": None}, translator("zh"))
    assert "<i>" not in html and "&lt;i&gt;夏日&lt;/i&gt;防晒" in html
    assert html.count('class="ns-copy') == 2 + 1 + 1 + 1  # two titles, body, hashtags, the whole note
    assert 'data-copy="#防晒 #通勤"' in html and "清爽不油腻\n\n一抹成膜" in html
    assert "<del>最好用</del> → <ins>很好用</ins>" in html and "已改写为合规" in html
    assert "<code>template</code>" in html and "第 1 篇" in html


def test_note_cards_name_the_model_exactly():
    drafts = [{**DRAFT, "engine": "vllm", "model": "qwen2.5-7b-instruct", "compliance": {"status": "clean"}}]
    html = note_cards({"drafts": drafts}, translator("en"))
    assert "<code>vllm / qwen2.5-7b-instruct</code>" in html and "Written by" in html and "compliant" in html


def test_moderation_report_highlights_the_original_listing():
    listing = {"title": "😀全网最低价 高仿包", "body": "加 薇 信 abc12345"}
    result = {
        "decision": "block",
        "risk": 0.97,
        "decision_id": "a" * 32,
        "engine": "rules+linear",
        "reasons": ["<price> far below floor"],
        "labels": [
            {"code": "ad_law.absolute", "score": 0.9, "sources": ["lexicon"],
             "evidence": [{"field": "title", "start": 1, "end": 5, "text": "全网最低"}]},
            {"code": "diversion.wechat", "score": 0.95, "sources": ["rule"],
             "evidence": [{"field": "body", "start": 0, "end": 5, "text": "加 薇 信"},
                          {"field": "images[0]", "start": 0, "end": 3, "text": "vx1"}]},
        ],
    }  # fmt: skip
    html = moderation_report(listing, result, translator("zh"))
    assert "拦截" in html and "ns-block" in html and "0.97" in html
    assert '<mark title="广告法 · ad_law.absolute">全网最低</mark>' in html and "😀<mark" in html
    assert '<mark title="站外导流 · diversion.wechat">加 薇 信</mark>' in html
    assert "images[0]" in html and "vx1" in html and "&lt;price&gt;" in html and "a" * 32 in html
