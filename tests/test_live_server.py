"""A real `notestudio serve` subprocess: HTTP over a socket, the studio in Chromium, clean shutdown.

Tests in this module run in order against one server (startup costs ~15 s); the last one stops it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    def __init__(self, tmp_path, env: dict[str, str] | None = None, args: list[str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp_path / "var"
        env = {**os.environ, "NOTESTUDIO_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("NOTESTUDIO_API_KEYS", None)  # dev mode: the server must generate and print a key
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(self.port), *(args or [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.key = self._wait_for_key(timeout=120)

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def _wait_for_key(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if match := re.search(r"dev mode admin API key: (\S+)", line):
                    return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("server did not start:\n" + "".join(self.lines[-40:]))

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                raise
        return self.process.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("live"))
    yield live
    live.stop()


def test_health_and_auth_over_http(server):
    assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(f"{server.url}/ready", timeout=10).json()["ready"] is True
    assert httpx.get(f"{server.url}/v1/models", timeout=10).status_code == 401
    listed = httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {server.key}"}, timeout=10)
    assert listed.status_code == 200 and listed.json()["models"]


def test_moderation_through_ray_serve(server):
    """Ingress -> Moderation deployment (batched across requests) -> audit, over a real socket."""
    headers = {"Authorization": f"Bearer {server.key}"}
    listings = [{"id": i, "title": "全网最低 高仿包" if i % 2 else "好用的面霜"} for i in range(32)]
    response = httpx.post(
        f"{server.url}/v1/moderation/listings", json={"listings": listings}, headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["decision"] for r in results] == ["pass" if i % 2 == 0 else "block" for i in range(32)]
    decision = httpx.get(
        f"{server.url}/v1/moderation/decisions/{results[1]['decision_id']}", headers=headers, timeout=10
    )
    assert decision.json()["decision"] == "block"


def test_bad_requests_do_not_hurt_the_replica(server):
    headers = {"Authorization": f"Bearer {server.key}", "content-type": "application/json"}
    for body in (b"{", b"\x00\xff" * 100, b'{"names": 5}', b"[]"):
        response = httpx.post(f"{server.url}/v1/models/check", content=body, headers=headers, timeout=10)
        assert 400 <= response.status_code < 500 and "error" in response.json()
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_image_requests_keep_to_the_pixel_budget_in_a_ray_replica(server):
    """The request's pixel budget reaches the worker threads of a Ray Serve replica: nine 39.7 MP PNGs (59 KB)
    are a quick 413 naming the image where the sum passes 80 MP, and /health answers meanwhile."""
    from tests.common.pngs import b64, big_png

    headers = {"Authorization": f"Bearer {server.key}"}
    started = time.monotonic()
    body = {"images": [b64(big_png(7300, 5440))] * 9}
    response = httpx.post(f"{server.url}/v1/moderation/images", json=body, headers=headers, timeout=60)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["param"] == "images.2" and time.monotonic() - started < 5
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def _process_tree(root: int) -> dict[int, str]:
    """pid -> name of `root` and its descendants (Ray's workers and HAProxy are grandchildren)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)], names[int(entry)] = int(rest[1]), name
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    return {pid: names[pid] for pid in tree if pid in names}


def _listeners(root: int) -> list[tuple[str, int, str]]:
    """(address, port, process name) of every listening TCP socket of the process tree, from /proc."""
    tree = _process_tree(root)
    owners: dict[int, int] = {}
    for pid in tree:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners[int(target[8:-1])] = pid
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or int(fields[9]) not in owners:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # little-endian 32-bit words
            ip = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words)
            found.append((ip, int(port, 16), tree[owners[int(fields[9])]]))
    return found


