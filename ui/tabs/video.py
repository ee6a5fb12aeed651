"""Video tab (视频): product photos + the note's words (+ an audio track) -> a 9:16 slideshow MP4, with a progress bar.

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
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details, parse_price, price_box

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
    lang: str | None = None,
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
    if (value := parse_price(price, lang=lang)) is not None:
        body["price"] = value
    if seed not in (None, ""):
        body["seed"] = int(seed)
    return body


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def make(api_key: str, photos: list[str] | None, audio: str | None, *fields: Any, progress=gr.Progress()):  # noqa: B008
        if not photos:
            raise gr.Error(tr("video.no_photos"))
        body = video_body(list(photos), audio, *fields, lang=tr.lang)
        api = client_for(api_url, api_key, tr.lang)
        try:
            progress(0, desc=tr("video.queued"))
            job = api.request("POST", "/v1/videos", json=body)
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m or tr("video.queued")))
            if job["state"] != "succeeded":
                raise gr.Error(tr("batch.job_failed", what=tr("video.video"), state=job["state"],
                                  message=job.get("error") or job["message"]))  # fmt: skip
            out = Path(tempfile.mkdtemp(prefix="video-")) / "video.mp4"
            out.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/video.mp4"))
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        result = job["result"]
        summary = (
            f"{result['width']}x{result['height']} · {result['duration']:.1f} s · {result['fps']} fps · "
            f"{result['bytes'] / 2**20:.1f} MiB · seed {result['seed']} · {tr('card.written_by')}: {result['engine']}"
        )
        return str(out), str(out), summary, result

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photos = gr.File(label=tr("video.photos"), file_count="multiple", file_types=["image"], type="filepath",
                             elem_id="ns-video-photos")  # fmt: skip
            title = gr.Textbox(label=tr("video.title"), placeholder="夏天通勤必备的清爽防晒", elem_id="ns-video-title")
            lines = gr.Textbox(label=tr("video.captions"), lines=3, placeholder="清爽不油腻\n一抹成膜不泛白",
                               elem_id="ns-video-captions")  # fmt: skip
            hashtags = gr.Textbox(label=tr("video.hashtags"), placeholder="#防晒 #通勤")
            with gr.Row():
                price = price_box()
                duration = gr.Slider(6, 60, value=15, step=1, label=tr("video.duration"), min_width=160,
                                     elem_id="ns-video-duration")  # fmt: skip
            with gr.Row():
                transition = gr.Radio([(tr("video.crossfade"), "crossfade"), (tr("video.cut"), "cut")],
                                      value="crossfade", label=tr("video.transition"), min_width=160)  # fmt: skip
                seed = gr.Number(label=tr("notes.seed"), value=None, precision=0, min_width=120)
            audio = gr.File(label=tr("video.audio"), file_types=["audio"], type="filepath")
            make_btn = gr.Button(tr("video.make"), variant="primary", elem_id="ns-make-video")
        with gr.Column(min_width=300):
            player = gr.Video(label=tr("video.video"), height=560)
            download = gr.File(label=tr("video.download"))
            summary = gr.Markdown()
            with details():
                raw = gr.JSON(label=tr("common.api_response"))
    fields = [title, lines, hashtags, price, duration, transition, seed]
    make_btn.click(make, [key, photos, audio, *fields], [player, download, summary, raw])
