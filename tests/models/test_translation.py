"""The language-aware seq2seq API on the transformers engine: pairs, directions, errors naming what is wrong."""

from __future__ import annotations

import pytest

from models import ModelConfigError, load_engine, testing
from models.engines import Seq2SeqEngine, UnsupportedPairError
from models.engines.translation import LanguageTable

TEXTS = ["这款口红颜色超级显白，质地滋润不拔干。", "价格：99元，包邮，支持七天无理由退货。", "Lightweight sunscreen."]


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    return {
        "marian": testing.build_tiny_opus_marian(root / "marian"),
        "m2m100": testing.build_tiny_m2m100(root / "m2m100"),
    }


@pytest.fixture(scope="module")
def marian(specs) -> Seq2SeqEngine:
    return load_engine(specs["marian"])


@pytest.fixture(scope="module")
def m2m100(specs) -> Seq2SeqEngine:
    return load_engine(specs["m2m100"])


def test_pairs_bilingual_and_multilingual(marian, m2m100):
    assert marian.pairs() == {("zh-Hans", "en")}
    codes = set(testing.TINY_M2M100_LANGUAGES)
    assert m2m100.pairs() == {(s, t) for s in codes for t in codes if s != t}
    assert len(m2m100.pairs()) == 12


def test_translate_is_deterministic_and_in_input_order(marian, m2m100):
    for engine, pair in ((marian, ("zh-Hans", "en")), (m2m100, ("zh-Hans", "en"))):
        first = engine.translate(TEXTS, *pair, max_new_tokens=8)
        assert first == engine.translate(TEXTS, *pair, max_new_tokens=8)
        assert len(first) == 3 and all(isinstance(t, str) and t for t in first)
        assert [engine.translate([text], *pair, max_new_tokens=8)[0] for text in TEXTS] == first


def test_multilingual_target_and_source_matter(m2m100):
    to_en = m2m100.translate(TEXTS, "zh-Hans", "en", max_new_tokens=8)
    assert to_en != m2m100.translate(TEXTS, "zh-Hans", "fr", max_new_tokens=8)
    assert to_en != m2m100.translate(TEXTS, "ja", "en", max_new_tokens=8)
    # the forced language token is not part of the text
    assert not any("__" in text for text in to_en)


def test_unsupported_pair_names_the_pair_and_what_is_served(marian, m2m100):
    with pytest.raises(UnsupportedPairError, match=r"'en' -> 'zh-Hans'; it serves zh-Hans -> en") as info:
        marian.translate(["hello"], "en", "zh-Hans")
    assert isinstance(info.value, ValueError) and info.value.served == {("zh-Hans", "en")}
    with pytest.raises(UnsupportedPairError, match="any two of: en, fr, ja, zh-Hans"):
        m2m100.translate(["hello"], "en", "de")
    with pytest.raises(UnsupportedPairError):
        m2m100.translate(["hello"], "en", "en")


def test_empty_texts_translate_to_empty(marian):
    assert marian.translate([], "zh-Hans", "en") == []
    out = marian.translate(["", TEXTS[0], "  "], "zh-Hans", "en", max_new_tokens=4)
    assert out[0] == "" and out[2] == "" and out[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts": "一句话"}, "texts"),
        ({"num_beams": 0}, "num_beams"),
        ({"num_beams": 17}, "num_beams"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 1.5}, "max_new_tokens"),
    ],
)
def test_translate_arguments_are_checked(marian, kwargs, message):
    args = {"texts": TEXTS, "source": "zh-Hans", "target": "en", **kwargs}
    with pytest.raises(ValueError, match=message):
        marian.translate(args.pop("texts"), args.pop("source"), args.pop("target"), **args)


def test_a_model_without_languages_says_how_to_declare_them(tiny_models):
    engine = load_engine(tiny_models["seq2seq"])  # the plain tiny Marian: no options
    assert engine.pairs() == set()
    with pytest.raises(ModelConfigError, match="options.pairs"):
        engine.translate(["你好"], "zh-Hans", "en")
    assert len(engine.generate(["你好"], max_new_tokens=3)) == 1  # generate needs no languages


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pairs": [["zh-Hans", "en"]], "languages": {"en": "en", "fr": "fr"}}, "exclude each other"),
        ({"pairs": []}, "non-empty list"),
        ({"pairs": [["zh-Hans"]]}, r"options.pairs\[0\] must be \[source, target\]"),
        ({"pairs": [["zh_CN", "en"]]}, r"options.pairs\[0\]\[0\]: 'zh_CN' is not a language code"),
        ({"pairs": [["en", "en"]]}, "into itself"),
        ({"languages": {"en": "en"}}, "at least two"),
        ({"languages": ["en", "fr"]}, "at least two"),
        ({"languages": {"en": "en", "fr": ""}}, "options.languages.fr"),
        ({"languages": {"English": "en", "fr": "fr"}}, "'English' is not a language code"),
    ],
)
def test_bad_language_options_are_named(options, message):
    with pytest.raises(ModelConfigError, match=message):
        LanguageTable.from_options("m", options)


def test_bad_options_fail_at_load(specs):
    m2m = specs["m2m100"]
    unknown_code = m2m.model_copy(update={"options": {"languages": {"en": "en", "zh-Hans": "zho_Hans"}}})
    with pytest.raises(ModelConfigError, match="zh-Hans: zho_Hans"):
        load_engine(unknown_code)
    typo = specs["marian"].model_copy(update={"options": {"pairs": [["zh-Hans", "en"]], "max_batch": 4}})
    with pytest.raises(ModelConfigError, match="unknown option.*max_batch"):
        load_engine(typo)
    bad_int = specs["marian"].model_copy(update={"options": {"max_batch_size": 0}})
    with pytest.raises(ModelConfigError, match="options.max_batch_size"):
        load_engine(bad_int)
