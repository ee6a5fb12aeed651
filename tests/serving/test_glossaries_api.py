"""`/v1/glossaries` over HTTP: the lifecycle, isolation between merchant keys (404, never 403), admin reads, 4xx
naming the field, imports (CSV, TSV, JSON), limits, and the migration that adds the tables to a database in use."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from generation.translate.glossary import MAX_FILE_BYTES, MAX_TERMS
from generation.translate.glossary_store import MAX_GLOSSARIES
from serving import db
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth, serving_client
from tests.serving.test_contract import assert_envelope

OTHER_MERCHANT_KEY = "test-other-merchant-key-0123"
BRANDS = {
    "name": "Spring line",
    "terms": [
        {"source": "NoteStudio", "kind": "brand"},
        {"source": "口红", "target": "lipstick", "target_lang": "en"},
        {"source": "SKU-2291", "kind": "sku", "case_sensitive": True},
    ],
}


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """One moderation classifier for the module (each runtime's warm-up would train its own, ~seconds of CPU)."""
    return tmp_path_factory.mktemp("moderation") / "moderation-linear.pkl"


@pytest.fixture
def settings(tmp_path, classifier_file):
    from serving.settings import Settings

    keys = f"{MERCHANT_KEY}:merchant,{OTHER_MERCHANT_KEY}:merchant,{PLATFORM_KEY}:platform,{ADMIN_KEY}:admin"
    return Settings(data_dir=tmp_path / "var", api_keys=keys, studio=False, classifier_file=classifier_file)


def create(client, body=BRANDS, key=MERCHANT_KEY) -> dict:
    response = client.post("/v1/glossaries", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()


def test_lifecycle(client):
    created = create(client)
    gid = created["id"]
    assert created["name"] == "Spring line" and created["term_count"] == 3
    assert created["terms"][1] == {
        "source": "口红",
        "target": "lipstick",
        "target_lang": "en",
        "kind": "term",
        "case_sensitive": False,
    }
    assert client.get(f"/v1/glossaries/{gid}", headers=auth(MERCHANT_KEY)).json() == created
    listed = client.get("/v1/glossaries", headers=auth(MERCHANT_KEY)).json()["glossaries"]
    assert [(g["id"], g["term_count"]) for g in listed] == [(gid, 3)] and "terms" not in listed[0]

    replaced = client.put(
        f"/v1/glossaries/{gid}",
        json={"name": "Renamed", "terms": [{"source": "NoteStudio", "target": "笔记工作室", "target_lang": "zh"}]},
        headers=auth(MERCHANT_KEY),
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["name"] == "Renamed" and body["terms"][0]["target_lang"] == "zh-Hans"
    assert body["created_at"] == created["created_at"] and body["updated_at"] > created["updated_at"]

    patched = client.patch(
        f"/v1/glossaries/{gid}",
        json={"remove": [{"source": "notestudio", "target_lang": "zh-Hans"}], "add": [{"source": "@brand"}]},
        headers=auth(MERCHANT_KEY),
    )
    assert patched.status_code == 200, patched.text
    assert [t["source"] for t in patched.json()["terms"]] == ["@brand"]

    deleted = client.delete(f"/v1/glossaries/{gid}", headers=auth(MERCHANT_KEY))
    assert deleted.status_code == 204 and deleted.content == b""
    assert_envelope(client.get(f"/v1/glossaries/{gid}", headers=auth(MERCHANT_KEY)), 404, "not_found", "glossary_id")
    assert client.get("/v1/glossaries", headers=auth(MERCHANT_KEY)).json() == {"glossaries": []}


def test_another_key_cannot_see_or_change_a_glossary(client):
    gid = create(client)["id"]
    other = auth(OTHER_MERCHANT_KEY)
    for response in (
        client.get(f"/v1/glossaries/{gid}", headers=other),
        client.put(f"/v1/glossaries/{gid}", json=BRANDS, headers=other),
        client.patch(f"/v1/glossaries/{gid}", json={"add": [{"source": "x"}]}, headers=other),
        client.delete(f"/v1/glossaries/{gid}", headers=other),
    ):
        error = assert_envelope(response, 404, "not_found", "glossary_id")  # as for an id that does not exist
        assert error["message"] == f"glossary_id: no glossary {gid}"
    assert client.get("/v1/glossaries", headers=other).json() == {"glossaries": []}
    mine = create(client, {"name": "mine", "terms": []}, OTHER_MERCHANT_KEY)

    admin = auth(ADMIN_KEY)
    assert client.get(f"/v1/glossaries/{gid}", headers=admin).json()["terms"][0]["source"] == "NoteStudio"
    assert {g["id"] for g in client.get("/v1/glossaries", headers=admin).json()["glossaries"]} == {gid, mine["id"]}
    assert_envelope(client.delete(f"/v1/glossaries/{gid}", headers=admin), 404, "not_found")  # reads, not writes
    assert client.get(f"/v1/glossaries/{gid}", headers=auth(MERCHANT_KEY)).json()["term_count"] == 3

    assert_envelope(client.get("/v1/glossaries", headers=auth(PLATFORM_KEY)), 403, "permission_error", "Authorization")
    assert_envelope(client.get("/v1/glossaries"), 401, "authentication_error")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "g", "terms": [{"source": "Apple"}, {"source": "apple", "target": "x"}]}, "terms.1.source"),
        ({"name": "g", "terms": [{"source": "  "}]}, "terms.0.source"),
        ({"name": "g", "terms": [{"source": "ok", "target": "bad\x00"}]}, "terms.0.target"),
        ({"name": "g", "terms": [{"source": "ok", "target_lang": "xx-Nope"}]}, "terms.0.target_lang"),
        ({"name": "g", "terms": [{"source": f"t{i}"} for i in range(MAX_TERMS + 1)]}, "terms"),
        ({"name": "", "terms": []}, "name"),
        ({"terms": []}, "name"),
        ({"name": "g", "terms": [], "owner_key": "someone"}, "owner_key"),
    ],
)
def test_bad_glossaries_are_422_naming_the_field(client, body, param):
    error = assert_envelope(
        client.post("/v1/glossaries", json=body, headers=auth(MERCHANT_KEY)), 422, "invalid_request"
    )
    assert error["param"] == param and error["message"].startswith(f"{param}: "), error


