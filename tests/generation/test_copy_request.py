"""`NoteRequest` validation: every bad field is named; aliases and defaults are normalised."""

from __future__ import annotations

import pytest

from common.errors import InputError
from generation.copy.request import MAX_VARIANTS, STYLES, NoteRequest


def test_styles_accept_chinese_and_english_names():
    assert NoteRequest(product="x", style="unboxing").style == "开箱"
    assert NoteRequest(product="x", style="Review").style == "测评"
    assert {NoteRequest(product="x", style=s).style for s in STYLES} == set(STYLES)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"product": ""}, "product"),
        ({"product": " \n "}, "product"),
        ({"product": "x", "selling_points": ["好" * 100_000]}, "selling_points.0"),
        ({"product": "x", "selling_points": ["a"] * 50}, "selling_points"),
        ({"product": "x", "style": "poem"}, "style"),
        ({"product": "x", "language": "fr"}, "language"),
        ({"product": "x", "n": 0}, "n"),
        ({"product": "x", "n": MAX_VARIANTS + 1}, "n"),
        ({"product": "x", "n": True}, "n"),
        ({"product": "x", "price": "cheap"}, "price"),
        ({"product": "x", "seed": -1}, "seed"),
        ({"product": "x", "colour": "red"}, "colour"),
        ({"brand": "x"}, "product"),
    ],
)
def test_bad_fields_are_named(fields, param):
    with pytest.raises(InputError) as info:
        NoteRequest.parse(fields)
    assert info.value.param == param
    assert str(info.value).startswith(param)


def test_from_dict_accepts_name_alias_and_splits_point_text():
    request = NoteRequest.parse({"name": "面霜", "selling_points": "保湿；不黏腻\n温和", "id": 3})
    assert request.product == "面霜" and request.selling_points == ["保湿", "不黏腻", "温和"] and request.id == 3


def test_prefix_names_the_record_in_a_batch():
    with pytest.raises(InputError) as info:
        NoteRequest.parse({"product": "x", "selling_points": ["ok", "\x07"]}, "products.4")
    assert info.value.param == "products.4.selling_points.1" and "control characters" in info.value.message
    with pytest.raises(InputError) as info:
        NoteRequest.parse(["not", "an", "object"], "products.2")
    assert info.value.param == "products.2"


def test_empty_optional_fields_mean_unknown():
    request = NoteRequest.parse({"product": " 面霜 ", "price": None, "brand": None, "selling_points": None})
    assert request.product == "面霜" and request.price is None and request.brand == "" and request.selling_points == []
