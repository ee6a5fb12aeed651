"""Chinese text set in a box: cleaning, line breaking, auto-fit, drawing.

Line breaking follows the Chinese rules a reader expects: a line may break between any two Han characters,
closing punctuation never starts a line and opening punctuation never ends one (避头尾), a Latin word or a
number (`SPF50+`, `3.5ml`, `99%`) stays whole, and among the breakings with the fewest lines the one with the
most even lines and the fewest words cut in half (jieba, a tokenizer owned by the `Typesetter`) wins.

Auto-fit shrinks the font from the box's largest size to its smallest legible size; text that cannot fit at
the smallest size raises `InputError` naming the field. The laid-out block keeps the ink box of every line,
so callers (and tests) can check that nothing leaves the box.

Emoji: no colour emoji font is available, and a CJK font draws them as empty boxes (tofu). They are removed
on purpose: pictographs (U+1F000-1FAFF, U+2600-27BF without a glyph), and the parts of emoji sequences (VS16,
ZWJ, skin tones, keycaps, tags, regional indicators). Other symbols (★, ✓, ｜) are kept when the font has a
glyph and removed when it has none; `Typesetter.clean` reports what was removed.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from PIL import ImageDraw

from common.errors import InputError
from generation.image.fonts import LANGUAGE, Fonts

__all__ = ["Box", "Line", "Block", "Typesetter", "legible_size", "LEGIBLE_PX_AT_360"]

#: A title's em size when the cover is shown 360 px wide (feed thumbnail): Han ink is then ~14 px tall.
LEGIBLE_PX_AT_360 = 16
#: Characters that never start a line (closing punctuation, marks that hang on the previous word).
NO_START = set("、。，．,.：:；;！!？?）)」』】〕〉》”’…‥～~%‰℃°·・ーっゃゅょァィゥェォッャュョ｜|")
#: Characters that never end a line (opening punctuation, currency signs that belong to the number).
NO_END = set("（(「『【〔〈《“‘￥¥$#＃")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001f1e6-\U0001f1ff\U000e0020-\U000e007f\u200d\ufe0f\ufe0e\u20e3\U0001f3fb-\U0001f3ff]"
)
# A base character followed by VS16 is an emoji presentation: drop the pair.
_EMOJI_PRESENTATION = re.compile(".\ufe0f")
_ATOM = re.compile(r"[A-Za-z0-9]+(?:[.\-+'&/_][A-Za-z0-9]+)*[%+]?|\s+|.", re.S)
#: Separators dropped at the end of a line (the line break separates).
DROP_AT_END = set("，,、；;｜| ")
_WORD_PENALTY = 0.8  # cost of cutting a jieba word across lines (line costs are in [0, 1])
_SEPARATOR_BONUS = 0.45  # a break at a separator is preferred
#: Particles that lean on the word before them: a line that starts with one reads badly in a title.
PARTICLES = set("了的着过吗呢吧啊呀哦嘛啦么")
_PARTICLE_PENALTY = 0.5
_SMALLER_COST = 2.5  # cost of a size 10 % smaller (x 0.1), traded against a better breaking
_ORPHAN_PENALTY = 0.35  # cost of a last line of one character
_SPLIT_PENALTY = 5.0  # cost of breaking inside a Latin word (only when the word alone is wider than the box)


def legible_size(canvas_width: int) -> int:
    """The smallest em size (px) on a canvas `canvas_width` wide that stays legible at 360 px wide."""
    return math.ceil(LEGIBLE_PX_AT_360 * canvas_width / 360)


@dataclass(frozen=True)
class Box:
    """A rectangle in canvas pixels (x0, y0 inclusive; x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, other: tuple[int, int, int, int]) -> bool:
        """Whether a (x0, y0, x1, y1) rectangle lies inside this box."""
        return other[0] >= self.x0 and other[1] >= self.y0 and other[2] <= self.x1 and other[3] <= self.y1


@dataclass(frozen=True)
class Line:
    """One laid-out line: its text, where its baseline starts, and its ink box on the canvas."""

    text: str
    x: int
    baseline: int
    ink: tuple[int, int, int, int]


