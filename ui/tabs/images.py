"""Images tab (封面): product photos + the note's title -> covers in several templates, a ZIP to download.

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
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details, parse_price, price_box

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
    lang: str | None = None,
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
    if (value := parse_price(price, lang=lang)) is not None:
        spec["price"] = value
    if template and template != AUTO:
        spec["template"] = template
    first = int(seed) if seed not in (None, "") else 0
    return [{"spec": {**spec, "seed": first + i}, "photos": encoded} for i in range(int(count))]


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def load_templates(api_key: str, current: str | None = AUTO) -> gr.Dropdown:
        try:
            listed = client_for(api_url, api_key, tr.lang).request("GET", "/v1/images/templates")
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        names = [t["name"] for t in listed]
        return gr.Dropdown(choices=[(tr("images.auto"), AUTO), *[(_template_label(t), t["name"]) for t in listed]],
                           value=current if current in names else AUTO)  # fmt: skip

    def make(api_key: str, photos: list[str] | None, *fields: Any, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not photos:
            raise gr.Error(tr("images.no_photos"))
        if not (fields[0] or "").strip():
            raise gr.Error(tr("error.required", field=tr("images.title")))
        items = cover_items(list(photos), *fields, lang=tr.lang)
        api = client_for(api_url, api_key, tr.lang)
        out = Path(tempfile.mkdtemp(prefix="covers-"))
        try:
            if len(items) == 1:
                progress(0.1, desc=tr("images.making"))
                cover = api.request("POST", "/v1/images", json={"items": items, "output": "jpeg"})
                path = out / "cover-0000.jpg"
                path.write_bytes(base64.b64decode(cover["image_base64"]))
                return [(str(path), _caption(cover["info"]))], None, cover
            job = api.request("POST", "/v1/images", json={"items": items, "output": "jpeg"})
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m))
            if job["state"] != "succeeded":
                raise gr.Error(tr("batch.job_failed", what=tr("batch.covers"), state=job["state"],
                                  message=job.get("error") or job["message"]))  # fmt: skip
            gallery = []
            for entry in job["result"]["results"]:
                if "error" in entry:
                    error = entry["error"]
                    raise gr.Error(tr("error.field", field=error.get("param") or "items", message=error["message"]))
                path = out / entry["artifact"]
                path.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/{entry['artifact']}"))
                gallery.append((str(path), _caption(entry["info"])))
            archive = out / "covers.zip"
            archive.write_bytes(api.download(f"/v1/jobs/{job['id']}/artifacts/covers.zip"))
            return gallery, str(archive), job["result"]
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photos = gr.File(label=tr("images.photos"), file_count="multiple", file_types=["image"], type="filepath",
                             elem_id="ns-cover-photos")  # fmt: skip
            title = gr.Textbox(label=tr("images.title"), placeholder="夏天通勤必备的清爽防晒", elem_id="ns-cover-title")
            subtitle = gr.Textbox(label=tr("images.subtitle"))
            points = gr.Textbox(label=tr("images.points"), lines=3)
            with gr.Row():
                price = price_box()
                badge = gr.Textbox(label=tr("images.badge"), placeholder="新品 / 限时 / 必入", min_width=120)
            with gr.Row(equal_height=False):
                preset = gr.Radio(["3:4", "1:1", "9:16"], value="3:4", label=tr("images.preset"), min_width=160)
                template = gr.Dropdown([(tr("images.auto"), AUTO)], value=AUTO, label=tr("images.template"),
                                       allow_custom_value=False, min_width=160)  # fmt: skip
            templates_btn = gr.Button(tr("images.load_templates"), size="sm")
            with gr.Row():
                seed = gr.Number(label=tr("images.seed"), value=0, precision=0, min_width=120)
                count = gr.Slider(1, 6, value=4, step=1, label=tr("images.count"), min_width=160)
            make_btn = gr.Button(tr("images.make"), variant="primary", elem_id="ns-make-covers")
        with gr.Column(min_width=300):
            # "contain": a 3:4 cover is shown whole in its cell, never cropped (a crop cut titles off)
            gallery = gr.Gallery(label=tr("images.covers"), columns=2, height="auto", object_fit="contain")
            archive = gr.File(label=tr("images.zip"))
            with details():
                raw = gr.JSON(label=tr("common.api_response"))
    templates_btn.click(load_templates, [key, template], template)
    photos.upload(load_templates, [key, template], template)  # the picker fills once there is something to cover
    fields = [title, subtitle, points, price, badge, preset, template, seed, count]
    make_btn.click(make, [key, photos, *fields], [gallery, archive, raw])


def _template_label(template: dict[str, Any]) -> str:
    shown = template.get("display_name") or template.get("title")
    return f"{template['name']} · {shown}" if shown and shown != template["name"] else template["name"]


def _caption(info: dict[str, Any]) -> str:
    return f"{info['template']} · seed {info['seed']} · {info['engine']}"
