"""Every engine family on a tiny random checkpoint, loaded through the real loaders."""

from __future__ import annotations

import asyncio
import time

import pytest

from models import EngineCache, ModelRegistry, load_engine
from models.check import check_spec
from models.engines import ClassifierEngine, DiffusionEngine, GenerationParams, Seq2SeqEngine, TextEngine

MESSAGES = [{"role": "user", "content": "写一条口红笔记"}]


@pytest.fixture(scope="module")
def text_engine(tiny_models):
    engine = load_engine(tiny_models["text"])
    yield engine
    engine.close()


def run(coro):
    return asyncio.run(coro)


async def collect(stream) -> list[str]:
    return [piece async for piece in stream]


def test_text_engine_batched_generate_is_seeded_and_counts_tokens(text_engine):
    assert isinstance(text_engine, TextEngine)
    assert text_engine.engine_name == "transformers" and text_engine.model_name == "tiny-qwen2"
    prompts = [MESSAGES, "hello"]
    params = GenerationParams(max_new_tokens=6, temperature=0.8, seed=7)
    first = run(text_engine.generate_many(prompts, params))
    again = run(text_engine.generate_many(prompts, params))
    assert [g.text for g in first] == [g.text for g in again]
    assert first[0].prompt_tokens > first[1].prompt_tokens  # left padding is not counted
    # "length" exactly when the budget was used up; "stop" (EOS) before it.
    assert all(1 <= g.completion_tokens <= 6 for g in first)
    assert all((g.finish_reason == "length") == (g.completion_tokens == 6) for g in first), first


def test_each_row_reproduces_alone_with_its_seed(text_engine):
    """Per-row params: every row samples from its own generator, so its text does not depend on the batch."""
    rows = [GenerationParams(max_new_tokens=10, temperature=1.0, seed=s) for s in (11, 12, 13)]
    batch = run(text_engine.generate_many([MESSAGES, "hello there", MESSAGES], rows))
    alone = run(text_engine.generate(MESSAGES, rows[2]))
    other_batch = run(text_engine.generate_many(["价格", MESSAGES], [rows[0], rows[2]]))
    assert alone.text == batch[2].text == other_batch[1].text
    assert batch[0].text != batch[2].text  # same prompt, other seed
    # one params object for many prompts: row i samples with seed + i
    shared = run(text_engine.generate_many([MESSAGES, MESSAGES], GenerationParams(max_new_tokens=10, seed=12)))
    assert shared[1].text == run(text_engine.generate(MESSAGES, GenerationParams(max_new_tokens=10, seed=13))).text


def test_rows_keep_their_own_token_limits(text_engine):
    rows = [GenerationParams(max_new_tokens=n, temperature=0, extra={"min_new_tokens": n}) for n in (3, 9)]
    short, long = run(text_engine.generate_many(["hi", "hi"], rows))
    assert (short.completion_tokens, long.completion_tokens) == (3, 9)
    assert short.finish_reason == long.finish_reason == "length"


def test_batching_matches_one_at_a_time(text_engine):
    """Left padding must not change greedy output."""
    prompts = ["这款口红颜色超级显白", "hi"]
    params = GenerationParams(max_new_tokens=5, temperature=0)
    batched = [g.text for g in run(text_engine.generate_many(prompts, params))]
    single = [run(text_engine.generate(p, params)).text for p in prompts]
    assert batched == single


def test_stream_yields_the_same_text_as_generate(text_engine):
    params = GenerationParams(max_new_tokens=12, temperature=0.9, seed=4)
    pieces = run(collect(text_engine.stream("夏天必备的防晒霜", params)))
    assert pieces
    assert "".join(pieces) == run(text_engine.generate("夏天必备的防晒霜", params)).text
    assert "".join(text_engine.stream_sync("夏天必备的防晒霜", params)) == "".join(pieces)


def test_stream_cuts_at_stop_strings_like_generate(text_engine):
    params = GenerationParams(max_new_tokens=24, temperature=0)
    full = text_engine.generate_sync("夏天必备的防晒霜", params).text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = GenerationParams(max_new_tokens=24, temperature=0, stop=[stop])
    expected = text_engine.generate_sync("夏天必备的防晒霜", cut)
    assert expected.text == full[: full.index(stop)] and expected.finish_reason == "stop"
    assert "".join(text_engine.stream_sync("夏天必备的防晒霜", cut)) == expected.text


LONG = GenerationParams(max_new_tokens=1500, temperature=0.8, seed=1, extra={"min_new_tokens": 1500})


