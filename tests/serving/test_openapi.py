"""The OpenAPI document: the key scheme where a key is needed, every error status with its body, and request
schemas that say exactly what the handlers accept (the schema and the server agree on each example)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from serving.routes.deps import get_translation, require
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth

ENVELOPE = "#/components/schemas/ErrorEnvelope"
PUBLIC = {("get", "/health"), ("get", "/ready"), ("get", "/metrics"), ("get", "/languages")}
LIBRETRANSLATE = {("post", "/translate"), ("post", "/detect")}


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json()


def _operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def _schema_ref(response: dict) -> str | None:
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def test_security_schemes_are_bearer_and_the_api_key_header(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_every_keyed_route_declares_the_scheme_and_public_ones_do_not(spec):
    for method, path, operation in _operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            continue
        security = operation.get("security")
        assert security and {name for requirement in security for name in requirement} == {"bearer", "apiKey"}, (
            method,
            path,
        )
    # role names: the scope the route needs (none: any key)
    roles = {(m, p): next(iter(op["security"][0].values())) for m, p, op in _operations(spec) if "security" in op}
    assert roles[("post", "/v1/models/check")] == ["admin"]
    assert roles[("post", "/v1/moderation/listings")] == ["platform"]
    assert roles[("post", "/v1/copy/notes")] == ["merchant"]
    assert roles[("get", "/v1/jobs/{job_id}")] == []
    assert not any(path.startswith("/studio") for path in spec["paths"])


def test_every_route_documents_its_error_statuses_with_the_envelope(spec):
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        keyed = "security" in operation and (method, path) not in LIBRETRANSLATE
        expected = set()
        if "requestBody" in operation:
            expected |= {"400", "413"}
        if method == "post":
            expected.add("413")
        if keyed:
            expected |= {"401", "429"}
        if keyed and operation["security"][0]["bearer"]:
            expected.add("403")
        if "{" in path:
            expected |= {"404", "422"}
        if operation.get("parameters") or (keyed and "requestBody" in operation):
            expected.add("422")
        assert expected <= set(responses), (method, path, sorted(expected - set(responses)))
        for status, response in responses.items():
            if status.startswith("4") and (method, path) not in LIBRETRANSLATE:
                assert _schema_ref(response) == ENVELOPE, (method, path, status)
        if "429" in responses and keyed:
            assert "Retry-After" in responses["429"]["headers"]
    assert "HTTPValidationError" not in json.dumps(spec)
    for route in ("/v1/copy/notes", "/v1/translate", "/v1/images", "/v1/videos", "/v1/tryon/makeup"):
        assert _schema_ref(spec["paths"][route]["post"]["responses"]["503"]) == ENVELOPE, route
    assert "404" in spec["paths"]["/v1/translate"]["post"]["responses"]  # an unknown glossary_id


def test_libretranslate_routes_document_its_own_error_shape(spec):
    error = spec["components"]["schemas"]["LibreTranslateError"]
    assert error["properties"] == {"error": {"type": "string", "title": "Error"}}
    for method, path in LIBRETRANSLATE:
        operation = spec["paths"][path][method]
        for status in ("400", "403", "429"):
            assert _schema_ref(operation["responses"][status]) == "#/components/schemas/LibreTranslateError"
        assert _schema_ref(operation["responses"]["413"]) == ENVELOPE  # the body limit answers before the route
        body = operation["requestBody"]["content"]
        assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
        assert "q" in body["application/json"]["schema"]["required"]
    translate = spec["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"q", "source", "target"} == set(translate["required"])
    assert (
        "auto" in translate["properties"]["source"]["enum"] and "zh-Hant" in translate["properties"]["target"]["enum"]
    )


class ThingIn(BaseModel):
    name: str


platform_key = require("platform")


def test_a_new_route_is_documented_without_declaring_anything(runtime):
    from serving.api import create_api

    router = APIRouter()

    @router.post("/v1/things/{thing_id}")
    def make(thing_id: str, body: ThingIn, _=Depends(platform_key), __=Depends(get_translation)) -> dict:
        return {}

    app = create_api(runtime)
    app.include_router(router)
    operation = app.openapi()["paths"]["/v1/things/{thing_id}"]["post"]
    assert operation["security"] == [{"bearer": ["platform"]}, {"apiKey": ["platform"]}]
    assert {"400", "401", "403", "404", "413", "422", "429", "503"} <= set(operation["responses"])
    assert _schema_ref(operation["responses"]["422"]) == ENVELOPE


def test_form_fields_are_never_null(spec):
    """A form field is sent or not: `null` cannot travel in a form (`timestamp_ms=None` was a 422)."""
    frames = spec["paths"]["/v1/tryon/frames"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    timestamp = frames["allOf"][0]["properties"]["timestamp_ms"]
    assert timestamp["type"] == "number" and "anyOf" not in timestamp and "default" not in timestamp
    imported = spec["paths"]["/v1/glossaries/import"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert imported["schema"]["properties"]["format"]["enum"] == ["csv", "tsv", "json"]
    assert "anyOf" not in imported["schema"]["properties"]["format"]


def _body_schema(spec: dict, path: str, method: str = "post") -> dict:
    schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return {**schema, "components": spec["components"]}


# (route, key, body, whether it is valid): the document and the server must agree on every one.
AGREEMENT = [
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "style": "review"}, True),
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "stream": False}, True),
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "stream": 0}, False),  # was read as false
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "stream": "false"}, False),
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "id": False}, False),  # was read as 0
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "   "}, False),  # blank once stripped
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "brand": "a\x03b"}, False),  # a control character
    ("/v1/copy/notes", MERCHANT_KEY, {"product": "面霜", "style": "nope"}, False),
    ("/v1/models/check", ADMIN_KEY, {"load": 1}, False),
    ("/v1/models/check", ADMIN_KEY, {"load": "true"}, False),
    ("/v1/translate", MERCHANT_KEY, {"text": ["好物"], "source": "zh-Hans", "target": "zh-Hant"}, True),
    ("/v1/translate", MERCHANT_KEY, {"note": {"titles": ["好物"]}, "source": "zh", "target": "zh-TW"}, True),
    ("/v1/translate", MERCHANT_KEY, {"text": "好物", "note": None, "target": "zh-Hant"}, True),
    ("/v1/translate", MERCHANT_KEY, {"text": [], "target": "zh-Hant"}, False),
    ("/v1/translate", MERCHANT_KEY, {"text": "  ", "target": "zh-Hant"}, False),
    ("/v1/translate", MERCHANT_KEY, {"text": "a\u202eb", "target": "zh-Hant"}, False),
    ("/v1/translate", MERCHANT_KEY, {"text": "好物", "target": "xx"}, False),
    ("/v1/translate", MERCHANT_KEY, {"target": "zh-Hant"}, False),  # neither text nor note
    ("/v1/translate", MERCHANT_KEY, {"note": {"hashtags": ["#"]}, "target": "zh-Hant"}, False),
    ("/v1/translate", MERCHANT_KEY, {"note": {"titles": 5}, "target": "zh-Hant"}, False),
    (
        "/v1/translate",
        MERCHANT_KEY,
        {"text": "a", "target": "en", "terms": [{"source": "a", "case_sensitive": 0}]},
        False,
    ),
    ("/v1/glossaries", MERCHANT_KEY, {"name": "护肤", "terms": [{"source": "面霜", "target_lang": "en"}]}, True),
    ("/v1/glossaries", MERCHANT_KEY, {"name": "a\u0094"}, False),  # a C1 control character
    ("/v1/glossaries", MERCHANT_KEY, {"name": "g", "terms": [{"source": "a", "case_sensitive": 0}]}, False),
    ("/v1/glossaries", MERCHANT_KEY, {"name": "g", "terms": [{"source": "a", "target_lang": "xx"}]}, False),
    ("/v1/moderation/text", PLATFORM_KEY, {"text": "好物推荐"}, True),
    ("/v1/moderation/text", PLATFORM_KEY, {"text": "a\x08"}, True),  # moderated: controls are evasion, not errors
    ("/v1/images", MERCHANT_KEY, {}, False),  # neither items nor scene
    ("/v1/videos", MERCHANT_KEY, {"photos": ["x"], "width": 1079}, False),  # odd: H.264 yuv420p
    ("/v1/videos", MERCHANT_KEY, {"photos": ["x"], "clip": {}}, False),  # clip only with engine i2v
]


@pytest.mark.parametrize(("path", "key", "body", "valid"), AGREEMENT)
def test_the_schema_and_the_server_agree(client, spec, path, key, body, valid):
    by_schema = jsonschema.Draft202012Validator(_body_schema(spec, path)).is_valid(body)
    response = client.post(path, json=body, headers=auth(key))
    assert by_schema == valid, f"the document says {'valid' if by_schema else 'invalid'}"
    if valid:
        assert response.status_code < 400, response.text
    else:
        assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/copy/notes", {"product": "面霜", "stream": 0}, "stream"),
        ("/v1/models/check", {"load": 1}, "load"),
        ("/v1/videos", {"photos": ["x"], "width": 1079}, "width"),  # was a 422 naming nothing
    ],
)
def test_the_422_names_the_field(client, path, body, param):
    error = client.post(path, json=body, headers=auth(ADMIN_KEY)).json()["error"]
    assert error["param"] == param, error