@dataclass(frozen=True)
class Block:
    """Text fitted into a box: the size it got and where every line goes."""

    text: str
    size: int
    bold: bool
    stroke: int
    box: Box
    lines: tuple[Line, ...] = field(default_factory=tuple)
    top: int = 0  #: y where the layout starts (the first line's em box top, less the stroke)

    @property
    def extent(self) -> int:
        """Height from the layout's top to the ink's bottom: the room the block needs when stacked."""
        return self.ink[3] - self.top

    def moved(self, top: int, box: Box) -> Block:
        """The same lines and size, shifted so the layout starts at `top`, inside `box` (same width)."""
        dy = top - self.top
        lines = tuple(
            Line(line.text, line.x, line.baseline + dy, (line.ink[0], line.ink[1] + dy, line.ink[2], line.ink[3] + dy))
            for line in self.lines
        )
        return replace(self, box=box, lines=lines, top=top)

    @property
    def ink(self) -> tuple[int, int, int, int]:
        """Union of the lines' ink boxes."""
        boxes = [line.ink for line in self.lines]
        return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)

    @property
    def height(self) -> int:
        """Height of the ink."""
        ink = self.ink
        return ink[3] - ink[1]


def _atoms(text: str, split_words: bool = False) -> list[str]:
    """Units that never break inside: a Han character, a punctuation mark, a space run, a Latin word or number
    (or, with `split_words`, each letter of it: the fallback for a word wider than the box)."""
    atoms = _ATOM.findall(text)
    if split_words:
        atoms = [piece for a in atoms for piece in (list(a) if len(a) > 1 and not a.isspace() else [a])]
    return atoms


@dataclass(frozen=True)
class _Text:
    """A cleaned text cut into atoms, with what line breaking needs to know about each."""

    text: str
    atoms: tuple[str, ...]
    offsets: tuple[int, ...]  # character offset of every atom, and the end
    first: tuple[int, ...]  # first[i]: the first non-space atom at or after i
    last: tuple[int, ...]  # last[j]: a line ending before atom j ends its ink at atom last[j] - 1
    breakable: tuple[bool, ...]  # breakable[j]: a line may end before atom j
    break_cost: tuple[float, ...]  # cost of ending a line before atom j


