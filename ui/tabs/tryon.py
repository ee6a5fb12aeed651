"""AR try-on tab: makeup on a photo (before/after), live makeup on the webcam, garments on a photo, and the
merchant's own shades (added from a swatch photo).

A pure HTTP client: photos go to `POST /v1/tryon/makeup` / `garment`, webcam frames to `POST /v1/tryon/frames`
with a per-browser-tab session id (the server keeps the landmark smoothing state for it). The shade pickers list
`GET /v1/tryon/shades`: the built-in catalog and this key's own shades (marked "mine"); a swatch photo is measured
by `POST /v1/tryon/swatch` and saved with `POST /v1/tryon/shades`, then usable at once.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from ui.client import ApiClient, ApiClientError
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details

__all__ = ["render"]

PRODUCTS = ("lips", "blush", "eyeshadow", "eyeliner", "brows")
KINDS = ("lipstick", "blush", "eyeshadow")
GUESS = "guess from the photo"


def _label(shade: dict, mine_word: str = "mine") -> str:
    mine = f" · {mine_word}" if shade.get("source") == "merchant" else ""
    return f"{shade['id']} {shade['name']} ({shade['finish']}){mine}"


def _chip(hex_colour: str) -> np.ndarray:
    """A 96x96 patch of the measured colour."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return np.tile(np.array(rgb, np.uint8), (96, 96, 1))


def _png(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, quality=85)
    return buf.getvalue()


def _post_image(api: ApiClient, path: str, files: dict, data: dict) -> np.ndarray:
    """POST multipart asking for JSON (errors then come back as the API's one-line message); decode the image."""
    body = api.request("POST", path, files=files, data={**data, "output": "json"})
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(body["image_base64"]))).convert("RGB"))


def _skus(*choices: str | None) -> list[str]:
    return [c.split(" ", 1)[0] for c in choices if c]


#: The webcam loop (browser side): frames go from the camera to `POST /v1/tryon/frames` and back, no Python between.
WEBCAM_JS = (Path(__file__).parent / "webcam.js").read_text(encoding="utf-8")

#: Hands the key, intensity and chosen shades to the browser's loop (on start and on every change).
_WEBCAM_SET = """const shades = choices.filter(Boolean).map((c) => c.split(" ")[0]);
    window.nsWebcamSettings = {key: (key || "").trim(), intensity: Number(intensity), shades};"""
_WEBCAM_SETTINGS_JS = f"(key, intensity, ...choices) => {{ {_WEBCAM_SET} return []; }}"
_WEBCAM_START_JS = f"(key, intensity, ...choices) => {{ {_WEBCAM_SET} window.nsWebcam?.start(); return []; }}"
_WEBCAM_STOP_JS = "() => { window.nsWebcam?.stop(); return []; }"

#: The camera (hidden), the tried-on frames (shown as a mirror, as selfie cameras do) and a status line.
_WEBCAM_HTML = """<div class="ns-webcam" data-hint="{hint}" data-limited="{limited}">
  <video muted playsinline style="display:none"></video>
  <canvas class="ns-webcam-out" data-frames="0" style="max-width:100%; transform:scaleX(-1)"></canvas>
  <div class="ns-webcam-status" aria-live="polite"></div>
</div>"""


