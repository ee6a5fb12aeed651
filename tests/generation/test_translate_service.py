"""The translation service without weights: detection, OpenCC scripts and variants, protected terms kept through an
engine that mangles or drops tags, notes that keep their shape, a 503 naming what to configure."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from common.errors import InputError, ModelUnavailableError
from generation.translate.engines import Translator
from generation.translate.masking import Term, protect, restore, verify
from generation.translate.note import hashtag, split_line
from generation.translate.service import TranslationService

# Real brand and product names (as merchants write them) and the spans no translation may touch.
BRAND_SENTENCES = [
    ("雅诗兰黛小棕瓶精华，熬夜党必备", ["雅诗兰黛", "小棕瓶"]),
    ("兰蔻粉水和 SK-II 神仙水一起用", ["兰蔻", "SK-II"]),
    ("Apple AirPods Pro 2 降噪真的绝", ["Apple AirPods Pro 2"]),
    ("戴森 Dyson V12 吸尘器到手价¥3999", ["Dyson V12", "¥3999"]),
    ("优衣库 UNIQLO U 系列 T恤 货号 SKU-4471", ["UNIQLO U", "SKU-4471"]),
    (
        "关注@小红薯美妆 领券，链接 https://shop.example.cn/item?id=42",
        ["@小红薯美妆", "https://shop.example.cn/item?id=42"],
    ),
    ("完美日记 Perfect Diary 小细跟口红 #307 试色", ["Perfect Diary", "完美日记"]),
    ("花西子 Florasis 空气蜜粉 89元 ✨😍", ["花西子", "89元", "✨😍"]),
]


class Mangler(Translator):
    """An engine as bad as real ones get: upper-cases words, re-spaces tags, drops every third tag."""

    engine = "mangler"
    model = "mangler-1"

    def supports(self, source: str, target: str) -> bool:
        return (source, target) == ("zh-Hans", "en")

    def translate(self, texts: Sequence[str], source: str, target: str, variant=None) -> list[str]:
        out = []
        for text in texts:
            tags = re.findall(r"<t(\d+)>", text)
            for k, number in enumerate(tags, start=1):
                text = text.replace(f"<t{number}>", "" if k % 3 == 0 else f"< T{number} >", 1)
            out.append("TRANSLATED " + text)
        return out


@pytest.fixture(scope="module")
def service():
    return TranslationService(lambda: [Mangler()])


@pytest.mark.parametrize(("sentence", "terms"), BRAND_SENTENCES)
def test_protected_terms_survive_an_engine_that_loses_tags(service, sentence, terms):
    out = service.translate_texts([sentence], "zh-Hans", "en", [Term(t) for t in terms])[0]
    assert out.engine == "mangler" and out.model == "mangler-1"
    for term in terms:
        assert term in out.text, (term, out.text)
    assert out.missing == []


def test_fixed_glossary_translations_and_reinsertion_are_reported(service):
    out = service.translate_texts(["小棕瓶和小黑瓶和雅诗兰黛"], "zh-Hans", "en",
                                  [Term("小棕瓶", "Advanced Night Repair"), Term("小黑瓶", "Genifique"),
                                   Term("雅诗兰黛", "Estée Lauder")])[0]  # fmt: skip
    for term in ["Advanced Night Repair", "Genifique", "Estée Lauder"]:
        assert term in out.text
    assert out.reinserted == ["Estée Lauder"]  # the third tag was dropped by the engine and put back


def test_restore_and_verify_flag_what_is_missing():
    protected = protect("买 SKU-2291 送 @小助手", [])
    text, reinserted = restore("buy <t1> get", protected)
    assert "SKU-2291" in text and "@小助手" in text and reinserted == ["@小助手"]
    assert verify("buy it", protected) == ["SKU-2291", "@小助手"]


def test_opencc_scripts_and_variants_need_no_weights():
    service = TranslationService()
    tw = service.translate_texts(["这个软件的鼠标设置"], "zh-Hans", "zh-Hant", variant="tw")[0]
    assert tw.text == "這個軟體的滑鼠設定" and tw.engine == "opencc" and tw.model is None
    plain = service.translate_texts(["这个软件"], "zh-Hans", "zh-Hant")[0]
    assert plain.text == "這個軟件"
    back = service.translate_texts(["這個軟體的滑鼠"], "zh-Hant", "zh-Hans", variant="tw")[0]
    assert back.text == "这个软件的鼠标"
    kept = service.translate_texts(["雅诗兰黛软件"], "zh-Hans", "zh-Hant", [Term("雅诗兰黛")])[0]
    assert kept.text == "雅诗兰黛軟件"  # a do-not-translate brand keeps its own characters


def test_detection_tells_chinese_scripts_apart():
    service = TranslationService()
    assert service.detect("这款面霜很好用，推荐给大家")[0].language == "zh-Hans"
    assert service.detect("這款面霜很好用，推薦給大家")[0].language == "zh-Hant"
    assert service.detect("このクリームはとても良いです")[0].language == "ja"
    assert service.detect("This cream keeps my skin soft all day long")[0].language == "en"
    assert service.detect("12345 ✨") == []


def test_a_note_keeps_its_shape(service):
    note = {
        "titles": ["夏天通勤必备的清爽防晒☀️"],
        "body": "今天分享一支防晒！\n\n1. 质地清爽 ✨\n2、一抹成膜\n✅ 不泛白\n\n链接 https://x.cn/a",
        "hashtags": ["防晒", "夏日好物"],
        "engine": "template",
    }
    out = service.translate_note(note, "auto", "en")
    body = out.note["body"].split("\n")
    assert len(body) == 7 and body[1] == "" and body[5] == ""
    assert body[2].startswith("1. ") and body[3].startswith("2、") and body[4].startswith("✅ ")
    assert "✨" in body[2] and "https://x.cn/a" in body[6] and "☀️" in out.note["titles"][0]
    assert all(" " not in tag and not tag.startswith("#") for tag in out.note["hashtags"])
    assert out.note["engine"] == "template" and out.engine == "mangler" and out.source == "zh-Hans"


def test_line_structure_and_hashtags():
    assert split_line("1. 质地清爽  ") == ("1. ", "质地清爽", "  ")
    assert split_line("✅ 不泛白") == ("✅ ", "不泛白", "")
    assert split_line("①好用") == ("①", "好用", "")
    assert hashtag("summer must-haves!", True, "x") == "#SummerMustHaves"
    assert hashtag("夏日 好物", False, "x") == "#夏日好物"
    assert hashtag("!!!", True, "防晒") == "#防晒"


def test_a_pair_nothing_serves_is_a_503_naming_what_to_configure(service):
    with pytest.raises(ModelUnavailableError) as error:
        service.translate_texts(["hello"], "en", "ja")
    assert "translation_models" in error.value.message and error.value.param == "target"
    assert service.router.route("zh-Hant", "en").engine == "opencc+mangler"  # bridged through Simplified


@pytest.mark.parametrize(("kwargs", "param"), [({"target": "xx"}, "target"), ({"source": "klingon"}, "source")])
def test_bad_codes_and_sizes_name_the_field(service, kwargs, param):
    args = {"texts": ["你好"], "source": "zh-Hans", "target": "en", **kwargs}
    with pytest.raises(InputError) as error:
        service.translate_texts(**args)
    assert error.value.param == param
    with pytest.raises(InputError) as error:
        service.translate_texts(["字" * 6000], "zh-Hans", "en")
    assert error.value.status == 413 and error.value.param == "text"


def _listings() -> list[dict]:
    from pathlib import Path

    import yaml

    path = Path(__file__).parent / "data" / "brand_listings.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["listings"]


def test_every_brand_and_protected_span_survives_on_real_listings(service):
    """The issue's target: glossary and do-not-translate terms kept in 100% of outputs. Brand names go in as
    do-not-translate terms (what a merchant's glossary holds); prices, codes, links and emoji are found by pattern."""
    listings = _listings()
    dnt = [Term(term) for item in listings for term in item["keep"]]
    outs = service.translate_texts([item["text"] for item in listings], "zh-Hans", "en", dnt)
    kept = sum(all(term in out.text for term in item["keep"]) for item, out in zip(listings, outs, strict=True))
    assert kept == len(listings) >= 40, [o.text for o in outs]
    assert all(out.missing == [] for out in outs)
