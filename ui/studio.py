"""The Gradio studio, mounted at /studio (Chinese) and /studio/en (English). A client of the HTTP API: it never
imports generation internals.

Each capability contributes one tab module under `ui/tabs/` with a `render(key, api_url)` function that lays out
its components inside an open `gr.Tab`; this module only assembles them, once per language. The words come from
`ui/data/strings.yaml` (`ui.i18n`); while a language's Blocks are built it is the current language, so tabs ask
`ui.i18n.translator()` for their words. Each page links to the other language at the top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from serving.guards import STUDIO_PATH, is_loopback_bind, is_loopback_host
from ui.html import CSS
from ui.i18n import DEFAULT_LANG, LANGS, t, using
from ui.tabs import copy, images, moderation, service, translate, tryon, video

if TYPE_CHECKING:
    from fastapi import FastAPI

    from serving.settings import Settings

__all__ = ["build_studio", "mount_studio", "studio_path", "TABS", "STUDIO_CSS"]

#: (tab name, render function) in display order, merchants' tabs first; the title is the string `tab.<name>`.
TABS: list[tuple[str, Callable[[gr.Textbox, str], None]]] = [
    ("notes", copy.render),
    ("images", images.render),
    ("video", video.render),
    ("translate", translate.render),
    ("tryon", tryon.render),
    ("moderation", moderation.render),
    ("service", service.render),
]

#: Page styles: the cards' (`ui.html.CSS`), and a layout that wraps to one column on a phone.
STUDIO_CSS = (
    CSS
    + """
.ns-langs { text-align: right; font-size: 0.95em; }
.ns-langs a { margin-left: 6px; }
.ns-langs b { margin-left: 6px; }
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  .tab-wrapper button, [role="tab"] { padding-left: 8px !important; padding-right: 8px !important; }
}
"""
)


def studio_path(lang: str) -> str:
    """Where the studio of `lang` is mounted: the default language at /studio, others at /studio/<lang>."""
    return STUDIO_PATH if lang == DEFAULT_LANG else f"{STUDIO_PATH}/{lang}"


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


def _language_links(lang: str) -> str:
    links = []
    for other in LANGS:
        name = t("studio.lang_name", other)
        if other == lang:
            links.append(f"<b>{name}</b>")
        else:
            links.append(f'<a href="{studio_path(other)}/" hreflang="{other}" lang="{other}">{name}</a>')
    return '<div class="ns-langs">' + " | ".join(links) + "</div>"


def build_studio(api_url: str, settings: Settings, lang: str = DEFAULT_LANG) -> gr.Blocks:
    """The studio in `lang` (`zh` or `en`): the header with the language switch, the API key, every tab."""
    with using(lang), gr.Blocks(title=t("studio.title")) as studio:
        with gr.Row(equal_height=False):
            gr.Markdown("# Note Studio", min_width=200)
            gr.HTML(_language_links(lang), min_width=120, elem_id="ns-langs")
        gr.Markdown(t("studio.tagline"))
        key = gr.Textbox(
            label=t("studio.key"), info=t("studio.key_info"), type="password", elem_id="ns-api-key", max_lines=1
        )
        for name, render in TABS:
            with gr.Tab(t(f"tab.{name}"), id=name, elem_id=f"ns-tab-{name}"):
                render(key, api_url)
        key.change(None, inputs=key, js=_SESSION_JS)
        if settings.dev_key:
            studio.load(_dev_key(settings), outputs=key, show_progress="hidden")
    return studio


def mount_studio(app: FastAPI, api_url: str, settings: Settings) -> FastAPI:
    """Mount the studio of every language on `app` (/studio/en before /studio, which would otherwise take its
    paths); `/studio/en` without the slash redirects like `/studio` does."""
    from starlette.responses import RedirectResponse

    for lang in sorted(LANGS, key=lambda code: code == DEFAULT_LANG):
        path = studio_path(lang)
        if lang != DEFAULT_LANG:
            app.add_route(path, lambda request, to=path + "/": RedirectResponse(to), include_in_schema=False)
        app = gr.mount_gradio_app(app, build_studio(api_url, settings, lang), path=path, css=STUDIO_CSS)
    return app
