"""Characters no note should carry: the Unicode bidirectional embedding, override and isolate controls.

U+202A-U+202E and U+2066-U+2069 change how the characters around them are displayed, not what they are: a listing
can read one way on screen and another way to a filter (U+202E turns `txt.exe` into `exe.txt`). Moderation folds
them away before matching; generated text never keeps them.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "strip_bidi", "replace_unencodable"]

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: Lone UTF-16 surrogates (JSON may escape them: "\\ud800") and NUL: no UTF-8 encoder or database takes them.
_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def strip_bidi(text: str) -> str:
    """`text` without bidirectional controls."""
    return BIDI_CONTROLS.sub("", text)


def replace_unencodable(text: str) -> str:
    """`text` with lone surrogates and NUL as U+FFFD, one for one: the length and every offset stay the same,
    so spans reported on the result index what the client sent."""
    return _UNENCODABLE.sub(REPLACEMENT, text) if _UNENCODABLE.search(text) else text
