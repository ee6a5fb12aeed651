"""Pixel limits read from headers: one 413 (`ImageTooLargeError`) for every size, and a per-request budget."""

from __future__ import annotations

import contextvars
import functools

import anyio
import pytest
from PIL import ImageFile

from common.images import (
    ImageError,
    ImageTooLargeError,
    check_pixels,
    decode_image,
    image_size,
    start_pixel_budget,
)
from tests.common.pngs import big_png, forged_png


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image's pixels are decoded."""

    def refuse(self):
        raise AssertionError(f"decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def in_request(test):
    """Run `test` in a context of its own, as each request runs in its own task."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return contextvars.Context().run(test, *args, **kwargs)

    return run


def test_image_size_reads_the_header_only(no_decoding):
    assert image_size(big_png(7300, 5440)) == (7300, 5440)
    assert image_size(forged_png(12000, 12000), max_pixels=10**9) == (12000, 12000)


@pytest.mark.parametrize(
    ("width", "height"),
    [(7000, 7000), (20000, 20000)],  # above our 40 MP; above PIL's own bomb limit (179 MP), which open() raises
)
def test_every_size_above_the_limit_is_the_same_413(width, height, no_decoding):
    for check in (lambda d: image_size(d, "photo.1"), lambda d: decode_image(d, "photo.1")):
        with pytest.raises(ImageTooLargeError) as error:
            check(forged_png(width, height))
        assert error.value.status == 413 and error.value.type == "payload_too_large" and error.value.param == "photo.1"


def test_unreadable_headers_are_422_naming_the_field():
    for data in (b"", b"GIF89a-broken"):
        with pytest.raises(ImageError) as error:
            image_size(data, "images.0")
        assert error.value.status == 422 and error.value.param == "images.0"


@in_request
def test_a_request_budget_refuses_the_image_where_the_sum_crosses_it_before_decoding(no_decoding):
    start_pixel_budget(80_000_000)
    images = [(f"images.{i}", big_png(7300, 5440)) for i in range(9)]  # 9 x 39.7 MP
    with pytest.raises(ImageTooLargeError, match="per-request limit") as error:
        check_pixels(images)
    assert error.value.param == "images.2" and error.value.status == 413
    assert check_pixels(images[:2]) == 2 * 7300 * 5440  # within the budget: counted, nothing spent


@in_request
def test_decoding_charges_the_budget_shared_with_worker_threads():
    budget = start_pixel_budget(3 * 7300 * 5440 - 1)
    data = big_png(7300, 5440)
    decode_image(data, "a")
    anyio.run(anyio.to_thread.run_sync, decode_image, data, "b")  # a worker thread copies the context
    assert budget.used == 2 * 7300 * 5440
    with pytest.raises(ImageTooLargeError, match="per-request limit") as error:
        decode_image(data, "c")
    assert error.value.param == "c" and budget.used == 2 * 7300 * 5440


def test_without_a_budget_only_the_per_image_limit_applies():
    assert check_pixels([(f"images.{i}", big_png(7300, 5440)) for i in range(3)]) == 3 * 7300 * 5440
