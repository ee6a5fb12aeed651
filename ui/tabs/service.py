"""Service tab: health, the model registry, and a models check with a progress bar."""

from __future__ import annotations

import gradio as gr

from ui.client import ApiClientError
from ui.tabs.common import client_for

__all__ = ["render"]


def render(key: gr.Textbox, api_url: str) -> None:
    def health(api_key: str) -> dict:
        try:
            return client_for(api_url, api_key).request("GET", "/health")
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc

    def models(api_key: str) -> list[list[str]]:
        try:
            listed = client_for(api_url, api_key).request("GET", "/v1/models")["models"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return [[m["name"], m["task"], m["engine"], m["source"], m["licence"]] for m in listed]

    def check(api_key: str, load: bool, progress: gr.Progress = gr.Progress()) -> list[list[str]]:  # noqa: B008
        api = client_for(api_url, api_key)
        try:
            job = api.request("POST", "/v1/models/check", json={"load": load})
            job = api.wait_for_job(job["id"], lambda p, m: progress(p, desc=m))
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        if job["state"] != "succeeded":
            raise gr.Error(f"models check {job['state']}: {job.get('error') or job['message']}")
        return [
            [s["name"], "ok" if s["ok"] else "missing", s.get("origin") or "", s.get("problem") or ""]
            for s in job["result"]["models"]
        ]

    with gr.Row():
        health_btn = gr.Button("Health")
        models_btn = gr.Button("List models")
        load = gr.Checkbox(label="load weights", value=False)
        check_btn = gr.Button("Check models", variant="primary")
    health_out = gr.JSON(label="Health")
    models_out = gr.Dataframe(headers=["name", "task", "engine", "source", "licence"], label="Models")
    check_out = gr.Dataframe(headers=["name", "status", "found in", "problem / fix"], label="Check")
    health_btn.click(health, key, health_out)
    models_btn.click(models, key, models_out)
    check_btn.click(check, [key, load], check_out)
