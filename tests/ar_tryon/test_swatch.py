"""Swatch extraction: colour within ΔE2000 5 of the painted colour (white balance corrected on neutral backgrounds),
the finish told apart (matte / satin / gloss / shimmer), and photos without a swatch refused naming the field."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000

from ar_tryon.swatch import NoSwatchError, SwatchExtractor, SwatchOptions, extract_swatch, hex_to_lab, lab_to_hex
from tests.ar_tryon.swatch_render import COOL, GREENISH, PAPER, SKIN, WARM, jpeg, render_swatch

SHADES = ["#B3202E", "#C08277", "#E07A8B", "#5E2340", "#7A6560"]  # red, nude, pink, plum, taupe
NO_CAST = (1.0, 1.0, 1.0)


def uploaded(rgb: np.ndarray) -> np.ndarray:
    """The photo as a server sees it: through JPEG."""
    return np.asarray(Image.open(io.BytesIO(jpeg(rgb))).convert("RGB"))


def delta_e(hex_colour: str, lab) -> float:
    return float(deltaE_ciede2000(np.array(hex_to_lab(hex_colour)), np.array(lab)))


def test_hex_and_lab_round_trip():
    for hex_colour in SHADES + ["#FFFFFF", "#000000"]:
        assert lab_to_hex(hex_to_lab(hex_colour)) == hex_colour


@pytest.mark.parametrize("colour", SHADES)
@pytest.mark.parametrize(("cast", "gains"), [("none", NO_CAST), ("cool", COOL), ("greenish", GREENISH)])
def test_colour_on_paper_is_white_balanced_automatically(colour, cast, gains):
    swatch = extract_swatch(uploaded(render_swatch(colour, PAPER, "matte", gains, seed=3)))
    assert swatch.background == "neutral" and swatch.white_balanced
    assert delta_e(colour, swatch.lab) <= 5.0, (cast, swatch.hex)
    assert delta_e(colour, hex_to_lab(swatch.hex)) <= 5.0
    assert swatch.confidence > 0.5


@pytest.mark.parametrize("colour", SHADES)
def test_warm_light_on_paper_needs_the_neutral_hint_and_then_matches(colour):
    """A white card under tungsten light looks like skin: `auto` leaves it, `neutral` corrects it."""
    photo = uploaded(render_swatch(colour, PAPER, "matte", WARM, seed=4))
    corrected = extract_swatch(photo, background="neutral")
    assert corrected.white_balanced and delta_e(colour, corrected.lab) <= 5.0
    uncorrected = extract_swatch(photo, background="skin")
    assert not uncorrected.white_balanced
    assert delta_e(colour, uncorrected.lab) > delta_e(colour, corrected.lab)


@pytest.mark.parametrize("colour", SHADES)
def test_colour_on_skin_is_not_greyed(colour):
    swatch = extract_swatch(uploaded(render_swatch(colour, SKIN, "matte", NO_CAST, seed=5)))
    assert swatch.background == "skin" and not swatch.white_balanced
    assert delta_e(colour, swatch.lab) <= 5.0, swatch.hex


@pytest.mark.parametrize("background", [PAPER, SKIN])
@pytest.mark.parametrize("finish", ["matte", "satin", "gloss", "shimmer"])
def test_finish_is_guessed(background, finish):
    hits = 0
    for seed, colour in enumerate(SHADES[:4]):
        swatch = extract_swatch(uploaded(render_swatch(colour, background, finish, NO_CAST, seed=seed)))
        hits += swatch.finish == finish
        assert 0.0 <= swatch.finish_confidence <= 1.0
        if finish in ("gloss", "shimmer"):  # highlights and sparkles are left out of the colour
            assert delta_e(colour, swatch.lab) <= 5.0
    assert hits >= 3, f"{finish} on {background}: {hits}/4"


def test_gloss_and_matte_of_one_colour_differ_only_in_finish():
    matte = extract_swatch(uploaded(render_swatch("#A24E5D", PAPER, "matte", seed=9)))
    gloss = extract_swatch(uploaded(render_swatch("#A24E5D", PAPER, "gloss", seed=9)))
    assert (matte.finish, gloss.finish) == ("matte", "gloss")
    assert deltaE_ciede2000(np.array(matte.lab), np.array(gloss.lab)) < 2.0


def test_box_is_in_input_pixels():
    photo = render_swatch("#B3202E", PAPER, size=(960, 1280), seed=2)
    swatch = extract_swatch(photo)
    x0, y0, x1, y1 = swatch.box
    assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 960
    assert 300 < x1 - x0 < 1000 and (x0 + x1) / 2 == pytest.approx(640, abs=120)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera", "rocket"])
def test_real_photos_without_a_swatch_are_refused_naming_the_field(name):
    image = getattr(data, name)()
    rgb = np.ascontiguousarray(np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3])
    with pytest.raises(NoSwatchError) as caught:
        extract_swatch(rgb, param="photo")
    assert caught.value.param == "photo" and caught.value.status == 422
    assert caught.value.message.startswith("photo: no swatch found")


@pytest.mark.parametrize(
    ("rgb", "words"),
    [
        (np.full((200, 300, 3), 235, np.uint8), "stands out"),  # blank paper
        (render_swatch("#3A3A3A", PAPER, seed=1), "grey, black or white"),  # an ink blot
    ],
)
def test_blank_or_grey_is_no_swatch(rgb, words):
    with pytest.raises(NoSwatchError, match=words):
        extract_swatch(rgb)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="ring_fraction"):
        SwatchOptions(ring_fraction=0.9)
    photo = render_swatch("#B3202E", PAPER, seed=1)
    with pytest.raises(Exception, match="background") as caught:
        SwatchExtractor().process(photo, background="studio")  # type: ignore[arg-type]
    assert caught.value.param == "background"
    with pytest.raises(Exception, match="32 px"):
        extract_swatch(photo[:20, :20])
