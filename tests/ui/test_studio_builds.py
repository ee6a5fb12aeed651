"""The studio builds with every tab in every language (a component option Gradio dropped fails here, not in a
live replica), merchants' tabs first, and it is mounted at /studio (Chinese) and /studio/en (English)."""

from __future__ import annotations

import warnings

import pytest

from serving.settings import Settings
from ui.i18n import LANGS, t
from ui.studio import TABS, build_studio


@pytest.mark.parametrize("lang", LANGS)
def test_every_tab_builds_without_deprecations(tmp_path, lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Gradio announces removals as UserWarnings
        studio = build_studio("http://127.0.0.1:9", Settings(data_dir=tmp_path / "var"), lang)
    config = studio.get_config_file()
    tabs = [c["props"] for c in config["components"] if c["type"] == "tabitem"]
    top = [(tab["elem_id"], tab["label"]) for tab in tabs if (tab.get("elem_id") or "").startswith("ns-tab-")]
    assert top == [(f"ns-tab-{name}", t(f"tab.{name}", lang)) for name, _ in TABS]
    ids = {c["props"].get("elem_id") for c in config["components"]}
    assert {"ns-api-key", "ns-write-notes", "ns-moderate", "ns-list-models", "ns-check-models"} <= ids


def test_tabs_are_in_the_merchants_order():
    assert [name for name, _ in TABS] == ["notes", "images", "video", "translate", "tryon", "moderation", "service"]
    assert [t(f"tab.{name}", "zh") for name, _ in TABS] == ["笔记", "封面", "视频", "翻译", "试妆", "审核", "服务"]


def test_an_unknown_language_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="lang"):
        build_studio("http://127.0.0.1:9", Settings(data_dir=tmp_path / "var"), "fr")
