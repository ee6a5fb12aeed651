"""Translate tab (翻译): a note in, the note out side by side (titles, body, hashtags), with a glossary editor.

A pure HTTP client of `POST /v1/translate`, `GET /v1/translate/languages` and `/v1/glossaries`.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details

__all__ = ["render", "note_body", "glossary_body"]

LANGUAGES = ["zh-Hans", "zh-Hant", "en", "ja", "ko", "fr", "de", "es", "it", "pt", "ru", "th", "vi", "id", "ms"]
NO_GLOSSARY = "(none)"
KINDS = ["brand", "product", "sku", "mention", "url", "price", "term"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def note_body(
    titles: str, body: str, hashtags: str, source: str, target: str, variant: str, glossary: str | None, dnt: str
) -> dict[str, Any]:
    """The form as the `POST /v1/translate` body (a note; the glossary by its id, `id · name` in the picker)."""
    tags = [t.lstrip("#＃") for t in (hashtags or "").replace("＃", "#").replace("#", " ").split() if t]
    request: dict[str, Any] = {
        "note": {"titles": _lines(titles), "body": body or "", "hashtags": tags},
        "source": source,
        "target": target,
        "dnt": _lines(dnt.replace(",", "\n").replace("，", "\n")) if dnt else [],
    }
    if variant in ("tw", "hk"):
        request["variant"] = variant
    if glossary and glossary != NO_GLOSSARY:
        request["glossary_id"] = glossary.split(" · ")[0]
    return request


def glossary_body(name: str, rows: Any) -> dict[str, Any]:
    """The editor's table as a `POST /v1/glossaries` body: empty rows dropped, an empty target = do not translate."""
    values = rows.values.tolist() if hasattr(rows, "values") else list(rows or [])
    terms = []
    for row in values:
        source, target, lang, kind = (list(row) + ["", "", "", ""])[:4]
        if not str(source or "").strip():
            continue
        terms.append({
            "source": str(source).strip(),
            "target": str(target).strip() or None if target is not None else None,
            "target_lang": str(lang).strip() or None if lang is not None else None,
            "kind": str(kind).strip() or "term" if kind is not None else "term",
        })  # fmt: skip
    return {"name": (name or "").strip(), "terms": terms}


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def glossaries(api_key: str) -> gr.Dropdown:
        try:
            listed = client_for(api_url, api_key, tr.lang).request("GET", "/v1/glossaries")["glossaries"]
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        choices = [(tr("translate.no_glossary"), NO_GLOSSARY), *[f"{g['id']} · {g['name']}" for g in listed]]
        return gr.Dropdown(choices=choices, value=NO_GLOSSARY)

    def translate(api_key: str, *fields: Any):
        request = note_body(*fields)
        if not (request["note"]["titles"] or request["note"]["body"].strip() or request["note"]["hashtags"]):
            raise gr.Error(tr("translate.nothing"))
        try:
            out = client_for(api_url, api_key, tr.lang).request("POST", "/v1/translate", json=request)["note"]
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        note = out["note"]
        engine = out["engine"] + (f" / {out['model']}" if out.get("model") else "")
        report = f"**{out['source']} → {out['target']}** · {tr('translate.engine')}: `{engine}`"
        if out["reinserted"]:
            report += "\n\n" + tr("translate.reinserted", terms=", ".join(out["reinserted"]))
        if out["missing"]:
            report += "\n\n⚠️ " + tr("translate.missing", terms=", ".join(out["missing"]))
        tags = " ".join(f"#{t}" for t in note["hashtags"])
        return "\n".join(note["titles"]), note["body"], tags, report, out

    def save(api_key: str, name: str, rows: Any) -> tuple[str, gr.Dropdown]:
        body = glossary_body(name, rows)
        if not body["name"]:
            raise gr.Error(tr("error.required", field=tr("translate.glossary_name")))
        try:
            api = client_for(api_url, api_key, tr.lang)
            made = api.request("POST", "/v1/glossaries", json=body)
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "merchant") from exc
        return tr("translate.saved", name=made["name"], count=len(made["terms"])), glossaries(api_key)

    languages = [(tr("lang." + code), code) for code in LANGUAGES]
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            gr.Markdown(f"**{tr('translate.note_in')}**")
            titles = gr.Textbox(label=tr("translate.titles"), lines=2, placeholder="夏天通勤必备的清爽防晒☀️")
            body = gr.Textbox(
                label=tr("translate.body"), lines=8, placeholder="今天分享一支防晒！\n\n1. 质地清爽\n✅ 不泛白"
            )
            hashtags = gr.Textbox(label=tr("translate.hashtags"), placeholder="#防晒 #通勤")
            with gr.Row():
                source = gr.Dropdown([(tr("translate.auto"), "auto"), *languages], value="auto",
                                     label=tr("translate.source"), min_width=120)  # fmt: skip
                target = gr.Dropdown(languages, value="en", label=tr("translate.target"), min_width=120)
                variant = gr.Radio([("—", "—"), (tr("translate.tw"), "tw"), (tr("translate.hk"), "hk")], value="—",
                                   label=tr("translate.variant"), min_width=160)  # fmt: skip
            with gr.Row(equal_height=False):
                glossary = gr.Dropdown([(tr("translate.no_glossary"), NO_GLOSSARY)], value=NO_GLOSSARY,
                                       label=tr("translate.glossary"), min_width=160)  # fmt: skip
                refresh = gr.Button(tr("translate.load_glossaries"), size="sm", min_width=120)
            dnt = gr.Textbox(label=tr("translate.dnt"), placeholder="雅诗兰黛, SKU-2291")
            go = gr.Button(tr("translate.go"), variant="primary", elem_id="ns-translate")
        with gr.Column(min_width=300):
            gr.Markdown(f"**{tr('translate.note_out')}**")
            out_titles = gr.Textbox(label=tr("translate.titles"), lines=2, buttons=["copy"])
            out_body = gr.Textbox(label=tr("translate.body"), lines=8, buttons=["copy"])
            out_tags = gr.Textbox(label=tr("translate.hashtags"), buttons=["copy"])
            report = gr.Markdown()
            with details():
                raw = gr.JSON(label=tr("common.api_response"))
    with gr.Accordion(tr("translate.editor"), open=False):
        gr.Markdown(tr("translate.editor_help"))
        name = gr.Textbox(label=tr("translate.glossary_name"), placeholder="品牌词")
        table = gr.Dataframe(
            headers=["source", "target", "target_lang", "kind"],
            datatype=["str", "str", "str", "str"],
            value=[["雅诗兰黛", "", "", "brand"], ["小棕瓶", "Advanced Night Repair", "en", "product"]],
            column_count=(4, "fixed"),
            interactive=True,
        )
        save_btn = gr.Button(tr("translate.save"))
        saved = gr.Markdown()
    refresh.click(glossaries, key, glossary)
    go.click(translate, [key, titles, body, hashtags, source, target, variant, glossary, dnt],
             [out_titles, out_body, out_tags, report, raw])  # fmt: skip
    save_btn.click(save, [key, name, table], [saved, glossary])
