"""HTTP contract: status codes and the one error envelope for every client mistake."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth


def assert_envelope(response, status: int, error_type: str, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "param"}
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]


def test_health_and_ready_need_no_key(client):
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_openapi_documents_routes_and_envelope(client):
    spec = client.get("/openapi.json").json()
    assert {"/health", "/ready", "/v1/jobs/{job_id}", "/v1/models", "/v1/models/check"} <= set(spec["paths"])
    assert "ErrorEnvelope" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_401_without_or_with_unknown_key(client):
    assert_envelope(client.get("/v1/models"), 401, "authentication_error", "Authorization")
    err = assert_envelope(client.get("/v1/models", headers=auth("nope-nope-nope-nope")), 401, "authentication_error")
    assert "unknown API key" in err["message"]


@pytest.mark.parametrize("key", [MERCHANT_KEY, PLATFORM_KEY, ADMIN_KEY])
def test_any_key_lists_models_also_via_x_api_key(client, key):
    response = client.get("/v1/models", headers={"X-API-Key": key})
    assert response.status_code == 200 and response.json()["models"]


def test_403_when_scope_is_missing(client):
    err = assert_envelope(client.post("/v1/models/check", json={}, headers=auth(MERCHANT_KEY)), 403, "permission_error")
    assert "'admin'" in err["message"]


def test_404_unknown_route_job_and_model(client):
    assert_envelope(client.get("/v1/nothing-here"), 404, "not_found")
    assert_envelope(client.get("/v1/jobs/" + "0" * 32, headers=auth(ADMIN_KEY)), 404, "not_found", "job_id")
    err = assert_envelope(
        client.post("/v1/models/check", json={"names": ["nope"]}, headers=auth(ADMIN_KEY)),
        404,
        "not_found",
        "model",
    )
    assert "configured models" in err["message"]


def test_405_wrong_method(client):
    assert_envelope(client.delete("/v1/models", headers=auth(ADMIN_KEY)), 405, "method_not_allowed")


def test_413_by_content_length_and_by_streamed_body(client, settings):
    big = b"x" * (settings.max_body_bytes + 1)
    headers = {**auth(ADMIN_KEY), "content-type": "application/json"}
    assert_envelope(client.post("/v1/models/check", content=big, headers=headers), 413, "payload_too_large", "body")

    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    assert_envelope(client.post("/v1/models/check", content=chunks(), headers=headers), 413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"load": "maybe"}, "load"),
        ({"names": "not-a-list"}, "names"),
        ({"names": ["ok", {}]}, "names.1"),
        ({"webhook_url": "not a url"}, "webhook_url"),
        ({"names": ["x"] * 65}, "names"),
    ],
)
def test_422_names_the_field(client, body, param):
    assert_envelope(client.post("/v1/models/check", json=body, headers=auth(ADMIN_KEY)), 422, "invalid_request", param)


def test_400_for_malformed_json_and_422_for_bad_path_param(client):
    headers = {**auth(ADMIN_KEY), "content-type": "application/json"}
    assert_envelope(client.post("/v1/models/check", content=b"{nope", headers=headers), 400, "invalid_request", "body")
    assert_envelope(client.get("/v1/jobs/../../etc", headers=auth(ADMIN_KEY)), 404, "not_found")
    assert_envelope(client.get("/v1/jobs/NOT-HEX", headers=auth(ADMIN_KEY)), 422, "invalid_request", "job_id")


def test_binary_garbage_body_is_a_4xx(client):
    headers = {**auth(ADMIN_KEY), "content-type": "application/json"}
    response = client.post("/v1/models/check", content=bytes(range(256)) * 4, headers=headers)
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_rate_limit_is_per_key_with_retry_after(tmp_path):
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime
    from serving.settings import Settings

    rt = Runtime(
        Settings(data_dir=tmp_path, api_keys=f"{ADMIN_KEY}:admin,{MERCHANT_KEY}:merchant", rate_limit_per_minute=3)
    )
    client = TestClient(create_api(rt))
    codes = [client.get("/v1/models", headers=auth(ADMIN_KEY)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/v1/models", headers=auth(ADMIN_KEY))
    assert_envelope(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert client.get("/v1/models", headers=auth(MERCHANT_KEY)).status_code == 200
    rt.stop()


def test_metrics_count_requests_by_route_template(client):
    client.get("/health")
    client.get("/v1/jobs/" + "a" * 32, headers=auth(ADMIN_KEY))
    text = client.get("/metrics").text
    assert 'notestudio_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="/v1/jobs/{job_id}",status="404"' in text
    assert "notestudio_jobs" in text