def test_bad_ids_and_patches(client):
    assert_envelope(client.get("/v1/glossaries/not-an-id", headers=auth(MERCHANT_KEY)), 422, "invalid_request")
    gid = create(client)["id"]
    missing = client.patch(f"/v1/glossaries/{gid}", json={"remove": [{"source": "nope"}]}, headers=auth(MERCHANT_KEY))
    assert_envelope(missing, 422, "invalid_request", "remove.0")
    again = client.patch(f"/v1/glossaries/{gid}", json={"add": [{"source": "noteSTUDIO"}]}, headers=auth(MERCHANT_KEY))
    assert_envelope(again, 422, "invalid_request", "add.0.source")


def test_fifty_glossaries_per_key(client):
    for i in range(MAX_GLOSSARIES):
        create(client, {"name": f"g{i}", "terms": []})
    error = assert_envelope(client.post("/v1/glossaries", json=BRANDS, headers=auth(MERCHANT_KEY)), 409, "conflict")
    assert "delete one" in error["message"]
    create(client, BRANDS, OTHER_MERCHANT_KEY)  # another key has its own 50


# -- imports -----------------------------------------------------------------------------------------------------
def upload(client, filename: str, data: bytes, **form):
    files = {"file": (filename, data)}
    return client.post("/v1/glossaries/import", files=files, data=form, headers=auth(MERCHANT_KEY))


