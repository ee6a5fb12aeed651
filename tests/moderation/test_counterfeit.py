"""Counterfeit signals: price floors by brand and category, and the brand image registry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from moderation import ImageError, ImageRegistry, Listing, Moderator, decode_image
from moderation.counterfeit import BrandBook


@pytest.fixture(scope="module")
def moderator():
    return Moderator(classifier=None)


def test_price_far_below_floor_is_flagged_with_a_reason(moderator):
    result = moderator.moderate(Listing(title="全新 LV 老花手提包", price=399, brand="Louis Vuitton", category="女包"))
    [label] = [label for label in result.labels if label.code.startswith("counterfeit")]
    assert label.code == "counterfeit.price" and result.decision == "review"
    assert any("estimated floor 8000" in reason for reason in result.reasons)


def test_price_and_slang_together_block(moderator):
    result = moderator.moderate(Listing(title="高仿 古驰 酒神包", price=450, category="包"))
    assert result.decision == "block"
    label = next(label for label in result.labels if label.code.startswith("counterfeit"))
    assert label.score > 0.95  # two independent signals


@pytest.mark.parametrize(
    "listing",
    [
        Listing(title="LV 老花手提包 专柜购入", price=12000, brand="Louis Vuitton", category="包"),
        Listing(title="耐克运动鞋", price=699, category="鞋"),
        Listing(title="便宜好用的帆布包", price=39, category="包"),  # no brand: no floor
    ],
)
def test_plausible_prices_pass(moderator, listing):
    assert not any(label.code == "counterfeit.price" for label in moderator.moderate(listing).labels)


def test_brand_aliases_and_word_boundaries():
    book = BrandBook()
    assert book.canonical("路易威登") == "Louis Vuitton" and book.canonical("香奈儿") == "Chanel"
    from moderation import normalize

    assert [m.brand for m in book.mentions("title", normalize("G家 新款"))] == ["Gucci"]
    assert book.mentions("title", normalize("lvl 5 装备")) == []


def _encode(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


def test_registry_matches_resized_and_perspective_warped_copies(tmp_path):
    logo = skdata.astronaut()
    registry = ImageRegistry(tmp_path / "reg")
    registry.register("Acme", _encode(logo), kind="product")
    small = cv2.resize(logo, (200, 200), interpolation=cv2.INTER_AREA)
    assert registry.match(small)[0].method == "phash"
    h, w = logo.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[60, 40], [w - 30, 10], [w - 10, h - 50], [20, h - 20]])
    warped = cv2.warpPerspective(logo, cv2.getPerspectiveTransform(src, dst), (w + 80, h + 60))
    scene = np.full((h + 200, w + 300, 3), 235, np.uint8)
    scene[100 : 100 + warped.shape[0], 150 : 150 + warped.shape[1]] = warped
    [match] = registry.match(scene)
    assert match.brand == "Acme" and match.method == "orb"
    assert registry.match(skdata.chelsea()) == []
    reopened = ImageRegistry(tmp_path / "reg")  # persisted
    assert len(reopened) == 1 and reopened.match(small)


def test_replicas_sharing_a_registry_see_each_others_images(tmp_path):
    """Two replicas (two registries on one directory): what one registers, the other matches, and
    registrations from both survive (merged under a lock, never one index overwriting the other)."""
    first, second = ImageRegistry(tmp_path / "reg"), ImageRegistry(tmp_path / "reg")
    astronaut, coffee = skdata.astronaut(), skdata.coffee()
    first.register("Acme", _encode(astronaut))
    assert [m.brand for m in second.match(astronaut)] == ["Acme"]
    second.register("Brew", _encode(coffee))
    assert len(first) == len(second) == 2
    assert [m.brand for m in first.match(coffee)] == ["Brew"]
    assert len(ImageRegistry(tmp_path / "reg")) == 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"", "empty"), (b"not an image", "not a readable image"), (_encode(np.zeros((8, 8, 3), np.uint8)), "16x16")],
)
def test_bad_images_are_rejected_with_a_reason(payload, message):
    with pytest.raises(ImageError, match=message):
        decode_image(payload)


def test_decompression_bomb_is_rejected_before_decoding():
    bomb = _encode(np.zeros((2000, 2000, 3), np.uint8))
    with pytest.raises(ImageError, match="limit is 1000000 pixels"):
        decode_image(bomb, max_pixels=1_000_000)
