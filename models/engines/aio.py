"""Async plumbing shared by the text engines: an engine-owned event loop, and sync entry points.

Engines whose client library is bound to one event loop (vLLM's `AsyncLLM`, the `openai` SDK's connection
pool) own a `LoopThread` and run all their I/O on it; `LoopThread.call` and `LoopThread.stream` carry a
coroutine or an async generator over to that loop and the results back to the caller's loop, so engines are
callable from any thread or event loop. Cancellation crosses too: cancelling the caller's task or closing
its iterator cancels the work on the engine's loop (where vLLM aborts the request and the SDK closes the
HTTP stream).

Engines that compute in-process (transformers) run each generation in a worker thread: `call_in_thread` and
`stream_from_thread` bridge it to the caller's loop and call the engine's cancel hook when the caller
cancels or closes, then wait for the worker to notice (one decode step).

`run_sync` / `iterate_sync` are the sync entry points for threads without a running loop (CLI, benchmarks,
job workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["LoopThread", "call_in_thread", "stream_from_thread", "run_sync", "iterate_sync"]

T = TypeVar("T")
_ITEM, _END, _ERROR = 0, 1, 2


class LoopThread:
    """An asyncio event loop running in a daemon thread.

    Args:
        name: Thread name (shows in stack dumps and profilers).
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        """True when called from this loop's own thread."""
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and block this thread until it returns (never call it from the loop)."""
        if self.in_loop():
            raise RuntimeError("LoopThread.run would block its own loop; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the engine's loop from any other loop; cancelling the caller cancels it there."""
        if self.in_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def stream(self, make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Iterate `make()` on the engine's loop, yielding its items on the caller's loop.

        Closing this iterator (or cancelling the task that iterates it) cancels the producer on the engine's
        loop at once; when not itself cancelled, `aclose()` then waits until the producer has finished its
        cleanup (e.g. vLLM's abort has been sent).
        """
        if self.in_loop():
            async for item in make():
                yield item
            return
        caller = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        finished = caller.create_future()

        def deliver(kind: int, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody is listening
                caller.call_soon_threadsafe(items.put_nowait, (kind, value))

        def mark_finished() -> None:
            with contextlib.suppress(RuntimeError):
                caller.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        async def pump() -> None:
            try:
                async for item in make():
                    deliver(_ITEM, item)
                deliver(_END, None)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
                deliver(_ERROR, exc)

        tasks: list[asyncio.Task] = []

        def start() -> None:  # on the engine's loop; a done callback runs even for a task cancelled unstarted
            task = self.loop.create_task(pump())
            task.add_done_callback(lambda _: mark_finished())
            tasks.append(task)

        self.loop.call_soon_threadsafe(start)
        try:
            while True:
                kind, value = await items.get()
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise value
                yield value
        finally:
            # Callbacks run in order: `start` has run by then. Cancelling a finished task is a no-op.
            self.loop.call_soon_threadsafe(lambda: tasks[0].cancel())
            await finished

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop (after running `aclose` hooks of what is still scheduled) and join the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


async def call_in_thread(work: Callable[[], T], cancel: Callable[[], None], name: str) -> T:
    """Run blocking `work()` in a new thread; when the caller is cancelled, call `cancel()` (which must make
    `work` return soon) and wait for the thread before re-raising."""
    caller = asyncio.get_running_loop()
    result = caller.create_future()

    def settle(fn: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):
            caller.call_soon_threadsafe(fn)

    def target() -> None:
        try:
            value = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            settle(lambda exc=exc: result.done() or result.set_exception(exc))
        else:
            settle(lambda value=value: result.done() or result.set_result(value))

    threading.Thread(target=target, name=name, daemon=True).start()
    try:
        return await asyncio.shield(result)
    except asyncio.CancelledError:
        cancel()
        with contextlib.suppress(BaseException):
            await result  # the worker stops within one step; a second cancellation stops the wait only
        raise


async def stream_from_thread(
    work: Callable[[Callable[[T], None]], None], cancel: Callable[[], None], name: str
) -> AsyncIterator[T]:
    """Run blocking `work(emit)` in a new thread and yield what it emits.

    Closing the iterator or cancelling its task calls `cancel()` at once (synchronously, so it holds even
    where every later await is cancelled again, as in an anyio cancel scope) and then waits for the thread.
    """
    caller = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    finished = caller.create_future()

    def deliver(kind: int, value: Any) -> None:
        with contextlib.suppress(RuntimeError):
            caller.call_soon_threadsafe(items.put_nowait, (kind, value))

    def target() -> None:
        try:
            work(lambda item: deliver(_ITEM, item))
            deliver(_END, None)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            deliver(_ERROR, exc)
        finally:
            with contextlib.suppress(RuntimeError):
                caller.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

    threading.Thread(target=target, name=name, daemon=True).start()
    try:
        while True:
            kind, value = await items.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        cancel()
        await finished


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run an engine coroutine from sync code (a thread without a running event loop)."""
    _no_running_loop("run_sync")
    return asyncio.run(_await(make))


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate an engine's async iterator from sync code; closing the sync iterator closes the async one."""
    _no_running_loop("iterate_sync")
    loop = asyncio.new_event_loop()
    agen = make()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        try:
            loop.run_until_complete(agen.aclose())  # type: ignore[attr-defined]
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _no_running_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name} was called from a running event loop: await the engine's coroutine instead")
