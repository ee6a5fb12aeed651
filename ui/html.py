"""HTML a merchant reads: note cards with copy buttons, and listings with their evidence highlighted in place.

Everything from the API or the merchant is escaped here, in Python, before it reaches the page. Evidence spans
index the ORIGINAL field by code points (Python string indices), so highlighting happens here too: the browser
counts UTF-16 units, and an emoji before a span would shift it there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["Span", "highlight", "note_cards", "moderation_report", "COPY_JS", "CSS"]

Tr = Callable[..., str]

#: The copy buttons' handler, installed once per `gr.HTML` (`js_on_load`): one delegated listener, so cards
#: re-rendered later keep working. The clipboard API needs a secure context (https or localhost); elsewhere the
#: old select-and-copy path runs.
COPY_JS = """
element.addEventListener('click', function (event) {
  var button = event.target.closest('[data-copy]');
  if (!button || !element.contains(button)) return;
  var text = button.getAttribute('data-copy');
  var done = function () {
    button.textContent = button.getAttribute('data-done');
    setTimeout(function () { button.textContent = button.getAttribute('data-label'); }, 1500);
  };
  var fallback = function () {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { if (document.execCommand('copy')) done(); } finally { document.body.removeChild(area); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
});
"""

#: Styles of the cards, badges and highlights (installed with the studio, `ui.studio.mount_studio`).
CSS = """
.ns-cards { display: grid; gap: 12px; }
.ns-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px;
  background: var(--background-fill-primary); overflow-wrap: anywhere; }
.ns-card h4 { margin: 0 0 6px; font-size: 0.95em; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.ns-row { display: flex; gap: 8px; align-items: flex-start; justify-content: space-between; margin: 4px 0; }
.ns-row > div { flex: 1; min-width: 0; }
.ns-title { font-weight: 600; }
.ns-body { white-space: pre-wrap; line-height: 1.6; }
.ns-tags { color: var(--color-accent); }
.ns-copy { flex: none; font-size: 12px; padding: 2px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill); }
.ns-copy:hover { border-color: var(--color-accent); }
.ns-copy-all { background: var(--button-primary-background-fill); color: var(--button-primary-text-color); }
.ns-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 8px; }
.ns-badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.85em; font-weight: 600;
  color: #fff; }