def _webcam(key: gr.Textbox, intensity: gr.Slider, pickers: list[gr.Dropdown]) -> None:
    """Live makeup on the webcam at the camera's frame rate: the browser posts each frame to the API itself (a
    Gradio stream adds a Python hop, PNG files and a queue per frame: ~4 fps here); the session id is the
    browser's, so the server's landmark smoothing follows this one stream."""
    tr = translator()
    inputs = [key, intensity, *pickers]
    with gr.Row():
        start = gr.Button(tr("tryon.start"), variant="primary", elem_id="ns-webcam-start")
        stop = gr.Button(tr("tryon.stop"), elem_id="ns-webcam-stop")
    hint = tr("tryon.webcam_hint")
    limited = tr("tryon.webcam_limited")
    panel = _WEBCAM_HTML.format(hint=html.escape(hint), limited=html.escape(limited))
    gr.HTML(panel, js_on_load=WEBCAM_JS, elem_id="ns-webcam")
    start.click(None, inputs, js=_WEBCAM_START_JS)
    stop.click(None, js=_WEBCAM_STOP_JS)
    for control in inputs:
        control.change(None, inputs, js=_WEBCAM_SETTINGS_JS)


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()
    mine = tr("tryon.mine")

    def load_shades(api_key: str):
        try:
            shades = client_for(api_url, api_key, tr.lang).request("GET", "/v1/tryon/shades")["shades"]
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        own = [_label(s, mine) for s in shades if s.get("source") == "merchant"]
        return [gr.update(choices=[_label(s, mine) for s in shades if s["product"] == p]) for p in PRODUCTS] + [
            gr.update(choices=own, value=None)
        ]

    def measure(api_key: str, photo: np.ndarray | None, background: str):
        if photo is None:
            raise gr.Error(tr("tryon.no_swatch"))
        try:
            files = {"photo": ("swatch.png", _png(photo))}
            swatch = client_for(api_url, api_key, tr.lang).request(
                "POST", "/v1/tryon/swatch", files=files, data={"background": background}
            )
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return _chip(swatch["hex"]), swatch

    def save_swatch(api_key: str, photo: np.ndarray | None, name: str, kind: str, finish: str, background: str):
        if photo is None:
            raise gr.Error(tr("tryon.no_swatch"))
        if not name.strip():
            raise gr.Error(tr("tryon.no_name"))
        data = {"name": name.strip(), "kind": kind, "background": background}
        if finish != GUESS:
            data["finish"] = finish
        try:
            files = {"photo": ("swatch.png", _png(photo))}
            shade = client_for(api_url, api_key, tr.lang).request("POST", "/v1/tryon/shades", files=files, data=data)
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        gr.Info(tr("tryon.saved", name=shade["name"], hex=shade["hex"], finish=shade["finish"], id=shade["id"]))
        return [_chip(shade["hex"]), shade, *load_shades(api_key)]

    def delete_own(api_key: str, choice: str | None):
        if not choice:
            raise gr.Error(tr("tryon.pick_own"))
        try:
            client_for(api_url, api_key, tr.lang).request("DELETE", f"/v1/tryon/shades/{_skus(choice)[0]}")
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return load_shades(api_key)

    def makeup(api_key: str, photo: np.ndarray | None, intensity: float, all_faces: bool, *choices: str | None):
        if photo is None:
            raise gr.Error(tr("tryon.no_photo"))
        skus = _skus(*choices)
        if not skus:
            raise gr.Error(tr("tryon.no_shade"))
        data = {"shade": skus, "intensity": str(intensity), "faces": "all" if all_faces else "largest"}
        try:
            out = _post_image(
                client_for(api_url, api_key, tr.lang), "/v1/tryon/makeup", {"image": ("p.png", _png(photo))}, data
            )
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return photo, out

    def garment(api_key: str, photo: np.ndarray | None, piece: np.ndarray | None, category: str):
        if photo is None or piece is None:
            raise gr.Error(tr("tryon.no_garment"))
        files = {"image": ("p.png", _png(photo)), "garment": ("g.png", _png(piece))}
        try:
            out = _post_image(client_for(api_url, api_key, tr.lang), "/v1/tryon/garment", files, {"category": category})
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return photo, out

    with gr.Row():
        load = gr.Button(tr("tryon.load"), min_width=120)
        intensity = gr.Slider(0.0, 1.0, value=0.8, step=0.05, label=tr("tryon.intensity"), min_width=160)
        all_faces = gr.Checkbox(label=tr("tryon.all_faces"), value=False, min_width=120)
    with gr.Row():
        pickers = [
            gr.Dropdown(label=tr(f"tryon.product_{p}"), choices=[], value=None, allow_custom_value=False, min_width=160)
            for p in PRODUCTS
        ]
    with gr.Accordion(tr("tryon.my_shades_title"), open=False):
        with gr.Row(equal_height=False):
            swatch_photo = gr.Image(label=tr("tryon.swatch_photo"), type="numpy", sources=["upload"], min_width=260)
            with gr.Column(min_width=260):
                shade_name = gr.Textbox(label=tr("tryon.shade_name"), placeholder=tr("tryon.shade_name_hint"))
                shade_kind = gr.Radio(
                    [(tr(f"tryon.kind_{k}"), k) for k in KINDS], value="lipstick", label=tr("tryon.kind")
                )
                finishes = [(tr("tryon.finish_guess"), GUESS)] + [
                    (tr(f"tryon.finish_{f}"), f) for f in ("matte", "satin", "gloss", "shimmer")
                ]
                shade_finish = gr.Dropdown(finishes, value=GUESS, label=tr("tryon.finish"))
                swatch_background = gr.Radio(
                    [(tr(f"tryon.background_{b}"), b) for b in ("auto", "neutral", "skin")],
                    value="auto",
                    label=tr("tryon.background"),
                )
            with gr.Column(min_width=200):
                chip = gr.Image(label=tr("tryon.chip"), interactive=False, height=120)
                with details():
                    measured = gr.JSON(label=tr("tryon.measurement"))
        with gr.Row():
            measure_btn = gr.Button(tr("tryon.measure"), min_width=120)
            save_btn = gr.Button(tr("tryon.save"), variant="primary", min_width=120)
        with gr.Row(equal_height=False):
            own = gr.Dropdown(label=tr("tryon.own"), choices=[], value=None, allow_custom_value=False, min_width=200)
            delete_btn = gr.Button(tr("tryon.delete"), variant="stop", min_width=120)
    load.click(load_shades, key, [*pickers, own])
    measure_btn.click(measure, [key, swatch_photo, swatch_background], [chip, measured])
    save_btn.click(
        save_swatch,
        [key, swatch_photo, shade_name, shade_kind, shade_finish, swatch_background],
        [chip, measured, *pickers, own],
    )
    delete_btn.click(delete_own, [key, own], [*pickers, own])
    with gr.Tab(tr("tryon.photo_tab")):
        photo = gr.Image(label=tr("tryon.photo"), type="numpy", sources=["upload"])
        apply_btn = gr.Button(tr("tryon.try_on"), variant="primary")
        with gr.Row():
            before = gr.Image(label=tr("tryon.before"), interactive=False, min_width=160)
            after = gr.Image(label=tr("tryon.after"), interactive=False, min_width=160)
        apply_btn.click(makeup, [key, photo, intensity, all_faces, *pickers], [before, after])
    with gr.Tab(tr("tryon.webcam_tab")):
        _webcam(key, intensity, pickers)
    with gr.Tab(tr("tryon.garment_tab")):
        with gr.Row():
            person = gr.Image(label=tr("tryon.photo"), type="numpy", sources=["upload"], min_width=160)
            piece = gr.Image(label=tr("tryon.garment"), type="numpy", image_mode="RGBA", min_width=160)
        category = gr.Radio(
            [(tr(f"tryon.category_{c}"), c) for c in ("upper", "lower", "dress")],
            value="upper",
            label=tr("tryon.category"),
        )
        dress_btn = gr.Button(tr("tryon.dress"), variant="primary")
        with gr.Row():
            g_before = gr.Image(label=tr("tryon.before"), interactive=False, min_width=160)
            g_after = gr.Image(label=tr("tryon.after"), interactive=False, min_width=160)
        dress_btn.click(garment, [key, person, piece, category], [g_before, g_after])
