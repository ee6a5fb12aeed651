"""Product cut-out, judged by geometry on drawn product shots (exact masks) and by sense on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from common.errors import InputError
from generation.image.cutout import alpha_box, cut_out, is_clean
from generation.image.testing import iou, product_shot

KINDS = ("bottle", "box", "jar")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cut_out_on_studio_white_matches_the_product(kind: str, seed: int) -> None:
    shot = product_shot(kind, "white", seed=seed)
    rgba = cut_out(shot.rgb)
    assert rgba.shape == (*shot.rgb.shape[:2], 4) and rgba.dtype == np.uint8
    assert iou(rgba[..., 3], shot.mask) >= 0.9  # the contact shadow is left out
    assert is_clean(rgba[..., 3])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cut_out_on_a_busy_table_matches_the_product(kind: str, seed: int) -> None:
    shot = product_shot(kind, "busy", seed=seed)
    rgba = cut_out(shot.rgb)
    assert iou(rgba[..., 3], shot.mask) >= 0.8


def test_cut_out_edges_are_clean_and_take_no_background_colour() -> None:
    shot = product_shot("bottle", "white", size=(1200, 1600), seed=3)
    rgba = cut_out(shot.rgb)
    alpha = rgba[..., 3]
    # a thin edge: few partially transparent pixels compared with the outline's length
    partial = ((alpha > 10) & (alpha < 245)).sum()
    outline = (
        np.abs(np.diff(shot.mask.astype(np.int8), axis=1)).sum()
        + np.abs(np.diff(shot.mask.astype(np.int8), axis=0)).sum()
    )
    assert partial < 4 * outline
    # no white halo: edge pixels keep the product's colour, not the sweep's near-white
    edge = (alpha > 30) & (alpha < 220)
    assert rgba[..., :3][edge].mean() < 200
    # nothing far from the product
    far = np.ones_like(shot.mask)
    x0, y0, x1, y1 = alpha_box(shot.mask.astype(np.uint8) * 255)
    far[max(0, y0 - 40) : y1 + 40, max(0, x0 - 40) : x1 + 40] = False
    assert alpha[far].max() < 128


def test_cut_out_is_deterministic() -> None:
    shot = product_shot("jar", "busy", seed=5)
    assert np.array_equal(cut_out(shot.rgb), cut_out(shot.rgb))


def test_a_user_mask_bypasses_grabcut() -> None:
    shot = product_shot("box", "busy", seed=1)
    mask = np.zeros(shot.mask.shape, bool)
    mask[100:300, 200:500] = True  # deliberately not the product: the mask is obeyed as given
    rgba = cut_out(shot.rgb, mask)
    assert np.array_equal(rgba[..., 3] >= 128, mask)
    assert np.array_equal(rgba[..., :3], shot.rgb)
    half = cut_out(shot.rgb, (mask[::2, ::2] * 255).astype(np.uint8))  # same aspect, half size: resized
    assert iou(half[..., 3], mask) > 0.98


def test_an_rgba_photo_uses_its_alpha() -> None:
    shot = product_shot("bottle", "white", seed=2)
    rgba_in = np.dstack([shot.rgb, shot.mask.astype(np.uint8) * 255])
    rgba = cut_out(rgba_in)
    assert np.array_equal(rgba[..., 3], rgba_in[..., 3])


def test_a_real_photo_keeps_the_cup_and_drops_the_corners() -> None:
    photo = data.coffee()  # 600x400: an espresso cup on a saucer on a wooden table
    alpha = cut_out(photo)[..., 3]
    h, w = alpha.shape
    assert alpha[int(h * 0.3), int(w * 0.45)] >= 128  # the coffee in the cup
    for y, x in ((5, 5), (5, w - 6), (h - 6, 5), (h - 6, w - 6)):
        assert alpha[y, x] < 128


def test_a_photo_without_a_separable_product_is_not_clean() -> None:
    alpha = cut_out(data.astronaut())[..., 3]  # a portrait filling the frame, no product on a background
    assert not is_clean(alpha)


def test_bad_masks_and_arrays_are_input_errors_naming_the_field() -> None:
    shot = product_shot("bottle", "white", seed=0)
    with pytest.raises(InputError) as err:
        cut_out(shot.rgb, np.zeros((10, 100), bool), param="photos.0")
    assert err.value.param == "photos.0.mask" and err.value.message.startswith("photos.0.mask:")
    with pytest.raises(InputError) as err:
        cut_out(shot.rgb, np.zeros((10, 100), bool), param="photo", mask_param="mask")
    assert err.value.param == "mask"
    with pytest.raises(InputError) as err:
        cut_out(shot.rgb.astype(np.float32), param="photos.1")
    assert err.value.param == "photos.1"