def test_import_csv_tsv_and_json(client):
    csv_file = '\ufeffsource,target,target_lang,kind\nNoteStudio,,,brand\n"Hello, world",你好,zh,term\n'.encode()
    response = upload(client, "spring.csv", csv_file)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "spring" and body["term_count"] == 2 and body["terms"][1]["target_lang"] == "zh-Hans"
    assert client.get(f"/v1/glossaries/{body['id']}", headers=auth(MERCHANT_KEY)).json() == body

    tsv = upload(client, "list.txt", b"@notestudio\t\t\tmention\n", name="Mentions", format="tsv")
    assert tsv.status_code == 201 and tsv.json()["name"] == "Mentions" and tsv.json()["terms"][0]["kind"] == "mention"

    glossary = json.dumps({"name": "From JSON", "terms": [{"source": "SPF50+", "kind": "product"}]}).encode()
    assert upload(client, "g.json", glossary).json()["name"] == "From JSON"
    terms = json.dumps([{"source": "a", "target": "b", "target_lang": "fr"}]).encode()
    listed = upload(client, "terms.json", terms, name="Named")
    assert listed.status_code == 201 and listed.json()["name"] == "Named"
    assert len(client.get("/v1/glossaries", headers=auth(MERCHANT_KEY)).json()["glossaries"]) == 4


@pytest.mark.parametrize(
    ("filename", "data", "status", "param"),
    [
        ("g.csv", b"a,b\nc,d\ne,f,en,term,no,extra\n", 422, "file.line.3"),
        ("g.csv", b'a,b\n"c"x,d\n', 422, "file.line.2"),
        ("g.csv", b"a,b\nc,d,xx\n", 422, "file.line.2.target_lang"),
        ("g.csv", b"a,b\nA,c\n", 422, "file.line.2.source"),
        ("g.json", b'{"name": "g", "terms": [{"source": ""}]}', 422, "file.terms.0.source"),
        ("g.json", b'{"name": "g",\n"terms": [', 422, "file.line.2"),
        ("g.csv", b"a," + b"x" * MAX_FILE_BYTES, 413, "file"),
    ],
)
def test_malformed_imports_name_the_line(client, filename, data, status, param):
    error_type = "payload_too_large" if status == 413 else "invalid_request"
    assert_envelope(upload(client, filename, data), status, error_type, param)
    assert client.get("/v1/glossaries", headers=auth(MERCHANT_KEY)).json() == {"glossaries": []}


def test_glossary_routes_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/glossaries"]) == {"get", "post"}
    assert set(paths["/v1/glossaries/{glossary_id}"]) == {"get", "put", "patch", "delete"}
    assert "409" in paths["/v1/glossaries"]["post"]["responses"]


# -- migration ---------------------------------------------------------------------------------------------------
PG_URL = os.environ.get("NOTESTUDIO_TEST_POSTGRES_URL")


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL"))]
)
def database_at_0002(request, tmp_path):
    """A database in use before glossaries existed: migrated to 0002, holding a job."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'notestudio.db'}"
        (tmp_path / "var").mkdir()
        server = None
    else:
        name = f"ns_glossaries_{uuid.uuid4().hex[:12]}"
        server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    assert db.upgrade(url, "0002") == "0002"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, kind, state, progress, message, params, owner_key, attempts, max_attempts, "
                "cancel_requested, webhook_state, webhook_attempts, created_at) VALUES ('" + "a" * 32 + "', "
                "'videos.slideshow', 'succeeded', 1.0, 'done', '{}', 'k', 1, 1, false, 'none', 0, CURRENT_TIMESTAMP)"
            )
        )
    assert "glossaries" not in inspect(engine).get_table_names()
    engine.dispose()
    yield url
    if server is not None:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def test_startup_adds_the_glossary_tables_to_a_database_in_use(database_at_0002, tmp_path, classifier_file):
    options = {"api_keys": f"{MERCHANT_KEY}:merchant,{ADMIN_KEY}:admin", "classifier_file": classifier_file}
    with serving_client(tmp_path / "var", database_url=database_at_0002, **options) as client:
        gid = create(client)["id"]
        assert client.get(f"/v1/glossaries/{gid}", headers=auth(MERCHANT_KEY)).json()["term_count"] == 3
        assert client.get(f"/v1/jobs/{'a' * 32}", headers=auth(ADMIN_KEY)).json()["state"] == "succeeded"
    assert db.current(database_at_0002) == db.head()
    assert db.schema_diff(database_at_0002) == []
    engine = create_engine(database_at_0002)
    try:
        assert {"glossaries", "glossary_terms", "jobs"} <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(text("SELECT kind FROM jobs")).scalar() == "videos.slideshow"
            assert connection.execute(text("SELECT count(*) FROM glossary_terms")).scalar() == 3
    finally:
        engine.dispose()
