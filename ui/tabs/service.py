"""Service tab (服务), for operators: health, the model registry, and a models check with a progress bar."""

from __future__ import annotations

import gradio as gr

from ui.client import ApiClientError
from ui.i18n import translator
from ui.tabs.common import api_error, client_for, details

__all__ = ["render"]


def render(key: gr.Textbox, api_url: str) -> None:
    tr = translator()

    def health(api_key: str) -> tuple[str, dict]:
        try:
            report = client_for(api_url, api_key, tr.lang).request("GET", "/health")
        except ApiClientError as exc:
            raise api_error(exc, tr.lang) from exc
        ok = report.get("status") == "ok"
        return ("✅ " if ok else "⚠️ ") + tr("service.status", status=report.get("status", "?")), report

    def models(api_key: str) -> list[list[str]]:
        try:
            listed = client_for(api_url, api_key, tr.lang).request("GET", "/v1/models")["models"]
        except ApiClientError as exc:
            raise api_error(exc, tr.lang) from exc
        return [[m["name"], m["task"], m["engine"], m["source"], m["licence"]] for m in listed]

    def check(api_key: str, load: bool, progress: gr.Progress = gr.Progress()) -> list[list[str]]:  # noqa: B008
        api = client_for(api_url, api_key, tr.lang)
        try:
            progress(0, desc=tr("service.checking"))
            job = api.request("POST", "/v1/models/check", json={"load": load})
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m))
        except ApiClientError as exc:
            raise api_error(exc, tr.lang, "admin") from exc
        if job["state"] != "succeeded":
            raise gr.Error(tr("batch.job_failed", what=tr("service.check"), state=job["state"],
                              message=job.get("error") or job["message"]))  # fmt: skip
        return [
            [s["name"], tr("service.ok") if s["ok"] else tr("service.missing"), s.get("origin") or "",
             s.get("problem") or ""]
            for s in job["result"]["models"]
        ]  # fmt: skip

    gr.Markdown(tr("service.intro"))
    with gr.Row(equal_height=False):
        health_btn = gr.Button(tr("service.health"), elem_id="ns-health", min_width=120)
        models_btn = gr.Button(tr("service.list"), elem_id="ns-list-models", min_width=120)
        load = gr.Checkbox(label=tr("service.load"), value=False, min_width=120)
        check_btn = gr.Button(tr("service.check"), variant="primary", elem_id="ns-check-models", min_width=120)
    health_out = gr.Markdown()
    models_out = gr.Dataframe(
        headers=[tr("service.col_name"), tr("service.col_task"), tr("service.col_engine"), tr("service.col_source"),
                 tr("service.col_licence")], label=tr("service.models"), wrap=True)  # fmt: skip
    check_out = gr.Dataframe(
        headers=[tr("service.col_name"), tr("service.col_status"), tr("service.col_found"), tr("service.col_fix")],
        label=tr("service.check_result"), wrap=True, elem_id="ns-check-result")  # fmt: skip
    with details():
        health_raw = gr.JSON(label=tr("common.api_response"))
    health_btn.click(health, key, [health_out, health_raw])
    models_btn.click(models, key, models_out)
    check_btn.click(check, [key, load], check_out)
