"""Webcam try-on sessions that survive several ingress replicas: the `TryOnSessions` deployment.

A webcam session is state — the face tracker that keeps the detector off most frames and the One-Euro
filters that stop jitter. If two ingress replicas each kept their own, frames would alternate between two
trackers and two filters (jitter, re-detection on every other frame). We keep the state where it is and
send the frames to it: every frame is routed with Ray Serve model multiplexing, keyed by the session, so
all frames of a session reach the replica that holds its tracker (`@serve.multiplexed` loads a session on
first use and evicts the least recently used one beyond `max_sessions`).

Why not let the client carry the state? It is ~17 KB per frame (478 landmarks x 3 coordinates x filter
state), more than a 640x480 JPEG, and the mediapipe graphs would be rebuilt from it on every frame.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio
from ray import serve

from ar_tryon.schema import FrameRequest, TryOnImage
from ar_tryon.service import TryOnService, session_owner
from serving.services import build_services
from serving.settings import Settings

__all__ = ["FrameProcessor", "LocalFrames", "RemoteFrames", "TryOnSessions", "MAX_SESSIONS_PER_REPLICA"]

MAX_SESSIONS_PER_REPLICA = 32


class FrameProcessor(Protocol):
    """Renders one webcam frame of a session (`session_key` is per API key and session id)."""

    async def frame(self, session_key: str, frame: bytes, request: FrameRequest) -> TryOnImage: ...


class LocalFrames:
    """Sessions kept by this process's try-on service (one process: tests, uvicorn, the CLI)."""

    def __init__(self, tryon: TryOnService) -> None:
        self._tryon = tryon

    async def frame(self, session_key: str, frame: bytes, request: FrameRequest) -> TryOnImage:
        return await anyio.to_thread.run_sync(self._tryon.frame, session_key, frame, request)


class RemoteFrames:
    """Frames sent to the `TryOnSessions` deployment, multiplexed by session."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def frame(self, session_key: str, frame: bytes, request: FrameRequest) -> TryOnImage:
        routed = self._handle.options(multiplexed_model_id=session_key)
        return await routed.frame.remote(frame, request)


@serve.deployment(
    name="TryOnSessions",
    max_ongoing_requests=64,
    ray_actor_options={"num_cpus": 0},
    graceful_shutdown_wait_loop_s=0.5,
    graceful_shutdown_timeout_s=5,
)
class TryOnSessions:
    """Holds webcam sessions; every frame of a session reaches the replica that holds it."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.tryon = build_services(Settings(**settings)).tryon

    @serve.multiplexed(max_num_models_per_replica=MAX_SESSIONS_PER_REPLICA)
    async def session(self, session_key: str) -> Any:
        """A session's tracker, created on its first frame (a "model" to Serve's multiplexing)."""
        return self.tryon.new_session()

    async def frame(self, frame: bytes, request: FrameRequest) -> TryOnImage:
        key = serve.get_multiplexed_model_id()
        session = await self.session(key)
        return await anyio.to_thread.run_sync(self._render, session, frame, request, key)

    def _render(self, session: Any, frame: bytes, request: FrameRequest, key: str) -> TryOnImage:
        # The session's owner may name its own shades (read from the database every replica shares).
        look = self.tryon.look(request.shade, request.intensity, owner=session_owner(key))
        decoded = self.tryon.decode(frame, "frame")
        ts = None if request.timestamp_ms is None else request.timestamp_ms / 1000.0
        with session.lock:  # frames of one session are rendered one at a time, in order
            return self.tryon.session_frame(session, decoded, look, request, ts)
