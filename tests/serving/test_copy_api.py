"""`/v1/copy/*` over HTTP: template engine by default, an LLM by configuration, SSE, batch jobs, 4xx."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.conftest import MERCHANT_KEY, PLATFORM_KEY, auth
from tests.serving.test_contract import assert_envelope

PRODUCT = {
    "product": "山茶集轻薄水感防晒霜SPF50",
    "brand": "山茶集",
    "category": "防晒",
    "price": 89,
    "selling_points": ["清爽不油腻", "不泛白", "可以当妆前乳"],
    "audience": "通勤党",
    "scenario": "通勤",
    "style": "review",
    "n": 2,
    "seed": 5,
}


def _check_draft(draft: dict) -> None:
    assert len(draft["titles"]) == 3 and all(len(t) <= 20 for t in draft["titles"])
    assert 5 <= len(draft["hashtags"]) <= 8 and not any(t.startswith("#") for t in draft["hashtags"])
    assert "\n" in draft["body"]
    # The verdict and the final moderation agree: only a draft that passes is reported clean or rewritten.
    assert (draft["compliance"]["status"] == "flagged") == (draft["moderation"]["decision"] != "pass")
    assert draft["compliance"]["status"] != "rewritten" or draft["compliance"]["rewrites"]


def test_notes_template_engine(client):
    response = client.post("/v1/copy/notes", json=PRODUCT, headers=auth(MERCHANT_KEY))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "template" and body["model"] is None
    assert len(body["drafts"]) == 2
    for draft in body["drafts"]:
        _check_draft(draft)
        assert draft["style"] == "测评" and draft["engine"] == "template" and draft["filled"] == []
    assert [d["seed"] for d in body["drafts"]] == [5, 6]  # each variant's own seed
    assert body["drafts"][0]["body"] != body["drafts"][1]["body"]
    again = client.post("/v1/copy/notes", json=PRODUCT, headers=auth(MERCHANT_KEY)).json()
    assert [d["body"] for d in again["drafts"]] == [d["body"] for d in body["drafts"]]
    alone = {**PRODUCT, "n": 1, "seed": body["drafts"][1]["seed"]}
    [second] = client.post("/v1/copy/notes", json=alone, headers=auth(MERCHANT_KEY)).json()["drafts"]
    assert second["body"] == body["drafts"][1]["body"] and second["titles"] == body["drafts"][1]["titles"]


def test_notes_need_the_merchant_scope(client):
    assert_envelope(client.post("/v1/copy/notes", json=PRODUCT), 401, "authentication_error")
    assert_envelope(client.post("/v1/copy/notes", json=PRODUCT, headers=auth(PLATFORM_KEY)), 403, "permission_error")


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"product": ""}, "product"),
        ({"product": "   "}, "product"),
        ({"selling_points": ["好" * 100_000]}, "selling_points"),
        ({"selling_points": "好" * 100_000}, "selling_points"),
        ({"style": "poetry"}, "style"),
        ({"language": "fr"}, "language"),
        ({"n": 0}, "n"),
        ({"n": 99}, "n"),
        ({"length": "epic"}, "length"),
        ({"price": -1}, "price"),
        ({"price": True}, "price"),
        ({"selling_points": ["ok", "\x07"]}, "selling_points.1"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, patch, param):
    response = client.post("/v1/copy/notes", json={**PRODUCT, **patch}, headers=auth(MERCHANT_KEY))
    error = assert_envelope(response, 422, "invalid_request")
    assert error["param"] == param or error["param"].startswith(param + ".")
    assert error["message"].startswith(error["param"] + ": ") and "Value error" not in error["message"]


def test_stream_sends_tokens_drafts_and_done(client):
    with client.stream(
        "POST", "/v1/copy/notes", json={**PRODUCT, "stream": True}, headers=auth(MERCHANT_KEY)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
            for block in response.read().decode().strip().split("\n\n")
        ]
    kinds = [kind for kind, _ in events]
    assert kinds.count("draft") == 2 and kinds[-1] == "done" and "token" in kinds
    _check_draft(next(data for kind, data in events if kind == "draft"))


def test_compliance_rewrites_what_moderation_flags(client, runtime):
    from generation.copy.llm import Written
    from generation.copy.request import NoteRequest
    from generation.copy.schema import NoteContent

    service = runtime.services.copy
    request = NoteRequest.parse({"product": "保湿面霜", "category": "护肤"})
    content = NoteContent(
        ["全网最好用的面霜", "面霜分享", "日常护肤"],
        ["这是我用过最好用的面霜，还能治疗湿疹", "无副作用，用了一周"],
        ["面霜", "护肤", "好物", "分享", "日常"],
    )
    draft = service._draft(request, Written(content, ""), 0, 1)
    assert draft.compliance.status == "rewritten"
    assert draft.moderation["decision"] == "pass"
    assert "最好用" not in draft.body and "很好用" in draft.body and "治疗" not in draft.body
    contact = NoteContent(content.titles, ["加微信下单更便宜", "好用"], content.hashtags)
    flagged = service._draft(request, Written(contact, ""), 0, 1)
    assert flagged.compliance.status == "flagged" and flagged.moderation["decision"] != "pass"
    assert any(label["code"].startswith("diversion") for label in flagged.compliance.remaining)


def _wait(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).json()
        if job["state"] in {"succeeded", "failed", "cancelled"}:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_batch_job_with_progress_errors_and_artifact(client):
    products = [PRODUCT, {**PRODUCT, "product": "Linen dress", "language": "en", "category": "dress"}, {"product": ""}]
    response = client.post("/v1/copy/notes/batch", json={"products": products, "n": 1}, headers=auth(MERCHANT_KEY))
    assert response.status_code == 202, response.text
    job = _wait(client, response.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0
    result = job["result"]
    assert result["products"] == 3 and result["failed"] == 1 and result["engine"] == "template"
    assert result["results"][2]["error"]["param"] == "products.2.product"
    assert len(result["results"][0]["drafts"]) == 1
    artifact = client.get(job["links"]["artifact:notes.jsonl"], headers=auth(MERCHANT_KEY))
    assert artifact.status_code == 200 and len(artifact.text.strip().splitlines()) == 3


def test_batch_rejects_empty_list(client):
    response = client.post("/v1/copy/notes/batch", json={"products": []}, headers=auth(MERCHANT_KEY))
    assert_envelope(response, 422, "invalid_request", "products")


def test_configured_llm_writes_schema_valid_notes(tiny_models, tiny_registry_file, tmp_path):
    """`copy_model` switches the writer to a tiny random Qwen2: still schema-valid, honest names."""
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime
    from serving.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "var",
        api_keys=f"{MERCHANT_KEY}:merchant",
        models=tiny_registry_file,
        copy_model=tiny_models["text"].name,
        studio=False,
    )
    runtime = Runtime(settings)
    runtime.start()
    try:
        with TestClient(create_api(runtime), raise_server_exceptions=False) as client:
            request = {**PRODUCT, "length": "short", "n": 2}
            body = client.post("/v1/copy/notes", json=request, headers=auth(MERCHANT_KEY)).json()
            assert body["engine"] == "transformers" and body["model"] == tiny_models["text"].name
            for draft in body["drafts"]:
                assert len(draft["titles"]) == 3 and all(len(t) <= 20 for t in draft["titles"])
                assert 5 <= len(draft["hashtags"]) <= 8
            with client.stream(
                "POST", "/v1/copy/notes", json={**request, "n": 1, "stream": True}, headers=auth(MERCHANT_KEY)
            ) as response:
                text = response.read().decode()
            assert text.count("event: token") > 5 and "event: draft" in text and "event: done" in text
    finally:
        runtime.stop()


def test_unknown_copy_model_is_a_clear_error(tmp_path):
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime
    from serving.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", api_keys=f"{MERCHANT_KEY}:merchant", copy_model="nope", studio=False)
    runtime = Runtime(settings)
    try:
        with TestClient(create_api(runtime), raise_server_exceptions=False) as client:
            response = client.post("/v1/copy/notes", json=PRODUCT, headers=auth(MERCHANT_KEY))
            assert_envelope(response, 404, "not_found", "model")
    finally:
        runtime.stop()


def test_studio_tab_renders_api_responses(client):
    from ui.studio import TABS
    from ui.tabs.copy import format_drafts, request_body

    assert "notes" in [name for name, _ in TABS]
    body = request_body("防晒霜", "", "防晒", 89, "清爽\n不泛白", "", "", "开箱", "活泼", "short", "zh", 2, 3)
    response = client.post("/v1/copy/notes", json=body, headers=auth(MERCHANT_KEY)).json()
    markdown = format_drafts(response)
    assert "engine: template" in markdown and markdown.count("### Variant") == 2
    assert "### Variant 2 (seed 4)" in markdown and "completed from your facts" not in markdown
    filled = {**response, "drafts": [{**response["drafts"][0], "filled": ["hashtags"]}]}
    assert "not written by the model: hashtags" in format_drafts(filled)
    assert response["drafts"][0]["titles"][0] in markdown


def test_copy_model_on_a_model_host_deployment(tiny_models, tiny_registry_file, tmp_path):
    """`copy_model` listed in `hosted_models`: the copy handler calls the `ModelHost` handle (GPU placement)."""
    from ray import serve

    from serving.deployments.model_host import HostedTextEngine, ModelHost
    from serving.services import build_services
    from serving.settings import Settings

    name = tiny_models["text"].name
    settings = Settings(data_dir=tmp_path / "var", api_keys=f"{MERCHANT_KEY}:merchant", models=tiny_registry_file,
                        copy_model=name, studio=False)  # fmt: skip
    handle = serve.run(
        ModelHost.options(name="copy-host").bind(name, settings.to_args()), name="t-copy", _local_testing_mode=True
    )
    services = build_services(settings, model_hosts={name: handle})
    try:
        assert isinstance(services.copy.writer.engine, HostedTextEngine)
        from generation.copy.request import NoteRequest

        result = asyncio.run(services.copy.notes(NoteRequest(product="防晒霜", length="short", seed=2)))
        [draft] = result.drafts
        assert draft.engine == "transformers" and draft.model == name and len(draft.titles) == 3
    finally:
        services.close()
