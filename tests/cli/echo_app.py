"""A second Ray Serve application for `notestudio serve --config` tests (stands in for Ray Serve LLM)."""

from __future__ import annotations

from typing import Any

from ray import serve
from starlette.requests import Request


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Echo:
    def __init__(self, word: str) -> None:
        self.word = word

    async def __call__(self, request: Request) -> dict[str, str]:
        return {"echo": self.word}


def build(args: dict[str, Any]):
    """Serve's application builder convention: args in, application out."""
    return Echo.bind(str(args.get("word", "echo")))
