"""Dev mode answers loopback names only (DNS rebinding), never puts its key in the studio's config, and the
studio's upload route needs a key (header or session cookie) and keeps to the body limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from serving.app import asgi_app
from serving.guards import SESSION_COOKIE
from serving.runtime import Runtime
from serving.settings import Settings
from tests.conftest import MERCHANT_KEY, auth
from ui.studio import _dev_key

UPLOAD = "/studio/gradio_api/upload"


@contextmanager
def studio_client(tmp_path, **fields) -> Iterator[tuple[TestClient, Settings]]:
    """The app of one ingress replica with the studio mounted, as `Ingress` builds it, on 127.0.0.1:18765."""
    settings = Settings(data_dir=tmp_path / "var", port=18765, studio=True, job_heartbeat_s=0.2, **fields)
    settings = settings.with_dev_key()
    runtime = Runtime(settings)
    runtime.start()
    try:
        with TestClient(asgi_app(runtime), base_url="http://127.0.0.1:18765", raise_server_exceptions=False) as client:
            yield client, settings
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[TestClient, Settings]]:
    with studio_client(tmp_path_factory.mktemp("dev")) as pair:
        yield pair


@pytest.mark.parametrize("host", ["localhost:18765", "127.0.0.1:18765", "[::1]:18765", "LOCALHOST:18765"])
def test_dev_mode_answers_loopback_names_on_its_port(dev, host):
    client, _ = dev
    assert client.get("/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["rebind.attacker.example:18765", "127.0.0.1:9999", "localhost", "10.0.0.5:18765", "localhost.:18765"]
)
@pytest.mark.parametrize("path", ["/health", "/v1/models", "/studio/config", UPLOAD])
def test_dev_mode_refuses_other_host_names_with_421(dev, host, path):
    client, _ = dev
    response = client.request("POST" if path == UPLOAD else "GET", path, headers={"host": host})
    assert response.status_code == 421
    error = response.json()["error"]
    assert error["type"] == "misdirected_request" and error["param"] == "Host" and "18765" in error["message"]


def test_any_host_is_served_with_configured_keys_or_on_a_public_address(tmp_path):
    with studio_client(tmp_path / "a", api_keys=f"{MERCHANT_KEY}:merchant") as (client, _):
        assert client.get("/health", headers={"host": "notes.example.com"}).status_code == 200
    with studio_client(tmp_path / "b", host="0.0.0.0") as (client, settings):
        assert settings.dev_key and client.get("/health", headers={"host": "10.0.0.5:18765"}).status_code == 200


def test_the_dev_key_is_never_in_the_studio_config_and_only_loopback_requests_get_it(dev):
    client, settings = dev
    config = client.get("/studio/config")
    assert config.status_code == 200 and settings.dev_key not in config.text
    offer = _dev_key(settings)
    assert offer(gr.Request(headers={"host": "localhost:18765"})) == settings.dev_key
    for host in ("rebind.attacker.example:18765", "localhost:9999", None):
        assert offer(gr.Request(headers={"host": host} if host else {})) == ""
    public = settings.model_copy(update={"host": "0.0.0.0"})
    assert _dev_key(public)(gr.Request(headers={"host": "localhost:18765"})) == ""


def _upload(client: TestClient, headers: dict[str, str] | None = None, size: int = 5):
    return client.post(UPLOAD, files={"files": ("note.txt", b"x" * size, "text/plain")}, headers=headers or {})


def test_studio_uploads_need_a_key_in_a_header_or_the_session_cookie(tmp_path):
    with studio_client(tmp_path, api_keys=f"{MERCHANT_KEY}:merchant") as (client, _):
        refused = _upload(client)
        assert refused.status_code == 401 and refused.json()["error"]["param"] == "Authorization"
        assert _upload(client, auth("not-a-key-of-this-service")).status_code == 401
        uploaded = _upload(client, auth(MERCHANT_KEY))
        assert uploaded.status_code == 200 and uploaded.json()[0].endswith("note.txt")

        assert client.post("/studio/session", headers=auth("not-a-key-of-this-service")).status_code == 401
        assert client.get("/studio/").headers.get("set-cookie") is None  # only a dev server's page carries one
        session = client.post("/studio/session", headers=auth(MERCHANT_KEY))
        cookie = session.headers["set-cookie"]
        assert session.status_code == 204 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert MERCHANT_KEY not in cookie and "Path=/studio" in cookie
        assert _upload(client).status_code == 200  # the client sends the cookie now
        assert client.get("/v1/models").status_code == 401  # ...which opens uploads, not the API
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, "0" * 64)
        assert _upload(client).status_code == 401


def test_a_dev_server_page_carries_the_session_and_uploads_keep_to_the_body_limit(tmp_path):
    with studio_client(tmp_path, max_body_bytes=4096) as (client, _):
        assert _upload(client).status_code == 401
        page = client.get("/studio/")
        assert page.status_code == 200 and SESSION_COOKIE in page.headers["set-cookie"]
        assert _upload(client).status_code == 200
        too_big = _upload(client, size=10_000)
        assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "payload_too_large"
