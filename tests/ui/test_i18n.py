"""Every studio string exists in Chinese and English and formats; unknown keys fail the build."""

from __future__ import annotations

import re
import string

import pytest

from ui.i18n import LANGS, strings, t, translator, using


def test_every_key_has_every_language():
    table = strings()
    assert len(table) > 100
    missing = {key: sorted(set(LANGS) - set(texts)) for key, texts in table.items() if set(texts) != set(LANGS)}
    empty = [key for key, texts in table.items() if not all(text.strip() for text in texts.values())]
    assert not missing and not empty


def test_every_text_formats_and_both_languages_take_the_same_placeholders():
    for key, texts in strings().items():
        fields = {}
        for lang, text in texts.items():
            fields[lang] = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            text.format(**dict.fromkeys(fields[lang], "x"))  # a stray brace fails here
        assert fields["zh"] == fields["en"], key


def test_the_chinese_texts_are_chinese():
    texts = strings()
    assert re.search(r"[\u4e00-\u9fff]", texts["tab.notes"]["zh"]) and texts["tab.notes"]["en"] == "Notes"


def test_lookup_uses_the_language_being_built_and_fails_on_unknown_keys():
    assert t("tab.moderation") == "审核"
    with using("en"):
        assert t("tab.moderation") == "Moderation" and translator()("tab.service") == "Service"
    assert t("tab.moderation") == "审核"
    with pytest.raises(KeyError, match="nope"):
        t("tab.nope")
