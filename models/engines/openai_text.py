"""Text generation through any OpenAI-compatible HTTP server (vLLM `vllm serve`, SGLang, ...).

The spec's `source` is the model name the server serves; nothing is loaded here. Where the server is and
how to authenticate come from `options` or the environment, never from a secret in the YAML file:
`options.base_url` (else `NOTESTUDIO_OPENAI_BASE_URL`, else `OPENAI_BASE_URL`) and `options.api_key_env`
naming the variable that holds the key (default `NOTESTUDIO_OPENAI_API_KEY`, then `OPENAI_API_KEY`).

Chat messages are sent to `/chat/completions` so the server applies the model's own chat template:
`format_chat` returns an opaque marker string carrying the messages, and prompts without the marker go to
`/completions`. `extra["json_schema"]` becomes `response_format: json_schema`, which vLLM and SGLang
enforce with their grammar backends. Batches are sent as concurrent requests: the server batches them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from models.engines.base import ChatMessage, Generation, GenerationParams, TextEngine
from models.engines.structured import JSON_SCHEMA_KEY
from models.errors import EngineUnavailableError
from models.spec import ModelSpec

__all__ = ["OpenAITextEngine", "CHAT_MARKER"]

#: Prefix of prompts that carry chat messages (JSON) rather than raw text.
CHAT_MARKER = "\x00chat-messages:"
_DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


class OpenAITextEngine(TextEngine):
    """Client of an OpenAI-compatible server; options: `base_url`, `api_key_env`, `timeout_s` (default 120),
    `max_concurrency` (parallel requests of one batch, default 16)."""

    engine_name = "openai"

    def __init__(self, spec: ModelSpec, weights: Path | None = None) -> None:
        super().__init__(spec)
        options = spec.options
        self.base_url = str(
            options.get("base_url")
            or os.environ.get("NOTESTUDIO_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or _DEFAULT_BASE_URL
        ).rstrip("/")
        key_env = options.get("api_key_env", "NOTESTUDIO_OPENAI_API_KEY")
        api_key = os.environ.get(key_env) or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.served_model = spec.source
        self.max_concurrency = int(options.get("max_concurrency", 16))
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=float(options.get("timeout_s", 120)))

    def close(self) -> None:
        self._http.close()

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        return CHAT_MARKER + json.dumps(list(messages), ensure_ascii=False)

    # -- requests -------------------------------------------------------------------------------------
    def _payload(self, prompt: str, params: GenerationParams, stream: bool) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.served_model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": stream,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        extra = dict(params.extra)
        schema = extra.pop(JSON_SCHEMA_KEY, None)
        if schema is not None:
            schema = json.loads(schema) if isinstance(schema, str) else schema
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": schema, "strict": True},
            }
        body.update(extra)  # server-specific fields (e.g. vLLM's `repetition_penalty`)
        if prompt.startswith(CHAT_MARKER):
            body["messages"] = json.loads(prompt[len(CHAT_MARKER) :])
            return "/chat/completions", body
        body["prompt"] = prompt
        return "/completions", body

    def _fail(self, exc: Exception | None = None, response: httpx.Response | None = None) -> EngineUnavailableError:
        where = f"OpenAI-compatible server {self.base_url} (model {self.served_model!r})"
        if response is not None:
            try:
                detail = response.json().get("error", {})
                message = detail.get("message", response.text) if isinstance(detail, dict) else str(detail)
            except (ValueError, AttributeError):
                message = response.text
            return EngineUnavailableError(f"{where} answered {response.status_code}: {message[:300]}")
        return EngineUnavailableError(
            f"cannot reach {where}: {exc}; start the server or set options.base_url / NOTESTUDIO_OPENAI_BASE_URL"
        )

    def _complete(self, prompt: str, params: GenerationParams) -> Generation:
        path, body = self._payload(prompt, params, stream=False)
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise self._fail(exc) from exc
        if response.status_code >= 400:
            raise self._fail(response=response)
        data = response.json()
        choice = data["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice.get("text", "")
        usage = data.get("usage") or {}
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(
            text=text or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=finish,
        )

    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        params = params or GenerationParams()
        if len(prompts) <= 1:
            return [self._complete(p, params) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._complete(p, params), prompts))

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        params = params or GenerationParams()
        path, body = self._payload(prompt, params, stream=True)
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._fail(response=response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choice = (json.loads(data).get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                    if piece:
                        yield piece
        except httpx.HTTPError as exc:
            raise self._fail(exc) from exc
