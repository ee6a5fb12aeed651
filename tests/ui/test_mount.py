"""/studio serves the Chinese studio and /studio/en the English one; each page links to the other."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.settings import Settings
from ui.studio import mount_studio, studio_path


def test_both_languages_are_mounted_and_link_to_each_other(tmp_path):
    app = mount_studio(FastAPI(), "http://127.0.0.1:9", Settings(data_dir=tmp_path / "var"))
    assert (studio_path("zh"), studio_path("en")) == ("/studio", "/studio/en")
    with TestClient(app) as client:
        moved = client.get("/studio/en", follow_redirects=False)
        assert moved.status_code in (301, 302, 307) and moved.headers["location"].endswith("/studio/en/")
        assert client.get("/studio/en/").status_code == 200 and client.get("/studio/").status_code == 200
        zh = json.dumps(client.get("/studio/config").json(), ensure_ascii=False)
        en = json.dumps(client.get("/studio/en/config").json(), ensure_ascii=False)
    assert '"笔记"' in zh and '"审核"' in zh and '"Notes"' not in zh and 'href=\\"/studio/en/\\"' in zh
    assert '"Notes"' in en and '"Moderation"' in en and '"笔记"' not in en and 'href=\\"/studio/\\"' in en


def test_a_dev_server_hands_the_session_and_the_key_to_both_languages(tmp_path):
    """In dev mode on loopback each studio page carries the upload session; uploads through /studio/en pass
    the same guard as /studio (a key or that session)."""
    from serving.app import asgi_app
    from serving.guards import SESSION_COOKIE
    from serving.runtime import Runtime

    settings = Settings(data_dir=tmp_path / "var", port=18766, studio=True, job_heartbeat_s=0.2).with_dev_key()
    runtime = Runtime(settings)
    runtime.start()
    try:
        with TestClient(asgi_app(runtime), base_url="http://127.0.0.1:18766") as client:
            upload = {"files": ("note.txt", b"hello", "text/plain")}
            assert client.post("/studio/en/gradio_api/upload", files=upload).status_code == 401
            page = client.get("/studio/en/")
            assert page.status_code == 200 and SESSION_COOKIE in page.headers["set-cookie"]
            assert client.post("/studio/en/gradio_api/upload", files=upload).status_code == 200
    finally:
        runtime.stop()
