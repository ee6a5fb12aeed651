"""`CoalescingWorker`: one thread that runs a batch function over whatever requests queued meanwhile.

CPU-bound handlers called through a large thread pool thrash under overload: dozens of threads contend for
the GIL, the event loop starves, every request slows down together and throughput collapses. One worker
thread per process keeps the loop responsive, serves requests in arrival order, and turns a queue into
bigger batches (one classifier product, one database transaction) exactly when load is high.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["CoalescingWorker"]

T = TypeVar("T")
R = TypeVar("R")


def _resolve(future: asyncio.Future, value: object, error: BaseException | None) -> None:
    if future.done():  # the caller went away (client disconnect, timeout)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class CoalescingWorker(Generic[T, R]):
    """`await submit(items)` returns `fn(items)`'s results for those items, computed in a merged batch."""

    def __init__(self, fn: Callable[[list[T]], Sequence[R]], max_items: int = 512, name: str = "coalescing") -> None:
        self._fn = fn
        self._max_items = max_items
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, items: list[T]) -> list[R]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue.put((items, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            size = len(batch[0][0])
            while size < self._max_items:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(batch[-1][0])
            flat = [item for items, _, _ in batch for item in items]
            try:
                results, error = list(self._fn(flat)), None
            except Exception as exc:  # delivered to every caller of this batch, the worker lives on
                results, error = [], exc
            offset = 0
            for items, future, loop in batch:
                chunk = results[offset : offset + len(items)] if error is None else None
                offset += len(items)
                loop.call_soon_threadsafe(_resolve, future, chunk, error)
