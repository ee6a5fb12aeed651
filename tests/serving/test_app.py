"""The Serve application built by `build_app`, run in-process with `_local_testing_mode`."""

from __future__ import annotations

import pytest
from ray import serve

from models import MissingWeightsError, UnknownModelError
from serving.app import build_app
from serving.deployments.model_host import ModelHost, deployment_name
from tests.conftest import ADMIN_KEY


@pytest.fixture
def app_args(tmp_path, tiny_registry_file):
    return {
        "data_dir": str(tmp_path / "var"),
        "api_keys": f"{ADMIN_KEY}:admin",
        "studio": False,
        "models": str(tiny_registry_file),
    }


def test_ingress_with_hosted_tiny_models(app_args):
    args = {
        **app_args,
        "hosted_models": ["tiny-bert", "tiny-qwen2"],
        "deployments": [{"name": deployment_name("tiny-bert"), "num_replicas": 1}],
    }
    handle = serve.run(build_app(args), name="t-app", _local_testing_mode=True)
    assert handle.ready.remote().result() is True
    assert handle.hosted_models.remote().result() == {
        "tiny-bert": {"model": "tiny-bert", "engine": "transformers", "task": "classification"},
        "tiny-qwen2": {"model": "tiny-qwen2", "engine": "transformers", "task": "text-generation"},
    }


def test_model_host_generates_and_checks_the_task(tiny_registry_file):
    qwen = serve.run(
        ModelHost.options(name="qwen-host").bind("tiny-qwen2", {"models": str(tiny_registry_file)}),
        name="t-qwen",
        _local_testing_mode=True,
    )
    [gen] = qwen.generate.remote(["你好"], {"max_new_tokens": 3, "temperature": 0}).result()
    assert gen["completion_tokens"] >= 1 and isinstance(gen["text"], str)
    with pytest.raises(TypeError, match="not a Seq2SeqEngine"):
        qwen.seq2seq.remote(["x"]).result()


@pytest.mark.slow
def test_batched_deployments_on_a_real_ray_cluster(tiny_registry_file, tmp_path, app_args):
    """`@serve.batch` needs a real replica (local testing mode has no replica context), and local testing
    mode never awaits `reconfigure`: user_config is checked here too."""
    import ray

    from moderation import Listing
    from serving.deployments.moderation import ModerationDeployment

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": _free_port()})  # never a fixed port
        bert = serve.run(
            ModelHost.options(name="bert-host", ray_actor_options={"num_cpus": 0}).bind(
                "tiny-bert", {"models": str(tiny_registry_file)}
            ),
            name="t-bert",
            route_prefix=None,
        )
        texts = ["加微信领优惠", "好用的面霜", "第一名"] * 8
        results = [r.result(timeout_s=60) for r in [bert.classify.remote(t) for t in texts]]
        assert all(set(r) == {"clean", "ad_law", "diversion"} for r in results)
        assert results[0] == pytest.approx(results[3], abs=1e-5)  # same text, same scores in any batch

        moderation = serve.run(
            ModerationDeployment.options(
                user_config={"policy": {"block_labels": []}}, ray_actor_options={"num_cpus": 0}
            ).bind({"data_dir": str(tmp_path)}),
            name="t-moderation",
            route_prefix=None,
        )
        requests = [[Listing(id=str(i), title="全网最低价" if i % 2 else "好用的面霜")] for i in range(16)]
        answers = [r.result(timeout_s=120) for r in [moderation.moderate.remote(q) for q in requests]]
        decisions = [answer[0].decision for answer in answers]
        assert decisions == ["pass" if i % 2 == 0 else "review" for i in range(16)]  # user_config policy applied
        assert moderation.info.remote().result()["engine"] == "rules+linear-tfidf"

        policy = {"version": "strict-2", "block_labels": []}
        ingress_options = {"name": "Ingress", "user_config": {"moderation_policy": policy}}
        ingress_options["ray_actor_options"] = {"num_cpus": 0}  # the test cluster has two CPUs, both taken
        args = {**app_args, "deployments": [ingress_options]}
        ingress = serve.run(build_app(args), name="t-policy", route_prefix=None)
        assert ingress.moderation_versions.remote().result(timeout_s=120)["policy"] == "strict-2"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_dev_mode_generates_a_key_and_production_refuses_without_one(tmp_path):
    base = {"data_dir": str(tmp_path), "studio": False}
    app = build_app(base)  # dev mode: a fresh key is generated and bound into the ingress
    ingress = app._bound_deployment
    settings = ingress.init_args[0]
    assert ingress.name == "Ingress" and settings["dev_key"].startswith("ns-") and len(settings["dev_key"]) > 20
    assert build_app(base)._bound_deployment.init_args[0]["dev_key"] != settings["dev_key"]  # fresh each launch
    with pytest.raises(ValueError, match="no API keys configured"):
        build_app({**base, "dev_mode": False})


def test_bad_config_fails_before_anything_starts(app_args, tmp_path):
    with pytest.raises(UnknownModelError):
        build_app({**app_args, "hosted_models": ["nope"]})
    with pytest.raises(ValueError, match="unknown deployments"):
        build_app({**app_args, "deployments": [{"name": "Translation"}]})
    with pytest.raises(ValueError, match="unknown options"):
        build_app({**app_args, "deployments": [{"name": "Ingress", "replicas": 2}]})
    missing = tmp_path / "models.yaml"
    missing.write_text("models:\n  - {name: m, task: seq2seq, engine: transformers, source: /no/such/dir}\n")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build_app({**app_args, "models": str(missing), "hosted_models": ["m"]})


def test_serve_config_files_build(tmp_path):
    """Every shipped Serve YAML is a valid config for build_app (hosted models aside, which need weights)."""
    from pathlib import Path

    import yaml

    from cli.serve_cmd import read_serve_config

    for path in sorted(Path("serving/configs").glob("*.yaml")):
        args, http = read_serve_config(path)
        assert yaml.safe_load(path.read_text())["applications"][0]["import_path"] == "serving.app:build_app"
        args = {
            **args,
            "data_dir": str(tmp_path),
            "hosted_models": [],
            "studio": False,
            "api_keys": f"{ADMIN_KEY}:admin",
        }
        args["deployments"] = [d for d in args.get("deployments", []) if d["name"] in ("Ingress", "Moderation")]
        names = _deployment_names(build_app(args))
        assert {"Ingress", "TryOnSessions", "SharedState"} <= names, (path, names)
        expected = {d["name"] for d in args["deployments"]}
        assert expected <= names, (path, expected - names)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _deployment_names(app) -> set[str]:
    """Every deployment bound into an application (the ingress and what it was bound with)."""
    names, pending = set(), [app._bound_deployment]
    while pending:
        deployment = pending.pop()
        names.add(deployment.name)
        for arg in [*deployment.init_args, *deployment.init_kwargs.values()]:
            values = arg.values() if isinstance(arg, dict) else [arg]
            pending += [v._bound_deployment for v in values if hasattr(v, "_bound_deployment")]
    return names
