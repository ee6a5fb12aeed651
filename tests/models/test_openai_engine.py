"""`OpenAITextEngine` (the `openai` SDK) against a real local OpenAI-compatible server (uvicorn, tiny Qwen2
behind it, `tests/models/openai_server.py`). The same engine against a real `vllm serve` is in
`test_openai_vllm.py`."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from models.engines.base import GenerationParams
from models.errors import EngineUnavailableError
from models.loader import load_engine
from models.registry import resolve_weights
from models.spec import EngineKind, ModelSpec, Task
from tests.models.openai_server import serve_openai

API_KEY = "sk-test-0123456789"
MESSAGES = [{"role": "user", "content": "写一句防晒霜文案"}]


@pytest.fixture(scope="module")
def backend(tiny_models):
    engine = load_engine(tiny_models["text"])
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(backend):
    running = serve_openai(backend, "served-tiny", api_key=API_KEY)
    yield running
    running.stop()


def remote_spec(base_url: str, **options) -> ModelSpec:
    return ModelSpec(
        name="remote-tiny",
        task=Task.TEXT_GENERATION,
        engine=EngineKind.OPENAI,
        source="served-tiny",
        options={"base_url": base_url, **options},
    )


@pytest.fixture
def engine(server, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", API_KEY)
    engine = load_engine(remote_spec(server.base_url))
    yield engine
    engine.close()


def test_served_model_name_needs_no_local_weights():
    spec = ModelSpec(name="r", task=Task.TEXT_GENERATION, engine=EngineKind.OPENAI, source="Qwen/Qwen2.5-72B-Instruct")
    weights = resolve_weights(spec)
    assert weights.origin == "remote" and str(weights.path) == "Qwen/Qwen2.5-72B-Instruct"


def test_chat_generation_batch_and_usage(engine, server):
    results = engine.generate_many_sync([MESSAGES] * 3, GenerationParams(max_new_tokens=8, temperature=0.0))
    assert len(results) == 3 and all(r.completion_tokens > 0 and r.prompt_tokens > 0 for r in results)
    assert engine.engine_name == "openai" and engine.model_name == "remote-tiny"
    sent = server.app.state.requests[-1]
    assert sent["model"] == "served-tiny" and sent["messages"] == MESSAGES  # the server applies the template


def test_each_row_reproduces_alone_with_its_seed(engine, server):
    rows = [GenerationParams(max_new_tokens=10, temperature=1.0, seed=s) for s in (31, 32, 33)]
    batch = engine.generate_many_sync([MESSAGES, "价格：99元", MESSAGES], rows)
    assert [r["seed"] for r in server.app.state.requests[-3:]] != [None] * 3
    assert engine.generate_sync(MESSAGES, rows[2]).text == batch[2].text
    assert batch[0].text != batch[2].text


def test_json_schema_is_enforced_by_the_server(engine, server):
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    out = engine.generate_sync(MESSAGES, GenerationParams(max_new_tokens=64, seed=1, extra={"json_schema": schema}))
    value = json.loads(out.text)
    assert isinstance(value["a"], int) and isinstance(value["b"], bool)
    assert server.app.state.requests[-1]["response_format"]["type"] == "json_schema"


def test_streaming_equals_generation_and_raw_completions(engine, server):
    params = GenerationParams(max_new_tokens=12, temperature=0.9, seed=5)
    pieces = list(engine.stream_sync("价格：99元", params))
    assert pieces and "prompt" in server.app.state.requests[-1]  # plain text goes to /completions
    assert "".join(pieces) == engine.generate_sync("价格：99元", params).text


def test_closing_a_stream_stops_the_server_side_generation(engine, backend):
    """The client closes the HTTP stream after its first piece; the server's engine (a transformers engine
    behind the fake server) stops within one forward pass of noticing, long before max_tokens."""
    long = GenerationParams(max_new_tokens=1500, temperature=0.8, seed=1, extra={"ignore_eos": True})
    cancelled = len(backend.cancelled_steps)

    async def first_piece_then_close() -> int:
        stream = engine.stream(MESSAGES, long)
        await anext(stream)
        await stream.aclose()
        return backend.forward_passes

    before = backend.forward_passes
    at_close = asyncio.run(first_piece_then_close())
    deadline = time.monotonic() + 10
    while len(backend.cancelled_steps) == cancelled:  # the server notices the disconnect, then cancels
        assert time.monotonic() < deadline, "the server never cancelled the generation"
        time.sleep(0.01)
    assert backend.cancelled_steps[-1] <= 1
    stopped = backend.forward_passes
    assert stopped - before < 300, f"{stopped - before} forward passes for a stream closed after its first piece"
    time.sleep(0.2)
    assert backend.forward_passes == stopped
    assert stopped - at_close < 100


def test_wrong_key_and_unreachable_server_are_clear_errors(server, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", "wrong-key-wrong-key")
    with load_engine(remote_spec(server.base_url)) as bad_key, pytest.raises(EngineUnavailableError, match="401"):
        bad_key.generate_sync("hi", GenerationParams(max_new_tokens=2))
    spec = remote_spec("http://127.0.0.1:9/v1", timeout_s=2, max_retries=0)
    with load_engine(spec) as nowhere, pytest.raises(EngineUnavailableError, match="cannot reach"):
        nowhere.generate_sync("hi", GenerationParams(max_new_tokens=2))


def test_timeouts_are_retried_then_reported():
    """A server that accepts connections and never answers: each attempt times out, the SDK retries
    `max_retries` times, then the engine reports it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    spec = remote_spec(f"http://127.0.0.1:{port}/v1", timeout_s=0.5, max_retries=1)
    try:
        with load_engine(spec) as silent, pytest.raises(EngineUnavailableError, match="timed out"):
            silent.generate_sync("hi", GenerationParams(max_new_tokens=2))
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
    assert len(accepted) == 2  # the first attempt and one retry


def test_engine_is_callable_from_several_event_loops_and_threads(engine):
    params = GenerationParams(max_new_tokens=6, temperature=0.0)
    expected = engine.generate_sync(MESSAGES, params).text
    results: list[str] = []

    def in_thread() -> None:
        results.append(asyncio.run(engine.generate(MESSAGES, params)).text)

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [expected] * 3


def test_copy_service_over_http(engine):
    from generation.copy.compliance import CompliancePass
    from generation.copy.request import NoteRequest
    from generation.copy.service import CopyService
    from moderation import Moderator

    service = CopyService(engine, CompliancePass(Moderator.from_files()))
    request = NoteRequest(product="防晒霜", category="防晒", length="short", n=2, seed=3)
    drafts = asyncio.run(service.notes(request)).drafts
    assert [d.engine for d in drafts] == ["openai", "openai"] and drafts[0].model == "remote-tiny"
    assert all(len(d.titles) == 3 and 5 <= len(d.hashtags) <= 8 for d in drafts)