def test_closing_a_stream_stops_generation_within_one_forward_pass(text_engine):
    async def first_piece_then_close() -> tuple[int, int]:
        stream = text_engine.stream(MESSAGES, LONG)
        await anext(stream)
        at_close = text_engine.forward_passes
        await stream.aclose()  # returns once the worker has stopped
        return at_close, text_engine.forward_passes

    before = text_engine.forward_passes
    at_close, after = run(first_piece_then_close())
    assert after - at_close <= 1, f"{after - at_close} forward passes after the stream was closed"
    assert after - before < 200  # stopped early, nowhere near 1,500 tokens
    assert text_engine.cancelled_steps[-1] <= 1
    time.sleep(0.2)
    assert text_engine.forward_passes == after  # and nothing runs on in the background


def test_cancelling_the_consumer_task_stops_generation(text_engine):
    async def cancel_consumer() -> tuple[int, int]:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in text_engine.stream(MESSAGES, LONG):
                started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        at_cancel = text_engine.forward_passes
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return at_cancel, text_engine.forward_passes

    at_cancel, after = run(cancel_consumer())
    assert after - at_cancel <= 1 and text_engine.cancelled_steps[-1] <= 1


def test_cancelling_generate_many_stops_every_row(text_engine):
    async def cancel_batch() -> tuple[int, int]:
        before = text_engine.forward_passes
        task = asyncio.create_task(text_engine.generate_many([MESSAGES, "hi"], LONG))
        while text_engine.forward_passes < before + 5:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return before, text_engine.forward_passes

    before, after = run(cancel_batch())
    assert after - before < 200 and text_engine.cancelled_steps[-1] <= 1


def test_calls_take_turns_and_one_cancelled_while_waiting_never_starts(text_engine):
    async def scenario() -> tuple[int, int]:
        first = text_engine.stream(MESSAGES, LONG)
        await anext(first)  # this generation has the model
        waiting = asyncio.create_task(text_engine.generate("hi", LONG))
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        recorded = text_engine.cancelled_steps[-1]
        await first.aclose()
        return recorded, text_engine.cancelled_steps[-1]

    waited, first = run(scenario())
    assert waited == 0  # cancelled before its turn: not one forward pass
    assert first <= 1


def test_sync_stream_closed_early_stops_generation(text_engine):
    pieces = text_engine.stream_sync(MESSAGES, LONG)
    next(pieces)
    pieces.close()
    assert text_engine.cancelled_steps[-1] <= 1
    with pytest.raises(RuntimeError, match="running event loop"):

        async def misuse() -> None:
            text_engine.generate_sync("hi")

        run(misuse())


def test_chat_template_comes_from_the_checkpoint(text_engine):
    prompt = text_engine.format_chat([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    assert prompt.endswith("<|im_start|>assistant\n") and "<|im_start|>system\ns<|im_end|>" in prompt
    with pytest.raises(ValueError, match="chat messages"):
        run(text_engine.generate([{"text": "no role"}]))


def test_generation_params_are_validated():
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerationParams(top_p=0)


def test_seq2seq_engine(tiny_models):
    engine = load_engine(tiny_models["seq2seq"])
    assert isinstance(engine, Seq2SeqEngine)
    outputs = engine.generate(["你好，世界", "hello"], max_new_tokens=4)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_classifier_engine_scores_sum_to_one(tiny_models):
    engine = load_engine(tiny_models["classifier"])
    assert isinstance(engine, ClassifierEngine)
    assert engine.labels == ["clean", "ad_law", "diversion"]
    scores = engine.classify(["全网最低价，加微信", "普通的描述"])
    assert [sorted(s) for s in scores] == [sorted(engine.labels)] * 2
    assert all(abs(sum(s.values()) - 1) < 1e-5 for s in scores)
    multi = engine.classify(["x"], multi_label=True)[0]
    assert all(0 < v < 1 for v in multi.values())


def test_diffusion_engine_reports_progress_and_is_seeded(tiny_models):
    engine = load_engine(tiny_models["diffusion"])
    assert isinstance(engine, DiffusionEngine) and engine.engine_name == "diffusers"
    steps: list[tuple[int, int]] = []
    first = engine.text_to_image("红色口红", num_inference_steps=2, seed=3, callback=lambda s, t: steps.append((s, t)))
    second = engine.text_to_image("红色口红", num_inference_steps=2, seed=3)
    assert steps == [(1, 2), (2, 2)]
    assert first[0].size == (64, 64)
    assert first[0].tobytes() == second[0].tobytes()


def test_engine_cache_loads_once(tiny_registry_file):
    cache = EngineCache(ModelRegistry.from_yaml(tiny_registry_file))
    assert cache.get("tiny-bert") is cache.get("tiny-bert")
    cache.close()


def test_check_spec_loads_and_reports(tiny_models, tmp_path):
    ok = check_spec(tiny_models["classifier"], load=True)
    assert ok.ok and ok.loaded and ok.origin == "local" and ok.load_seconds is not None
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    (broken_dir / "config.json").write_text("{not json")
    broken = check_spec(tiny_models["classifier"].model_copy(update={"source": str(broken_dir)}), load=True)
    assert not broken.ok and "failed to load" in broken.problem
