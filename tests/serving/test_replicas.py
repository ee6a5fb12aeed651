"""State that survives two ingress replicas, on a real Ray cluster: webcam sessions, rate limits, metrics.

One app with `Ingress: num_replicas: 2` behind Ray Serve's proxy on a free port. Every assertion also
checks that BOTH replicas answered (`X-NoteStudio-Replica`), so a pass cannot come from one replica alone.
"""

from __future__ import annotations

import io
import re
import socket
import threading

import httpx
import numpy as np
import pytest

from tests.conftest import ADMIN_KEY, MERCHANT_KEY, auth

pytestmark = pytest.mark.slow

LIMITED_KEY = "test-limited-key-0123456789"
PER_MINUTE = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import ray
    from ray import serve

    from serving.app import build_app

    data_dir = tmp_path_factory.mktemp("replicas") / "var"
    ray.init(address="local", num_cpus=4, include_dashboard=False, logging_level="ERROR")
    try:
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        args = {
            "data_dir": str(data_dir),
            "api_keys": f"{ADMIN_KEY}:admin,{MERCHANT_KEY}:merchant,{LIMITED_KEY}:merchant",
            "studio": False,
            "rate_limit_per_minute": PER_MINUTE,
            "deployments": [
                {"name": "Ingress", "num_replicas": 2, "ray_actor_options": {"num_cpus": 0}},
                {"name": "TryOnSessions", "ray_actor_options": {"num_cpus": 0}},
            ],
        }
        serve.run(build_app(args), name="replicas", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def _face_jpeg() -> bytes:
    import cv2
    from skimage.data import astronaut

    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    return buffer.tobytes()


def test_a_webcam_session_keeps_one_tracker_whichever_replica_answers(url):
    frame = _face_jpeg()
    replicas, indices, boxes = set(), [], []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(16):
            response = client.post(
                "/v1/tryon/frames",
                headers=auth(MERCHANT_KEY),
                files={"frame": ("f.jpg", io.BytesIO(frame), "image/jpeg")},
                data={"session_id": "webcam-1234", "shade": "LIP-102", "output": "json"},
            )
            assert response.status_code == 200, response.text
            replicas.add(response.headers["x-notestudio-replica"])
            body = response.json()
            indices.append(body["frame_index"])
            boxes.append(body["faces"][0]["box"])
    assert len(replicas) == 2, f"all frames went to one replica: {replicas}"
    # One tracker saw every frame in order: a replica-local session would restart its count at 1.
    assert indices == list(range(1, 17))
    # Once the filter settled, a still face stays still across replicas (a fresh tracker would jump back to
    # the detector's box on the frames of the other replica).
    assert float(np.ptp(np.array(boxes[8:]), axis=0).max()) < 1.0, boxes


def test_a_per_key_limit_holds_across_replicas(url):
    statuses: list[int] = []
    replicas: set[str] = set()
    lock = threading.Lock()

    def call(client: httpx.Client) -> None:
        response = client.get("/v1/tryon/shades", headers=auth(LIMITED_KEY))
        with lock:
            statuses.append(response.status_code)
            if response.status_code == 200:
                replicas.add(response.headers["x-notestudio-replica"])

    with httpx.Client(base_url=url, timeout=60) as client:
        threads = [threading.Thread(target=call, args=(client,)) for _ in range(2 * PER_MINUTE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    admitted = statuses.count(200)
    assert set(statuses) <= {200, 429}
    # About N per minute in all (a few tokens refill while the burst runs), not N per replica.
    assert PER_MINUTE <= admitted <= PER_MINUTE + 4, statuses
    assert len(replicas) == 2, f"only one replica admitted requests: {replicas}"


def _total_requests(text: str) -> tuple[float, set[str]]:
    total, replicas = 0.0, set()
    for line in text.splitlines():
        match = re.match(r"notestudio_http_requests_total\{(.*)\} ([0-9.e+]+)$", line)
        if match:
            total += float(match.group(2))
            replicas.update(re.findall(r'replica="([^"]+)"', match.group(1)))
    return total, replicas


def test_metrics_count_every_replicas_requests(url):
    import time

    sent = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(20):
            assert client.get("/health").status_code == 200
            sent += 1
        # Replicas publish their counters every 5 s: after that, ONE scrape (answered by one replica) must
        # already hold both replicas' requests (a slow machine gets one more publishing period).
        for wait in (6, 6):
            time.sleep(wait)
            total, replicas = _total_requests(client.get("/metrics").text)
            if total >= sent + 16 + 2 * PER_MINUTE and len(replicas) == 2:
                break
    assert len(replicas) == 2, replicas
    # Every request of this module so far (16 frames + 60 shade calls + 20 health checks) is counted once.
    assert total >= sent + 16 + 2 * PER_MINUTE, total
