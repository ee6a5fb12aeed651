"""Noto Sans CJK for cover text: where the font files are, sized fonts, and which characters they can show.

Resolution order: the paths given; else a system Noto Sans CJK SC that fontconfig finds (Debian
`fonts-noto-cjk`: a real Bold face too); else the Regular face of the PyPI wheel `cvttf-notosanscjk-regular`
(a dependency of this package). The wheel's file is the Traditional-Chinese-default OTF; it carries every
simplified form and OpenType `locl` for zh-Hans, so text is laid out with Raqm and `language="zh-Hans"`.
Without a real Bold face, bold titles are drawn with a stroke (faux bold) of `stroke(size)` px.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

__all__ = ["Fonts", "FontFile", "LANGUAGE", "find_system_font", "wheel_font"]

#: Raqm language tag: simplified Chinese glyph forms.
LANGUAGE = "zh-Hans"
_SYSTEM_FAMILY = "Noto Sans CJK SC"


@dataclass(frozen=True)
class FontFile:
    """One face: a font file and its index inside a collection (.ttc)."""

    path: str
    index: int = 0


def wheel_font() -> FontFile:
    """The Noto Sans CJK Regular face that the `cvttf-notosanscjk-regular` wheel installs.

    Raises:
        RuntimeError: the wheel is not installed (it is a dependency: `pip install cvttf-notosanscjk-regular`).
    """
    try:
        import cvttf_NotoSansCJK_Regular as wheel
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RuntimeError(
            "no CJK font: install the font wheel (pip install cvttf-notosanscjk-regular) "
            "or Noto Sans CJK SC (apt-get install fonts-noto-cjk)"
        ) from exc
    return FontFile(wheel.get_TTF_path())


def find_system_font(style: str = "Regular") -> FontFile | None:
    """Noto Sans CJK SC of the given style (`Regular`, `Bold`) if fontconfig knows it, else None."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        out = subprocess.run(
            [fc_match, "-f", "%{file}|%{index}|%{family}|%{style}", f"{_SYSTEM_FAMILY}:style={style}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.split("|")
    if len(parts) < 4 or _SYSTEM_FAMILY not in parts[2] or style.lower() not in parts[3].lower():
        return None
    path = Path(parts[0])
    if not path.is_file():
        return None
    return FontFile(str(path), int(parts[1] or 0))


class Fonts:
    """Sized Noto Sans CJK faces (an LRU of loaded sizes) and glyph coverage.

    Args:
        regular: a font file for text; default as in the module docstring.
        bold: a bold face for titles; default the system Bold when the system Regular is used, else none
            (titles are faux-bold).
        cache_size: sized fonts kept loaded.
    """

    def __init__(self, regular: FontFile | None = None, bold: FontFile | None = None, cache_size: int = 64) -> None:
        if regular is None:
            regular = find_system_font("Regular")
            if regular is not None and bold is None:
                bold = find_system_font("Bold")
            if regular is None:
                regular = wheel_font()
        self.regular = regular
        self.bold = bold
        self._cache: OrderedDict[tuple[bool, int], ImageFont.FreeTypeFont] = OrderedDict()
        self._cache_size = cache_size
        self._cmap: frozenset[int] | None = None

    @property
    def faux_bold(self) -> bool:
        """True when bold text is drawn with a stroke (no real Bold face)."""
        return self.bold is None

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        """The face at `size` px (Raqm layout)."""
        key = (bold and self.bold is not None, int(size))
        font = self._cache.get(key)
        if font is None:
            face = self.bold if key[0] else self.regular
            font = ImageFont.truetype(face.path, key[1], index=face.index, layout_engine=ImageFont.Layout.RAQM)
            self._cache[key] = font
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return font

    def stroke(self, size: int, bold: bool) -> int:
        """Stroke width (px) that makes Regular look bold at `size`; 0 with a real Bold face or for plain text."""
        return max(1, round(size * 0.022)) if bold and self.faux_bold else 0

    def has_glyph(self, char: str) -> bool:
        """Whether the face maps `char` (one code point) to a glyph."""
        if self._cmap is None:
            from fontTools.ttLib import TTFont

            with TTFont(self.regular.path, fontNumber=self.regular.index, lazy=True) as tt:
                self._cmap = frozenset(tt.getBestCmap())
        return ord(char) in self._cmap
