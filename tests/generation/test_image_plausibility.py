"""Plausibility of a cut-out (generation/image/plausibility.py): each check fails on the shape it is for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.image.plausibility import MIN_SOLIDITY, STRICT, assess

H, W = 300, 400


def photo_with(mask: np.ndarray, inside=(200, 40, 40), outside=(120, 90, 60)) -> np.ndarray:
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = outside
    rgb[mask] = inside
    return rgb


def disc(cx: int = 200, cy: int = 150, r: int = 80) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.circle(m, (cx, cy), r, 1, -1)
    return m.astype(bool)


def test_a_solid_outlined_product_is_clean() -> None:
    mask = disc()
    a = assess(mask, photo_with(mask))
    assert a.clean and a.reason == ""
    assert a.solidity > 0.97 and a.main_share == 1.0 and a.edge_support > 0.95 and a.sides == 0
    assert assess(mask.astype(np.uint8) * 255).clean  # uint8 alpha, no photo


def test_a_crescent_is_not_clean() -> None:
    mask = disc(r=120) & ~disc(cx=235, r=120)  # a bite out of the disc: a thin crescent
    a = assess(mask, photo_with(mask))
    assert a.solidity < MIN_SOLIDITY and not a.clean and "solidity" in a.reason


def test_scraps_are_not_clean() -> None:
    mask = np.zeros((H, W), bool)
    for cx, cy in ((60, 60), (200, 150), (330, 240), (90, 240)):
        mask |= disc(cx, cy, 38)
    a = assess(mask, photo_with(mask))
    assert not a.clean and "fragmented" in a.reason


def test_a_mask_along_the_border_is_not_clean() -> None:
    mask = np.zeros((H, W), bool)
    mask[:200] = True  # the top of the scene, wall to wall: background, not a product
    a = assess(mask, photo_with(mask))
    assert a.sides == 3 and a.frame_contact > 0.5 and not a.clean and "border" in a.reason
    mask = np.zeros((H, W), bool)
    mask[120:, 100:300] = True  # a product cut by the bottom edge is fine
    a = assess(mask, photo_with(mask))
    assert a.sides == 1 and a.clean


def test_an_outline_through_a_uniform_surface_has_no_edge_support() -> None:
    mask = disc()
    flat = photo_with(mask, inside=(120, 90, 60))  # the "product" has the background's colour: no outline
    a = assess(mask, flat)
    assert a.edge_support < 0.1 and not a.clean and "separates colours" in a.reason
    assert assess(mask).clean  # without the photo the shape alone passes


@pytest.mark.parametrize("coverage", [0.01, 0.95])
def test_coverage_out_of_range_is_not_clean(coverage: float) -> None:
    mask = np.zeros((H, W), bool)
    side = int(np.sqrt(coverage * H * W))
    if coverage > 0.5:
        mask[:] = True
        mask[:3, :3] = False
    else:
        mask[100 : 100 + side, 100 : 100 + side] = True
    a = assess(mask)
    assert not a.clean and "coverage" in a.reason


def test_strict_thresholds_refuse_what_the_default_accepts() -> None:
    mask = np.zeros((H, W), bool)
    mask[60:240, 80:160] = True
    mask[180:240, 80:320] = True  # an L: solidity ~0.6
    rgb = photo_with(mask)
    assert assess(mask, rgb).clean
    strict = assess(mask, rgb, STRICT)
    assert not strict.clean and "solidity" in strict.reason
