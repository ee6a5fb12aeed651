"""Video tab: product photos + the note's words (+ an audio track) -> a 9:16 slideshow MP4, with a progress bar.

A pure HTTP client of `POST /v1/videos` (always a job): progress by frames while it encodes, then the player and
the file to download (`video.mp4`, the job's artifact).
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.tabs.common import client_for, parse_price, price_box

__all__ = ["render", "video_body"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def video_body(
    photos: list[str],
    audio: str | None,
    title: str,
    lines: str,
    hashtags: str,
    price: str | float | None,
    duration: float,
    transition: str,
    seed: float | None,
) -> dict[str, Any]:
    """The form as the `POST /v1/videos` body. Empty fields mean "not given" (never a price of 0)."""
    body: dict[str, Any] = {
        "photos": [base64.b64encode(Path(p).read_bytes()).decode("ascii") for p in photos],
        "title": (title or "").strip(),
        "lines": _lines(lines),
        "hashtags": [t.lstrip("#＃") for t in (hashtags or "").replace("＃", "#").replace("#", " ").split() if t],
        "duration": float(duration),
        "transition": transition,
    }
    if audio:
        body["audio"] = base64.b64encode(Path(audio).read_bytes()).decode("ascii")
    if (value := parse_price(price)) is not None:
        body["price"] = value
    if seed not in (None, ""):
        body["seed"] = int(seed)
    return body


def render(key: gr.Textbox, api_url: str) -> None:
    def make(api_key: str, photos: list[str] | None, audio: str | None, *fields: Any, progress=gr.Progress()):  # noqa: B008
        if not photos:
            raise gr.Error("Add 1-12 product photos.")
        body = video_body(list(photos), audio, *fields)
        api = client_for(api_url, api_key)
        try:
            job = api.request("POST", "/v1/videos", json=body)
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m or "queued"))
            if job["state"] != "succeeded":
                raise gr.Error(f"video {job['state']}: {job.get('error') or job['message']}")
            out = Path(tempfile.mkdtemp(prefix="video-")) / "video.mp4"
            out.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/video.mp4"))
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        result = job["result"]
        summary = (
            f"{result['width']}x{result['height']} · {result['duration']:.1f} s · {result['fps']} fps · "
            f"{result['bytes'] / 2**20:.1f} MiB · seed {result['seed']} · {result['engine']}"
        )
        return str(out), str(out), summary, result

    with gr.Row():
        with gr.Column():
            photos = gr.File(
                label="Product photos (1-12)", file_count="multiple", file_types=["image"], type="filepath"
            )
            title = gr.Textbox(label="Title (the cover, first frame)", placeholder="夏天通勤必备的清爽防晒")
            lines = gr.Textbox(label="Captions (one per line, 2-4)", lines=3, placeholder="清爽不油腻\n一抹成膜不泛白")
            hashtags = gr.Textbox(label="Hashtags (shown at the end)", placeholder="#防晒 #通勤")
            with gr.Row():
                price = price_box("Price (CNY, optional)")
                duration = gr.Slider(6, 60, value=15, step=1, label="Duration (s)")
            with gr.Row():
                transition = gr.Radio(["crossfade", "cut"], value="crossfade", label="Transition")
                seed = gr.Number(label="Seed (optional)", value=None, precision=0)
            audio = gr.File(
                label="Audio track (optional: mp3, m4a, wav, ogg, flac)", file_types=["audio"], type="filepath"
            )
            make_btn = gr.Button("Make video", variant="primary")
        with gr.Column():
            player = gr.Video(label="Video", height=560)
            download = gr.File(label="Download (MP4)")
            summary = gr.Markdown()
            with gr.Accordion("details", open=False):
                raw = gr.JSON(label="API response")
    fields = [title, lines, hashtags, price, duration, transition, seed]
    make_btn.click(make, [key, photos, audio, *fields], [player, download, summary, raw])
