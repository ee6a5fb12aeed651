"""A note's shape, kept through translation: lines, blank lines, bullets and numbering, hashtags.

The body is translated line by line: a line's leading structure (bullets, `1.`, `①`, `(2)`, check marks, leading
emoji) is set aside and put back, blank lines stay, so the translated body has the same lines in the same order.
Emoji elsewhere in a line are protected spans (see `masking`). Hashtags are translated as words and made
hashtag-shaped again: no spaces (CamelCase where the language writes spaces), no punctuation, `#` in front.
"""

from __future__ import annotations

import re

__all__ = ["split_line", "hashtag", "HTML_TEXT"]

_PREFIX = re.compile(
    r"^(\s*(?:(?:[-–—•·*▪▫◆◇■□○●✓✔☑✅❤♥👉🔸🔹🔺⭐🌟✨💡📌📍]|\ufe0f)+\s*|\d{1,2}\s*[.、)）]\s*|[①-⑳]\s*"
    r"|[（(]\s*\d{1,2}\s*[)）]\s*|[一二三四五六七八九十]{1,2}\s*[、.]\s*)*)"
)
_NOT_TAG = re.compile(r"[^\w\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]+")
HTML_TEXT = re.compile(r"(<[^>]*>)")


def split_line(line: str) -> tuple[str, str, str]:
    """(prefix, text, suffix): the structure before and the whitespace after the words to translate."""
    match = _PREFIX.match(line)
    prefix = match.group(1) if match else ""
    rest = line[len(prefix) :]
    stripped = rest.rstrip()
    return prefix, stripped, rest[len(stripped) :]


def hashtag(text: str, spaces: bool, fallback: str) -> str:
    """A translated tag as a hashtag: `#Word Word` -> `#WordWord` (languages with spaces), no punctuation."""
    words = [w for w in _NOT_TAG.split(text.strip().lstrip("#＃")) if w]
    if not words:
        return "#" + fallback.lstrip("#＃")
    if spaces:
        words = [w[:1].upper() + w[1:] if w[:1].isascii() else w for w in words]
    return "#" + "".join(words)
