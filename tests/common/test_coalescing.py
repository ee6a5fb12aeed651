"""The coalescing worker: merged batches under load, results routed back, errors delivered, loop kept free."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from common.coalescing import CoalescingWorker


def test_concurrent_requests_are_merged_and_answered_in_order():
    calls: list[int] = []
    gate = threading.Event()

    def double(items: list[int]) -> list[int]:
        gate.wait(5)  # hold the first batch so the others queue up behind it
        calls.append(len(items))
        return [2 * i for i in items]

    worker = CoalescingWorker(double, max_items=100)

    async def main() -> list[list[int]]:
        first = asyncio.create_task(worker.submit([0]))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(worker.submit([i, i + 100])) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        gate.set()
        return [await first] + [await task for task in rest]

    results = asyncio.run(main())
    assert results == [[0]] + [[2 * i, 2 * (i + 100)] for i in range(1, 6)]
    assert calls == [1, 10]  # the five queued requests ran as one batch


def test_an_error_reaches_every_caller_of_the_batch_and_the_worker_survives():
    def flaky(items: list[str]) -> list[str]:
        if "boom" in items:
            raise ValueError("bad item")
        return items

    worker = CoalescingWorker(flaky)

    async def main() -> None:
        with pytest.raises(ValueError, match="bad item"):
            await worker.submit(["boom"])
        assert await worker.submit(["ok"]) == ["ok"]

    asyncio.run(main())


def test_a_cancelled_caller_does_not_break_delivery():
    def slow(items: list[int]) -> list[int]:
        time.sleep(0.1)
        return items

    worker = CoalescingWorker(slow)

    async def main() -> list[int]:
        task = asyncio.create_task(worker.submit([1]))
        await asyncio.sleep(0.01)
        task.cancel()
        return await worker.submit([2])

    assert asyncio.run(main()) == [2]
