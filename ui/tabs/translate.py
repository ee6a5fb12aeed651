"""Translate tab: a note in, the note out side by side (titles, body, hashtags), with a glossary editor.

A pure HTTP client of `POST /v1/translate`, `GET /v1/translate/languages` and `/v1/glossaries`.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.client import ApiClientError
from ui.tabs.common import client_for

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
    def glossaries(api_key: str) -> gr.Dropdown:
        try:
            listed = client_for(api_url, api_key).request("GET", "/v1/glossaries")["glossaries"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        choices = [NO_GLOSSARY, *[f"{g['id']} · {g['name']}" for g in listed]]
        return gr.Dropdown(choices=choices, value=NO_GLOSSARY)

    def translate(api_key: str, *fields: Any):
        request = note_body(*fields)
        if not (request["note"]["titles"] or request["note"]["body"].strip() or request["note"]["hashtags"]):
            raise gr.Error("Write a title, a body or hashtags to translate.")
        try:
            out = client_for(api_url, api_key).request("POST", "/v1/translate", json=request)["note"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        note = out["note"]
        engine = out["engine"] + (f" · {out['model']}" if out.get("model") else "")
        report = f"**{out['source']} → {out['target']}** · engine: {engine}"
        if out["reinserted"]:
            report += f"\n\nRe-inserted (the engine lost them): {', '.join(out['reinserted'])}"
        if out["missing"]:
            report += f"\n\n⚠️ Missing in the output: {', '.join(out['missing'])}"
        tags = " ".join(f"#{t}" for t in note["hashtags"])
        return "\n".join(note["titles"]), note["body"], tags, report, out

    def save(api_key: str, name: str, rows: Any) -> tuple[str, gr.Dropdown]:
        body = glossary_body(name, rows)
        if not body["name"]:
            raise gr.Error("Name the glossary.")
        try:
            api = client_for(api_url, api_key)
            made = api.request("POST", "/v1/glossaries", json=body)
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return f"Saved **{made['name']}** ({len(made['terms'])} terms).", glossaries(api_key)

    with gr.Row():
        with gr.Column():
            gr.Markdown("**Note in**")
            titles = gr.Textbox(label="Titles (one per line)", lines=2, placeholder="夏天通勤必备的清爽防晒☀️")
            body = gr.Textbox(label="Body", lines=8, placeholder="今天分享一支防晒！\n\n1. 质地清爽\n✅ 不泛白")
            hashtags = gr.Textbox(label="Hashtags", placeholder="#防晒 #通勤")
            with gr.Row():
                source = gr.Dropdown(["auto", *LANGUAGES], value="auto", label="From")
                target = gr.Dropdown(LANGUAGES, value="en", label="To")
                variant = gr.Radio(["—", "tw", "hk"], value="—", label="Traditional variant")
            with gr.Row():
                glossary = gr.Dropdown([NO_GLOSSARY], value=NO_GLOSSARY, label="Glossary")
                refresh = gr.Button("Load glossaries", size="sm")
            dnt = gr.Textbox(
                label="Do not translate (one per line or comma-separated)", placeholder="雅诗兰黛, SKU-2291"
            )
            go = gr.Button("Translate", variant="primary")
        with gr.Column():
            gr.Markdown("**Note out**")
            out_titles = gr.Textbox(label="Titles", lines=2, buttons=["copy"])
            out_body = gr.Textbox(label="Body", lines=8, buttons=["copy"])
            out_tags = gr.Textbox(label="Hashtags", buttons=["copy"])
            report = gr.Markdown()
            with gr.Accordion("details", open=False):
                raw = gr.JSON(label="API response")
    with gr.Accordion("Glossary editor", open=False):
        gr.Markdown("Terms to keep (leave *target* empty: never translated) or to translate your way. "
                    "*target_lang* empty = every language.")  # fmt: skip
        name = gr.Textbox(label="Glossary name", placeholder="品牌词")
        table = gr.Dataframe(
            headers=["source", "target", "target_lang", "kind"],
            datatype=["str", "str", "str", "str"],
            value=[["雅诗兰黛", "", "", "brand"], ["小棕瓶", "Advanced Night Repair", "en", "product"]],
            column_count=(4, "fixed"),
            interactive=True,
        )
        save_btn = gr.Button("Save glossary")
        saved = gr.Markdown()
    refresh.click(glossaries, key, glossary)
    go.click(translate, [key, titles, body, hashtags, source, target, variant, glossary, dnt],
             [out_titles, out_body, out_tags, report, raw])  # fmt: skip
    save_btn.click(save, [key, name, table], [saved, glossary])
