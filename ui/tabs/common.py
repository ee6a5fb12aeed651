"""Helpers shared by studio tabs: an API client from the key box, errors shown as Gradio toasts."""

from __future__ import annotations

import gradio as gr

from ui.client import ApiClient

__all__ = ["client_for", "price_box", "parse_price"]


def client_for(api_url: str, key: str) -> ApiClient:
    if not key.strip():
        raise gr.Error("Enter your API key (printed by `notestudio serve` in dev mode).")
    return ApiClient(api_url, key.strip())


def price_box(label: str = "Price (CNY, optional)") -> gr.Textbox:
    """A price field that can be empty: a `gr.Number` shows and sends 0 when left alone, and a note or cover
    must never claim a price of 0 the merchant did not give."""
    return gr.Textbox(label=label, placeholder="e.g. 89 (leave empty if unknown)")


def parse_price(text: str | float | None, label: str = "Price") -> float | None:
    """Empty means unknown (None); otherwise a non-negative number, or a readable error naming the field."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = float(str(text).strip().lstrip("¥￥").replace(",", ""))
    except ValueError:
        raise gr.Error(f"{label}: {text!r} is not a number (leave it empty if unknown)") from None
    if not value >= 0 or value == float("inf"):
        raise gr.Error(f"{label}: must be a number of yuan, 0 or more")
    return value
