"""Product cut-out, judged by geometry on drawn product shots (exact masks) and by sense on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from skimage import data

from common.errors import InputError
from generation.image.cutout import CutOut, alpha_box, cut_out, cut_out_checked, is_clean
from generation.image.plausibility import MIN_SOLIDITY
from generation.image.testing import LabelledPhoto, iou, labelled_photos, product_shot

KINDS = ("bottle", "box", "jar")
REAL = Path(__file__).parent / "data" / "real_photos.yaml"
REAL_NAMES = [entry["name"] for entry in yaml.safe_load(REAL.read_text(encoding="utf-8"))["photos"]]


@pytest.fixture(scope="module")
def real() -> dict[str, tuple[LabelledPhoto, CutOut]]:
    """Each real photo found here with its cut-out (made once for the module)."""
    photos, _ = labelled_photos(REAL)
    return {p.name: (p, cut_out_checked(p.rgb)) for p in photos}


def traced_iou(photo: LabelledPhoto, alpha: np.ndarray) -> float:
    keep = ~photo.ignore
    return iou(alpha[keep], photo.mask[keep])


def solidity(alpha: np.ndarray) -> float:
    """The biggest part's outline area over its convex hull's, at full resolution (independent of `assess`)."""
    fg = (alpha >= 128).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours((labels == main).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=cv2.contourArea)
    return cv2.contourArea(outline) / cv2.contourArea(cv2.convexHull(outline))


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


@pytest.mark.parametrize("name", REAL_NAMES)
def test_a_real_photo_is_cut_out_right_or_declared_not_clean(real, name: str) -> None:
    if name not in real:
        pytest.skip(f"{name}: the package or file with this photo is not installed here")
    photo, cut = real[name]
    if photo.mask is None:  # a subject filling the frame: nothing to cut out
        assert not cut.clean, (name, cut.assessment)
        return
    if cut.clean:
        assert traced_iou(photo, cut.rgba[..., 3]) >= photo.min_iou, (name, cut.source, cut.assessment)
    else:
        assert cut.reason


def test_the_coffee_cup_keeps_its_body_and_saucer_or_is_not_clean(real) -> None:
    """The red cup and saucer have the wooden table's colours: the prior alone found only the white rim."""
    coffee, cut = real["coffee"]  # skimage.data.coffee()
    if not cut.clean:
        return
    alpha = cut.rgba[..., 3]
    assert traced_iou(coffee, alpha) >= 0.8
    # the cup's red body under the rim, the saucer left and right, the spoon's bowl: all product
    for x, y in ((290, 225), (110, 250), (450, 250), (290, 370), (365, 290)):
        assert alpha[y, x] >= 128, (x, y)
    assert alpha[390, 40] < 128 and alpha[30, 560] < 128  # the table


def test_real_photos_are_recovered_not_only_refused(real) -> None:
    """Declaring every cut-out not clean would pass the test above: most product photos must be cut out."""
    products = [(p, cut) for p, cut in real.values() if p.kind == "product"]
    if len(products) < 4:
        pytest.skip("too few of the real photos are installed here")
    right = [p.name for p, cut in products if cut.clean and traced_iou(p, cut.rgba[..., 3]) >= p.min_iou]
    assert len(right) >= 0.6 * len(products), right


def test_no_accepted_cut_out_is_less_solid_than_the_threshold(real) -> None:
    accepted = [(p.name, cut.rgba[..., 3]) for p, cut in real.values() if cut.clean]
    for background in ("white", "busy"):
        for kind in KINDS:
            shot = product_shot(kind, background, size=(600, 800), seed=7)
            cut = cut_out_checked(shot.rgb)
            if cut.clean:
                accepted.append((f"{kind}-{background}", cut.rgba[..., 3]))
    assert len(accepted) >= 6
    for name, alpha in accepted:
        assert solidity(alpha) >= MIN_SOLIDITY, name


def test_two_cuts_that_disagree_are_not_shown_as_a_product() -> None:
    cut = cut_out_checked(data.chelsea())  # a cat's face filling the frame: the two cuts find different things
    assert not cut.clean and cut.agreement is not None and cut.agreement < 0.7
    assert "disagree" in cut.reason
    shot = product_shot("bottle", "white", seed=4)
    cut = cut_out_checked(shot.rgb)
    assert cut.clean and cut.source == "prior" and cut.agreement > 0.7 and cut.reason == ""


def test_a_user_mask_is_clean_unless_empty() -> None:
    shot = product_shot("jar", "busy", seed=2)
    assert cut_out_checked(shot.rgb, shot.mask).clean
    assert cut_out_checked(shot.rgb, shot.mask).source == "mask"
    empty = cut_out_checked(shot.rgb, np.zeros(shot.mask.shape, bool))
    assert not empty.clean and empty.reason
