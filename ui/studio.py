"""The Gradio studio, mounted at /studio. A client of the HTTP API: it never imports generation internals.

Each capability contributes one tab module under `ui/tabs/` with a `render(key, api_url)` function that
lays out its components inside an open `gr.Tab`; this module only assembles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from serving.guards import STUDIO_PATH, is_loopback_bind, is_loopback_host
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


def _dev_key(settings: Settings):
    """The page's load event: the generated dev key, offered only when the service listens on loopback and the
    browser asked for it by a loopback name on our port. The key is never part of the page or `/studio/config`
    (anyone who can reach those could read it), and a DNS-rebinding page asks under its own name."""

    def key_for(request: gr.Request) -> str:
        host = request.headers.get("host") if request is not None else None
        offer = settings.dev_key and is_loopback_bind(settings.host) and is_loopback_host(host, settings.port)
        return settings.dev_key if offer else ""

    return key_for


#: Trade the key entered for the studio's session cookie: Gradio's uploads carry no key of their own.
_SESSION_JS = f"""(key) => {{
    if (key) fetch("{STUDIO_PATH}/session", {{method: "POST", headers: {{"Authorization": "Bearer " + key}}}});
    return [];
}}"""


def build_studio(api_url: str, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="Note Studio") as studio:
        gr.Markdown(
            "# Note Studio\nNotes that sell — note copy, covers, videos, translation and AR try-on "
            "(moderation is in the API)."
        )
        key = gr.Textbox(label="API key", type="password")
        for title, render in TABS:
            with gr.Tab(title):
                render(key, api_url)
        key.change(None, inputs=key, js=_SESSION_JS)
        if settings.dev_key:
            studio.load(_dev_key(settings), outputs=key, show_progress="hidden")
    return studio
