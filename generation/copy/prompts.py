"""Chat prompts for LLM copy engines, built from `data/prompts.yaml` (prompts are data, not code).

The system prompt and the few-shot turns are identical for every request of a language, so they form a
shared prefix: vLLM's prefix cache (and any server with one) computes them once.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

from generation.copy.request import NoteRequest
from generation.copy.schema import BODY_LIMITS

__all__ = ["PromptBook", "PROMPTS_PATH"]

PROMPTS_PATH = Path(__file__).with_name("data") / "prompts.yaml"


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


class PromptBook:
    """Renders a `NoteRequest` into chat messages: system, few-shot pairs, then the product."""

    def __init__(self, path: Path = PROMPTS_PATH) -> None:
        self.data = _load(path)
        self.version = str(self.data["version"])

    def user_turn(self, request: NoteRequest) -> str:
        lang = request.language
        missing = "未提供" if lang == "zh" else "n/a"
        sep = "；" if lang == "zh" else "; "
        price = "" if request.price is None else (f"{request.price:g} 元" if lang == "zh" else f"{request.price:g} CNY")
        facts = self.data["user"][lang].format(
            product=request.product,
            brand=request.brand or missing,
            category=request.category or missing,
            price=price or missing,
            points=sep.join(request.selling_points) or missing,
            audience=request.audience or missing,
            scenario=request.scenario or missing,
            tone=request.tone or missing,
            paragraphs=BODY_LIMITS[request.length][0],
        )
        return f"{self.data['styles'][request.style][lang]}\n{facts}"

    def messages(self, request: NoteRequest) -> list[dict[str, str]]:
        """System prompt, the few-shot examples of the language, then this request."""
        lang = request.language
        messages = [{"role": "system", "content": self.data["system"][lang]}]
        for shot in self.data["few_shot"][lang]:
            messages.append({"role": "user", "content": shot["user"]})
            messages.append({"role": "assistant", "content": json.dumps(shot["assistant"], ensure_ascii=False)})
        messages.append({"role": "user", "content": self.user_turn(request)})
        return messages