def test_haproxy_listens_on_loopback_only_and_its_admin_socket_is_private(server):
    """The fast ingress (default): the API, HAProxy's stats page and Prometheus exporter (no authentication) and
    the replicas HAProxy forwards to listen on loopback like the API; the admin socket is 0600 in a 0700 dir."""
    import ipaddress
    import stat

    listeners = _listeners(server.process.pid)
    haproxy = [(ip, port) for ip, port, name in listeners if name == "haproxy"]
    assert len({port for _, port in haproxy}) >= 3 and server.port in {port for _, port in haproxy}, listeners
    assert all(ipaddress.ip_address(ip).is_loopback for ip, _ in haproxy), haproxy
    commands = [
        open(f"/proc/{pid}/cmdline").read().split("\0")
        for pid, name in _process_tree(server.process.pid).items()
        if name == "haproxy"
    ]
    [config] = {command[command.index("-f") + 1] for command in commands}
    text = open(config).read()
    backends = {int(port) for port in re.findall(r"^\s*server \S+ [^\s:]+:(\d+)", text, re.M)}
    behind = [(ip, port) for ip, port, _ in listeners if port in backends]
    assert behind and all(ipaddress.ip_address(ip).is_loopback for ip, _ in behind), (backends, listeners)
    admin = re.search(r"stats socket (\S+) mode (\d+)", text)
    assert admin and admin.group(2) == "600", admin
    assert stat.S_IMODE(os.stat(admin.group(1)).st_mode) == 0o600
    private = [p for p in Path(admin.group(1)).parents if p.name.startswith("nsh-")]
    assert private and stat.S_IMODE(private[0].stat().st_mode) == 0o700


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (make test installs it)")
def test_studio_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        # Not "networkidle": the studio keeps streaming connections (webcam tab, queue heartbeats) open.
        page.goto(f"{server.url}/studio/", wait_until="domcontentloaded", timeout=60_000)
        expect(page.get_by_text("Note Studio").first).to_be_visible(timeout=30_000)
        # The dev key arrives with the page's load event (never in the page or /studio/config).
        # The studio opens in Chinese; its controls carry stable elem_ids, whatever the language.
        expect(page.locator("#ns-api-key input")).to_have_value(server.key, timeout=30_000)
        page.locator("#ns-tab-service-button").click()  # the operators' tab, last
        page.locator("#ns-list-models").click()
        expect(page.get_by_text("qwen2.5-1.5b-instruct").first).to_be_visible(timeout=30_000)
        page.locator("#ns-check-models").click()
        # Gradio keeps hidden copies of table cells: match the visible one ("缺少": missing).
        expect(page.locator(":text-is('缺少'):visible").first).to_be_visible(timeout=60_000)
        expect(page.locator(":text('hf download'):visible").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (make test installs it)")
def test_a_key_typed_into_the_studio_opens_its_uploads(server):
    """Studio uploads need the session cookie: a browser without one is refused; typing the key into the studio
    trades it for the cookie (the page's script), and uploads pass."""
    from playwright.sync_api import expect, sync_playwright

    from serving.guards import SESSION_COOKIE

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox"])
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/studio/", wait_until="domcontentloaded", timeout=60_000)
        key = page.locator("#ns-api-key input")
        expect(key).to_have_value(server.key, timeout=30_000)
        context.clear_cookies()  # as a browser that was never handed the dev server's session

        def upload() -> int:
            file = {"name": "note.txt", "mimeType": "text/plain", "buffer": b"hello"}
            return page.request.post(f"{server.url}/studio/gradio_api/upload", multipart={"files": file}).status

        assert upload() == 401
        key.fill("")
        key.fill(server.key)
        deadline = time.monotonic() + 30
        while not any(c["name"] == SESSION_COOKIE for c in context.cookies()):
            assert time.monotonic() < deadline, "typing the key set no session cookie"
            time.sleep(0.2)
        assert upload() == 200
        browser.close()


def test_video_tab_makes_a_video_that_plays_in_chromium(server, tmp_path):
    """The Video tab as a merchant uses it: photos and words in, a progress bar, then an MP4 that Chromium
    decodes and plays (H.264 yuv420p, faststart) at the declared size and duration."""
    import cv2
    from playwright.sync_api import expect, sync_playwright

    from generation.image.testing import product_shot

    files = []
    for i, kind in enumerate(["bottle", "box"]):
        path = tmp_path / f"{kind}.jpg"
        cv2.imwrite(
            str(path), cv2.cvtColor(product_shot(kind, "white", size=(600, 800), seed=i).rgb, cv2.COLOR_RGB2BGR)
        )
        files.append(str(path))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server.url}/studio/en/", wait_until="domcontentloaded", timeout=60_000)  # the English studio
        expect(page.get_by_label("API key")).to_have_value(server.key, timeout=30_000)
        page.get_by_role("tab", name="Video").click()
        panel = page.get_by_role("tabpanel")
        panel.locator("input[type=file]").first.set_input_files(files)
        expect(panel.get_by_text("bottle.jpg")).to_be_visible(timeout=30_000)
        page.get_by_label("Title (the cover, first frame)").fill("夏日通勤防晒")
        page.get_by_label("Captions (one per line, 2-4)").fill("清爽不油腻\n不泛白")
        page.locator("input[type=number][aria-label*='Duration']").fill("6")
        page.locator("input[type=number][aria-label*='Duration']").press("Enter")
        page.get_by_role("button", name="Make video").click()
        expect(page.locator("video")).to_be_attached(timeout=120_000)
        played = page.evaluate(
            """async () => {
                const v = document.querySelector('video');
                await new Promise(r => {
                    if (v.readyState >= 1) r(); else v.onloadedmetadata = r;
                    setTimeout(r, 10000);
                });
                await v.play();
                await new Promise(r => setTimeout(r, 1200));
                return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, time: v.currentTime,
                        error: v.error && v.error.code};
            }"""
        )
        page.screenshot(path=str(tmp_path / "studio-video.png"), full_page=True)
        browser.close()
    assert played["error"] is None and (played["width"], played["height"]) == (1080, 1920), played
    assert abs(played["duration"] - 6) <= 0.1 and played["time"] > 0.5, played