class Typesetter:
    """Fits and draws text with a `Fonts` instance; owns a jieba tokenizer for word-aware breaks.

    Args:
        fonts: the faces to use.
        cache_size: texts whose analysis and widths are kept.
    """

    #: Atom widths are measured at this size and scaled (the fit checks the real ink at the end).
    REF_SIZE = 200

    def __init__(self, fonts: Fonts, cache_size: int = 256) -> None:
        self.fonts = fonts
        self._jieba = None
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_size = cache_size

    def _cached(self, key: tuple, make: Any) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = make()
            self._cache[key] = value
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return value

    # 1. cleaning ---------------------------------------------------------------------------------------
    def clean(self, text: str) -> tuple[str, str]:
        """The text without emoji and without characters the font cannot show, and what was removed.

        Whitespace runs become one space; the result is stripped.
        """
        removed: list[str] = []

        def drop(m: re.Match[str]) -> str:
            removed.append(m.group(0))
            return ""

        text = _EMOJI_PRESENTATION.sub(drop, text)
        text = _EMOJI.sub(drop, text)
        kept = []
        for ch in text:
            if ch.isspace() or self.fonts.has_glyph(ch):
                kept.append(ch)
            else:
                removed.append(ch)
        cleaned = re.sub(r"\s+", " ", "".join(kept)).strip()
        return cleaned, "".join(removed)

    # 2. line breaking ------------------------------------------------------------------------------------
    def _word_starts(self, text: str) -> set[int]:
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(60)
            self._jieba = jieba.Tokenizer()
        starts, pos = set(), 0
        for word in self._jieba.lcut(text, HMM=False):
            starts.add(pos)
            pos += len(word)
        starts.add(pos)
        return starts

    def _analyse(self, text: str, split_words: bool) -> _Text:
        atoms = _atoms(text, split_words)
        n = len(atoms)
        offsets = [0]
        for a in atoms:
            offsets.append(offsets[-1] + len(a))
        words = self._word_starts(text)
        space = [a.isspace() for a in atoms]
        first = [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            first[i] = i if not space[i] else first[i + 1]
        last = [0] * (n + 1)
        for j in range(1, n + 1):
            k = j
            while k > 0 and (space[k - 1] or (j < n and atoms[k - 1] in DROP_AT_END)):
                k -= 1
            last[j] = k
        breakable, cost = [True] * (n + 1), [0.0] * (n + 1)
        for j in range(1, n):
            nxt, prev = atoms[j], atoms[j - 1]
            inside_word = split_words and prev.isalnum() and nxt.isalnum() and offsets[j] not in words
            breakable[j] = not (nxt[0] in NO_START or prev[-1] in NO_END)
            if prev in DROP_AT_END or space[j - 1] or space[j]:
                cost[j] = -_SEPARATOR_BONUS
            elif nxt in PARTICLES:
                cost[j] = _PARTICLE_PENALTY
            elif inside_word or (prev.isascii() and nxt.isascii() and prev.isalnum() and nxt.isalnum()):
                cost[j] = _SPLIT_PENALTY
            elif offsets[j] not in words:
                cost[j] = _WORD_PENALTY
        return _Text(text, tuple(atoms), tuple(offsets), tuple(first), tuple(last), tuple(breakable), tuple(cost))

    def break_lines(self, t: _Text, widths: list[float], width: float) -> tuple[list[str], float] | None:
        """Break an analysed text (atoms measured in `widths`) into the fewest lines no wider than `width`.

        A separator at a line's end (，、；｜ or a space) is dropped: the break itself separates. Among the
        breakings with the fewest lines, the cheapest wins: even lines ((width - line)^2 / width^2 each), no word
        cut, no particle starting a line, no one-character last line.

        Returns:
            The lines and the breaking's cost, or None when no breaking fits (an atom wider than `width`).
        """
        atoms, first, last, breakable, bcost = t.atoms, t.first, t.last, t.breakable, t.break_cost
        n = len(atoms)
        prefix = [0.0]
        for w in widths:
            prefix.append(prefix[-1] + w)

        def line_width(i: int, j: int) -> float:
            a, b = first[i], last[j]
            return prefix[b] - prefix[a] if b > a else 0.0

        inf = float("inf")
        fewest = [inf] * (n + 1)
        fewest[0] = 0
        for j in range(1, n + 1):
            if not breakable[j]:
                continue
            for i in range(j - 1, -1, -1):
                if line_width(i, j) > width:
                    break
                if fewest[i] + 1 < fewest[j]:
                    fewest[j] = fewest[i] + 1
        if fewest[n] == inf:
            return None
        count = int(fewest[n])
        cost = [[inf] * (n + 1) for _ in range(count + 1)]
        back = [[-1] * (n + 1) for _ in range(count + 1)]
        cost[0][0] = 0.0
        for k in range(1, count + 1):
            prev_row, row, brow = cost[k - 1], cost[k], back[k]
            for j in range(1, n + 1):
                if not breakable[j]:
                    continue
                extra = bcost[j] if j < n else 0.0
                for i in range(j - 1, -1, -1):
                    w = line_width(i, j)
                    if w > width:
                        break
                    if prev_row[i] == inf or w == 0:
                        continue
                    c = prev_row[i] + ((width - w) / width) ** 2 + extra
                    if j == n and k > 1 and last[j] - first[i] == 1 and len(atoms[first[i]]) == 1:
                        c += _ORPHAN_PENALTY
                    if c < row[j]:
                        row[j], brow[j] = c, i
        if cost[count][n] == inf:
            return None
        out, j = [], n
        for k in range(count, 0, -1):
            i = back[k][j]
            out.append(t.text[t.offsets[first[i]] : t.offsets[max(first[i], last[j])]])
            j = i
        return out[::-1], cost[count][n]

    # 3. fitting ------------------------------------------------------------------------------------------
    def _widths(self, t: _Text, bold: bool, split: bool) -> list[float]:
        def measure() -> list[float]:
            font = self.fonts.font(self.REF_SIZE, bold)
            return [font.getlength(a, language=LANGUAGE) for a in t.atoms]

        return self._cached(("widths", t.text, bold, split), measure)

    def _layout(self, text: str, size: int, bold: bool, box: Box, spacing: float) -> tuple[list[str], float] | None:
        stroke = self.fonts.stroke(size, bold)
        if (size + 2 * stroke) > box.height:
            return None
        width = box.width - 2 * stroke - 1
        scale = size / self.REF_SIZE
        broken = None
        for split in (False, True):  # words whole; letters of a word too wide for the box as the fallback
            t = self._cached(("text", text, split), lambda split=split: self._analyse(text, split))
            widths = [w * scale for w in self._widths(t, bold, split)]
            broken = self.break_lines(t, widths, width)
            if broken is not None:
                break
        if broken is None:
            return None
        lines = broken[0]
        if (len(lines) - 1) * round(size * spacing) + size + 2 * stroke > box.height:
            return None
        return lines, broken[1]

    def fit(
        self,
        text: str,
        box: Box,
        *,
        max_size: int,
        min_size: int,
        bold: bool = False,
        max_lines: int = 6,
        spacing: float = 1.22,
        align: Literal["left", "center", "right"] = "center",
        valign: Literal["top", "center", "bottom"] = "center",
        param: str = "title",
    ) -> Block:
        """The largest size in [min_size, max_size] at which `text` fits `box`, laid out.

        Raises:
            InputError: (naming `param`) the text is empty after cleaning, or does not fit at `min_size`.
        """
        cleaned, _ = self.clean(text)
        if not cleaned:
            raise InputError(f"{param}: nothing left to print after removing emoji and unsupported characters", param)
        lo, hi = min_size, max(min_size, max_size)
        largest: int | None = None
        while lo <= hi:  # binary search: fitting is monotonic in the size
            mid = (lo + hi) // 2
            laid = self._layout(cleaned, mid, bold, box, spacing)
            if laid is not None and len(laid[0]) <= max_lines:
                largest, lo = mid, mid + 1
            else:
                hi = mid - 1
        if largest is not None:
            # A slightly smaller size may break much better (at a comma, not inside a word): trade them off.
            options = []
            step = max(1, largest // 40)
            for size in range(largest, max(min_size, round(largest * 0.75)) - 1, -step):
                laid = self._layout(cleaned, size, bold, box, spacing)
                if laid is not None and len(laid[0]) <= max_lines:
                    options.append((laid[1] + _SMALLER_COST * (1 - size / largest), -size, laid[0]))
            for _, neg_size, lines in sorted(options, key=lambda o: (o[0], o[1])):
                block = self._place(cleaned, -neg_size, lines, bold, box, spacing, align, valign)
                if box.contains(block.ink):
                    return block
            for size in range(min(-o[1] for o in options) - 1, min_size - 1, -1):  # ink still outside: shrink
                laid = self._layout(cleaned, size, bold, box, spacing)
                if laid is not None and len(laid[0]) <= max_lines:
                    block = self._place(cleaned, size, laid[0], bold, box, spacing, align, valign)
                    if box.contains(block.ink):
                        return block
        raise InputError(
            f"{param}: too long for the template's text box ({len(cleaned)} characters do not fit at the smallest "
            f"legible size, {min_size} px); shorten it or pick another template",
            param,
        )

    def _place(
        self,
        text: str,
        size: int,
        lines: list[str],
        bold: bool,
        box: Box,
        spacing: float,
        align: str,
        valign: str,
    ) -> Block:
        font = self.fonts.font(size, bold)
        stroke = self.fonts.stroke(size, bold)
        step = round(size * spacing)
        height = (len(lines) - 1) * step + size + 2 * stroke
        top = {"top": box.y0, "center": box.y0 + (box.height - height) // 2, "bottom": box.y1 - height}[valign]
        placed = []
        for k, line in enumerate(lines):
            baseline = top + stroke + round(size * 0.88) + k * step
            width = font.getlength(line, language=LANGUAGE) + 2 * stroke
            if align == "left":
                x = box.x0 + stroke
            elif align == "right":
                x = round(box.x1 - width) + stroke
            else:
                x = round(box.x0 + (box.width - width) / 2) + stroke
            l0, t0, r0, b0 = font.getbbox(line, anchor="ls", stroke_width=stroke, language=LANGUAGE)
            placed.append(Line(line, x, baseline, (x + l0, baseline + t0, x + r0, baseline + b0)))
        block = Block(text=text, size=size, bold=bold, stroke=stroke, box=box, lines=tuple(placed), top=top)
        # The em box is an estimate of the ink: faces differ in how far glyphs reach below the baseline (the system
        # Noto Sans CJK reaches further than the wheel's). Nudge the block so its ink, not its em box, sits inside.
        ink = block.ink
        dy = min(0, box.y1 - ink[3]) if ink[3] > box.y1 else max(0, box.y0 - ink[1])
        return block.moved(top + dy, box) if dy else block

    # 4. drawing ------------------------------------------------------------------------------------------
    def draw(
        self,
        draw: ImageDraw.ImageDraw,
        block: Block,
        fill: tuple[int, ...],
        stroke_fill: tuple[int, ...] | None = None,
    ) -> None:
        """Draw a laid-out block (`stroke_fill` defaults to `fill`: the faux-bold stroke)."""
        font = self.fonts.font(block.size, block.bold)
        for line in block.lines:
            draw.text(
                (line.x, line.baseline),
                line.text,
                font=font,
                fill=fill,
                anchor="ls",
                stroke_width=block.stroke,
                stroke_fill=stroke_fill or fill,
                language=LANGUAGE,
            )
