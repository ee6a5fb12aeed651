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
