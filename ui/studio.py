"""The Gradio studio, mounted at /studio. A client of the HTTP API: it never imports generation internals.

Tabs are added by capability as they land; the Service tab shows health, the model registry and a
models check with a progress bar.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import gradio as gr

from ui.client import ApiClient, ApiClientError

if TYPE_CHECKING:
    from serving.settings import Settings

__all__ = ["build_studio"]


def _prefill_key(settings: Settings) -> str:
    """The dev key is offered only when the service listens on loopback: nobody else can reach the page."""
    try:
        loopback = ipaddress.ip_address(settings.host).is_loopback
    except ValueError:
        loopback = settings.host == "localhost"
    return (settings.dev_key or "") if loopback else ""


def build_studio(api_url: str, settings: Settings) -> gr.Blocks:
    def client(key: str) -> ApiClient:
        if not key.strip():
            raise gr.Error("Enter your API key (printed by `notestudio serve` in dev mode).")
        return ApiClient(api_url, key.strip())

    def health(key: str) -> dict:
        try:
            return client(key).request("GET", "/health")
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc

    def models(key: str) -> list[list[str]]:
        try:
            listed = client(key).request("GET", "/v1/models")["models"]
        except ApiClientError as exc:
            raise gr.Error(str(exc)) from exc
        return [[m["name"], m["task"], m["engine"], m["source"], m["licence"]] for m in listed]

    def check(key: str, load: bool, progress: gr.Progress = gr.Progress()) -> list[list[str]]:  # noqa: B008
        api = client(key)
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

    with gr.Blocks(title="Note Studio") as studio:
        gr.Markdown("# Note Studio\nNotes that sell — copy, covers, videos, moderation and AR try-on.")
        key = gr.Textbox(label="API key", type="password", value=_prefill_key(settings))
        with gr.Tab("Service"):
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
    return studio
