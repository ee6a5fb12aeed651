"""Shared fixtures: isolated settings, a runtime with running job workers, tiny real checkpoints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MERCHANT_KEY = "test-merchant-key-0123456789"
PLATFORM_KEY = "test-platform-key-0123456789"
ADMIN_KEY = "test-admin-key-0123456789abc"


@pytest.fixture
def settings(tmp_path: Path):
    from serving.settings import Settings

    return Settings(
        data_dir=tmp_path / "var",
        api_keys=f"{MERCHANT_KEY}:merchant,{PLATFORM_KEY}:platform,{ADMIN_KEY}:admin",
        job_heartbeat_s=0.2,
        job_stale_after_s=2.0,
        webhook_backoff_s=0.05,
        studio=False,
    )


@pytest.fixture
def runtime(settings) -> Iterator:
    from serving.runtime import Runtime

    rt = Runtime(settings)
    rt.start()
    yield rt
    rt.stop()


@pytest.fixture
def client(runtime):
    from fastapi.testclient import TestClient

    from serving.api import create_api

    with TestClient(create_api(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@contextmanager
def serving_client(data_dir: Path, **overrides: Any) -> Iterator:
    """A test client over a fresh runtime with these settings (e.g. a model configured), its workers running."""
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime
    from serving.settings import Settings

    fields = {"api_keys": f"{MERCHANT_KEY}:merchant", "job_heartbeat_s": 0.2, "studio": False, **overrides}
    runtime = Runtime(Settings(data_dir=data_dir, **fields))
    runtime.start()
    try:
        with TestClient(create_api(runtime), raise_server_exceptions=False) as test_client:
            yield test_client
    finally:
        runtime.stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """One tiny checkpoint per engine family, built once per test session (~5 s)."""
    from models import testing

    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "text": testing.build_tiny_qwen2(root / "qwen2"),
        "seq2seq": testing.build_tiny_marian(root / "marian"),
        "classifier": testing.build_tiny_bert_classifier(root / "bert", ["clean", "ad_law", "diversion"]),
        "diffusion": testing.build_tiny_sd_pipeline(root / "sd"),
    }


@pytest.fixture(scope="session")
def tiny_registry_file(tiny_models, tmp_path_factory) -> Path:
    import yaml

    path = tmp_path_factory.mktemp("registry") / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json") for spec in tiny_models.values()]}))
    return path
