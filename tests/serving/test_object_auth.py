"""Object-level authorization: every route that takes an object's id answers another key's object exactly as an
unknown id (404, never 403), admin keys excepted. Moderation decisions and their appeals (two merchants, two
platform keys, admin), jobs and their artifacts, glossaries used by id in a translation, and the migration
that makes decisions recorded before it admin-only."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, Table, create_engine

from serving import db
from serving.auth import key_id
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth
from tests.serving.test_contract import assert_envelope
from tests.serving.test_moderation_api import png_b64

OTHER_MERCHANT_KEY = "test-other-merchant-key-0123"
OTHER_PLATFORM_KEY = "test-other-platform-key-0123"
M1, M2, P1, P2 = MERCHANT_KEY, OTHER_MERCHANT_KEY, PLATFORM_KEY, OTHER_PLATFORM_KEY
PHONE = "138-1234-5678"
GATE = threading.Event()  # the `wait` job runs until a test sets it


def write_note(ctx) -> dict:
    ctx.write_artifact("note.txt", "笔记".encode())
    return {"artifacts": ["note.txt"]}


def wait(ctx) -> dict:
    GATE.wait(10)
    return {}


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """One moderation classifier for the module (each runtime's warm-up would train its own, ~seconds of CPU)."""
    return tmp_path_factory.mktemp("moderation") / "moderation-linear.pkl"


@pytest.fixture
def settings(tmp_path, classifier_file):
    from serving.settings import Settings

    keys = f"{M1}:merchant,{M2}:merchant,{P1}:platform,{P2}:platform,{ADMIN_KEY}:admin"
    return Settings(
        data_dir=tmp_path / "var", api_keys=keys, studio=False, classifier_file=classifier_file, job_heartbeat_s=0.2
    )


@pytest.fixture
def runtime(settings):
    from serving.runtime import Runtime

    GATE.clear()
    rt = Runtime(settings, extra_jobs={"write": write_note, "wait": wait})
    rt.start()
    yield rt
    GATE.set()
    rt.stop()


def whoami(client, key: str) -> str:
    response = client.get("/v1/whoami", headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()["key_id"]


def moderate(client, merchant_key: str | None, platform_key: str = P1) -> str:
    """A blocked listing (a phone number as evidence) of `merchant_key`'s merchant; returns its decision_id."""
    listing = {"id": "sku-7", "title": "私聊下单", "body": f"电话 {PHONE}"}
    if merchant_key is not None:
        listing["merchant_id"] = whoami(client, merchant_key)
    response = client.post("/v1/moderation/listings", json={"listings": [listing]}, headers=auth(platform_key))
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["decision_id"]


def read(client, decision_id: str, key: str):
    return client.get(f"/v1/moderation/decisions/{decision_id}", headers=auth(key))


def appeal(client, decision_id: str, key: str, reason: str):
    return client.post(f"/v1/moderation/decisions/{decision_id}/appeal", json={"reason": reason}, headers=auth(key))


def assert_hidden(response, decision_id: str) -> None:
    """The answer for an id that does not exist, word for word: nothing says the decision is there."""
    error = assert_envelope(response, 404, "not_found", "decision_id")
    assert error["message"] == f"decision_id: no decision {decision_id}"
    assert PHONE not in response.text and "sku-7" not in response.text


# -- who am I ----------------------------------------------------------------------------------------------
def test_whoami_shows_the_public_key_id_and_scopes(client):
    body = client.get("/v1/whoami", headers=auth(M1)).json()
    assert body == {"key_id": key_id(M1), "scopes": ["merchant"]} and M1 not in str(body)
    assert client.get("/v1/whoami", headers=auth(ADMIN_KEY)).json()["scopes"] == ["admin"]
    assert_envelope(client.get("/v1/whoami"), 401, "authentication_error", "Authorization")


# -- moderation decisions ----------------------------------------------------------------------------------
READERS = [(P1, True), (M1, True), (ADMIN_KEY, True), (M2, False), (P2, False)]


@pytest.mark.parametrize(("key", "allowed"), READERS, ids=["platform", "merchant", "admin", "merchant2", "platform2"])
def test_who_reads_and_appeals_a_decision(client, key, allowed):
    decision_id = moderate(client, M1)
    unknown = "0" * 32
    if not allowed:
        assert_hidden(read(client, decision_id, key), decision_id)
        assert_hidden(appeal(client, decision_id, key, "not mine"), decision_id)
        assert_hidden(read(client, unknown, key), unknown)  # the same answer as for no decision at all
        assert read(client, decision_id, ADMIN_KEY).json()["appeals"] == []  # the refused appeal left nothing
        return
    stored = read(client, decision_id, key)
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["id"] == "sku-7" and body["decision"] == "block" and body["review_state"] == "none"
    assert body["requested_by"] == key_id(P1) and body["merchant_id"] == key_id(M1)
    assert PHONE in str(body["labels"])
    appealed = appeal(client, decision_id, key, "号码是客服热线")
    assert appealed.status_code == 200, appealed.text
    assert appealed.json()["review_state"] == "requested" and appealed.json()["decision"] == "block"
    assert [(a["appellant"], a["reason"]) for a in appealed.json()["appeals"]] == [(key_id(key), "号码是客服热线")]


def test_a_decision_without_a_merchant_is_the_asking_keys_and_admins(client):
    decision_id = moderate(client, None)
    assert read(client, decision_id, P1).status_code == 200
    assert read(client, decision_id, ADMIN_KEY).status_code == 200
    for key in (M1, M2, P2):
        assert_hidden(read(client, decision_id, key), decision_id)
        assert_hidden(appeal(client, decision_id, key, "mine?"), decision_id)


def test_appeals_accumulate_and_each_key_sees_what_it_may(client):
    decision_id = moderate(client, M1)
    assert appeal(client, decision_id, M1, "first: a hotline").status_code == 200
    assert_hidden(appeal(client, decision_id, M2, "overwrite attempt"), decision_id)
    assert appeal(client, decision_id, P1, "platform: reviewer, please look").status_code == 200
    assert appeal(client, decision_id, M1, "second: with the licence attached").status_code == 200

    everything = [
        (key_id(M1), "first: a hotline"),
        (key_id(P1), "platform: reviewer, please look"),
        (key_id(M1), "second: with the licence attached"),
    ]
    for key, expected in ((P1, everything), (ADMIN_KEY, everything), (M1, [everything[0], everything[2]])):
        body = read(client, decision_id, key).json()
        assert [(a["appellant"], a["reason"]) for a in body["appeals"]] == expected
        times = [a["created_at"] for a in body["appeals"]]
        assert all(times) and times == sorted(times)
        assert body["appeal_reason"] == expected[-1][1] and body["appealed_at"] == times[-1]  # deprecated mirror
    assert "overwrite attempt" not in read(client, decision_id, ADMIN_KEY).text


def test_one_key_files_at_most_five_appeals_per_decision(client):
    decision_id = moderate(client, M1)
    for n in range(5):
        assert appeal(client, decision_id, M1, f"appeal {n}").status_code == 200
    assert_envelope(appeal(client, decision_id, M1, "sixth"), 409, "conflict", "decision_id")
    assert appeal(client, decision_id, P1, "the platform still may").status_code == 200
    assert len(read(client, decision_id, ADMIN_KEY).json()["appeals"]) == 6


def test_text_and_images_name_their_merchant_too(client):
    for path, body in (("text", {"text": f"电话 {PHONE}"}), ("images", {"images": [png_b64(seed=3)]})):
        response = client.post(f"/v1/moderation/{path}", json={**body, "merchant_id": key_id(M2)}, headers=auth(P1))
        decision_id = response.json()["decision_id"]
        assert read(client, decision_id, M2).json()["merchant_id"] == key_id(M2)
        assert_hidden(read(client, decision_id, M1), decision_id)


def test_merchant_id_must_be_a_key_id(client):
    listings = [{"id": "a", "title": "好用的面霜", "merchant_id": M1}, {"id": "b", "title": "好用的面霜"}]
    results = client.post("/v1/moderation/listings", json={"listings": listings}, headers=auth(P1)).json()["results"]
    assert results[0]["error"]["param"] == "listings.0.merchant_id" and results[1]["decision"] == "pass"
    response = client.post("/v1/moderation/text", json={"text": "好用", "merchant_id": "ABC"}, headers=auth(P1))
    assert_envelope(response, 422, "invalid_request", "merchant_id")


def test_decisions_recorded_before_the_migration_are_admin_only(tmp_path, settings):
    """A database in use at 0003 (a decision by P1 with a merchant's appeal in the old single-reason columns) is
    upgraded when the service starts: the old decision is readable by admin only, its appeal kept as history."""
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime

    settings.data_dir.mkdir(parents=True)
    url = settings.db_url
    db.upgrade(url, "0003")
    when = datetime(2026, 5, 1, tzinfo=UTC)
    old = {
        "id": "d" * 32,
        "listing_id": "L1",
        "input_hash": "0" * 64,
        "decision": "block",
        "risk": 0.97,
        "labels": [{"code": "diversion.contact", "evidence": [{"text": PHONE}]}],
        "engine": "rules",
        "versions": {"lexicon": "1"},
        "api_key": key_id(P1),  # as releases before 0004 recorded the asking key
        "created_at": when,
        "review_state": "requested",
        "appeal_reason": "old reason",
        "appealed_at": when,
    }
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(Table("moderation_decisions", MetaData(), autoload_with=connection).insert(), [old])
    engine.dispose()

    rt = Runtime(settings)
    rt.start()
    try:
        with TestClient(create_api(rt)) as client:
            assert db.current(url) == db.head()
            for key in (P1, M1, M2, P2):
                assert_hidden(read(client, old["id"], key), old["id"])
                assert_hidden(appeal(client, old["id"], key, "again"), old["id"])
            body = read(client, old["id"], ADMIN_KEY).json()
            assert body["requested_by"] is None and body["merchant_id"] is None and body["review_state"] == "requested"
            [legacy] = body["appeals"]
            assert legacy["appellant"] is None and legacy["reason"] == "old reason"
            assert legacy["created_at"].startswith("2026-05-01")
            assert appeal(client, old["id"], ADMIN_KEY, "admin looks again").status_code == 200
            assert len(read(client, old["id"], ADMIN_KEY).json()["appeals"]) == 2
            assert read(client, moderate(client, M1), M1).status_code == 200  # new decisions work on the old database
    finally:
        rt.stop()


# -- jobs and artifacts ------------------------------------------------------------------------------------
def finished(runtime, job_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runtime.store.get(job_id)
        if job.state.value in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_job_and_its_artifacts_are_the_owners_alone(client, runtime):
    job = runtime.submit("write", {}, owner_key=key_id(M1))
    assert finished(runtime, job.id).state.value == "succeeded"
    artifact = f"/v1/jobs/{job.id}/artifacts/note.txt"
    for key in (M1, ADMIN_KEY):
        assert client.get(f"/v1/jobs/{job.id}", headers=auth(key)).json()["state"] == "succeeded"
        assert client.get(artifact, headers=auth(key)).content.decode() == "笔记"
    assert [j["id"] for j in client.get("/v1/jobs", headers=auth(M1)).json()["jobs"]] == [job.id]
    for key in (M2, P1):
        assert_envelope(client.get(f"/v1/jobs/{job.id}", headers=auth(key)), 404, "not_found", "job_id")
        assert_envelope(client.get(artifact, headers=auth(key)), 404, "not_found", "job_id")
        assert_envelope(client.post(f"/v1/jobs/{job.id}/cancel", headers=auth(key)), 404, "not_found", "job_id")
        assert client.get("/v1/jobs", headers=auth(key)).json()["jobs"] == []


def test_another_key_cannot_cancel_a_running_job(client, runtime):
    job = runtime.submit("wait", {}, owner_key=key_id(M1))
    response = client.post(f"/v1/jobs/{job.id}/cancel", headers=auth(M2))
    assert_envelope(response, 404, "not_found", "job_id")
    assert runtime.store.get(job.id).cancel_requested is False
    GATE.set()
    assert finished(runtime, job.id).state.value == "succeeded"


# -- glossaries used by id ---------------------------------------------------------------------------------
def test_another_merchants_glossary_id_is_unknown_to_translate(client):
    """`/v1/glossaries/{id}` itself is covered in test_glossaries_api; here the id comes in a translation body."""
    glossary = {"name": "brands", "terms": [{"source": "小棕瓶", "target": "小棕瓶", "target_lang": "zh-Hant"}]}
    created = client.post("/v1/glossaries", json=glossary, headers=auth(M1))
    assert created.status_code == 201, created.text
    body = {"text": "小棕瓶和软件", "target": "zh-Hant", "glossary_id": created.json()["id"]}
    assert client.post("/v1/translate", json=body, headers=auth(M1)).status_code == 200
    theirs = assert_envelope(client.post("/v1/translate", json=body, headers=auth(M2)), 404, "not_found", "glossary_id")
    unknown = client.post("/v1/translate", json={**body, "glossary_id": "f" * 32}, headers=auth(M2))
    assert theirs["message"].replace(created.json()["id"], "ID") == unknown.json()["error"]["message"].replace(
        "f" * 32, "ID"
    )
