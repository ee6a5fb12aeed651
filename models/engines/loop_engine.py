"""`LoopTextEngine`: the public side of a text engine whose client lives on its own event loop thread.

vLLM's `AsyncLLM` and the `openai` SDK's connection pool are bound to one loop. Such an engine owns a
`LoopThread` (`self._loop`) and implements two coroutines of that loop — `_complete_all(prompts, rows)`
and the async generator `_pieces(prompt, params)`; this base carries calls and streams over to it from any
thread or loop, and cancellation back (closing a stream closes `_pieces` on the engine's loop).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

from models.engines.aio import LoopThread
from models.engines.base import Generation, GenerationParams, Prompt, TextEngine, row_params

__all__ = ["LoopTextEngine"]


class LoopTextEngine(TextEngine):
    _loop: LoopThread

    @abstractmethod
    async def _complete_all(self, prompts: Sequence[Prompt], rows: list[GenerationParams]) -> list[Generation]:
        """Every prompt with its own params, on the engine's loop."""

    @abstractmethod
    def _pieces(self, prompt: Prompt, params: GenerationParams) -> AsyncIterator[str]:
        """Text pieces of one completion, on the engine's loop; closing it must stop the generation."""

    async def generate_many(
        self, prompts: Sequence[Prompt], params: GenerationParams | Sequence[GenerationParams] | None = None
    ) -> list[Generation]:
        rows = row_params(prompts, params)
        return await self._loop.call(self._complete_all(list(prompts), rows))

    async def stream(self, prompt: Prompt, params: GenerationParams | None = None) -> AsyncIterator[str]:
        params = params or GenerationParams()
        async with aclosing(self._loop.stream(lambda: self._pieces(prompt, params))) as pieces:
            async for piece in pieces:
                yield piece
