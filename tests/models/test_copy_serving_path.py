"""The experimental transformers serving path (`options.scheduler: static`) on CPU: same tokens as
`generate()`, continuous admission, streaming, per-row seeds, constrained notes, cancellation that frees the
slot at the next step, and a closed set of shapes after warm-up."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from models.engines.base import GenerationParams
from models.loader import load_engine

PROMPTS = [
    "这款口红颜色超级显白",
    "夏天必备的防晒霜，清爽不油腻，户外运动也不怕晒黑。" * 3,
    "价格",
    "The dress fabric is soft and breathable; pair it with white sneakers. " * 4,
    "开箱：这台咖啡机颜值很高",
    "平价好物分享 | 学生党也能入手的护肤套装",
    "#好物推荐 #护肤",
]


@pytest.fixture(scope="module")
def engines(tiny_models):
    spec = tiny_models["text"]
    plain = load_engine(spec)
    served = load_engine(
        spec.model_copy(update={"options": {"scheduler": "static", "slots": 3, "max_len": 4096, "warmup": True}})
    )
    yield plain, served
    plain.close()
    served.close()


def test_greedy_tokens_match_generate_with_more_requests_than_slots(engines):
    plain, served = engines
    params = GenerationParams(max_new_tokens=24, temperature=0.0)
    expected = plain.generate_many_sync(PROMPTS, params)
    got = served.generate_many_sync(PROMPTS, params)
    assert [g.text for g in got] == [e.text for e in expected]
    assert [g.completion_tokens for g in got] == [e.completion_tokens for e in expected]
    assert [g.prompt_tokens for g in got] == [e.prompt_tokens for e in expected]


def test_stream_equals_generate_and_concurrent_callers_share_the_batch(engines):
    _, served = engines
    params = GenerationParams(max_new_tokens=16, temperature=0.0)
    whole = served.generate_sync(PROMPTS[0], params)
    assert "".join(served.stream_sync(PROMPTS[0], params)) == whole.text
    results: dict[int, str] = {}

    def call(index: int) -> None:
        out = served.generate_sync(PROMPTS[index], GenerationParams(max_new_tokens=12, temperature=0.9, seed=index))
        results[index] = out.text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == list(range(len(PROMPTS)))


def test_no_new_shapes_after_warmup(engines):
    _, served = engines
    warmed = set(served.scheduler.shapes)
    served.generate_many_sync(PROMPTS, GenerationParams(max_new_tokens=40, temperature=0.7, seed=1))
    assert served.scheduler.shapes == warmed


def test_constrained_notes_through_the_scheduler(engines):
    from generation.copy.llm import LLMCopyEngine
    from generation.copy.request import NoteRequest
    from generation.copy.schema import TITLE_MAX_CHARS

    _, served = engines
    writer = LLMCopyEngine(served)
    request = NoteRequest(product="山茶集防晒霜", category="防晒", length="short")
    notes = asyncio.run(writer.write_many([(request, 4), (request, 5)]))
    for note in notes:  # the model's own answer, before any tidying or filling
        raw = json.loads(note.raw, strict=False)
        assert len(raw["titles"]) == 3 and all(len(t.replace("\ufffd", "")) <= TITLE_MAX_CHARS for t in raw["titles"])
        assert 5 <= len(raw["hashtags"]) <= 8 and 2 <= len(raw["paragraphs"]) <= 3


def test_each_row_reproduces_alone_with_its_seed(engines):
    _, served = engines
    rows = [GenerationParams(max_new_tokens=12, temperature=1.0, seed=s) for s in (21, 22, 23)]
    batch = served.generate_many_sync(PROMPTS[:3], rows)
    assert served.generate_sync(PROMPTS[2], rows[2]).text == batch[2].text
    assert served.generate_many_sync([PROMPTS[4], PROMPTS[2]], [rows[0], rows[2]])[1].text == batch[2].text


LONG = GenerationParams(max_new_tokens=3000, temperature=0.8, seed=1)


def _no_eos(served):
    """A random model may sample its end-of-sequence token at any step: take it out for the long requests."""
    scheduler = served.scheduler
    saved, scheduler.eos = scheduler.eos, set()
    return scheduler, saved


def test_closing_a_stream_frees_the_slot_at_the_next_step(engines):
    _, served = engines
    scheduler, saved = _no_eos(served)
    try:

        async def first_piece_then_close() -> tuple[int, int]:
            stream = served.stream(PROMPTS[0], LONG)
            await anext(stream)
            at_close = scheduler.forward_passes
            await stream.aclose()  # returns when the scheduler has freed the slot
            return at_close, scheduler.forward_passes

        at_close, after = asyncio.run(first_piece_then_close())
    finally:
        scheduler.eos = saved
    assert scheduler.cancelled_steps[-1] <= 1, "the cancelled request took part in more than one step"
    assert after - at_close <= 1 and all(slot is None for slot in scheduler._active)
    time.sleep(0.2)
    assert scheduler.forward_passes == after  # the scheduler is idle: nothing decodes on


def test_cancelling_generate_frees_every_slot(engines):
    _, served = engines
    scheduler, saved = _no_eos(served)
    try:

        async def cancel_batch() -> int:
            before = scheduler.forward_passes
            task = asyncio.create_task(served.generate_many(PROMPTS[:5], LONG))  # 5 requests, 3 slots
            while scheduler.forward_passes < before + 5:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return before

        before = asyncio.run(cancel_batch())
        deadline = time.monotonic() + 10
        while any(scheduler._active) or scheduler._waiting:
            assert time.monotonic() < deadline, "slots still busy after the call was cancelled"
            time.sleep(0.01)
    finally:
        scheduler.eos = saved
    assert scheduler.forward_passes - before < 300
    assert max(list(scheduler.cancelled_steps)[-3:]) <= 1


def test_request_longer_than_the_cache_is_refused(engines):
    _, served = engines
    with pytest.raises(ValueError, match="max_len"):
        served.generate_sync("好" * 50, GenerationParams(max_new_tokens=4090))


def test_stop_strings_end_generation_like_generate(engines):
    plain, served = engines
    params = GenerationParams(max_new_tokens=24, temperature=0.0)
    for prompt in PROMPTS[:4]:
        full = plain.generate_sync(prompt, params)
        if len(full.text) < 4:
            continue
        stop = full.text[len(full.text) // 2 : len(full.text) // 2 + 2]
        cut = served.generate_sync(prompt, GenerationParams(max_new_tokens=24, temperature=0.0, stop=[stop]))
        assert cut.text == full.text[: full.text.index(stop)] and cut.finish_reason == "stop"
        streamed = "".join(
            served.stream_sync(prompt, GenerationParams(max_new_tokens=24, temperature=0.0, stop=[stop]))
        )
        assert streamed == cut.text


def test_compiled_steps_trace_every_shape_at_warmup_and_never_again(tiny_models):
    """torch.compile (backend `eager`: real dynamo tracing and guards, no codegen) sees each bucketed shape
    once at warm-up; traffic of mixed lengths adds no graph and gives the same tokens as `generate()`."""
    from torch._dynamo.utils import counters

    spec = tiny_models["text"]
    options = {"scheduler": "static", "slots": 3, "max_len": 256, "compile": True, "compile_backend": "eager"}
    plain = load_engine(spec)
    compiled = load_engine(spec.model_copy(update={"options": options}))
    try:
        graphs = counters["stats"]["unique_graphs"]
        params = GenerationParams(max_new_tokens=30, temperature=0.0)
        got = compiled.generate_many_sync(PROMPTS[:5], params)
        assert counters["stats"]["unique_graphs"] == graphs
        assert [g.text for g in got] == [e.text for e in plain.generate_many_sync(PROMPTS[:5], params)]
    finally:
        compiled.close()
        plain.close()
