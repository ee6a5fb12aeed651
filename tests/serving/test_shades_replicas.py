"""Merchant shades across two ingress replicas on a real Ray cluster: a shade added through one replica is usable at
once through the other and by the `TryOnSessions` deployment (webcam frames), for its owner only.

One app with `Ingress: num_replicas: 2` behind Ray Serve's proxy on a free port; every check also asserts that BOTH
replicas answered (`X-NoteStudio-Replica`), so a pass cannot come from one replica alone.
"""

from __future__ import annotations

import socket

import cv2
import httpx
import pytest
from skimage.data import astronaut

from tests.conftest import MERCHANT_KEY, auth

pytestmark = pytest.mark.slow

OTHER_KEY = "test-other-merchant-key-0123"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import ray
    from ray import serve

    from serving.app import build_app

    data_dir = tmp_path_factory.mktemp("shade-replicas") / "var"
    ray.init(address="local", num_cpus=4, include_dashboard=False, logging_level="ERROR")
    try:
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        args = {
            "data_dir": str(data_dir),
            "api_keys": f"{MERCHANT_KEY}:merchant,{OTHER_KEY}:merchant",
            "studio": False,
            "rate_limit_per_minute": 0,
            "deployments": [
                {"name": "Ingress", "num_replicas": 2, "ray_actor_options": {"num_cpus": 0}},
                {"name": "TryOnSessions", "ray_actor_options": {"num_cpus": 0}},
            ],
        }
        serve.run(build_app(args), name="shade-replicas", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_a_shade_added_on_one_replica_is_usable_on_every_replica_and_in_frames(url):
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    frame = jpeg.tobytes()
    shade = {"name": "Replica Red", "hex": "#C0102A", "kind": "lipstick", "finish": "gloss"}
    replicas: set[str] = set()
    with httpx.Client(base_url=url, timeout=120) as client:
        created = client.post("/v1/tryon/shades", json=shade, headers=auth(MERCHANT_KEY))
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        for index in range(8):  # listed, read and worn wherever the request lands
            listed = client.get("/v1/tryon/shades", headers=auth(MERCHANT_KEY))
            replicas.add(listed.headers["x-notestudio-replica"])
            assert sid in {s["id"] for s in listed.json()["shades"]}
            worn = client.post(
                "/v1/tryon/frames",
                headers=auth(MERCHANT_KEY),
                files={"frame": ("f.jpg", frame, "image/jpeg")},
                data={"session_id": "shade-replica-1", "shade": [sid], "output": "json"},
            )
            assert worn.status_code == 200, worn.text
            replicas.add(worn.headers["x-notestudio-replica"])
            assert worn.json()["shades"][0]["id"] == sid and worn.json()["frame_index"] == index + 1
        refused = client.post(
            "/v1/tryon/frames",
            headers=auth(OTHER_KEY),
            files={"frame": ("f.jpg", frame, "image/jpeg")},
            data={"session_id": "shade-replica-1", "shade": [sid]},
        )
        assert refused.status_code == 422 and refused.json()["error"]["param"] == "shade"
        deleted = client.delete(f"/v1/tryon/shades/{sid}", headers=auth(MERCHANT_KEY))
        assert deleted.status_code == 204
        gone = client.post(
            "/v1/tryon/frames",
            headers=auth(MERCHANT_KEY),
            files={"frame": ("f.jpg", frame, "image/jpeg")},
            data={"session_id": "shade-replica-1", "shade": [sid]},
        )
        assert gone.status_code == 422 and gone.json()["error"]["param"] == "shade"
    assert len(replicas) == 2, f"every request went to one replica: {replicas}"
