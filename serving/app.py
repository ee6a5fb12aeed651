"""`build_app(args) -> Application`: the whole service as Ray Serve deployments.

`args` are `Settings` fields (the `args:` block of a Serve YAML, or what `notestudio serve` passes) plus
an optional `deployments` list with per-deployment options (`num_replicas`, `ray_actor_options`,
`autoscaling_config`, `max_ongoing_requests`, `user_config`), so one config format drives a laptop and a
cluster. Deployments: `Ingress` (FastAPI + studio; runs the services of `build_services`), `TryOnSessions`
(webcam sessions, multiplexed by session so any ingress replica reaches the same tracker), `Moderation`
(with `moderation_deployment`), `SharedState` (one replica: per-key rate limits and every replica's
metrics), and one `ModelHost.<name>` per hosted registry model.
"""

from __future__ import annotations

import logging
from typing import Any

from ray import serve
from ray.serve import Application

from models.registry import ModelRegistry, resolve_weights
from serving.deployments.model_host import ModelHost, deployment_name
from serving.deployments.moderation import ModerationDeployment
from serving.deployments.shared_state import SharedState
from serving.deployments.tryon import TryOnSessions
from serving.settings import Settings

__all__ = ["build_app", "asgi_app", "Ingress", "DEPLOYMENT_OPTION_KEYS"]

log = logging.getLogger("notestudio")

#: Options a config may set per deployment (Ray Serve's own names).
DEPLOYMENT_OPTION_KEYS = frozenset(
    {
        "num_replicas",
        "max_ongoing_requests",
        "max_queued_requests",
        "ray_actor_options",
        "autoscaling_config",
        "user_config",
        "health_check_period_s",
        "health_check_timeout_s",
        "graceful_shutdown_timeout_s",
        "graceful_shutdown_wait_loop_s",
    }
)


@serve.deployment(
    name="Ingress", max_ongoing_requests=200, graceful_shutdown_timeout_s=20, graceful_shutdown_wait_loop_s=0.5
)
@serve.ingress()
class Ingress:
    """FastAPI ingress (and the Gradio studio at /studio); owns this replica's `Runtime`, whose services
    come from `build_services` with the handles of the other deployments."""

    def __init__(
        self,
        settings: dict[str, Any],
        model_hosts: dict[str, Any] | None = None,
        moderation: Any = None,
        sessions: Any = None,
        shared_state: Any = None,
    ) -> None:
        from serving.runtime import Runtime
        from serving.services import build_services

        self.settings = Settings(**settings)
        services = build_services(
            self.settings, model_hosts=model_hosts, moderation_handle=moderation, frames_handle=sessions
        )
        self.runtime = Runtime(self.settings, services, shared_state=shared_state)
        self.runtime.start()

    def __serve_build_asgi_app__(self):
        return asgi_app(self.runtime)

    def ready(self) -> bool:
        """Used by tests through a deployment handle."""
        return self.runtime.started

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """`user_config: {moderation_policy: {...}}` swaps the in-ingress moderation policy without a restart
        (with `moderation_deployment: true`, configure the Moderation deployment's `user_config` instead)."""
        policy = (user_config or {}).get("moderation_policy")
        if policy:
            self.runtime.services.moderation.set_policy(policy)

    def moderation_versions(self) -> dict[str, str]:
        """What decides moderation in this replica now (lexicon, brands, policy, classifier versions)."""
        return self.runtime.services.moderation.versions()

    async def hosted_models(self) -> dict[str, dict[str, str]]:
        """Ask every bound `ModelHost` what it serves (proves the handles are wired)."""
        return {name: await handle.info.remote() for name, handle in self.runtime.model_hosts.items()}

    def check_health(self) -> None:
        """Ray calls this periodically; raising marks the replica unhealthy and replaces it."""
        if not self.runtime.started:
            raise RuntimeError("job runner is not running")

    def __del__(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.stop()


def asgi_app(runtime: Any) -> Any:
    """The FastAPI app of one ingress replica (`create_api`), with the studio mounted when configured."""
    from serving.api import create_api

    app = create_api(runtime)
    settings = runtime.settings
    if settings.studio:
        from ui.studio import mount_studio

        app = mount_studio(app, api_url=f"http://127.0.0.1:{settings.port}", settings=settings)
    return app


def _split_args(args: dict[str, Any]) -> tuple[Settings, dict[str, dict[str, Any]]]:
    args = dict(args or {})
    overrides: dict[str, dict[str, Any]] = {}
    for entry in args.pop("deployments", None) or []:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError("each `deployments` entry needs a `name`")
        unknown = set(entry) - DEPLOYMENT_OPTION_KEYS - {"name"}
        if unknown:
            raise ValueError(f"deployment {entry['name']!r}: unknown options {sorted(unknown)}")
        overrides[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
    return Settings(**args), overrides


def build_app(args: dict[str, Any] | None = None) -> Application:
    """Build the application from Serve `args` (see module docstring).

    Models listed in `hosted_models` each get a `ModelHost.<name>` deployment; their weights are located
    now, so a missing checkpoint stops the launch with the fix instead of a replica that never starts.

    Raises:
        ValueError: bad settings or deployment options (the message names the field).
        ModelError: a hosted model is unknown or its weights are missing.
    """
    settings, overrides = _split_args(args or {})
    settings = settings.with_dev_key()
    if settings.dev_key and not (args or {}).get("dev_key"):
        log.warning("dev mode: generated admin API key %s (set NOTESTUDIO_API_KEYS for real keys)", settings.dev_key)
    registry = ModelRegistry.from_yaml(settings.models)
    hosts: dict[str, Application] = {}
    for name in settings.hosted_models:
        resolve_weights(registry.get(name))
        deployment = ModelHost.options(name=deployment_name(name), **overrides.pop(deployment_name(name), {}))
        hosts[name] = deployment.bind(name, settings.to_args())
    if settings.moderation_classifier:
        resolve_weights(registry.get(settings.moderation_classifier))
    moderation = None
    if settings.moderation_deployment:
        moderation = ModerationDeployment.options(**overrides.pop("Moderation", {})).bind(settings.to_args())
    sessions = TryOnSessions.options(**overrides.pop("TryOnSessions", {})).bind(settings.to_args())
    if "SharedState" in overrides:
        raise ValueError("deployment SharedState takes no options: it must run exactly one replica")
    shared = SharedState.bind(settings.rate_limit_per_minute)
    ingress_options = overrides.pop("Ingress", {})
    if overrides:
        known = [
            "Ingress",
            "TryOnSessions",
            *(["Moderation"] if moderation else []),
            *map(deployment_name, settings.hosted_models),
        ]
        raise ValueError(f"unknown deployments in config: {sorted(overrides)}; known: {known}")
    return Ingress.options(**ingress_options).bind(settings.to_args(), hosts, moderation, sessions, shared)
