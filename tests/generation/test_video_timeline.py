"""The slideshow's plan: slides cover the video, the Ken Burns window never leaves the photo and always holds the
product, captions stay inside the video — over many random photo sizes, product boxes and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from generation.video.timeline import CROSSFADE_S, MIN_SLIDE_S, plan

FRAME = (1080, 1920)


def _random_case(rng: np.random.Generator):
    n = int(rng.integers(1, 13))
    sizes, boxes = [], []
    for _ in range(n):
        w, h = int(rng.integers(300, 4000)), int(rng.integers(300, 4000))
        bw, bh = rng.uniform(0.05, 0.9, 2)
        x0, y0 = rng.uniform(0, 1 - bw), rng.uniform(0, 1 - bh)
        sizes.append((w, h))
        boxes.append((x0, y0, x0 + bw, y0 + bh))
    return sizes, boxes


@pytest.mark.parametrize("case", range(60))
def test_windows_stay_in_the_photo_and_hold_the_product(case):
    rng = np.random.default_rng(case)
    sizes, boxes = _random_case(rng)
    duration = float(rng.uniform(6, 60))
    timeline = plan(sizes, boxes, FRAME, duration, 30, cover=bool(case % 2), n_lines=case % 5, hashtags=True,
                    transition="crossfade" if case % 3 else "cut", seed=case)  # fmt: skip
    fill = 0
    for slide in timeline.slides:
        if slide.photo is None:
            continue
        w, h = sizes[slide.photo]
        x0, y0, x1, y1 = boxes[slide.photo]
        motion = slide.motion
        for u in np.linspace(0, 1, 11):
            cx, cy, zoom = motion.at(u)
            if motion.mode == "fit":
                assert 1.0 <= zoom <= 1.07
                continue
            fill += 1
            scale = max(FRAME[0] / w, FRAME[1] / h) * zoom
            ww, wh = FRAME[0] / scale, FRAME[1] / scale
            left, top = cx - ww / 2, cy - wh / 2
            assert left >= -1e-6 and top >= -1e-6 and left + ww <= w + 1e-6 and top + wh <= h + 1e-6
            assert left <= x0 * w + 1e-6 and top <= y0 * h + 1e-6
            assert left + ww >= x1 * w - 1e-6 and top + wh >= y1 * h - 1e-6
    assert fill or all(s.motion is None or s.motion.mode == "fit" for s in timeline.slides)


@pytest.mark.parametrize("case", range(40))
def test_slides_cover_the_whole_video_and_captions_stay_inside(case):
    rng = np.random.default_rng(100 + case)
    sizes, boxes = _random_case(rng)
    duration = float(rng.uniform(6, 60))
    transition = "crossfade" if case % 2 else "cut"
    timeline = plan(sizes, boxes, FRAME, duration, 30, cover=True, n_lines=4, hashtags=True,
                    transition=transition, seed=case)  # fmt: skip
    assert timeline.frames == round(duration * 30)
    for frame in range(0, timeline.frames, 7):
        slides, captions = timeline.at(frame)
        assert 1 <= len(slides) <= 2 and abs(sum(w for _, w in slides) - 1) < 1e-9
        assert all(0 < o <= 1 for _, o in captions)
    photos = [s for s in timeline.slides if s.photo is not None]
    assert [s.photo for s in photos] == list(range(len(sizes)))  # every photo, in order
    fade = timeline.transition
    assert fade <= (CROSSFADE_S if transition == "crossfade" else 0.0)
    for a, b in zip(timeline.slides, timeline.slides[1:], strict=False):
        assert b.start == pytest.approx(a.end - fade)
    assert all(s.end - s.start >= min(MIN_SLIDE_S, duration / len(sizes)) - 1e-6 for s in photos)
    assert timeline.slides[-1].end == pytest.approx(duration)
    assert all(0 <= c.start < c.end for c in timeline.captions)


def test_a_landscape_photo_is_fitted_and_a_portrait_one_fills():
    timeline = plan([(1600, 900), (900, 1600)], [(0.3, 0.3, 0.7, 0.7)] * 2, FRAME, 10, 30, cover=False, n_lines=0,
                    hashtags=False, transition="cut", seed=1)  # fmt: skip
    assert [s.motion.mode for s in timeline.slides] == ["fit", "fill"]


def test_same_seed_same_plan_other_seed_other_motion():
    args = ([(1200, 1600)] * 4, [(0.2, 0.3, 0.6, 0.7)] * 4, FRAME, 15, 30)
    kwargs = {"cover": True, "n_lines": 3, "hashtags": True, "transition": "crossfade"}
    assert plan(*args, **kwargs, seed=5) == plan(*args, **kwargs, seed=5)
    motions = {tuple(s.motion.start for s in plan(*args, **kwargs, seed=k).slides if s.motion) for k in range(6)}
    assert len(motions) > 1
