"""`OpenAITextEngine` against a real local OpenAI-compatible server (uvicorn, tiny Qwen2 behind it)."""

from __future__ import annotations

import json

import pytest

from models.engines.base import GenerationParams
from models.errors import EngineUnavailableError
from models.loader import load_engine
from models.registry import resolve_weights
from models.spec import EngineKind, ModelSpec, Task
from tests.models.openai_server import serve_openai

API_KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def server(tiny_models):
    backend = load_engine(tiny_models["text"])
    running = serve_openai(backend, "served-tiny", api_key=API_KEY)
    yield running
    running.stop()
    backend.close()


@pytest.fixture
def engine(server, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", API_KEY)
    spec = ModelSpec(
        name="remote-tiny",
        task=Task.TEXT_GENERATION,
        engine=EngineKind.OPENAI,
        source="served-tiny",
        options={"base_url": server.base_url},
    )
    engine = load_engine(spec)
    yield engine
    engine.close()


def test_served_model_name_needs_no_local_weights():
    spec = ModelSpec(name="r", task=Task.TEXT_GENERATION, engine=EngineKind.OPENAI, source="Qwen/Qwen2.5-72B-Instruct")
    weights = resolve_weights(spec)
    assert weights.origin == "remote" and str(weights.path) == "Qwen/Qwen2.5-72B-Instruct"


def test_chat_generation_batch_and_usage(engine, server):
    prompt = engine.format_chat([{"role": "user", "content": "写一句防晒霜文案"}])
    results = engine.generate([prompt] * 3, GenerationParams(max_new_tokens=8, temperature=0.0))
    assert len(results) == 3 and all(r.completion_tokens > 0 and r.prompt_tokens > 0 for r in results)
    assert engine.engine_name == "openai" and engine.model_name == "remote-tiny"
    sent = server.app.state.requests[-1]
    assert sent["model"] == "served-tiny" and sent["messages"][0]["content"] == "写一句防晒霜文案"


def test_json_schema_is_enforced_by_the_server(engine, server):
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    prompt = engine.format_chat([{"role": "user", "content": "json"}])
    [out] = engine.generate([prompt], GenerationParams(max_new_tokens=64, seed=1, extra={"json_schema": schema}))
    value = json.loads(out.text)
    assert isinstance(value["a"], int) and isinstance(value["b"], bool)
    assert server.app.state.requests[-1]["response_format"]["type"] == "json_schema"


def test_streaming_and_raw_completions(engine):
    pieces = list(engine.stream("价格：99元", GenerationParams(max_new_tokens=6, temperature=0.0)))
    assert pieces and all(isinstance(p, str) for p in pieces)


def test_wrong_key_and_unreachable_server_are_clear_errors(server, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", "wrong-key-wrong-key")
    spec = ModelSpec(
        name="x",
        task=Task.TEXT_GENERATION,
        engine=EngineKind.OPENAI,
        source="served-tiny",
        options={"base_url": server.base_url},
    )
    with load_engine(spec) as bad_key, pytest.raises(EngineUnavailableError, match="401"):
        bad_key.generate(["hi"], GenerationParams(max_new_tokens=2))
    spec = spec.model_copy(update={"options": {"base_url": "http://127.0.0.1:9/v1", "timeout_s": 2}})
    with load_engine(spec) as nowhere, pytest.raises(EngineUnavailableError, match="cannot reach"):
        nowhere.generate(["hi"], GenerationParams(max_new_tokens=2))


def test_copy_service_over_http(engine):
    import asyncio

    from generation.copy.compliance import CompliancePass
    from generation.copy.request import NoteRequest
    from generation.copy.service import CopyService
    from moderation import Moderator

    service = CopyService(engine, CompliancePass(Moderator.from_files()))
    request = NoteRequest(product="防晒霜", category="防晒", length="short", n=2, seed=3)
    drafts = asyncio.run(service.notes(request)).drafts
    assert [d.engine for d in drafts] == ["openai", "openai"] and drafts[0].model == "remote-tiny"
    assert all(len(d.titles) == 3 and 5 <= len(d.hashtags) <= 8 for d in drafts)
