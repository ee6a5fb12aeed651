"""A small OpenAI-compatible server for tests: chat/completions over a real `TextEngine` (tiny Qwen2).

It speaks the parts of the API our `OpenAITextEngine` uses (chat and text completions, SSE streaming,
`response_format: json_schema`, `seed`, vLLM's `ignore_eos`, bearer keys), the way `vllm serve` and SGLang do.
Like `vllm serve`, it stops generating when a streaming client disconnects (Starlette cancels the response,
which closes the engine's stream). It runs in uvicorn on 127.0.0.1 (a free port) in a background thread: the
client under test goes through real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from models.engines.base import GenerationParams, TextEngine

__all__ = ["serve_openai", "OpenAIServer"]


def build_app(engine: TextEngine, served_name: str, api_key: str | None) -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    def params(body: dict[str, Any]) -> GenerationParams:
        extra: dict[str, Any] = {}
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            extra["json_schema"] = fmt["json_schema"]["schema"]
        max_tokens = int(body.get("max_tokens", 128))
        if body.get("ignore_eos"):
            extra["min_new_tokens"] = max_tokens  # transformers' way of generating past the end-of-sequence token
        return GenerationParams(
            max_new_tokens=max_tokens,
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            seed=body.get("seed"),
            stop=body.get("stop") or (),
            extra=extra,
        )

    def check(body: dict[str, Any], authorization: str | None) -> None:
        if api_key and authorization != f"Bearer {api_key}":
            raise HTTPException(401, "bad api key")
        if body.get("model") != served_name:
            raise HTTPException(404, f"model {body.get('model')!r} is not served here")

    async def sse(chunks: AsyncIterator[str], chat: bool) -> AsyncIterator[str]:
        async with aclosing(chunks):
            async for piece in chunks:
                choice = {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
                yield f"data: {json.dumps({'choices': [choice]})}\n\n"
        yield "data: [DONE]\n\n"

    async def complete(request: Request, authorization: str | None, chat: bool):
        body = await request.json()
        app.state.requests.append(body)
        check(body, authorization)
        prompt = body["messages"] if chat else body["prompt"]
        if body.get("stream"):
            return StreamingResponse(sse(engine.stream(prompt, params(body)), chat), media_type="text/event-stream")
        out = await engine.generate(prompt, params(body))
        choice: dict[str, Any] = {"index": 0, "finish_reason": out.finish_reason}
        choice.update({"message": {"role": "assistant", "content": out.text}} if chat else {"text": out.text})
        usage = {"prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens}
        return JSONResponse(
            {
                "id": uuid.uuid4().hex,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": served_name,
                "choices": [choice],
                "usage": usage,
            }
        )

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, authorization: str | None = Header(None)):
        return await complete(request, authorization, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request, authorization: str | None = Header(None)):
        return await complete(request, authorization, chat=False)

    return app


class OpenAIServer:
    """uvicorn on 127.0.0.1 (a free port) in a daemon thread; `stop()` shuts it down."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="openai-test-server", daemon=True)

    def start(self) -> OpenAIServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test OpenAI server did not start")
            time.sleep(0.02)
        return self

    @property
    def base_url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_openai(engine: TextEngine, served_name: str, api_key: str | None = None) -> OpenAIServer:
    return OpenAIServer(build_app(engine, served_name, api_key)).start()
