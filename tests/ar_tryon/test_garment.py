"""Garments on a real photo: placed between the shoulders, scaled to the person, cut out, bad input refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ar_tryon.errors import ImageError, NoBodyError
from ar_tryon.garment import GarmentTryOn, garment_rgba
from ar_tryon.landmarks import PoseIndex as P


def tshirt(color=(30, 110, 200)) -> np.ndarray:
    rgba = np.zeros((440, 400, 4), np.uint8)
    poly = np.array([[120, 10], [160, 30], [240, 30], [280, 10], [390, 90], [340, 150], [300, 120], [300, 430],
                     [100, 430], [100, 120], [60, 150], [10, 90]], np.int32)  # fmt: skip
    cv2.fillPoly(rgba, [poly], (*color, 255))
    return rgba


@pytest.fixture(scope="module")
def tryon():
    with GarmentTryOn() as t:
        yield t


@pytest.mark.parametrize("mirror", [False, True])
def test_upper_garment_sits_between_the_shoulders_and_scales_with_them(tryon, photo, mirror):
    image = np.ascontiguousarray(photo[:, ::-1]) if mirror else photo
    result = tryon.process(image, tshirt(), "upper")
    ls, rs = result.pose.xy(P.LEFT_SHOULDER), result.pose.xy(P.RIGHT_SHOULDER)
    cover = result.coverage > 127
    ys, xs = np.nonzero(cover)
    centre_x = float(xs.mean())
    assert min(ls[0], rs[0]) < centre_x < max(ls[0], rs[0])
    assert abs(centre_x - (ls[0] + rs[0]) / 2) < 0.15 * abs(ls[0] - rs[0])
    # The top of the body part is near the shoulder line, not over the face.
    assert abs(ys.min() - min(ls[1], rs[1])) < 0.35 * abs(ls[0] - rs[0])
    # Scaled to the person: the garment spans about the shoulders (with ease), not the frame.
    row = cover[int(max(ls[1], rs[1]) + 20)]
    width = np.ptp(np.nonzero(row)[0])
    assert 0.9 * abs(ls[0] - rs[0]) < width < 2.2 * abs(ls[0] - rs[0])
    # Pixels outside the garment are untouched; the face stays visible.
    assert (result.image[result.coverage == 0] == image[result.coverage == 0]).all()
    face_cols = slice(212, 332) if mirror else slice(180, 300)
    assert not cover[100:200, face_cols].any()  # forehead to chin


def test_smaller_person_gets_a_smaller_garment(tryon, photo):
    def garment_width(image: np.ndarray) -> int:
        return int(np.ptp(np.nonzero((tryon.process(image, tshirt(), "upper").coverage > 127).any(axis=0))[0]))

    frame = np.full((512, 512, 3), 230, np.uint8)
    frame[128:384, 128:384] = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    # The person is half the size: the garment is about half as wide (the pose model's shoulders vary a bit).
    assert 0.3 < garment_width(frame) / garment_width(photo) < 0.7


def test_cut_out_from_a_plain_background_and_refusals():
    shirt = tshirt()
    on_white = shirt[..., :3].copy()
    on_white[shirt[..., 3] == 0] = (246, 246, 246)
    cut = garment_rgba(on_white)
    agree = ((cut[..., 3] > 127) == (shirt[..., 3] > 127)).mean()
    assert agree > 0.99
    with pytest.raises(ImageError, match="plain"):
        garment_rgba((np.random.default_rng(1).random((120, 120, 3)) * 255).astype(np.uint8))
    with pytest.raises(ImageError, match="no garment"):
        garment_rgba(np.zeros((50, 50, 3), np.uint8), np.zeros((50, 50), np.uint8))


def test_no_person_and_hidden_hips_are_clear_errors(tryon, photo):
    with pytest.raises(NoBodyError, match="no person"):
        tryon.process(np.full((300, 300, 3), 200, np.uint8), tshirt(), "upper")
    with pytest.raises(NoBodyError, match="hips"):  # the astronaut photo ends at the chest
        tryon.process(photo, tshirt(), "lower")
    with pytest.raises(ValueError):
        tryon.process(photo, tshirt(), "hat")
