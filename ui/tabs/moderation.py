"""Moderation tab (审核): a listing in, the decision out, with every evidence span highlighted where it is.

A pure HTTP client of `POST /v1/moderation/listings` (one listing) and
`POST /v1/moderation/decisions/{decision_id}/appeal`. Moderation needs a `platform` (or `admin`) key; a key
without that scope gets a message saying so. The highlighting is done in Python (`ui.html.moderation_report`):
evidence offsets count code points, which the browser would count differently around emoji.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.html import moderation_report
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details, parse_price, price_box

__all__ = ["render", "listing_body"]


def listing_body(
    title: str, body: str, price: str | float | None, brand: str, category: str, pasted: str, lang: str | None = None
) -> dict[str, Any]:
    """The listing to moderate: the pasted JSON object when there is one, else the form (empty fields left out:
    an empty price is unknown, not 0). A readable `gr.Error` naming the field otherwise."""
    tr = translator(lang)
    if (pasted or "").strip():
        try:
            listing = json.loads(pasted)
        except json.JSONDecodeError as exc:
            raise gr.Error(
                tr("moderation.bad_json", error=f"{exc.msg} (line {exc.lineno}, column {exc.colno})")
            ) from None
        if not isinstance(listing, dict):
            raise gr.Error(tr("moderation.not_object"))
        return listing
    listing: dict[str, Any] = {"title": title or "", "body": body or ""}
    if not (listing["title"].strip() or listing["body"].strip()):
        raise gr.Error(tr("moderation.nothing"))
    if (value := parse_price(price, lang=tr.lang)) is not None:
        listing["price"] = value
    for name, text in (("brand", brand), ("category", category)):
        if (text or "").strip():
            listing[name] = text.strip()
    return listing


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def moderate(api_key: str, *fields: Any) -> tuple[str, dict, str | None, Any, str]:
        listing = listing_body(*fields, lang=tr.lang)
        try:
            answer = client_for(api_url, api_key, tr.lang).request(
                "POST", "/v1/moderation/listings", json={"listings": [listing]}
            )
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "platform") from exc
        [result] = answer["results"]
        if "error" in result:
            error = result["error"]
            field = (error.get("param") or "").removeprefix("listings.0.").removeprefix("listings.0") or "listing"
            raise gr.Error(tr("error.field", field=field, message=error.get("message", "")))
        decision_id = result.get("decision_id")
        return (
            moderation_report(listing, result, tr),
            result,
            decision_id,
            gr.update(interactive=bool(decision_id)),
            "",
        )

    def appeal(api_key: str, decision_id: str | None, reason: str) -> tuple[str, dict]:
        if not decision_id:
            raise gr.Error(tr("moderation.appeal_first"))
        if not (reason or "").strip():
            raise gr.Error(tr("error.required", field=tr("moderation.appeal_reason")))
        try:
            decision = client_for(api_url, api_key, tr.lang).request(
                "POST", f"/v1/moderation/decisions/{decision_id}/appeal", json={"reason": reason.strip()}
            )
        except ApiClientError as exc:
            raise api_error(exc, tr.lang) from exc
        return tr(
            "moderation.appealed", state=decision["review_state"], count=len(decision.get("appeals", []))
        ), decision

    gr.Markdown(tr("moderation.intro"))
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            title = gr.Textbox(label=tr("moderation.field_title"), placeholder="全网最低价 高仿大牌包",
                               elem_id="ns-mod-title")  # fmt: skip
            body = gr.Textbox(label=tr("moderation.field_body"), lines=6, placeholder="加 薇 信 abc12345 了解更多",
                              elem_id="ns-mod-body")  # fmt: skip
            with gr.Row():
                price = price_box()
                brand = gr.Textbox(label=tr("moderation.field_brand"), min_width=120)
                category = gr.Textbox(label=tr("moderation.field_category"), min_width=120)
            with gr.Accordion(tr("moderation.paste"), open=False):
                pasted = gr.Code(language="json", label=tr("moderation.paste_label"), lines=6, interactive=True)
            go = gr.Button(tr("moderation.go"), variant="primary", elem_id="ns-moderate")
        with gr.Column(min_width=300):
            report = gr.HTML(f'<p class="ns-empty">{tr("moderation.empty")}</p>', elem_id="ns-mod-report")
            with gr.Group():
                reason = gr.Textbox(label=tr("moderation.appeal_reason"), lines=2,
                                    placeholder=tr("moderation.appeal_hint"))  # fmt: skip
                appeal_btn = gr.Button(tr("moderation.appeal"), interactive=False, elem_id="ns-appeal")
            appealed = gr.Markdown()
            with details():
                raw = gr.JSON(label=tr("common.api_response"))
    decision_id = gr.State(None)
    go.click(moderate, [key, title, body, price, brand, category, pasted],
             [report, raw, decision_id, appeal_btn, appealed])  # fmt: skip
    appeal_btn.click(appeal, [key, decision_id, reason], [appealed, raw])
