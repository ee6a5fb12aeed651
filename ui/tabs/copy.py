"""Note copy tab: one product -> n notes, or a JSONL of products as a batch job with progress.

A pure HTTP client of `POST /v1/copy/notes` and `POST /v1/copy/notes/batch`: it never imports
`generation` internals, so the studio shows exactly what the API returns (engine, model, compliance).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.tabs.common import client_for, parse_price, price_box

__all__ = ["render", "format_drafts", "request_body"]

STYLES = ["种草", "测评", "教程", "合集", "开箱"]
_STATUS = {"clean": "✅ clean", "rewritten": "✏️ rewritten to comply", "flagged": "⚠️ flagged: do not post as is"}


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
) -> dict[str, Any]:
    """The form as the API's JSON body (selling points one per line)."""
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
    if (value := parse_price(price)) is not None:
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


def _read_products(path: str) -> list[Any]:
    text = Path(path).read_text(encoding="utf-8").strip()
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def render(key: gr.Textbox, api_url: str) -> None:
    def write(api_key: str, *fields: Any) -> tuple[str, dict]:
        try:
            response = client_for(api_url, api_key).request("POST", "/v1/copy/notes", json=request_body(*fields))
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return format_drafts(response), response

    def batch(api_key: str, upload: str | None, n: float, progress: gr.Progress = gr.Progress()) -> list[list[str]]:  # noqa: B008
        if not upload:
            raise gr.Error("Upload a JSON or JSONL file of products.")
        try:
            products = _read_products(upload)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise gr.Error(f"cannot read products: {exc}") from exc
        api = client_for(api_url, api_key)
        try:
            job = api.request("POST", "/v1/copy/notes/batch", json={"products": products, "n": int(n)})
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m))
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        if job["state"] != "succeeded":
            raise gr.Error(f"batch {job['state']}: {job.get('error') or job['message']}")
        rows = []
        for slot, product in zip(job["result"]["results"], products, strict=False):
            name = product.get("product", "") if isinstance(product, dict) else ""
            if "error" in slot:
                rows.append([name, "", "error", slot["error"]["message"]])
            for draft in slot.get("drafts", []):
                rows.append([name, draft["titles"][0], draft["compliance"]["status"], draft["body"][:80]])
        return rows

    with gr.Row():
        with gr.Column():
            product = gr.Textbox(label="Product", placeholder="山茶集轻薄水感防晒霜 SPF50")
            with gr.Row():
                brand = gr.Textbox(label="Brand")
                category = gr.Textbox(label="Category", placeholder="防晒 / 口红 / 连衣裙")
                price = price_box("Price (CNY)")
            points = gr.Textbox(label="Selling points (one per line)", lines=4)
            with gr.Row():
                audience = gr.Textbox(label="Audience", placeholder="通勤党")
                scenario = gr.Textbox(label="Scenario", placeholder="通勤")
                tone = gr.Textbox(label="Tone", placeholder="活泼 / 专业")
            with gr.Row():
                style = gr.Dropdown(STYLES, value="种草", label="Style")
                length = gr.Radio(["short", "medium", "long"], value="medium", label="Length")
                language = gr.Radio(["zh", "en"], value="zh", label="Language")
            with gr.Row():
                n = gr.Slider(1, 8, value=3, step=1, label="Variants")
                seed = gr.Number(label="Seed (optional)", value=None, precision=0)
            write_btn = gr.Button("Write notes", variant="primary")
        with gr.Column():
            notes = gr.Markdown(label="Notes")
            raw = gr.JSON(label="API response")
    with gr.Accordion("Batch: many products (JSON list or JSONL)", open=False):
        upload = gr.File(label="Products file", file_types=[".json", ".jsonl"], type="filepath")
        batch_n = gr.Slider(1, 8, value=1, step=1, label="Variants per product")
        batch_btn = gr.Button("Run batch job")
        table = gr.Dataframe(headers=["product", "first title", "compliance", "body"], label="Results")
    fields = [product, brand, category, price, points, audience, scenario, style, tone, length, language, n, seed]
    write_btn.click(write, [key, *fields], [notes, raw])
    batch_btn.click(batch, [key, upload, batch_n], table)
