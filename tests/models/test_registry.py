"""Registry parsing, validation errors and offline weight resolution (local dirs and the HF cache layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import (
    MissingWeightsError,
    ModelConfigError,
    ModelRegistry,
    ModelSpec,
    UnknownModelError,
    resolve_weights,
)
from models.registry import EMBEDDED_REGISTRY


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_registry_is_valid_and_names_real_checkpoints():
    registry = ModelRegistry.from_yaml(EMBEDDED_REGISTRY)
    tasks = {spec.task.value for spec in registry}
    assert {"text-generation", "seq2seq", "classification", "text-to-image"} <= tasks
    assert all(spec.licence != "unknown" for spec in registry)


def test_env_override_of_registry_path(tmp_path, monkeypatch):
    path = write(tmp_path, "models:\n  - {name: a, task: seq2seq, engine: transformers, source: /nowhere/a}\n")
    monkeypatch.setenv("NOTESTUDIO_MODELS", str(path))
    assert ModelRegistry.from_yaml().names() == ["a"]


def test_unknown_model_lists_the_configured_ones(tmp_path):
    registry = ModelRegistry.from_yaml(
        write(tmp_path, "models:\n  - {name: a, task: seq2seq, engine: transformers, source: /x}\n")
    )
    with pytest.raises(UnknownModelError, match=r"unknown model 'b'; configured models: a"):
        registry.get("b")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("models:\n  - {name: a, engine: transformers, source: x}\n", r"model a: task: Field required"),
        ("models:\n  - {name: a, task: painting, engine: transformers, source: x}\n", "model a: task"),
        (
            "models:\n  - {name: a, task: seq2seq, engine: diffusers, source: x}\n",
            "cannot run task 'seq2seq'",
        ),
        (
            "models:\n  - {name: a, task: seq2seq, engine: transformers, source: x, dtype: fp8}\n",
            "dtype must be",
        ),
        (
            "models:\n  - {name: a, task: seq2seq, engine: transformers, source: x}\n"
            "  - {name: a, task: seq2seq, engine: transformers, source: y}\n",
            "defined twice",
        ),
    ],
)
def test_corrupt_config_names_the_problem(tmp_path, text, message):
    with pytest.raises(ModelConfigError, match=message):
        ModelRegistry.from_yaml(write(tmp_path, text))


def test_missing_registry_file(tmp_path):
    with pytest.raises(ModelConfigError, match="does not exist"):
        ModelRegistry.from_yaml(tmp_path / "nope.yaml")


def test_missing_local_dir_says_how_to_fix(tmp_path):
    spec = ModelSpec(name="m", task="seq2seq", engine="transformers", source=str(tmp_path / "absent"))
    with pytest.raises(MissingWeightsError, match="does not exist; copy the checkpoint there"):
        resolve_weights(spec)


def test_dir_without_checkpoint_is_rejected(tmp_path):
    spec = ModelSpec(name="m", task="seq2seq", engine="transformers", source=str(tmp_path))
    with pytest.raises(MissingWeightsError, match="no config.json"):
        resolve_weights(spec)


def test_hub_id_not_in_cache_gives_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    spec = ModelSpec(name="m", task="seq2seq", engine="transformers", source="Helsinki-NLP/opus-mt-zh-en")
    with pytest.raises(MissingWeightsError, match=r"hf download Helsinki-NLP/opus-mt-zh-en --revision main"):
        resolve_weights(spec)


def test_hub_id_found_in_hf_cache_layout(tmp_path, monkeypatch):
    """A repo laid out as the HF cache does (refs/main -> snapshots/<sha>) resolves offline."""
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    spec = ModelSpec(name="m", task="seq2seq", engine="transformers", source="acme/tiny")
    weights = resolve_weights(spec)
    assert weights.origin == "hf-cache"
    assert weights.path == snapshot


def test_spec_rejects_bad_device_and_name():
    with pytest.raises(ValueError, match="device must be"):
        ModelSpec(name="m", task="seq2seq", engine="transformers", source="x", device="tpu")
    with pytest.raises(ValueError):
        ModelSpec(name="bad name!", task="seq2seq", engine="transformers", source="x")
