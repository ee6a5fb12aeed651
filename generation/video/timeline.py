"""When each slide and caption is on screen, and how each photo moves (Ken Burns) — numbers only, no pixels.

The video is a row of slides: the cover (a still, when there is a title) and then each photo. Consecutive slides
overlap by the transition (a crossfade; zero for cuts). A photo slide either *fills* the frame (a 9:16 window
that pans and zooms inside the photo and always holds the product's box) or, when filling would crop too much
of the photo or cut the product, is *fitted* whole over its own blurred photo and zooms gently around the
product. Captions fade in after their slide starts and out before it ends; the hashtags close the video.
Every random choice (zoom in or out, pan direction) comes from the seed: same inputs, same video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Box", "Motion", "Slide", "Caption", "Timeline", "plan", "ease", "CROSSFADE_S", "COVER_S"]

#: A normalised box (x0, y0, x1, y1) in [0, 1] of a photo.
Box = tuple[float, float, float, float]

CROSSFADE_S = 0.4  # crossfade length
COVER_S = 1.2  # how long the cover stays alone on screen
ZOOM = 1.12  # Ken Burns zoom range: 1 -> ZOOM (or back)
FIT_ZOOM = 1.06  # the gentler zoom of a fitted photo
MIN_FILL_AREA = 0.5  # fill only when the 9:16 window keeps at least this share of the photo's area
PRODUCT_MARGIN = 0.04  # the product box grows by this (fraction of the photo) before it must stay in frame
CAPTION_FADE_S = 0.3
HASHTAGS_S = 2.5  # hashtags stay on screen this long at the end
MIN_SLIDE_S = 0.9  # a photo is on screen at least this long, when the duration allows


def ease(u: float) -> float:
    """Smoothstep: motion and fades start and end at rest."""
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


@dataclass(frozen=True)
class Motion:
    """A photo's motion in photo pixels: the window centre and zoom at the slide's start and end.

    In `fill` mode the zoom is relative to the scale at which the photo just covers the frame; in `fit` mode
    to the scale at which it is just contained in it.
    """

    mode: Literal["fill", "fit"]
    start: tuple[float, float, float]  # (cx, cy, zoom)
    end: tuple[float, float, float]

    def at(self, u: float) -> tuple[float, float, float]:
        """Centre and zoom at `u` (0..1). The window's size (1 / zoom) and centre move linearly in the eased time,
        so its edges do too: a window whose two ends hold the product and stay in the photo does so throughout."""
        e = ease(u)
        (x0, y0, z0), (x1, y1, z1) = self.start, self.end
        inverse = 1 / z0 + (1 / z1 - 1 / z0) * e
        return x0 + (x1 - x0) * e, y0 + (y1 - y0) * e, 1 / inverse


@dataclass(frozen=True)
class Slide:
    """One slide: the cover (`photo` None) or photo `photo`, on screen from `start` to `end` seconds."""

    photo: int | None
    start: float
    end: float
    motion: Motion | None = None

    def progress(self, t: float) -> float:
        return (t - self.start) / max(1e-9, self.end - self.start)


@dataclass(frozen=True)
class Caption:
    """Caption `index` (into the timeline's texts) on screen from `start` to `end`, fading at both ends."""

    index: int
    start: float
    end: float

    def opacity(self, t: float) -> float:
        if t < self.start or t >= self.end:
            return 0.0
        return ease(min((t - self.start) / CAPTION_FADE_S, (self.end - t) / CAPTION_FADE_S, 1.0))


@dataclass(frozen=True)
class Timeline:
    duration: float
    fps: int
    transition: float
    slides: tuple[Slide, ...]
    captions: tuple[Caption, ...]

    @property
    def frames(self) -> int:
        return round(self.duration * self.fps)

    def at(self, frame: int) -> tuple[list[tuple[Slide, float]], list[tuple[Caption, float]]]:
        """The slides on screen at `frame` with their weights (summing to 1), and the captions with their opacity."""
        t = frame / self.fps
        on = [s for s in self.slides if s.start <= t < s.end] or [self.slides[-1]]
        if len(on) == 1:
            slides = [(on[0], 1.0)]
        else:  # a crossfade: the later slide comes in
            a, b = on[-2], on[-1]
            w = ease((t - b.start) / max(1e-9, self.transition))
            slides = [(a, 1.0 - w), (b, w)]
        captions = [(c, o) for c in self.captions if (o := c.opacity(t)) > 0]
        return slides, captions


def _fill_motion(
    size: tuple[int, int], frame: tuple[int, int], product: Box, rng: np.random.Generator
) -> Motion | None:
    """A pan and zoom of a 9:16 window inside the photo that never leaves it and always holds the product box;
    None when no window does (the product is wider than the window) or filling would crop too much."""
    w, h = size
    fw, fh = frame
    cover = max(fw / w, fh / h)  # scale at which the photo just covers the frame
    win_w, win_h = fw / cover, fh / cover  # the window at zoom 1, in photo pixels
    if (win_w * win_h) / (w * h) < MIN_FILL_AREA:
        return None
    m = PRODUCT_MARGIN
    px0, py0 = max(0.0, product[0] - m) * w, max(0.0, product[1] - m) * h
    px1, py1 = min(1.0, product[2] + m) * w, min(1.0, product[3] + m) * h

    def centres(zoom: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The range of window centres at `zoom` that keep the window in the photo and the product inside it."""
        ww, wh = win_w / zoom, win_h / zoom
        if px1 - px0 > ww + 1e-6 or py1 - py0 > wh + 1e-6:
            return None
        lo_x, hi_x = max(ww / 2, px1 - ww / 2), min(w - ww / 2, px0 + ww / 2)
        lo_y, hi_y = max(wh / 2, py1 - wh / 2), min(h - wh / 2, py0 + wh / 2)
        if lo_x > hi_x + 1e-6 or lo_y > hi_y + 1e-6:
            return None
        return (lo_x, max(lo_x, hi_x)), (lo_y, max(lo_y, hi_y))

    wide = centres(1.0)
    if wide is None:
        return None
    zoom = ZOOM
    while zoom > 1.0 and centres(zoom) is None:  # the product is big: zoom less
        zoom = 1.0 + (zoom - 1.0) / 2 if zoom - 1.0 > 0.01 else 1.0
    tight = centres(zoom) or wide
    pcx, pcy = (px0 + px1) / 2, (py0 + py1) / 2

    def pick(rng_x: tuple[float, float], rng_y: tuple[float, float], toward: float) -> tuple[float, float]:
        """A centre in the allowed range, pulled `toward` (0..1) the product's centre from a random side."""
        side = rng.uniform(-1, 1, 2)
        cx = np.clip(pcx + side[0] * (rng_x[1] - rng_x[0]) / 2 * (1 - toward), *rng_x)
        cy = np.clip(pcy + side[1] * (rng_y[1] - rng_y[0]) / 2 * (1 - toward), *rng_y)
        return float(cx), float(cy)

    far = (*pick(*wide, toward=0.3), 1.0)
    near = (*pick(*tight, toward=0.8), zoom)
    start, end = (far, near) if rng.random() < 0.6 else (near, far)  # zooming in reads as "look at this"
    return Motion("fill", start, end)


def _fit_motion(size: tuple[int, int], product: Box, rng: np.random.Generator) -> Motion:
    """The whole photo over its blurred self, zooming gently toward (or away from) the product."""
    w, h = size
    pcx, pcy = (product[0] + product[2]) / 2 * w, (product[1] + product[3]) / 2 * h
    centre = (w / 2, h / 2, 1.0)
    near = (w / 2 + (pcx - w / 2) * 0.3, h / 2 + (pcy - h / 2) * 0.3, FIT_ZOOM)
    start, end = (centre, near) if rng.random() < 0.6 else (near, centre)
    return Motion("fit", start, end)


def plan(
    sizes: list[tuple[int, int]],
    products: list[Box],
    frame: tuple[int, int],
    duration: float,
    fps: int,
    *,
    cover: bool,
    n_lines: int,
    hashtags: bool,
    transition: Literal["crossfade", "cut"],
    seed: int,
) -> Timeline:
    """Lay out the slides, motions and captions of a slideshow.

    Args:
        sizes: each photo's (width, height).
        products: each photo's product box (normalised), from the cut-out or saliency.
        frame: the video's (width, height).
        duration, fps: the video's length and rate.
        cover: open on the cover still.
        n_lines: captions, one per photo in turn (spread over the photos when there are fewer lines).
        hashtags: close with the hashtags (caption index `n_lines`).
        transition: crossfade or cut.
        seed: the motions' random choices.
    """
    rng = np.random.default_rng(seed)
    n = len(sizes)
    fade = CROSSFADE_S if transition == "crossfade" else 0.0
    lead = COVER_S if cover else 0.0
    if (duration - lead) / n < MIN_SLIDE_S:  # many photos in a short video: a shorter cover, then shorter fades
        lead = max(0.0, duration - n * MIN_SLIDE_S) if cover else 0.0
    per = (duration - lead) / n  # from one photo's arrival to the next one's
    fade = min(fade, per / 2, lead / 2 if cover and lead > 0 else fade)
    slides: list[Slide] = []
    if cover and lead > 0:
        slides.append(Slide(None, 0.0, lead + fade))
    for i, (size, product) in enumerate(zip(sizes, products, strict=True)):
        motion = _fill_motion(size, frame, product, rng) or _fit_motion(size, product, rng)
        start = lead + i * per
        end = duration if i == n - 1 else start + per + fade
        slides.append(Slide(i, start, end, motion))
    captions: list[Caption] = []
    photo_slides = [s for s in slides if s.photo is not None]
    tail = min(HASHTAGS_S, duration / 3) if hashtags else 0.0
    for k in range(n_lines):
        s = photo_slides[math.floor(k * n / n_lines)] if n_lines <= n else photo_slides[k % n]
        start = s.start + (fade if s is not slides[0] else 0.0)
        end = min(s.end - fade if s is not photo_slides[-1] else s.end, duration - tail)
        if n_lines > n:  # more lines than photos: the slide's time is shared
            share = (end - start) / math.ceil(n_lines / n)
            start, end = start + share * (k // n), start + share * (k // n + 1)
        if end - start > 2 * CAPTION_FADE_S:
            captions.append(Caption(k, start, end))
    if hashtags:
        captions.append(Caption(n_lines, duration - tail, duration + CAPTION_FADE_S))  # no fade-out at the end
    return Timeline(duration, fps, fade, tuple(slides), tuple(captions))
