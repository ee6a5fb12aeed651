"""`/v1/tryon/*` over HTTP: images in and out, landmarks JSON, webcam frames, and a 4xx naming every bad input."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from tests.conftest import MERCHANT_KEY, PLATFORM_KEY, auth
from tests.serving.test_contract import assert_envelope

H = auth(MERCHANT_KEY)


def encoded(rgb: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    image = Image.fromarray(rgb)
    if mode:
        image = image.convert(mode)
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo_png() -> bytes:
    return encoded(data.astronaut())


def decode(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


def post_makeup(client, image: bytes, shades=("LIP-102",), **form):
    fields = {"shade": list(shades), **form}
    return client.post("/v1/tryon/makeup", files={"image": ("in.png", image)}, data=fields, headers=H)


def test_makeup_returns_a_png_of_the_same_size_with_the_lips_changed(client, photo_png):
    response = post_makeup(client, photo_png, ("LIP-102", "BLS-201"), intensity="1")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    out = decode(response.content)
    assert out.shape == (512, 512, 3)
    assert (out != data.astronaut()).any(axis=2).sum() > 200


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", None), ("WEBP", None), ("PNG", "L"), ("PNG", "RGBA")])
def test_makeup_accepts_jpeg_webp_grayscale_and_rgba(client, fmt, mode):
    response = post_makeup(client, encoded(data.astronaut(), fmt, mode))
    assert response.status_code == 200, response.text
    channels = decode(response.content).shape[2]
    assert channels == (4 if mode == "RGBA" else 3)  # alpha is kept


def test_makeup_json_has_base64_image_and_478_landmarks(client, photo_png):
    body = post_makeup(client, photo_png, output="json").json()
    assert body["engine"] == "mediapipe" and body["shades"][0]["sku"] == "LIP-102"
    assert len(body["faces"]) == 1 and len(body["faces"][0]["landmarks"]) == 478
    assert decode(base64.b64decode(body["image_base64"])).shape == (512, 512, 3)


def test_shades_lists_the_catalog(client):
    body = client.get("/v1/tryon/shades", headers=H).json()
    assert "shades.yaml" in body["source"] and {"LIP-102", "BLS-201"} <= {s["sku"] for s in body["shades"]}


def test_frames_keep_a_session_and_pass_through_frames_without_a_face(client):
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[104:616, 384:896] = data.astronaut()
    jpeg = encoded(frame, "JPEG")
    for i in range(3):
        response = client.post(
            "/v1/tryon/frames",
            files={"frame": ("f.jpg", jpeg)},
            data={"session_id": "webcam-test-1", "shade": ["LIP-102"], "timestamp_ms": str(i * 33), "output": "json"},
            headers=H,
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["faces"]) == 1 and response.json()["media_type"] == "image/jpeg"
    empty = client.post(
        "/v1/tryon/frames",
        files={"frame": ("f.jpg", encoded(np.full((240, 320, 3), 90, np.uint8), "JPEG"))},
        data={"session_id": "webcam-test-1", "shade": ["LIP-102"]},
        headers=H,
    )
    assert empty.status_code == 200 and empty.headers["content-type"] == "image/jpeg"


def tshirt_png(background: tuple[int, int, int] | None = None) -> bytes:
    rgba = np.zeros((440, 400, 4), np.uint8)
    if background:
        rgba[..., :3], rgba[..., 3] = background, 255
    poly = np.array(
        [
            [120, 10],
            [160, 30],
            [240, 30],
            [280, 10],
            [390, 90],
            [340, 150],
            [300, 120],
            [300, 430],
            [100, 430],
            [100, 120],
            [60, 150],
            [10, 90],
        ],
        np.int32,
    )
    cv2.fillPoly(rgba, [poly], (30, 110, 200, 255))
    return encoded(rgba if background is None else np.ascontiguousarray(rgba[..., :3]))


@pytest.mark.parametrize("background", [None, (245, 245, 245)])
def test_garment_from_alpha_or_plain_background(client, photo_png, background):
    response = client.post(
        "/v1/tryon/garment",
        files={"image": ("p.png", photo_png), "garment": ("g.png", tshirt_png(background))},
        data={"category": "upper", "output": "json"},
        headers=H,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["category"] == "upper" and len(body["pose"]) == 33


# -- bad input: always a 4xx in the envelope, naming the field ----------------------------------------------


def test_auth_and_scope(client, photo_png):
    assert_envelope(client.post("/v1/tryon/makeup", files={"image": ("a.png", photo_png)}), 401, "authentication_error")
    response = client.post(
        "/v1/tryon/makeup",
        files={"image": ("a.png", photo_png)},
        data={"shade": ["LIP-102"]},
        headers=auth(PLATFORM_KEY),
    )
    assert_envelope(response, 403, "permission_error")


def test_no_face_is_422_on_image(client):
    err = assert_envelope(
        post_makeup(client, encoded(np.full((300, 300, 3), 200, np.uint8))), 422, "invalid_request", "image"
    )
    assert "no face" in err["message"]


def test_no_body_is_422_on_image(client):
    response = client.post(
        "/v1/tryon/garment",
        files={"image": ("p.png", encoded(np.full((300, 300, 3), 200, np.uint8))), "garment": ("g.png", tshirt_png())},
        headers=H,
    )
    assert "no person" in assert_envelope(response, 422, "invalid_request", "image")["message"]


def test_unknown_shade_names_the_sku(client, photo_png):
    err = assert_envelope(post_makeup(client, photo_png, ("LIP-999",)), 422, "invalid_request", "shade")
    assert "LIP-999" in err["message"]


def test_two_shades_of_one_product_is_422(client, photo_png):
    assert_envelope(post_makeup(client, photo_png, ("LIP-101", "LIP-102")), 422, "invalid_request", "shade")


@pytest.mark.parametrize("value", ["1.5", "-0.1", "strong"])
def test_intensity_out_of_range_is_422(client, photo_png, value):
    assert_envelope(post_makeup(client, photo_png, intensity=value), 422, "invalid_request", "intensity")


@pytest.mark.parametrize("payload", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_empty_or_corrupt_image_is_422_on_image(client, payload):
    assert_envelope(post_makeup(client, payload), 422, "invalid_request", "image")


def test_missing_fields_are_named(client, photo_png):
    assert_envelope(
        client.post("/v1/tryon/makeup", data={"shade": ["LIP-102"]}, headers=H), 422, "invalid_request", "image"
    )
    assert_envelope(
        client.post("/v1/tryon/makeup", files={"image": ("a.png", photo_png)}, headers=H),
        422,
        "invalid_request",
        "shade",
    )


def test_too_many_pixels_is_413_before_decoding(client):
    huge = encoded(np.zeros((6400, 6400), np.uint8))  # 41 MP, a few hundred KB as PNG
    err = assert_envelope(post_makeup(client, huge), 413, "payload_too_large", "image")
    assert "MP" in err["message"]


def test_bad_category_session_and_garment(client, photo_png):
    def garment(**kw):
        files = {"image": ("p.png", photo_png), "garment": ("g.png", kw.pop("garment", tshirt_png()))}
        return client.post("/v1/tryon/garment", files=files, data=kw, headers=H)

    assert_envelope(garment(category="hat"), 422, "invalid_request", "category")
    busy = encoded((np.random.default_rng(0).random((200, 200, 3)) * 255).astype(np.uint8))
    assert_envelope(garment(garment=busy), 422, "invalid_request", "garment")
    response = client.post(
        "/v1/tryon/frames",
        files={"frame": ("f.png", photo_png)},
        data={"session_id": "bad id!", "shade": ["LIP-102"]},
        headers=H,
    )
    assert_envelope(response, 422, "invalid_request", "session_id")


def test_openapi_documents_the_tryon_routes(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/v1/tryon/makeup", "/v1/tryon/garment", "/v1/tryon/frames", "/v1/tryon/shades"} <= paths
