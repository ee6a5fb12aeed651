"""Form fields of the studio: an empty price is unknown, never 0."""

from __future__ import annotations

import gradio as gr
import pytest

from ui.tabs.common import parse_price
from ui.tabs.copy import request_body
from ui.tabs.images import cover_items


@pytest.mark.parametrize(
    ("text", "value"), [("", None), ("  ", None), (None, None), ("89", 89.0), ("¥1,299.5", 1299.5)]
)
def test_parse_price(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize("text", ["abc", "-3", "nan", "inf"])
@pytest.mark.parametrize(("lang", "field"), [("zh", "价格"), ("en", "Price")])
def test_a_bad_price_is_a_readable_error_naming_the_field(text, lang, field):
    with pytest.raises(gr.Error, match=field):
        parse_price(text, lang=lang)


def test_an_empty_price_is_not_sent(tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"x")
    items = cover_items([str(photo)], "标题", "", "", "", "", "3:4", "panel", 0, 2)
    assert all("price" not in item["spec"] for item in items)
    assert [item["spec"]["seed"] for item in items] == [0, 1]
    body = request_body("防晒霜", "", "", "", "", "", "", "种草", "", "medium", "zh", 1, None)
    assert "price" not in body


def test_the_video_form_sends_only_what_was_given(tmp_path):
    from ui.tabs.video import video_body

    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    body = video_body([str(photo)], None, " 标题 ", "一\n\n 二 ", "#防晒 ＃通勤  夏日", "", 15, "cut", None)
    assert body["title"] == "标题" and body["lines"] == ["一", "二"] and body["hashtags"] == ["防晒", "通勤", "夏日"]
    assert "price" not in body and "seed" not in body and "audio" not in body
    assert video_body([str(photo)], str(photo), "", "", "", "89", 6, "crossfade", 3)["price"] == 89.0


def test_the_translate_forms_send_what_was_given():
    from ui.tabs.translate import NO_GLOSSARY, glossary_body, note_body

    body = note_body("标题一\n\n标题二", "正文", "#防晒 ＃通勤", "auto", "en", "—", NO_GLOSSARY, "雅诗兰黛，SKU-1")
    assert body["note"] == {"titles": ["标题一", "标题二"], "body": "正文", "hashtags": ["防晒", "通勤"]}
    assert body["dnt"] == ["雅诗兰黛", "SKU-1"] and "variant" not in body and "glossary_id" not in body
    picked = note_body("t", "", "", "zh-Hans", "zh-Hant", "tw", "abc123 · 品牌词", "")
    assert picked["glossary_id"] == "abc123" and picked["variant"] == "tw" and picked["dnt"] == []
    rows = [["雅诗兰黛", "", "", "brand"], ["", "", "", ""], ["小棕瓶", "ANR", "en", ""]]
    terms = glossary_body(" 品牌词 ", rows)["terms"]
    assert terms == [
        {"source": "雅诗兰黛", "target": None, "target_lang": None, "kind": "brand"},
        {"source": "小棕瓶", "target": "ANR", "target_lang": "en", "kind": "term"},
    ]


@pytest.mark.parametrize(
    ("status", "param", "lang", "expected"),
    [
        (403, "Authorization", "zh", "platform 权限"),
        (403, "Authorization", "en", "lacks the platform scope"),
        (401, "Authorization", "zh", "API 密钥无效"),
        (422, "price", "zh", "字段「price」有误"),
        (422, "price", "en", "Field “price”"),
        (0, None, "en", "cannot be reached"),
        (500, None, "en", "answered 500"),
    ],
)
def test_api_errors_read_as_what_to_do(status, param, lang, expected):
    from ui.client import ApiClientError
    from ui.tabs.common import api_error

    error = api_error(ApiClientError("x", status, "the message", param), lang, "platform")
    assert expected in str(error)


def test_an_empty_key_says_where_keys_come_from():
    from ui.tabs.common import client_for

    with pytest.raises(gr.Error, match="notestudio serve"):
        client_for("http://127.0.0.1:9", " ", "zh")


def test_the_moderation_form_sends_only_what_was_given():
    from ui.tabs.moderation import listing_body

    assert listing_body("高仿包", "", "", " ", "", "", "zh") == {"title": "高仿包", "body": ""}
    assert listing_body("", "正文", "¥89", "LV", "包", "", "en")["price"] == 89.0
    pasted = listing_body("ignored", "", "", "", "", '{"title": "t", "images": []}', "zh")
    assert pasted == {"title": "t", "images": []}
    with pytest.raises(gr.Error, match="JSON"):
        listing_body("", "", "", "", "", "[1, 2]", "en")
    with pytest.raises(gr.Error, match="标题或正文"):
        listing_body(" ", "", "", "", "", "", "zh")
