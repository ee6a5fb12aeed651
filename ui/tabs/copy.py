"""Notes tab (笔记): one product -> note cards, or a file of products as a batch job -> a ZIP to download.

A pure HTTP client of `POST /v1/copy/notes`, `POST /v1/copy/notes/batch` and (for the batch's covers)
`POST /v1/images`: it never imports `generation` internals, so the studio shows exactly what the API returns
(engine, model, compliance). Raw JSON stays in the collapsed details.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ui.batch import BatchFileError, build_zip, read_products
from ui.client import ApiClient, ApiClientError
from ui.html import COPY_JS, note_cards
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details, parse_price, price_box

__all__ = ["render", "format_drafts", "request_body", "cover_item"]

STYLES = ["种草", "测评", "教程", "合集", "开箱"]
_STATUS = {"clean": "✅ clean", "rewritten": "✏️ rewritten to comply", "flagged": "⚠️ flagged: do not post as is"}
#: Covers per `POST /v1/images` job (the API's batch limit).
_COVERS_PER_JOB = 200


def request_body(
    product: str,
    brand: str,
    category: str,
    price: str | float | None,
    points: str,
    audience: str,
    scenario: str,
    style: str,
    tone: str,
    length: str,
    language: str,
    n: float,
    seed: float | None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The form as the API's JSON body (selling points one per line). An empty price is not sent."""
    body: dict[str, Any] = {
        "product": product,
        "brand": brand,
        "category": category,
        "selling_points": [p.strip() for p in points.splitlines() if p.strip()],
        "audience": audience,
        "scenario": scenario,
        "style": style,
        "tone": tone,
        "length": length,
        "language": language,
        "n": int(n),
    }
    if (value := parse_price(price, lang=lang)) is not None:
        body["price"] = value
    if seed not in (None, ""):
        body["seed"] = int(seed)
    return body


def format_drafts(response: dict[str, Any]) -> str:
    """Markdown of every draft: titles, body, hashtags, compliance verdict and who wrote it."""
    parts = []
    for draft in response["drafts"]:
        compliance = draft["compliance"]
        status = _STATUS.get(compliance["status"], compliance["status"])
        rewrites = "".join(f"\n- {r['original']} → {r['replacement']}" for r in compliance["rewrites"])
        remaining = ", ".join(label["code"] for label in compliance["remaining"])
        filled = ", ".join(draft.get("filled") or [])
        parts.append(
            f"### Variant {draft['variant'] + 1} (seed {draft['seed']})\n"
            + "\n".join(f"{i}. {title}" for i, title in enumerate(draft["titles"], 1))
            + f"\n\n{draft['body']}\n\n{' '.join('#' + t for t in draft['hashtags'])}\n\n"
            f"**{status}**{rewrites}"
            + (f"\n\nremaining: {remaining}" if remaining else "")
            + (f"\n\n_completed from your facts, not written by the model: {filled}_" if filled else "")
        )
    model = response.get("model") or "none"
    return f"_engine: {response['engine']}, model: {model}_\n\n" + "\n\n---\n\n".join(parts)


def cover_item(product: dict[str, Any], slot: dict[str, Any], photo: Path) -> dict[str, Any] | None:
    """A `POST /v1/images` item for one batch product: its first note's first title over its photo (the price
    only when the file gave one); None when the product got no notes."""
    drafts = slot.get("drafts") or []
    if not drafts or not drafts[0].get("titles"):
        return None
    spec: dict[str, Any] = {"title": drafts[0]["titles"][0][:40], "points": product.get("selling_points", [])[:4]}
    if product.get("price") is not None:
        spec["price"] = product["price"]
    return {"spec": spec, "photos": [base64.b64encode(photo.read_bytes()).decode("ascii")]}


