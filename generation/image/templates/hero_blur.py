"""大图模糊 `hero_blur`: the product large over its own photo, blurred and darkened; a big white title on top."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from generation.image.draw import aligned_backdrop, blurred_backdrop
from generation.image.palette import TEXT_CONTRAST, contrast, mix, readable_text
from generation.image.templates.base import Scene, Template

__all__ = ["HeroBlur"]

_WHITE = (255, 255, 255)


def _darken_for_white(backdrop: np.ndarray, rows: slice) -> float:
    """The brightness factor (<= 1) that makes white text readable over the given rows (their 90th percentile)."""
    region = backdrop[rows].reshape(-1, 3)
    bright = np.percentile(region, 90, axis=0)
    for k in np.arange(1.0, 0.2, -0.04):
        if contrast(_WHITE, tuple(int(v) for v in bright * k)) >= TEXT_CONTRAST:
            return float(k)
    return 0.2


class HeroBlur(Template):
    name = "hero_blur"

    def render(self, scene: Scene) -> Image.Image:
        # 1. text first: a title that cannot fit fails before painting
        title, subtitle = scene.fit_stack(
            scene.box("text"),
            [
                ("title", scene.spec.title, scene.title_options()),
                ("subtitle", scene.spec.subtitle, scene.text_options(0.04, share=0.4)),
            ],
            valign="center",
            gap=0.04,
        )
        photo = scene.photos[0]
        pal = scene.palette
        w, h = scene.size
        # 2. backdrop: the photo blurred, pulled towards the product's dark shade, darker behind the text
        if photo.cutout is not None and photo.box is not None:
            # the same photo, enlarged and blurred, lies behind the product exactly where the product stands
            x, y, pw, _ = scene.cutout_rect(scene.box("product"), photo)
            k = pw / photo.cutout.shape[1]
            small = aligned_backdrop(
                photo.rgb, scene.size, k, (x - photo.box[0] * k, y - photo.box[1] * k), blur=scene.px(0.05)
            )
        else:
            small = blurred_backdrop(photo.rgb, scene.size, photo.focus, blur=scene.px(0.05), scale=0.125)
        sh = small.shape[0]
        top = np.array(mix(pal.dark, (0, 0, 0), 0.25), np.float32)
        bottom = np.array(mix(pal.accent, pal.dark, 0.45), np.float32)
        t = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
        backdrop = small.astype(np.float32) * 0.55 + (top * (1 - t) + bottom * t) * 0.45
        f = sh / h  # the work is done at 1/8 size: everything here is smooth; one upscale at the end
        text_bottom = ((subtitle.ink[3] if subtitle else title.ink[3]) + scene.px(0.03)) * f
        k = _darken_for_white(backdrop, slice(0, max(1, min(sh, round(text_bottom) + 1))))
        ramp = np.interp(np.arange(sh), [0, text_bottom, min(sh, text_bottom + sh * 0.2)], [k, k, 1.0])
        backdrop *= ramp.astype(np.float32)[:, None, None]
        small = np.clip(backdrop, 0, 255).astype(np.uint8)
        canvas = Image.fromarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))
        # 3. the product, big, standing on the lower part
        product = scene.place_product(canvas, scene.box("product"), border=0.012)
        # 4. words: white title with a soft shadow, the subtitle in an accent pill
        scene.draw_text(canvas, title, _WHITE, shadow=0.008)
        if subtitle is not None:
            x0, y0, x1, y1 = subtitle.ink
            pad = scene.px(0.025)
            fill = pal.accent
            ink = readable_text(fill, [_WHITE])
            if contrast(ink, fill) < TEXT_CONTRAST:
                fill = pal.dark
                ink = readable_text(fill, [_WHITE])
            ImageDraw.Draw(canvas).rounded_rectangle(
                (x0 - pad, y0 - pad * 0.6, x1 + pad, y1 + pad * 0.6), radius=(y1 - y0) // 2 + pad, fill=fill
            )
            scene.draw_text(canvas, subtitle, ink)
        # 5. stickers at the product's corners
        scene.stickers(
            canvas,
            badge_at=(product[2] - scene.px(0.02), product[1] + scene.px(0.04)),
            price_at=(product[0] + scene.px(0.06), product[3] - scene.px(0.1)),
        )
        return canvas
