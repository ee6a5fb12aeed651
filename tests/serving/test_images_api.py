"""`/v1/images/*` over HTTP: one cover at once, many as a job (progress, artifacts, ZIP), cut-outs, 4xx."""

from __future__ import annotations

import base64
import io
import time
import zipfile
import zlib

import cv2
import numpy as np
import pytest

from generation.image.testing import iou, product_shot
from tests.conftest import MERCHANT_KEY, PLATFORM_KEY, auth, serving_client
from tests.serving.test_contract import assert_envelope


def _png(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def shot():
    return product_shot("bottle", "white", size=(600, 800), seed=3)


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def test_templates_are_listed(client):
    response = client.get("/v1/images/templates", headers=auth(MERCHANT_KEY))
    assert response.status_code == 200
    templates = response.json()
    assert len(templates) >= 6 and all(t["min_photos"] >= 1 for t in templates)
    assert client.get("/v1/images/templates", headers=auth(PLATFORM_KEY)).status_code == 403


def test_one_cover_at_once_is_deterministic_per_seed(client, shot):
    files = [("photo", ("p.png", _png(shot.rgb), "image/png"))]
    data = {"title": "夏天通勤必备的清爽防晒", "price": "89", "preset": "3:4", "seed": "7"}
    data["points"] = ["不泛白", "不油腻"]
    first = client.post("/v1/images/covers", files=files, data=data, headers=auth(MERCHANT_KEY))
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png" and first.headers["x-notestudio-seed"] == "7"
    assert _decode(first.content).shape[:2] == (1660, 1242)
    again = client.post("/v1/images/covers", files=files, data=data, headers=auth(MERCHANT_KEY))
    assert again.content == first.content
    as_json = client.post(
        "/v1/images/covers", files=files, data={**data, "output": "json", "preset": "9:16"}, headers=auth(MERCHANT_KEY)
    ).json()
    info = as_json["info"]
    assert info["engine"] == "composer" and info["model"] is None and info["seed"] == 7
    assert (info["width"], info["height"]) == (1080, 1920) and info["palette"]
    assert _decode(base64.b64decode(as_json["image_base64"])).shape[:2] == (1920, 1080)


def test_cutout_is_rgba_around_the_product(client, shot):
    files = [("photo", ("p.png", _png(shot.rgb), "image/png"))]
    response = client.post("/v1/images/cutout", files=files, headers=auth(MERCHANT_KEY))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    rgba = _decode(response.content)
    assert rgba.shape == (*shot.mask.shape, 4)
    assert iou(rgba[..., 3], shot.mask) >= 0.9


def _wait(client, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).json()
        if job["state"] in {"succeeded", "failed", "cancelled"}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_many_covers_run_as_a_job_with_artifacts_and_a_zip(client, shot):
    photo = base64.b64encode(_png(shot.rgb)).decode()
    items = [{"spec": {"title": f"好物分享 {i}", "seed": i}, "photos": [photo], "id": f"sku-{i}"} for i in range(3)]
    items.append({"spec": {"title": "坏的"}, "photos": ["%%%"], "id": "bad"})
    response = client.post("/v1/images", json={"items": items}, headers=auth(MERCHANT_KEY))
    assert response.status_code == 202, response.text
    job = _wait(client, response.json()["id"])
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["covers"] == 3 and result["failed"] == 1
    assert [r["id"] for r in result["results"]] == ["sku-0", "sku-1", "sku-2", "bad"]
    assert result["results"][3]["error"]["param"] == "items.3.photos.0"
    archive = client.get(f"/v1/jobs/{job['id']}/artifacts/covers.zip", headers=auth(MERCHANT_KEY))
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == ["cover-0000.jpg", "cover-0001.jpg", "cover-0002.jpg"]
    single = client.get(f"/v1/jobs/{job['id']}/artifacts/cover-0001.jpg", headers=auth(MERCHANT_KEY))
    assert _decode(single.content).shape[:2] == (1660, 1242)


def test_one_item_answers_at_once(client, shot):
    photo = base64.b64encode(_png(shot.rgb)).decode()
    body = {"items": [{"spec": {"title": "开箱", "preset": "1:1", "seed": 2}, "photos": [photo]}], "output": "png"}
    response = client.post("/v1/images", json=body, headers=auth(MERCHANT_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["info"]["preset"] == "1:1"


@pytest.mark.parametrize(
    ("data", "files", "status", "param"),
    [
        ({"title": "x", "template": "nope"}, None, 422, "template"),
        ({"title": "x", "preset": "4:5"}, None, 422, "preset"),
        ({"title": ""}, None, 422, "title"),
        ({"title": "x"}, [("photo", ("p.png", b"not an image", "image/png"))], 422, "photo.0"),
        ({"title": "x", "seed": "-1"}, None, 422, "seed"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client, shot, data, files, status, param):
    files = files or [("photo", ("p.png", _png(shot.rgb), "image/png"))]
    response = client.post("/v1/images/covers", files=files, data=data, headers=auth(MERCHANT_KEY))
    error = assert_envelope(response, status, "invalid_request")
    assert error["param"] == param


def test_a_decompression_bomb_is_refused_before_decoding(client):
    big = np.zeros((10, 10, 3), np.uint8)
    ok, buffer = cv2.imencode(".png", big)
    data = bytearray(buffer.tobytes())
    # Claim 8000 x 8000 pixels in the PNG header (64 MP > 40 MP), with a valid header checksum; the pixel
    # data is never decoded.
    data[16:24] = (8000).to_bytes(4, "big") + (8000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    files = [("photo", ("bomb.png", bytes(data), "image/png"))]
    response = client.post("/v1/images/covers", files=files, data={"title": "x"}, headers=auth(MERCHANT_KEY))
    error = assert_envelope(response, 413, "payload_too_large")
    assert error["param"] == "photo.0"


def test_a_scene_without_an_image_model_is_a_503_with_the_fix(client, shot):
    photo = base64.b64encode(_png(shot.rgb)).decode()
    body = {"scene": {"mode": "background", "prompt": "on a marble table", "photo": photo}}
    response = client.post("/v1/images", json=body, headers=auth(MERCHANT_KEY))
    error = assert_envelope(response, 503, "model_unavailable")
    assert "NOTESTUDIO_IMAGE_MODEL" in error["message"]
    both = client.post("/v1/images", json={**body, "items": [{}]}, headers=auth(MERCHANT_KEY))
    assert_envelope(both, 422, "invalid_request")


@pytest.fixture
def diffusion_client(tmp_path, tiny_registry_file, tiny_models):
    with serving_client(
        tmp_path / "var", models=tiny_registry_file, image_model=tiny_models["diffusion"].name
    ) as test_client:
        yield test_client


def test_background_replacement_keeps_the_product_pixels_and_makes_a_cover(diffusion_client, shot):
    """A diffusion job on a tiny random SD pipeline: the product, cut out and placed, keeps its own pixels in
    the delivered image (max abs diff <= 2 inside its mask), and each image becomes a composer cover."""
    rgba = np.dstack([shot.rgb, np.where(shot.mask, 255, 0).astype(np.uint8)])
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    scene = {
        "mode": "background",
        "prompt": "on a marble table, soft light",
        "photo": base64.b64encode(buffer.tobytes()).decode(),
        "n": 2,
        "steps": 2,
        "seed": 11,
        "cover": {"title": "换个背景更好看"},
    }
    response = diffusion_client.post("/v1/images", json={"scene": scene}, headers=auth(MERCHANT_KEY))
    assert response.status_code == 202, response.text
    job = _wait(diffusion_client, response.json()["id"])
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["engine"] == "diffusers" and result["model"] == "tiny-sd" and result["mode"] == "background"
    assert [image["seed"] for image in result["images"]] == [11, 12]
    assert result["artifacts"] == ["scene-00.png", "cover-00.jpg", "scene-01.png", "cover-01.jpg"]
    art = diffusion_client.get(f"/v1/jobs/{job['id']}/artifacts/scene-00.png", headers=auth(MERCHANT_KEY))
    scene_rgb = cv2.cvtColor(_decode(art.content), cv2.COLOR_BGR2RGB)
    assert scene_rgb.shape[:2] == (1660, 1242)
    # Where the product was placed, its pixels are the photo's own (placed with the same geometry).
    from generation.image.scenes import _place

    placed = np.asarray(_place(rgba, 1242, 1660))
    inside = placed[..., 3] == 255
    assert inside.sum() > 10_000
    diff = np.abs(scene_rgb.astype(int) - placed[..., :3].astype(int))[inside]
    assert diff.max() <= 2
    assert result["images"][0]["cover_info"]["engine"] == "diffusers"
