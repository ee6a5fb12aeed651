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
from ui.tabs.common import client_for

__all__ = ["render"]

PRODUCTS = ("lips", "blush", "eyeshadow", "eyeliner", "brows")
KINDS = ("lipstick", "blush", "eyeshadow")
GUESS = "guess from the photo"


def _label(shade: dict) -> str:
    mine = " · mine" if shade.get("source") == "merchant" else ""
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
    inputs = [key, intensity, *pickers]
    with gr.Row():
        start = gr.Button("Start webcam", variant="primary", elem_id="ns-webcam-start")
        stop = gr.Button("Stop", elem_id="ns-webcam-stop")
    hint = "Pick a shade (Load shades) to try it on."
    limited = "slowed to the key's rate limit"
    panel = _WEBCAM_HTML.format(hint=html.escape(hint), limited=html.escape(limited))
    gr.HTML(panel, js_on_load=WEBCAM_JS, elem_id="ns-webcam")
    start.click(None, inputs, js=_WEBCAM_START_JS)
    stop.click(None, js=_WEBCAM_STOP_JS)
    for control in inputs:
        control.change(None, inputs, js=_WEBCAM_SETTINGS_JS)


def render(key: gr.Textbox, api_url: str) -> None:
    def load_shades(api_key: str):
        try:
            shades = client_for(api_url, api_key).request("GET", "/v1/tryon/shades")["shades"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        own = [_label(s) for s in shades if s.get("source") == "merchant"]
        return [gr.update(choices=[_label(s) for s in shades if s["product"] == p]) for p in PRODUCTS] + [
            gr.update(choices=own, value=None)
        ]

    def measure(api_key: str, photo: np.ndarray | None, background: str):
        if photo is None:
            raise gr.Error("Upload a swatch photo first.")
        try:
            files = {"photo": ("swatch.png", _png(photo))}
            swatch = client_for(api_url, api_key).request(
                "POST", "/v1/tryon/swatch", files=files, data={"background": background}
            )
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return _chip(swatch["hex"]), swatch

    def save_swatch(api_key: str, photo: np.ndarray | None, name: str, kind: str, finish: str, background: str):
        if photo is None:
            raise gr.Error("Upload a swatch photo first.")
        if not name.strip():
            raise gr.Error("Name the shade.")
        data = {"name": name.strip(), "kind": kind, "background": background}
        if finish != GUESS:
            data["finish"] = finish
        try:
            files = {"photo": ("swatch.png", _png(photo))}
            shade = client_for(api_url, api_key).request("POST", "/v1/tryon/shades", files=files, data=data)
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Saved {shade['name']} ({shade['hex']}, {shade['finish']}) as {shade['id']}")
        return [_chip(shade["hex"]), shade, *load_shades(api_key)]

    def delete_own(api_key: str, choice: str | None):
        if not choice:
            raise gr.Error("Pick one of your shades to delete.")
        try:
            client_for(api_url, api_key).request("DELETE", f"/v1/tryon/shades/{_skus(choice)[0]}")
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return load_shades(api_key)

    def makeup(api_key: str, photo: np.ndarray | None, intensity: float, all_faces: bool, *choices: str | None):
        if photo is None:
            raise gr.Error("Upload a photo first.")
        skus = _skus(*choices)
        if not skus:
            raise gr.Error("Pick at least one shade (press 'Load shades').")
        data = {"shade": skus, "intensity": str(intensity), "faces": "all" if all_faces else "largest"}
        try:
            out = _post_image(client_for(api_url, api_key), "/v1/tryon/makeup", {"image": ("p.png", _png(photo))}, data)
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return photo, out

    def garment(api_key: str, photo: np.ndarray | None, piece: np.ndarray | None, category: str):
        if photo is None or piece is None:
            raise gr.Error("Upload a photo and a garment image.")
        files = {"image": ("p.png", _png(photo)), "garment": ("g.png", _png(piece))}
        try:
            out = _post_image(client_for(api_url, api_key), "/v1/tryon/garment", files, {"category": category})
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return photo, out

    with gr.Row():
        load = gr.Button("Load shades")
        intensity = gr.Slider(0.0, 1.0, value=0.8, step=0.05, label="intensity")
        all_faces = gr.Checkbox(label="all faces", value=False)
    with gr.Row():
        pickers = [gr.Dropdown(label=p, choices=[], value=None, allow_custom_value=False) for p in PRODUCTS]
    with gr.Accordion("My shades: add from swatch photo", open=False):
        with gr.Row():
            swatch_photo = gr.Image(label="swatch photo (on plain paper or skin)", type="numpy", sources=["upload"])
            with gr.Column():
                shade_name = gr.Textbox(label="shade name", placeholder="e.g. Rose Glaze")
                shade_kind = gr.Radio(list(KINDS), value="lipstick", label="kind")
                shade_finish = gr.Dropdown([GUESS, "matte", "satin", "gloss", "shimmer"], value=GUESS, label="finish")
                swatch_background = gr.Radio(["auto", "neutral", "skin"], value="auto", label="background")
            with gr.Column():
                chip = gr.Image(label="measured colour", interactive=False, height=120)
                measured = gr.JSON(label="measurement")
        with gr.Row():
            measure_btn = gr.Button("Measure")
            save_btn = gr.Button("Save to my shades", variant="primary")
        with gr.Row():
            own = gr.Dropdown(label="my shades", choices=[], value=None, allow_custom_value=False)
            delete_btn = gr.Button("Delete selected", variant="stop")
    load.click(load_shades, key, [*pickers, own])
    measure_btn.click(measure, [key, swatch_photo, swatch_background], [chip, measured])
    save_btn.click(
        save_swatch,
        [key, swatch_photo, shade_name, shade_kind, shade_finish, swatch_background],
        [chip, measured, *pickers, own],
    )
    delete_btn.click(delete_own, [key, own], [*pickers, own])
    with gr.Tab("Photo"):
        photo = gr.Image(label="photo", type="numpy", sources=["upload"])
        apply_btn = gr.Button("Try on", variant="primary")
        with gr.Row():
            before = gr.Image(label="before", interactive=False)
            after = gr.Image(label="after", interactive=False)
        apply_btn.click(makeup, [key, photo, intensity, all_faces, *pickers], [before, after])
    with gr.Tab("Webcam"):
        _webcam(key, intensity, pickers)
    with gr.Tab("Garment"):
        with gr.Row():
            person = gr.Image(label="photo", type="numpy", sources=["upload"])
            piece = gr.Image(label="garment (PNG with alpha, or plain background)", type="numpy", image_mode="RGBA")
        category = gr.Radio(["upper", "lower", "dress"], value="upper", label="category")
        dress_btn = gr.Button("Dress", variant="primary")
        with gr.Row():
            g_before = gr.Image(label="before", interactive=False)
            g_after = gr.Image(label="after", interactive=False)
        dress_btn.click(garment, [key, person, piece, category], [g_before, g_after])
