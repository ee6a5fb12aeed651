"""Temporal smoothing: the One-Euro filter itself, and landmark jitter on a still face in video mode."""

from __future__ import annotations

import numpy as np
import pytest

from ar_tryon.landmarks import FaceLandmarker, FaceLandmarkerOptions
from ar_tryon.smoothing import OneEuroFilter, OneEuroOptions
from tests.ar_tryon.conftest import place

MAX_JITTER_PX = 1.0


def test_filter_holds_a_constant_and_follows_a_step():
    f = OneEuroFilter(OneEuroOptions())
    x = np.full((478, 3), 10.0, np.float32)
    for i in range(10):
        assert np.allclose(f(x, i / 30), 10.0)
    moved = x + 50.0
    out = [f(moved, (10 + i) / 30, scale=100.0) for i in range(15)]
    assert out[0].mean() > 10.0 and abs(out[-1].mean() - 60.0) < 1.0  # responsive, no lasting lag


def test_filter_options_are_checked():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroOptions(min_cutoff=0)
    with pytest.raises(ValueError, match="beta"):
        OneEuroOptions(beta=-1)


def jitter(frames: list[np.ndarray], options: FaceLandmarkerOptions) -> float:
    """Largest per-landmark RMS distance (px) from the landmark's mean position, after a 10-frame warm-up."""
    tracks = []
    with FaceLandmarker(options) as lm:
        for i, frame in enumerate(frames):
            faces = lm.process_frame(frame, i / 30)
            assert len(faces) == 1
            tracks.append(faces[0].xy.copy())
    xy = np.stack(tracks[10:])
    return float(np.sqrt((np.linalg.norm(xy - xy.mean(axis=0), axis=2) ** 2).mean(axis=0)).max())


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_still_face_jitter_is_at_most_one_pixel_with_smoothing(photo, width, height):
    frame, _ = place(photo, width, height, 0.8 if width == 1920 else 1.0)
    rng = np.random.default_rng(0)
    # Sensor noise, different in each frame, as a webcam gives even when nothing moves.
    frames = [np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8) for _ in range(40)]
    smoothed = jitter(frames, FaceLandmarkerOptions())
    raw = jitter(frames, FaceLandmarkerOptions(smoothing=None))
    assert smoothed <= MAX_JITTER_PX, f"jitter {smoothed:.2f} px (unsmoothed {raw:.2f} px)"
    assert smoothed < raw
