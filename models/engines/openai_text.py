"""Text generation through any OpenAI-compatible HTTP server (`vllm serve`, Ray Serve LLM, SGLang, ...), with the
`openai` SDK.

The spec's `source` is the model name the server serves; nothing is loaded here. Where the server is and
how to authenticate come from `options` or the environment, never from a secret in the YAML file:
`options.base_url` (else `NOTESTUDIO_OPENAI_BASE_URL`, else `OPENAI_BASE_URL`) and `options.api_key_env`
naming the variable that holds the key (default `NOTESTUDIO_OPENAI_API_KEY`, then `OPENAI_API_KEY`).

Chat messages go to `/chat/completions` (the server applies the model's own chat template), plain text to
`/completions`. `extra["json_schema"]` becomes `response_format: json_schema`, which vLLM and SGLang enforce
with their grammar backends; other `extra` fields go into the request body (e.g. vLLM's `ignore_eos`).
`generate_many` sends the rows as concurrent requests (at most `max_concurrency`): the server batches them.
Every request has a timeout and is retried by the SDK on connection errors, 408/409/429 and 5xx. Closing a
stream closes its HTTP response; vLLM's server then aborts the request.

The SDK's async client belongs to the event loop it first runs on, so the engine owns one (`LoopThread`) and
bridges callers from any loop or thread to it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from models.engines.aio import LoopThread
from models.engines.base import Generation, GenerationParams, Prompt, is_chat
from models.engines.loop_engine import LoopTextEngine
from models.engines.structured import JSON_SCHEMA_KEY
from models.errors import EngineUnavailableError
from models.spec import ModelSpec

__all__ = ["OpenAITextEngine"]

_DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EngineUnavailableError("the openai engine needs the openai SDK: pip install openai") from exc
    return openai


class OpenAITextEngine(LoopTextEngine):
    """Client of an OpenAI-compatible server. Options: `base_url`, `api_key_env`, `timeout_s` (per request,
    default 120), `connect_timeout_s` (default 10), `max_retries` (default 2), `max_concurrency` (parallel
    requests of one `generate_many`, default 16)."""

    engine_name = "openai"

    def __init__(self, spec: ModelSpec, weights: Path | None = None) -> None:
        super().__init__(spec)
        self._openai = _import_openai()
        options = spec.options
        self.base_url = str(
            options.get("base_url")
            or os.environ.get("NOTESTUDIO_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or _DEFAULT_BASE_URL
        ).rstrip("/")
        key_env = options.get("api_key_env", "NOTESTUDIO_OPENAI_API_KEY")
        # Servers started without a key accept any; the SDK insists on one.
        self._api_key = os.environ.get(key_env) or os.environ.get("OPENAI_API_KEY") or "no-key"
        self.served_model = spec.source
        self.timeout_s = float(options.get("timeout_s", 120))
        self.connect_timeout_s = float(options.get("connect_timeout_s", 10))
        self.max_retries = int(options.get("max_retries", 2))
        self.max_concurrency = int(options.get("max_concurrency", 16))
        if self.timeout_s <= 0 or self.max_retries < 0 or self.max_concurrency < 1:
            raise ValueError(
                f"model {spec.name!r}: options timeout_s > 0, max_retries >= 0 and max_concurrency >= 1 are required"
            )
        self._loop = LoopThread(f"openai-{spec.name}")
        self._client = self._loop.run(self._make_client())
        self._slots = asyncio.Semaphore(self.max_concurrency)  # used on the engine's loop only

    async def _make_client(self) -> Any:
        timeout = self._openai.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        return self._openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self._api_key, timeout=timeout, max_retries=self.max_retries
        )

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            self._client = None
            self._loop.run(client.close(), timeout=30)
        self._loop.close()

    # -- requests (on the engine's loop) ----------------------------------------------------------------------
    def _body(self, prompt: Prompt, params: GenerationParams) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.served_model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        extra = dict(params.extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        if schema is not None:
            schema = json.loads(schema) if isinstance(schema, str) else schema
            # vLLM 0.32 rejects a json_schema without a name
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": schema, "strict": True},
            }
        if extra:
            body["extra_body"] = extra  # server-specific fields (e.g. vLLM's `ignore_eos`, `repetition_penalty`)
        chat = is_chat(prompt)
        if chat:
            body["messages"] = [dict(m) for m in prompt]
        else:
            body["prompt"] = prompt
        return chat, body

    def _fail(self, exc: Exception) -> EngineUnavailableError:
        where = f"OpenAI-compatible server {self.base_url} (model {self.served_model!r})"
        if isinstance(exc, self._openai.APIStatusError):
            message = exc.message
            body = exc.body
            if isinstance(body, dict):
                detail = body.get("error", body)
                message = detail.get("message", message) if isinstance(detail, dict) else str(detail)
            return EngineUnavailableError(f"{where} answered {exc.status_code}: {str(message)[:300]}")
        kind = "timed out" if isinstance(exc, self._openai.APITimeoutError) else str(exc)
        return EngineUnavailableError(
            f"cannot reach {where}: {kind} (after {self.max_retries} retries); start the server or set "
            "options.base_url / NOTESTUDIO_OPENAI_BASE_URL"
        )

    async def _create(self, chat: bool, body: dict[str, Any], stream: bool) -> Any:
        api = self._client.chat.completions if chat else self._client.completions
        try:
            return await api.create(**body, stream=stream)
        except self._openai.APIError as exc:
            raise self._fail(exc) from exc

    async def _complete(self, prompt: Prompt, params: GenerationParams) -> Generation:
        chat, body = self._body(prompt, params)
        async with self._slots:
            response = await self._create(chat, body, stream=False)
        choice = response.choices[0]
        text = (choice.message.content if chat else choice.text) or ""
        usage = response.usage
        return Generation(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )

    async def _complete_all(self, prompts: Sequence[Prompt], rows: list[GenerationParams]) -> list[Generation]:
        return list(await asyncio.gather(*(self._complete(p, r) for p, r in zip(prompts, rows, strict=True))))

    async def _pieces(self, prompt: Prompt, params: GenerationParams) -> AsyncIterator[str]:
        chat, body = self._body(prompt, params)
        stream = await self._create(chat, body, stream=True)
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                piece = (choice.delta.content if chat else choice.text) or ""
                if piece:
                    yield piece
        except self._openai.APIError as exc:
            raise self._fail(exc) from exc
        finally:
            await stream.close()  # closes the HTTP response: the server sees the client leave and aborts
