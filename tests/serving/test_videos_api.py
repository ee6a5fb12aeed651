"""`/v1/videos` over HTTP: always a job (progress by frames, artifact, cancel with no partial file), 4xx naming
the field before anything is queued."""

from __future__ import annotations

import base64
import io
import time

import av
import cv2
import pytest

from generation.image.testing import product_shot
from tests.conftest import MERCHANT_KEY, PLATFORM_KEY, auth, serving_client
from tests.generation.test_video_slideshow import _tone
from tests.serving.test_contract import assert_envelope

SMALL = {"width": 360, "fps": 12, "duration": 6}


@pytest.fixture(scope="module")
def photo() -> str:
    shot = product_shot("bottle", "white", size=(600, 800), seed=3)
    return base64.b64encode(cv2.imencode(".png", cv2.cvtColor(shot.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()).decode()


def _wait(client, job_id: str, states=("succeeded", "failed", "cancelled"), timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {states}")


def test_a_video_is_a_job_with_a_downloadable_mp4(client, photo):
    note = {"titles": ["夏天通勤必备的清爽防晒"], "selling_points": ["清爽不油腻", "不泛白"], "hashtags": ["防晒"]}
    body = {"photos": [photo, photo], "note": note, "audio": base64.b64encode(_tone(4.0)).decode(), "seed": 5, **SMALL}
    response = client.post("/v1/videos", json=body, headers=auth(MERCHANT_KEY))
    assert response.status_code == 202, response.text
    job = _wait(client, response.json()["id"])
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["engine"] == "slideshow" and result["model"] is None and result["seed"] == 5
    assert result["frames"] == 72 and result["audio"] is True and result["artifacts"] == ["video.mp4"]
    video = client.get(f"/v1/jobs/{job['id']}/artifacts/video.mp4", headers=auth(MERCHANT_KEY))
    assert video.status_code == 200 and len(video.content) == result["bytes"]
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.name) == (360, 640, "h264")
        assert abs(float(stream.duration * stream.time_base) - 6) <= 0.1
    assert client.post("/v1/videos", json=body, headers=auth(PLATFORM_KEY)).status_code == 403


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"photos": []}, "photos"),
        ({"photos": ["P"] * 13}, "photos"),
        ({"photos": ["P", "%%%"]}, "photos.1"),
        ({"photos": ["P", base64.b64encode(b"not an image").decode()]}, "photos.1"),
        ({"audio": base64.b64encode(b"not audio" * 50).decode()}, "audio"),
        ({"duration": 600}, "duration"),
        ({"duration": 1}, "duration"),
        ({"fps": 1000}, "fps"),
        ({"width": 333}, "width"),
        ({"width": 7680}, "width"),
        ({"crf": 0}, "crf"),
        ({"transition": "wipe"}, "transition"),
        ({"engine": "sora"}, "engine"),
        ({"lines": ["很长" * 30]}, "lines.0"),
        ({"title": "a\u0007b"}, "title"),
        ({"note": {"titles": ["a\u0007b"]}}, "note.title"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_queues_nothing(client, runtime, photo, change, param):
    body = {"photos": [photo], **SMALL, **change}
    body["photos"] = [photo if p == "P" else p for p in body["photos"]]
    before = len(runtime.store.list(owner_key=None)) if hasattr(runtime.store, "list") else None
    response = client.post("/v1/videos", json=body, headers=auth(MERCHANT_KEY))
    error = assert_envelope(response, 422, "invalid_request")
    assert error["param"] == param, error
    if before is not None:
        assert len(runtime.store.list(owner_key=None)) == before


def test_cancel_stops_within_a_second_and_leaves_no_file(client, runtime, photo):
    body = {"photos": [photo] * 3, "width": 720, "fps": 30, "duration": 60, "seed": 1}
    job_id = client.post("/v1/videos", json=body, headers=auth(MERCHANT_KEY)).json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).json()
        if job["state"] == "running" and job["progress"] > 0.02:
            break
        time.sleep(0.05)
    assert job["state"] == "running", job
    asked = time.monotonic()
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth(MERCHANT_KEY)).status_code in (200, 202)
    job = _wait(client, job_id, states=("cancelled", "succeeded", "failed"), timeout=10)
    assert job["state"] == "cancelled" and time.monotonic() - asked < 1.5, job
    folder = runtime.settings.artifacts_dir / job_id
    time.sleep(0.3)  # the worker unwinds after the state is written
    assert not folder.exists() or list(folder.iterdir()) == []
    download = client.get(f"/v1/jobs/{job_id}/artifacts/video.mp4", headers=auth(MERCHANT_KEY))
    assert download.status_code == 404


def test_i2v_without_a_video_model_is_a_503_with_the_fix(client, photo):
    body = {"photos": [photo], "engine": "i2v", "clip": {"prompt": "slow turntable"}}
    error = assert_envelope(client.post("/v1/videos", json=body, headers=auth(MERCHANT_KEY)), 503, "model_unavailable")
    assert "NOTESTUDIO_VIDEO_MODEL" in error["message"] and error["param"] == "engine"
    slideshow_with_clip = client.post("/v1/videos", json={"photos": [photo], "clip": {}}, headers=auth(MERCHANT_KEY))
    assert assert_envelope(slideshow_with_clip, 422, "invalid_request")["param"] == "clip"


@pytest.fixture(scope="module")
def clip_client(tmp_path_factory, photo):
    """A server whose `video_model` is a tiny random Wan image-to-video pipeline (toy frame size)."""
    import yaml

    from models import testing

    root = tmp_path_factory.mktemp("clip")
    spec = testing.build_tiny_wan_i2v_pipeline(root / "wan", options={"long_side": 112, "num_frames": 9})
    registry = root / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json")]}))
    with serving_client(root / "var", models=registry, video_model=spec.name) as test_client:
        yield test_client


def test_an_i2v_clip_is_a_job_encoded_like_the_slideshows(clip_client, photo):
    pytest.importorskip("ftfy", reason="Wan pipelines clean prompts with ftfy")
    body = {
        "photos": [photo],
        "engine": "i2v",
        "clip": {"prompt": "the bottle turns slowly", "steps": 2, "duration": 0.5},
        "audio": base64.b64encode(_tone(2.0)).decode(),
        "seed": 4,
    }
    response = clip_client.post("/v1/videos", json=body, headers=auth(MERCHANT_KEY))
    assert response.status_code == 202, response.text
    job = _wait(clip_client, response.json()["id"], timeout=300)
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["engine"] == "diffusers" and result["model"] == "tiny-wan-i2v" and result["seed"] == 4
    assert result["pipeline"] == "WanImageToVideoPipeline" and result["steps"] == 2 and result["audio"] is True
    assert result["height"] > result["width"] and result["height"] == 112  # 9:16-compatible at the model's sizes
    video = clip_client.get(f"/v1/jobs/{job['id']}/artifacts/video.mp4", headers=auth(MERCHANT_KEY))
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.name) == (result["width"], 112, "h264")
        assert (
            stream.frames == result["frames"]
            and abs(float(stream.duration * stream.time_base) - result["duration"]) <= 0.1
        )
    many = clip_client.post("/v1/videos", json={**body, "photos": [photo, photo]}, headers=auth(MERCHANT_KEY))
    assert assert_envelope(many, 422, "invalid_request")["param"] == "photos"
