"""The `notestudio` CLI: help everywhere, models list/check, one-line errors with exit code 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("args", [[], ["serve"], ["models"], ["models", "list"], ["models", "check"]])
def test_help_everywhere(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_models_list_json(tiny_registry_file):
    result = runner.invoke(app, ["models", "list", "--registry", str(tiny_registry_file), "--json"])
    assert result.exit_code == 0
    assert {m["name"] for m in json.loads(result.stdout)} == {
        "tiny-qwen2",
        "tiny-marian",
        "tiny-bert",
        "tiny-sd",
    }


def test_models_check_loads_tiny_models(tiny_registry_file):
    result = runner.invoke(
        app,
        [
            "models",
            "check",
            "tiny-bert",
            "tiny-marian",
            "--load",
            "--json",
            "--registry",
            str(tiny_registry_file),
        ],
    )
    assert result.exit_code == 0, result.output
    statuses = json.loads(result.stdout)
    assert [s["ok"] and s["loaded"] for s in statuses] == [True, True]


def test_models_check_missing_weights_exit_2_with_fix(tmp_path):
    registry = tmp_path / "models.yaml"
    registry.write_text("models:\n  - {name: m, task: seq2seq, engine: transformers, source: acme/absent}\n")
    result = runner.invoke(app, ["models", "check", "--registry", str(registry)])
    assert result.exit_code == 2
    assert "hf download acme/absent" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "check", "nope"], "unknown model 'nope'"),
        (["models", "list", "--registry", "/no/such.yaml"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_serve_port_in_use_exits_2_before_starting_ray(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--no-studio")
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use; pass --port N" in result.stderr
    assert "starting Ray" not in result.stderr  # nothing half-started


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("applications: [\n", "not valid YAML"),
        ("applications:\n  - {import_path: other.module:app}\n", "exactly one application with import_path"),
        (
            "applications:\n  - {import_path: 'serving.app:build_app'}\n"
            "  - {name: llm, import_path: 'no_such_mod:build'}\n",
            "application 'llm': cannot import no_such_mod:build",
        ),
        (
            "applications:\n  - {import_path: 'serving.app:build_app', args: {port: 99999}}\n",
            "invalid setting port",
        ),
        (
            "http_options: {port: FREE}\n"
            "applications:\n  - import_path: serving.app:build_app\n    deployments: [{name: Nope}]\n",
            "unknown deployments",
        ),
    ],
)
def test_serve_bad_config_exits_2(tmp_path, config, message):
    path = tmp_path / "serve.yaml"
    path.write_text(config.replace("FREE", str(free_port())))
    result = run_cli("serve", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_serve_corrupt_model_registry_exits_2(tmp_path):
    registry = tmp_path / "models.yaml"
    registry.write_text("models:\n  - {name: a}\n")
    env = {"PATH": "/usr/bin:/bin", "NOTESTUDIO_MODELS": str(registry), "NOTESTUDIO_DATA_DIR": str(tmp_path)}
    result = run_cli("serve", env=env)
    assert result.returncode == 2 and "model a: task: Field required" in result.stderr
