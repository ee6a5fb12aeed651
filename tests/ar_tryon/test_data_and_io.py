"""Shade catalog as data, image decoding limits and formats, the bounded session store."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ar_tryon.errors import ImageError, ImageTooLargeError, UnknownShadeError
from ar_tryon.sessions import SessionStore
from ar_tryon.shades import DEFAULT_PATH, Product, ShadeCatalog
from common.images import decode_image, encode_image


def test_catalog_has_every_product_and_says_where_it_comes_from(catalog):
    assert {s.product for s in catalog} == set(Product)
    assert "ILLUSTRATIVE" in DEFAULT_PATH.read_text().splitlines()[1]
    assert catalog.get("LIP-102").rgb == (0xB3, 0x20, 0x2E)
    with pytest.raises(UnknownShadeError, match="NOPE") as info:
        catalog.get("NOPE")
    assert info.value.param == "shade"


def test_catalog_rejects_bad_entries(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("shades:\n  - {sku: A, name: a, hex: '#12345', product: lips}\n")
    with pytest.raises(ValueError, match="entry #1"):
        ShadeCatalog.from_yaml(path)


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(buf, format="PNG")
    return buf.getvalue()


def test_decode_gray_rgba_and_16_bit():
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    assert decode_image(png(rgb, "L")).rgb.shape == (40, 50, 3)
    rgba = decode_image(png(rgb, "RGBA"))
    assert rgba.alpha is not None and rgba.with_rgb(rgba.rgb).shape == (40, 50, 4)
    wide = decode_image(png((np.arange(40 * 50).reshape(40, 50) * 30).astype(np.uint16)))
    assert wide.rgb.dtype == np.uint8 and wide.rgb.max() == 255


def test_decode_refuses_empty_corrupt_tiny_and_huge():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "frame")
    with pytest.raises(ImageError, match="readable") as info:
        decode_image(b"GIF89a-broken", "garment")
    assert info.value.param == "garment"
    with pytest.raises(ImageError, match="too small"):
        decode_image(png(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(ImageTooLargeError, match="MP"):
        decode_image(png(np.zeros((100, 100, 3), np.uint8)), max_pixels=5000)


def test_encode_round_trips():
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    assert (decode_image(encode_image(rgb)).rgb == rgb).all()
    assert decode_image(encode_image(rgb, "jpeg")).rgb.shape == rgb.shape


class Thing:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_session_store_is_bounded_by_count_and_idle_time():
    now = [0.0]
    store = SessionStore(Thing, max_sessions=2, ttl_s=10, clock=lambda: now[0])
    a, b = store.get("a"), store.get("b")
    assert store.get("a") is a
    c = store.get("c")  # evicts b, the least recently used
    assert b.closed and not a.closed and len(store) == 2 and "b" not in store
    now[0] = 11.0
    store.get("d")  # a and c idled past the TTL
    assert a.closed and c.closed and len(store) == 1
    store.close()
    assert len(store) == 0
