"""The studio builds with every tab (a component option Gradio dropped fails here, not in a live replica)."""

from __future__ import annotations

import warnings

from serving.settings import Settings
from ui.studio import TABS, build_studio


def test_every_tab_builds_without_deprecations(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Gradio announces removals as UserWarnings
        studio = build_studio("http://127.0.0.1:9", Settings(data_dir=tmp_path / "var"))
    titles = [tab for tab, _ in TABS]
    assert titles[:1] == ["Service"] and {"Covers", "Video", "Translate"} <= set(titles)
    assert studio is not None
