"""Covers tab: product photos + the note's title -> covers in several templates, a ZIP to download.

A pure HTTP client of `GET /v1/images/templates` and `POST /v1/images` (several covers run as a job with a
progress bar; the covers and `covers.zip` come back as the job's artifacts).
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.tabs.common import client_for, parse_price, price_box

__all__ = ["render", "cover_items"]

AUTO = "auto (by seed)"


def cover_items(
    photos: list[str],
    title: str,
    subtitle: str,
    points: str,
    price: str | float | None,
    badge: str,
    preset: str,
    template: str,
    seed: float | None,
    count: float,
) -> list[dict[str, Any]]:
    """The form as `POST /v1/images` items: `count` covers with seeds seed, seed+1, ... (one template each
    when the template is left on auto). Empty fields mean "not given" (never a price of 0)."""
    encoded = [base64.b64encode(Path(p).read_bytes()).decode("ascii") for p in photos]
    spec: dict[str, Any] = {
        "title": title,
        "subtitle": subtitle,
        "points": [p.strip() for p in points.splitlines() if p.strip()],
        "badge": badge,
        "preset": preset,
    }
    if (value := parse_price(price)) is not None:
        spec["price"] = value
    if template and template != AUTO:
        spec["template"] = template
    first = int(seed) if seed not in (None, "") else 0
    return [{"spec": {**spec, "seed": first + i}, "photos": encoded} for i in range(int(count))]


def render(key: gr.Textbox, api_url: str) -> None:
    def load_templates(api_key: str, current: str | None = AUTO) -> gr.Dropdown:
        try:
            names = [t["name"] for t in client_for(api_url, api_key).request("GET", "/v1/images/templates")]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return gr.Dropdown(choices=[AUTO, *names], value=current if current in names else AUTO)

    def make(api_key: str, photos: list[str] | None, *fields: Any, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not photos:
            raise gr.Error("Add 1-4 product photos.")
        items = cover_items(list(photos), *fields)
        api = client_for(api_url, api_key)
        out = Path(tempfile.mkdtemp(prefix="covers-"))
        try:
            if len(items) == 1:
                cover = api.request("POST", "/v1/images", json={"items": items, "output": "jpeg"})
                path = out / "cover-0000.jpg"
                path.write_bytes(base64.b64decode(cover["image_base64"]))
                return [(str(path), _caption(cover["info"]))], None, cover
            job = api.request("POST", "/v1/images", json={"items": items, "output": "jpeg"})
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m))
            if job["state"] != "succeeded":
                raise gr.Error(f"covers {job['state']}: {job.get('error') or job['message']}")
            gallery = []
            for entry in job["result"]["results"]:
                if "error" in entry:
                    raise gr.Error(entry["error"]["message"])
                path = out / entry["artifact"]
                path.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/{entry['artifact']}"))
                gallery.append((str(path), _caption(entry["info"])))
            archive = out / "covers.zip"
            archive.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/covers.zip"))
            return gallery, str(archive), job["result"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc

    with gr.Row():
        with gr.Column():
            photos = gr.File(label="Product photos (1-4)", file_count="multiple", file_types=["image"], type="filepath")
            title = gr.Textbox(label="Title", placeholder="夏天通勤必备的清爽防晒")
            subtitle = gr.Textbox(label="Subtitle")
            points = gr.Textbox(label="Selling points (one per line, up to 4)", lines=3)
            with gr.Row():
                price = price_box("Price (CNY, optional)")
                badge = gr.Textbox(label="Badge", placeholder="新品 / 限时 / 必入")
            with gr.Row():
                preset = gr.Radio(["3:4", "1:1", "9:16"], value="3:4", label="Preset")
                template = gr.Dropdown([AUTO], value=AUTO, label="Template", allow_custom_value=False)
                templates_btn = gr.Button("Load templates", size="sm")
            with gr.Row():
                seed = gr.Number(label="First seed", value=0, precision=0)
                count = gr.Slider(1, 6, value=4, step=1, label="Covers")
            make_btn = gr.Button("Make covers", variant="primary")
        with gr.Column():
            gallery = gr.Gallery(label="Covers", columns=2, height="auto")
            archive = gr.File(label="Download all (ZIP)")
            with gr.Accordion("details", open=False):
                raw = gr.JSON(label="API response")
    templates_btn.click(load_templates, [key, template], template)
    photos.upload(load_templates, [key, template], template)  # the picker fills once there is something to cover
    fields = [title, subtitle, points, price, badge, preset, template, seed, count]
    make_btn.click(make, [key, photos, *fields], [gallery, archive, raw])


def _caption(info: dict[str, Any]) -> str:
    return f"{info['template']} · seed {info['seed']} · {info['engine']}"