def _covers(api: ApiClient, items: dict[int, dict[str, Any]], progress: Any, tr: Any) -> tuple[dict[int, bytes], int]:
    """Covers for `items` (product index -> item), a job per 200; (index -> JPEG, covers that failed)."""
    covers: dict[int, bytes] = {}
    failed = 0
    indices = list(items)
    for start in range(0, len(indices), _COVERS_PER_JOB):
        chunk = indices[start : start + _COVERS_PER_JOB]
        body = {"items": [items[i] for i in chunk], "output": "jpeg"}
        if len(chunk) == 1:  # answered at once; a cover the composer refuses (422) leaves the notes intact
            try:
                covers[chunk[0]] = base64.b64decode(api.request("POST", "/v1/images", json=body)["image_base64"])
            except ApiClientError as exc:
                if exc.status != 422:
                    raise
                failed += 1
            continue
        job = api.request("POST", "/v1/images", json=body)
        share = len(chunk) / len(indices)
        first = start / len(indices)

        def report(p: float, message: str, first: float = first, share: float = share) -> None:
            progress(0.8 + 0.2 * (first + p * share), desc=message)

        job = api.wait_for_job(job["id"], report)
        if job["state"] != "succeeded":
            raise gr.Error(tr("batch.job_failed", what=tr("batch.covers"), state=job["state"],
                              message=job.get("error") or job["message"]))  # fmt: skip
        for index, entry in zip(chunk, job["result"]["results"], strict=False):
            if "artifact" in entry:
                covers[index] = api.download(f"/v1/jobs/{job['id']}/artifacts/{entry['artifact']}")
            else:
                failed += 1
    return covers, failed


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def write(api_key: str, *fields: Any) -> tuple[str, dict]:
        if not (fields[0] or "").strip():
            raise gr.Error(tr("error.required", field=tr("notes.product")))
        body = request_body(*fields, lang=tr.lang)
        try:
            response = client_for(api_url, api_key, tr.lang).request("POST", "/v1/copy/notes", json=body)
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return note_cards(response, tr), response

    def batch(
        api_key: str,
        upload: str | None,
        photos: list[str] | None,
        n: float,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str, list[list[str]], dict]:
        if not upload:
            raise gr.Error(tr("batch.no_file"))
        try:
            read = read_products(upload, tr)
        except BatchFileError as exc:
            raise gr.Error(str(exc)) from None
        api = client_for(api_url, api_key, tr.lang)
        by_name = {Path(p).name: Path(p) for p in photos or []}
        with_photo = sum(1 for name in read.photos if name and name in by_name)
        share = 0.8 if with_photo else 1.0
        progress(0, desc=tr("batch.sending", count=len(read.products)))
        try:
            job = api.request("POST", "/v1/copy/notes/batch", json={"products": read.products, "n": int(n)})
            job = api.wait_for_job(job["id"], lambda p, m: progress(share * p, desc=m))
            if job["state"] != "succeeded":
                raise gr.Error(tr("batch.job_failed", what=tr("batch.notes"), state=job["state"],
                                  message=job.get("error") or job["message"]))  # fmt: skip
            results = job["result"]["results"]
            items = {}
            for index, (product, slot, name) in enumerate(zip(read.products, results, read.photos, strict=False)):
                if name and name in by_name and (item := cover_item(product, slot, by_name[name])) is not None:
                    items[index] = item
            covers, cover_failed = _covers(api, items, progress, tr) if items else ({}, 0)
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        progress(1.0, desc=tr("batch.zipping"))
        archive = Path(tempfile.mkdtemp(prefix="notes-")) / "notes.zip"
        archive.write_bytes(build_zip(read.products, results, covers, tr))
        rows = []
        for product, slot in zip(read.products, results, strict=False):
            if slot.get("error"):
                rows.append([product.get("product", ""), "", tr("batch.failed"), slot["error"].get("message", "")])
            for draft in slot.get("drafts") or []:
                status = (draft.get("compliance") or {}).get("status", "")
                rows.append([product["product"], draft["titles"][0], tr("card.status_" + status) if status else "",
                             draft["body"][:60]])  # fmt: skip
        summary = tr("batch.summary", products=len(read.products), failed=job["result"].get("failed", 0),
                     covers=len(covers), engine=job["result"].get("engine", ""))  # fmt: skip
        if read.ignored:
            summary += "\n\n" + tr("batch.ignored", columns=", ".join(read.ignored))
        if missing := [photo for photo in read.photos if photo and photo not in by_name]:
            summary += "\n\n" + tr("batch.photo_missing", names=", ".join(dict.fromkeys(missing)))
        if cover_failed:
            summary += "\n\n" + tr("batch.cover_failed", count=cover_failed)
        return summary, str(archive), rows, job["result"]

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            product = gr.Textbox(
                label=tr("notes.product"), placeholder="山茶集轻薄水感防晒霜 SPF50", elem_id="ns-product"
            )
            with gr.Row():
                brand = gr.Textbox(label=tr("notes.brand"), min_width=120)
                category = gr.Textbox(label=tr("notes.category"), placeholder="防晒 / 口红 / 连衣裙", min_width=120)
                price = price_box(elem_id="ns-price")
            points = gr.Textbox(label=tr("notes.points"), lines=4, placeholder="SPF50+ PA++++\n清爽不油腻")
            with gr.Row():
                style = gr.Dropdown([(tr("notes.style_" + s), s) for s in STYLES], value="种草",
                                    label=tr("notes.style"), min_width=120)  # fmt: skip
                n = gr.Slider(1, 8, value=3, step=1, label=tr("notes.variants"), min_width=160)
            with gr.Accordion(tr("notes.more"), open=False):
                with gr.Row():
                    audience = gr.Textbox(label=tr("notes.audience"), placeholder="通勤党", min_width=120)
                    scenario = gr.Textbox(label=tr("notes.scenario"), placeholder="通勤", min_width=120)
                    tone = gr.Textbox(label=tr("notes.tone"), placeholder="活泼 / 专业", min_width=120)
                with gr.Row():
                    length = gr.Radio([(tr("notes.length_" + v), v) for v in ("short", "medium", "long")],
                                      value="medium", label=tr("notes.length"))  # fmt: skip
                    language = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", label=tr("notes.language"))
                    seed = gr.Number(label=tr("notes.seed"), value=None, precision=0, min_width=120)
            write_btn = gr.Button(tr("notes.write"), variant="primary", elem_id="ns-write-notes")
        with gr.Column(min_width=300):
            cards = gr.HTML(f'<p class="ns-empty">{tr("notes.empty")}</p>', js_on_load=COPY_JS, elem_id="ns-notes")
            with details():
                raw = gr.JSON(label=tr("common.api_response"))
    with gr.Accordion(tr("batch.title"), open=False):
        gr.Markdown(tr("batch.help"))
        with gr.Row(equal_height=False):
            upload = gr.File(label=tr("batch.file"), file_types=[".csv", ".xlsx", ".jsonl", ".json"],
                             type="filepath", elem_id="ns-batch-file", min_width=260)  # fmt: skip
            photos = gr.File(label=tr("batch.photos"), file_count="multiple", file_types=["image"],
                             type="filepath", min_width=260)  # fmt: skip
        batch_n = gr.Slider(1, 8, value=1, step=1, label=tr("batch.variants"))
        batch_btn = gr.Button(tr("batch.run"), variant="primary", elem_id="ns-batch-run")
        summary = gr.Markdown()
        archive = gr.File(label=tr("batch.zip"), elem_id="ns-batch-zip")
        table = gr.Dataframe(headers=[tr("batch.col_product"), tr("batch.col_title"), tr("batch.col_compliance"),
                                      tr("batch.col_body")], label=tr("batch.results"), wrap=True)  # fmt: skip
        with details():
            batch_raw = gr.JSON(label=tr("common.api_response"))
    fields = [product, brand, category, price, points, audience, scenario, style, tone, length, language, n, seed]
    write_btn.click(write, [key, *fields], [cards, raw])
    batch_btn.click(batch, [key, upload, photos, batch_n], [summary, archive, table, batch_raw])
