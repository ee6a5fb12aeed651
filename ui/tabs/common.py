"""Helpers shared by studio tabs: an API client from the key box, readable errors, the optional price field.

Errors reach the merchant as Gradio toasts (`gr.Error`) in the studio's language, naming the field the service
named; the service's own message follows (it is English).
"""

from __future__ import annotations

import gradio as gr

from ui.client import ApiClient, ApiClientError
from ui.i18n import t

__all__ = ["client_for", "price_box", "parse_price", "api_error", "details"]


def client_for(api_url: str, key: str, lang: str | None = None) -> ApiClient:
    """An API client for the key entered; a readable error saying where keys come from when it is empty."""
    if not (key or "").strip():
        raise gr.Error(t("error.no_key", lang))
    return ApiClient(api_url, key.strip())


def api_error(exc: ApiClientError, lang: str | None = None, scope: str | None = None) -> gr.Error:
    """The service's error as a toast a merchant can act on: which key is missing or wrong, which field is bad.

    Args:
        exc: the client's error (status, message, param).
        lang: the studio's language.
        scope: the scope the action needs (`merchant`, `platform`, `admin`), named when the key lacks it.
    """
    if exc.status == 0:
        return gr.Error(t("error.unreachable", lang, message=exc.message))
    if exc.status == 401:
        return gr.Error(t("error.unauthorized", lang))
    if exc.status == 403:
        return gr.Error(t("error.scope", lang, scope=scope or "?", message=exc.message))
    if exc.status == 429:
        return gr.Error(t("error.busy", lang, message=exc.message))
    if exc.param:
        return gr.Error(t("error.field", lang, field=exc.param, message=exc.message))
    return gr.Error(t("error.other", lang, status=exc.status, message=exc.message))


def price_box(label: str | None = None, elem_id: str | None = None) -> gr.Textbox:
    """A price field that can be empty: a `gr.Number` shows and sends 0 when left alone, and a note or cover
    must never claim a price of 0 the merchant did not give."""
    return gr.Textbox(label=label or t("common.price"), placeholder=t("common.price_hint"), elem_id=elem_id)


def parse_price(text: str | float | None, label: str | None = None, lang: str | None = None) -> float | None:
    """Empty means unknown (None); otherwise a non-negative number, or a readable error naming the field."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    field = label or t("common.price_field", lang)
    try:
        value = float(str(text).strip().lstrip("¥￥").rstrip("元").replace(",", "").replace("，", ""))
    except ValueError:
        raise gr.Error(t("error.price_nan", lang, field=field, value=repr(text))) from None
    if not value >= 0 or value == float("inf"):
        raise gr.Error(t("error.price_range", lang, field=field))
    return value


def details() -> gr.Accordion:
    """The collapsed "details" box that holds raw API JSON (never shown beside a result)."""
    return gr.Accordion(t("common.details"), open=False)
