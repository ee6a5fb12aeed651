"""The Gradio studio, mounted at /studio. A client of the HTTP API: it never imports generation internals.

Each capability contributes one tab module under `ui/tabs/` with a `render(key, api_url)` function that
lays out its components inside an open `gr.Tab`; this module only assembles them.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import gradio as gr

from ui.tabs import copy, images, service, translate, tryon, video

if TYPE_CHECKING:
    from serving.settings import Settings

__all__ = ["build_studio", "TABS"]

#: (tab title, render function) in display order; capabilities append theirs here.
TABS = [
    ("Service", service.render),
    ("AR try-on", tryon.render),
    ("Note copy", copy.render),
    ("Covers", images.render),
    ("Video", video.render),
    ("Translate", translate.render),
]


def _prefill_key(settings: Settings) -> str:
    """The dev key is offered only when the service listens on loopback: nobody else can reach the page."""
    try:
        loopback = ipaddress.ip_address(settings.host).is_loopback
    except ValueError:
        loopback = settings.host == "localhost"
    return (settings.dev_key or "") if loopback else ""


def build_studio(api_url: str, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="Note Studio") as studio:
        gr.Markdown(
            "# Note Studio\nNotes that sell — note copy, covers, videos, translation and AR try-on "
            "(moderation is in the API)."
        )
        key = gr.Textbox(label="API key", type="password", value=_prefill_key(settings))
        for title, render in TABS:
            with gr.Tab(title):
                render(key, api_url)
    return studio
