"""A note-copy stream whose client goes away stops the LLM within one decode step: over real HTTP (uvicorn on a
free port serving our app, tiny Qwen2 as `copy_model`) and through a `ModelHost` Serve deployment."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
import uvicorn

from tests.conftest import MERCHANT_KEY, auth

PRODUCT = {"product": "山茶集轻薄水感防晒霜", "category": "防晒", "selling_points": ["清爽不油腻"], "length": "long"}


def _wait_for_cancellation(engine, seen: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(engine.cancelled_steps) == seen:
        assert time.monotonic() < deadline, "the engine never cancelled the generation"
        time.sleep(0.01)


class Server:
    """uvicorn on 127.0.0.1 (port 0: the OS picks a free one) in a thread."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def served(tiny_models, tiny_registry_file, tmp_path):
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
    server = Server(create_api(runtime))
    yield server, runtime
    server.stop()
    runtime.stop()


def test_sse_client_that_disconnects_stops_the_engine(served):
    server, runtime = served
    writer = runtime.services.copy.writer
    engine = writer.engine
    from generation.copy.request import NoteRequest

    # What the same variant costs when nobody leaves (same request, same seed: the same tokens).
    request = NoteRequest(**PRODUCT)
    full = engine.generate_sync(writer.prompt(request), writer.params(request, 5))
    assert full.completion_tokens > 40, "the reference note is too short to show an early stop"

    seen = len(engine.cancelled_steps)
    before = engine.forward_passes
    body = {**PRODUCT, "n": 1, "seed": 5, "stream": True}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        with client.stream("POST", "/v1/copy/notes", json=body, headers=auth(MERCHANT_KEY)) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            for line in lines:
                if line == "event: token":
                    token = json.loads(next(lines).removeprefix("data: "))
                    break
            at_disconnect = engine.forward_passes
        # leaving the block closes the connection without reading the rest
    assert token["variant"] == 0 and token["text"]
    _wait_for_cancellation(engine, seen)
    assert engine.cancelled_steps[-1] <= 1, "the engine ran more than one step after the stream was cancelled"
    stopped = engine.forward_passes
    time.sleep(0.3)
    assert engine.forward_passes == stopped, "generation went on after the client left"
    streamed = stopped - before
    assert streamed < full.completion_tokens / 2, f"{streamed} of {full.completion_tokens} steps ran"
    print(f"client left after {at_disconnect - before} steps; the engine stopped after {streamed} (full: "
          f"{full.completion_tokens})")  # fmt: skip


def test_hosted_engine_stream_cancels_the_replica_generation(tiny_models, tiny_registry_file, tmp_path):
    """`HostedTextEngine.stream` goes through a Serve streaming handle; closing it cancels the replica's
    generator, whose engine stops within one forward pass."""
    from ray import serve

    from models.engines.base import GenerationParams
    from serving.deployments.model_host import HostedTextEngine, ModelHost
    from serving.settings import Settings

    name = tiny_models["text"].name
    settings = Settings(data_dir=tmp_path / "var", models=tiny_registry_file, studio=False)
    handle = serve.run(
        ModelHost.options(name="stream-host").bind(name, settings.to_args()), name="t-stream", _local_testing_mode=True
    )
    engine = HostedTextEngine(tiny_models["text"], handle)
    messages = [{"role": "user", "content": "写一条口红笔记"}]
    params = GenerationParams(max_new_tokens=12, temperature=0.9, seed=3)
    pieces = list(engine.stream_sync(messages, params))
    assert len(pieces) > 1 and "".join(pieces) == engine.generate_sync(messages, params).text

    long = GenerationParams(max_new_tokens=1500, temperature=0.8, seed=1, extra={"min_new_tokens": 1500})
    seen = len(handle.engine_stats.remote().result()["cancelled_steps"])

    async def first_piece_then_close() -> None:
        stream = engine.stream(messages, long)
        await anext(stream)
        await stream.aclose()

    asyncio.run(first_piece_then_close())
    deadline = time.monotonic() + 15
    while len((stats := handle.engine_stats.remote().result())["cancelled_steps"]) == seen:
        assert time.monotonic() < deadline, "the replica never cancelled the generation"
        time.sleep(0.02)
    assert stats["cancelled_steps"][-1] <= 1
    time.sleep(0.3)
    assert handle.engine_stats.remote().result()["forward_passes"] == stats["forward_passes"]
