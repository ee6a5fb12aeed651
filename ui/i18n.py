"""The studio's words in Chinese (the default) and English, read from `ui/data/strings.yaml`.

The studio is built once per language (`ui.studio.build_studio(..., lang=...)`). While a language's Blocks are
built, `using(lang)` makes it the current one, so a tab's `render(key, api_url)` keeps its signature and asks
`translator()` for a function bound to that language; handlers call that function later, at event time, when no
language is current any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LANGS", "DEFAULT_LANG", "strings", "t", "translator", "using", "current_lang", "check_lang"]

#: Languages of the studio; the first is the default (served at /studio).
LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = LANGS[0]

_STRINGS = Path(__file__).parent / "data" / "strings.yaml"
_current: ContextVar[str] = ContextVar("studio_lang", default=DEFAULT_LANG)


def check_lang(lang: str) -> str:
    """`lang` if the studio speaks it; a `ValueError` naming the languages otherwise."""
    if lang not in LANGS:
        raise ValueError(f"lang: {lang!r} is not one of {list(LANGS)}")
    return lang


@cache
def strings() -> dict[str, dict[str, str]]:
    """Every key (`section.name`) -> {lang: text}, from the YAML file (sections are flattened with dots)."""
    raw = yaml.safe_load(_STRINGS.read_text(encoding="utf-8"))
    table: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node and set(node) <= set(LANGS):
            table[prefix] = {lang: str(text) for lang, text in node.items()}
        elif isinstance(node, dict):
            for name, child in node.items():
                walk(f"{prefix}.{name}" if prefix else str(name), child)
        else:
            raise ValueError(f"{_STRINGS.name}: {prefix!r} must map languages to text, not {node!r}")

    walk("", raw)
    return table


def t(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The text of `key` in `lang` (default: the language being built), `str.format`-ed with `values` (always:
    a literal brace is written `{{` in the data file).

    Raises:
        KeyError: an unknown key (a typo must fail the studio build, not show a key to a merchant).
    """
    entry = strings().get(key)
    if entry is None:
        raise KeyError(f"studio string {key!r} is not in {_STRINGS.name}")
    text = entry.get(lang or _current.get()) or entry[DEFAULT_LANG]
    return text.format(**values)


def current_lang() -> str:
    return _current.get()


def translator(lang: str | None = None) -> Callable[..., str]:
    """`t` bound to `lang` (default: the language being built), for handlers that run after the build."""
    bound = check_lang(lang or _current.get())

    def tr(key: str, /, **values: Any) -> str:
        return t(key, bound, **values)

    tr.lang = bound  # type: ignore[attr-defined]
    return tr


@contextmanager
def using(lang: str) -> Iterator[None]:
    """Make `lang` the current language while the studio's components are created."""
    token = _current.set(check_lang(lang))
    try:
        yield
    finally:
        _current.reset(token)
