"""Image requests: decoding never blocks the event loop, pixels are counted from headers before anything is
decoded (each image, and a budget per request), every size limit is the same 413, and one key has a few image
requests in flight at most."""

from __future__ import annotations

import threading
import time

import pytest
from PIL import ImageFile

from serving.auth import key_id
from tests.common.pngs import b64, big_png, forged_png
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth, serving_client
from tests.serving.test_contract import assert_envelope

KEYS = f"{MERCHANT_KEY}:merchant,{PLATFORM_KEY}:platform,{ADMIN_KEY}:admin"
W, H = 7300, 5440  # 39.7 MP: under the 40 MP per image, two of them under the 80 MP per request


@pytest.fixture
def no_decoding(monkeypatch):
    """Any image decoded fails the request (a 500) and the test."""

    def refuse(self):
        raise AssertionError(f"decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.fixture
def client(tmp_path):
    with serving_client(tmp_path / "var", api_keys=KEYS, image_concurrency_per_key=2) as test_client:
        yield test_client


def _moderate_images(client, images, key=PLATFORM_KEY):
    return client.post("/v1/moderation/images", json={"images": images}, headers=auth(key))


def test_nine_big_pngs_are_a_quick_413_and_nothing_is_decoded(client, no_decoding):
    """The report's request: 59 KB of nine 39.7 MP PNGs (4.8 s and 590 MB before)."""
    images = [b64(big_png(W, H))] * 9
    started = time.perf_counter()
    response = _moderate_images(client, images)
    elapsed = time.perf_counter() - started
    error = assert_envelope(response, 413, "payload_too_large", "images.2")  # where the sum passes 80 MP
    assert "per-request limit" in error["message"] and elapsed < 2.0, elapsed


def _multipart(name: str, datas: list[bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(name, (f"{i}.png", data, "image/png")) for i, data in enumerate(datas)]


@pytest.mark.parametrize(("width", "height"), [(7000, 7000), (20000, 20000)])  # over 40 MP; over PIL's own limit
def test_every_route_answers_every_oversize_image_with_the_same_413(client, no_decoding, width, height):
    big = forged_png(width, height)
    assert_envelope(_moderate_images(client, [b64(big)]), 413, "payload_too_large", "images.0")
    brand = client.post("/v1/moderation/brands/Acme/images", json={"image": b64(big)}, headers=auth(ADMIN_KEY))
    assert_envelope(brand, 413, "payload_too_large", "image")
    cutout = client.post("/v1/images/cutout", files=_multipart("photo", [big]), headers=auth(MERCHANT_KEY))
    assert_envelope(cutout, 413, "payload_too_large", "photo")
    makeup = client.post(
        "/v1/tryon/makeup", files=_multipart("image", [big]), data={"shade": "LIP-102"}, headers=auth(MERCHANT_KEY)
    )
    assert_envelope(makeup, 413, "payload_too_large", "image")
    listings = client.post(
        "/v1/moderation/listings", json={"listings": [{"id": "a", "images": [b64(big)]}]}, headers=auth(PLATFORM_KEY)
    )
    [entry] = listings.json()["results"]
    assert entry["error"]["type"] == "payload_too_large" and entry["error"]["param"] == "listings.0.images.0"


def test_the_request_budget_holds_on_every_image_route_before_decoding(client, no_decoding):
    three = [big_png(W, H)] * 3
    covers = client.post(
        "/v1/images/covers", files=_multipart("photo", three), data={"title": "x"}, headers=auth(MERCHANT_KEY)
    )
    assert_envelope(covers, 413, "payload_too_large", "photo.2")
    videos = client.post("/v1/videos", json={"photos": [b64(d) for d in three]}, headers=auth(MERCHANT_KEY))
    assert_envelope(videos, 413, "payload_too_large", "photos.2")


def test_listings_share_one_budget_and_a_record_past_it_is_a_413_entry(client):
    image = b64(big_png(W, H))
    listings = [{"id": "a", "images": [image]}, {"id": "b", "images": [image, image]}, {"id": "c", "title": "面霜"}]
    response = client.post("/v1/moderation/listings", json={"listings": listings}, headers=auth(PLATFORM_KEY))
    a, b, c = response.json()["results"]
    assert a["id"] == "a" and a["decision"] and c["decision"] == "pass"
    assert b["error"]["type"] == "payload_too_large" and b["error"]["param"] == "listings.1.images.1"


def test_health_answers_while_a_heavy_image_request_decodes(tmp_path):
    """Nine 39.7 MP PNGs decoded (the budget raised to let them through): seconds of CPU in worker threads,
    while `/health` on the same app (one event loop) answers at once."""
    with serving_client(tmp_path / "var", api_keys=KEYS, max_request_pixels=400_000_000) as client:
        assert client.get("/health").status_code == 200
        heavy: dict = {}

        def run() -> None:
            started = time.perf_counter()
            heavy["response"] = _moderate_images(client, [b64(big_png(W, H))] * 9)
            heavy["seconds"] = time.perf_counter() - started

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.3)  # the heavy request is decoding now
        latencies = []
        while worker.is_alive() and len(latencies) < 5:
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)
        worker.join(120)
    assert heavy["response"].status_code == 200, heavy["response"].text
    assert latencies and heavy["seconds"] > 1.0, (latencies, heavy["seconds"])
    assert max(latencies) < 0.5, (latencies, heavy["seconds"])


def test_a_key_with_every_image_slot_taken_gets_429(client):
    runtime = client.app.state.runtime
    image = b64(big_png(64, 64))
    slots = runtime.image_slots
    with slots.hold(key_id(PLATFORM_KEY)), slots.hold(key_id(PLATFORM_KEY)):  # two requests in flight
        refused = _moderate_images(client, [image])
        error = assert_envelope(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "1" and "NOTESTUDIO_IMAGE_CONCURRENCY_PER_KEY" in error["message"]
        assert _moderate_images(client, [image], ADMIN_KEY).status_code == 200  # another key has its own
        text = client.post("/v1/moderation/text", json={"text": "好用"}, headers=auth(PLATFORM_KEY))
        assert text.status_code == 200  # requests without images are not counted
    assert _moderate_images(client, [image]).status_code == 200
    assert_envelope(_moderate_images(client, [b64(forged_png(9000, 9000))]), 413, "payload_too_large")
    assert slots.in_flight(key_id(PLATFORM_KEY)) == 0  # every request gave its slot back, refused ones too