def test_a_second_server_runs_beside_and_ctrl_c_requeues_its_running_job(server, tmp_path, tiny_models):
    """Two `notestudio serve` on one machine; Ctrl-C stops the second within 10 s, its running job requeued
    (not lost, not counted as an attempt), and the first one never notices. The second one is started from
    a Serve config with another application beside ours (as gpu.yaml puts Ray Serve LLM beside it)."""
    import yaml

    from serving.jobs import JobState, JobStore

    registry = tmp_path / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [tiny_models["text"].model_dump(mode="json")]}))
    env = {"NOTESTUDIO_MODELS": str(registry), "NOTESTUDIO_COPY_MODEL": tiny_models["text"].name}
    config = tmp_path / "serve.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "applications": [
                    {"name": "notestudio", "import_path": "serving.app:build_app", "args": {"studio": False}},
                    {"name": "echo", "route_prefix": "/echo", "import_path": "tests.cli.echo_app:build",
                     "args": {"word": "beside"}},
                ]
            }
        )
    )  # fmt: skip
    second = LiveServer(tmp_path, env, ["--config", str(config)])
    try:
        assert httpx.get(f"{second.url}/health", timeout=10).status_code == 200
        assert httpx.get(f"{second.url}/echo", timeout=10).json() == {"echo": "beside"}
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        headers = {"Authorization": f"Bearer {second.key}"}
        products = [{"product": f"防晒霜 {i}", "category": "防晒", "length": "short"} for i in range(40)]
        response = httpx.post(
            f"{second.url}/v1/copy/notes/batch", json={"products": products}, headers=headers, timeout=30
        )
        assert response.status_code == 202, response.text
        job = response.json()
        deadline = time.monotonic() + 120
        while httpx.get(f"{second.url}/v1/jobs/{job['id']}", headers=headers, timeout=10).json()["state"] != "running":
            assert time.monotonic() < deadline, "the batch job never started"
            time.sleep(0.2)
    finally:
        started = time.monotonic()
        code = second.stop(timeout=60)
        stopped_in = time.monotonic() - started
    assert code == 0, "".join(second.lines[-30:])
    assert stopped_in <= 10, f"Ctrl-C took {stopped_in:.1f} s"
    store = JobStore(f"sqlite:///{second.data_dir / 'notestudio.db'}")
    requeued = store.get(job["id"])
    store.close()
    assert requeued.state == JobState.QUEUED and requeued.attempts == 0, requeued
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_clean_shutdown(server):
    assert server.stop() == 0, "".join(server.lines[-30:])
    assert any("stopped." in line for line in server.lines)
    with socket.socket() as probe:  # the port is free again (TIME_WAIT aside, as any server binds it)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))