.ns-pass, .ns-clean { background: #1a7f37; }
.ns-review, .ns-rewritten { background: #b76e00; }
.ns-block, .ns-flagged { background: #c62828; }
.ns-rewrites { margin: 6px 0 0; padding-left: 1.2em; }
.ns-rewrites del { color: #c62828; }
.ns-rewrites ins { color: #1a7f37; text-decoration: none; font-weight: 600; }
.ns-listing .ns-field { margin: 6px 0; white-space: pre-wrap; line-height: 1.7; overflow-wrap: anywhere; }
.ns-listing mark { background: #ffe08a; color: inherit; border-bottom: 2px solid #c62828; padding: 0 1px; }
.ns-listing sup.ns-label { color: #c62828; font-size: 0.7em; margin: 0 2px; }
.ns-labels { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.ns-labels td, .ns-labels th { border-bottom: 1px solid var(--border-color-primary); padding: 3px 6px;
  text-align: left; vertical-align: top; }
.ns-empty { color: var(--body-text-color-subdued); }
.ns-labels td:nth-child(2), .ns-labels th:nth-child(2) { white-space: nowrap; }
"""


@dataclass(frozen=True)
class Span:
    """Characters `start:end` (code points) of one field, and what to call them."""

    start: int
    end: int
    label: str


def _copy_button(text: str, tr: Tr, key: str = "card.copy", css: str = "ns-copy") -> str:
    label, done = escape(tr(key)), escape(tr("card.copied"))
    return (
        f'<button type="button" class="{css}" data-copy="{escape(text)}" data-label="{label}" '
        f'data-done="{done}" aria-label="{label}">{label}</button>'
    )


def _copy_row(inner_html: str, text: str, tr: Tr, css: str) -> str:
    return f'<div class="ns-row"><div class="{css}">{inner_html}</div>{_copy_button(text, tr)}</div>'


def _status_badge(status: str, tr: Tr) -> str:
    known = status in ("clean", "rewritten", "flagged")
    text = tr(f"card.status_{status}") if known else status
    return f'<span class="ns-badge ns-{escape(status) if known else "review"}">{escape(text)}</span>'


def _writer(engine: str | None, model: str | None) -> str:
    """Exactly what the API says wrote it: `template`, or the engine and its registry model."""
    return f"{engine or '?'} / {model}" if model else f"{engine or '?'}"


def note_cards(response: dict[str, Any], tr: Tr) -> str:
    """One card per draft of a `POST /v1/copy/notes` answer: titles, body and hashtags each with a copy button,
    the whole note to copy, the compliance verdict with its rewrites (before → after), and who wrote it."""
    cards = []
    for draft in response.get("drafts", []):
        tags = " ".join(f"#{tag}" for tag in draft.get("hashtags", []))
        titles = "".join(_copy_row(escape(title), title, tr, "ns-title") for title in draft.get("titles", []))
        body = draft.get("body", "")
        whole = "\n\n".join(part for part in (next(iter(draft.get("titles", [])), ""), body, tags) if part)
        compliance = draft.get("compliance") or {}
        status = compliance.get("status")
        verdict = _status_badge(status, tr) if status else ""
        rewrites = "".join(
            f"<li><del>{escape(r.get('original', ''))}</del> → <ins>{escape(r.get('replacement', ''))}</ins>"
            f" <small>{escape(r.get('code', ''))}</small></li>"
            for r in compliance.get("rewrites", [])
        )
        remaining = ", ".join(escape(label.get("code", "")) for label in compliance.get("remaining", []))
        filled = ", ".join(escape(f) for f in draft.get("filled") or [])
        seed = draft.get("seed")
        head = tr("card.variant", n=draft.get("variant", 0) + 1) + (f" · seed {seed}" if seed is not None else "")
        cards.append(
            '<article class="ns-card">'
            f"<h4>{escape(head)} {verdict} {_copy_button(whole, tr, 'card.copy_all', 'ns-copy ns-copy-all')}"
            "</h4>"
            f"{titles}"
            + _copy_row(escape(body), body, tr, "ns-body")
            + (_copy_row(escape(tags), tags, tr, "ns-tags") if tags else "")
            + (
                f'<div><b>{escape(tr("card.rewrites"))}</b><ul class="ns-rewrites">{rewrites}</ul></div>'
                if rewrites
                else ""
            )
            + (f'<div class="ns-meta">⚠️ {escape(tr("card.remaining"))}: {remaining}</div>' if remaining else "")
            + (f'<div class="ns-meta">{escape(tr("card.filled"))}: {filled}</div>' if filled else "")
            + f'<div class="ns-meta">{escape(tr("card.written_by"))}: '
            f"<code>{escape(_writer(draft.get('engine') or response.get('engine'), draft.get('model')))}</code></div>"
            "</article>"
        )
    if not cards:
        return f'<p class="ns-empty">{escape(tr("card.none"))}</p>'
    return '<div class="ns-cards">' + "".join(cards) + "</div>"


def highlight(text: str, spans: Sequence[Span]) -> str:
    """`text` escaped, each span wrapped in `<mark>` (its labels as the tooltip) and its label after it.

    Spans may overlap or nest: the text is cut at every span boundary and each piece is marked with every span
    covering it. Spans outside the text or empty are ignored (offsets are code points, as Python indexes).
    """
    valid = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    cuts = sorted({0, len(text), *(s.start for s in valid), *(s.end for s in valid)})
    out = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[left:right])
        covering = [s for s in valid if s.start <= left and right <= s.end]
        if covering:
            names = escape(", ".join(dict.fromkeys(s.label for s in covering)))
            out.append(f'<mark title="{names}">{piece}</mark>')
        else:
            out.append(piece)
        ending = dict.fromkeys(s.label for s in valid if s.end == right)
        out.extend(f'<sup class="ns-label">{escape(label)}</sup>' for label in ending)
    return "".join(out)


def _label_name(code: str, tr: Tr) -> str:
    top = code.split(".", 1)[0]
    try:
        return f"{tr('label.' + top)} · {code}"
    except KeyError:
        return code


def moderation_report(listing: dict[str, Any], result: dict[str, Any], tr: Tr) -> str:
    """A moderation result over the listing it judged: the decision, the title and body with every evidence span
    highlighted in place (its label as tooltip and tag), the labels with scores, other evidence, the reasons."""
    decision = str(result.get("decision", ""))
    known = decision in ("pass", "review", "block")
    badge = tr(f"moderation.decision_{decision}") if known else decision
    spans: dict[str, list[Span]] = {}
    elsewhere: list[tuple[str, str, str]] = []
    for label in result.get("labels", []):
        name = _label_name(str(label.get("code", "")), tr)
        for ev in label.get("evidence", []):
            field = str(ev.get("field", ""))
            if (
                isinstance(listing.get(field), str)
                and isinstance(ev.get("start"), int)
                and isinstance(ev.get("end"), int)
            ):
                spans.setdefault(field, []).append(Span(ev["start"], ev["end"], name))
            else:
                elsewhere.append((field, str(ev.get("text", "")), name))
    fields = []
    for field in ("title", "body", "brand", "category"):
        value = listing.get(field)
        if isinstance(value, str) and value:
            marked = highlight(value, spans.get(field, []))
            fields.append(f'<div class="ns-field"><b>{escape(tr("moderation.field_" + field))}</b>: {marked}</div>')
    rows = "".join(
        f"<tr><td>{escape(_label_name(str(label.get('code', '')), tr))}</td>"
        f"<td>{float(label.get('score', 0)):.2f}</td><td>{escape(', '.join(label.get('sources', [])))}</td></tr>"
        for label in result.get("labels", [])
    )
    table = (
        f'<table class="ns-labels"><tr><th>{escape(tr("moderation.label"))}</th>'
        f"<th>{escape(tr('moderation.score'))}</th><th>{escape(tr('moderation.sources'))}</th></tr>{rows}</table>"
        if rows
        else f'<p class="ns-empty">{escape(tr("moderation.no_labels"))}</p>'
    )
    other = "".join(f"<li>{escape(f)}: «{escape(x)}» — {escape(n)}</li>" for f, x, n in elsewhere)
    reasons = "".join(f"<li>{escape(str(r))}</li>" for r in result.get("reasons", []))
    risk = result.get("risk")
    return (
        '<div class="ns-card ns-listing">'
        f'<h4><span class="ns-badge ns-{escape(decision) if known else "review"}">{escape(badge)}</span>'
        + (f" {escape(tr('moderation.risk'))} {float(risk):.2f}" if isinstance(risk, int | float) else "")
        + "</h4>"
        + "".join(fields)
        + table
        + (f"<p><b>{escape(tr('moderation.other_evidence'))}</b></p><ul>{other}</ul>" if other else "")
        + (f"<p><b>{escape(tr('moderation.reasons'))}</b></p><ul>{reasons}</ul>" if reasons else "")
        + f'<div class="ns-meta">{escape(tr("moderation.decision_id"))}: <code>'
        f"{escape(str(result.get('decision_id') or '—'))}</code> · {escape(tr('moderation.engine'))}: "
        f"<code>{escape(str(result.get('engine', '')))}</code></div>"
        "</div>"
    )
