"""Chinese titles set in Noto Sans CJK: line breaking rules, auto-fit, emoji, legibility, colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.errors import InputError
from generation.image.fonts import Fonts
from generation.image.palette import (
    TEXT_CONTRAST,
    contrast,
    dominant_colours,
    palette_of,
    readable_text,
    with_contrast,
)
from generation.image.testing import product_shot
from generation.image.text import NO_END, NO_START, Box, Typesetter, legible_size


@pytest.fixture(scope="module")
def ts() -> Typesetter:
    return Typesetter(Fonts())


def test_the_font_is_noto_sans_cjk_and_shows_simplified_chinese() -> None:
    fonts = Fonts()
    family, _ = fonts.font(40).getname()
    assert "Noto Sans CJK" in family
    assert all(fonts.has_glyph(ch) for ch in "这款面霜种草了¥，。！SPF")
    assert not fonts.has_glyph("😀")


TITLES = [
    "夏天必备的防晒霜，清爽不油腻！",
    "SPF50+防晒霜｜户外运动也不怕晒黑",
    "学生党也能入手的平价护肤套装（附使用教程）",
    "3.5ml小样也能用一个月，¥39.9到手",
    "Summer Glow Serum 焕亮精华「真实测评」",
    "被这款面霜种草了。干皮救星，一抹化水、不搓泥……",
]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("width", [420, 700, 1100])
def test_breaking_follows_chinese_rules(ts: Typesetter, title: str, width: int) -> None:
    block = ts.fit(title, Box(0, 0, width, 900), max_size=140, min_size=40, bold=True)
    lines = [line.text for line in block.lines]
    for line in lines:
        assert line and line[0] not in NO_START, lines  # 避头: no closing punctuation starts a line
        assert line[-1] not in NO_END, lines  # 避尾: no opening punctuation ends a line
        assert line[-1] not in "，、；｜ ", lines  # a separator at a break is dropped
    for word in ("SPF50+", "3.5ml", "39.9", "Summer", "Glow", "Serum"):
        if word in title:
            assert any(word in line for line in lines), lines  # Latin words and numbers stay whole
    assert "".join(lines).replace(" ", "") == "".join(ch for ch in title if ch not in "，、；｜ ").replace(" ", "") or (
        len("".join(lines)) >= len(title) - title.count("，") - title.count("｜") - 2
    )
    assert block.box.contains(block.ink)


def test_a_break_prefers_the_comma_and_keeps_words_together(ts: Typesetter) -> None:
    block = ts.fit("夏天必备的防晒霜，清爽不油腻", Box(0, 0, 1068, 400), max_size=161, min_size=56, bold=True)
    assert [line.text for line in block.lines] == ["夏天必备的防晒霜", "清爽不油腻"]
    block = ts.fit("被这款面霜种草了｜干皮救星", Box(0, 0, 560, 900), max_size=173, min_size=45, bold=True)
    assert all("面霜" in line.text or "面" not in line.text for line in block.lines)  # 面霜 is not cut


def test_a_word_wider_than_the_box_is_split_as_a_last_resort(ts: Typesetter) -> None:
    block = ts.fit("Supercalifragilistic", Box(0, 0, 300, 600), max_size=60, min_size=40)
    assert len(block.lines) >= 2 and block.box.contains(block.ink)


@pytest.mark.parametrize("size", [(1242, 1660), (1080, 1080), (1080, 1920)])
def test_text_shrinks_to_fit_and_never_leaves_its_box(ts: Typesetter, size: tuple[int, int]) -> None:
    w, _ = size
    box = Box(round(w * 0.07), 40, round(w * 0.93), 40 + round(w * 0.3))
    sizes = []
    for n in (4, 8, 14, 20, 28, 40):
        title = ("防晒霜清爽不油腻户外运动" * 5)[:n]
        block = ts.fit(title, box, max_size=round(w * 0.13), min_size=legible_size(w), bold=True)
        assert box.contains(block.ink)
        assert 0 <= block.ink[0] and block.ink[2] <= w
        sizes.append(block.size)
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_drawn_pixels_stay_inside_the_reported_ink(ts: Typesetter) -> None:
    block = ts.fit("被这款面霜种草了｜干皮救星 SPF50+", Box(100, 100, 700, 500), max_size=120, min_size=40, bold=True)
    img = Image.new("L", (800, 600), 0)
    ts.draw(ImageDraw.Draw(img), block, (255,))
    ys, xs = np.nonzero(np.asarray(img))
    x0, y0, x1, y1 = block.ink
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
    assert block.box.contains(block.ink)


def test_too_long_for_the_box_at_the_legible_size_names_the_field(ts: Typesetter) -> None:
    with pytest.raises(InputError) as err:
        ts.fit("很长的标题" * 20, Box(0, 0, 600, 200), max_size=100, min_size=56, param="title")
    assert err.value.param == "title" and err.value.message.startswith("title:")


def test_legible_at_feed_thumbnail_width(ts: Typesetter) -> None:
    for width in (1242, 1080):
        size = legible_size(width)
        font = ts.fonts.font(size, True)
        x0, y0, x1, y1 = font.getbbox("国", anchor="ls")
        assert (y1 - y0) * 360 / width >= 14  # a Han character is >= 14 px tall on a 360 px wide thumbnail


def test_emoji_are_removed_not_drawn_as_boxes(ts: Typesetter) -> None:
    cleaned, removed = ts.clean("种草✨好物💕 1️⃣ 👩‍👩‍👧 🇨🇳 ❤️ ★")
    assert cleaned == "种草好物 ★"  # ★ has a glyph in Noto Sans CJK and stays
    assert "✨" in removed and "💕" in removed
    block = ts.fit("必入✨✨", Box(0, 0, 800, 300), max_size=100, min_size=40)
    assert block.lines[0].text == "必入"
    with pytest.raises(InputError) as err:
        ts.fit("✨💕🎉", Box(0, 0, 800, 300), max_size=100, min_size=40, param="badge")
    assert err.value.param == "badge"


def test_colours_follow_wcag_contrast() -> None:
    assert contrast((255, 255, 255), (0, 0, 0)) == pytest.approx(21, abs=0.01)
    rng = np.random.default_rng(0)
    for _ in range(200):
        bg = tuple(int(v) for v in rng.integers(0, 256, 3))
        assert contrast(readable_text(bg), bg) >= TEXT_CONTRAST
        assert contrast(with_contrast(bg, (255, 255, 255)), (255, 255, 255)) >= TEXT_CONTRAST


def test_the_palette_comes_from_the_product() -> None:
    shot = product_shot("bottle", "white", seed=0)  # a coloured bottle on a white sweep
    rgba = np.dstack([shot.rgb, shot.mask.astype(np.uint8) * 255])
    colours = dominant_colours(rgba)
    assert sum(share for _, share in colours) == pytest.approx(1.0)
    body = np.median(shot.rgb[shot.mask][::7], axis=0)  # most of the bottle is its body colour
    assert np.abs(np.array(colours[0][0]) - body).max() < 40
    assert not any(min(c) > 235 and share > 0.05 for c, share in colours)  # not the sweep
    palette = palette_of(rgba, fallback_accent=(29, 78, 216))
    hue = [int(cv2.cvtColor(np.uint8([[c]]), cv2.COLOR_RGB2HSV)[0, 0, 0]) for c in (palette.accent, colours[0][0])]
    assert abs(hue[0] - hue[1]) <= 6  # the accent is the product's own hue (deepened when pale)
    assert contrast(palette.dark, palette.light) >= TEXT_CONTRAST
    grey = np.dstack([np.full((50, 50, 3), 128, np.uint8), np.full((50, 50), 255, np.uint8)])
    assert palette_of(grey, fallback_accent=(29, 78, 216)).accent == (29, 78, 216)
