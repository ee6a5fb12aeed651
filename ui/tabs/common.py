"""Helpers shared by studio tabs: an API client from the key box, errors shown as Gradio toasts."""

from __future__ import annotations

import gradio as gr

from ui.client import ApiClient

__all__ = ["client_for"]


def client_for(api_url: str, key: str) -> ApiClient:
    if not key.strip():
        raise gr.Error("Enter your API key (printed by `notestudio serve` in dev mode).")
    return ApiClient(api_url, key.strip())
