"""Every engine family on a tiny random checkpoint, loaded through the real loaders."""

from __future__ import annotations

import pytest

from models import EngineCache, ModelRegistry, load_engine
from models.check import check_spec
from models.engines import ClassifierEngine, DiffusionEngine, GenerationParams, Seq2SeqEngine, TextEngine


@pytest.fixture(scope="module")
def text_engine(tiny_models):
    return load_engine(tiny_models["text"])


def test_text_engine_batched_generate_is_seeded_and_counts_tokens(text_engine):
    assert isinstance(text_engine, TextEngine)
    assert text_engine.engine_name == "transformers" and text_engine.model_name == "tiny-qwen2"
    prompts = [text_engine.format_chat([{"role": "user", "content": "写一条口红笔记"}]), "hello"]
    params = GenerationParams(max_new_tokens=6, temperature=0.8, seed=7)
    first = text_engine.generate(prompts, params)
    again = text_engine.generate(prompts, params)
    assert [g.text for g in first] == [g.text for g in again]
    assert first[0].prompt_tokens > first[1].prompt_tokens  # left padding is not counted
    assert all(1 <= g.completion_tokens <= 6 and g.finish_reason in {"stop", "length"} for g in first)


def test_batching_matches_one_at_a_time(text_engine):
    """Left padding must not change greedy output."""
    prompts = ["这款口红颜色超级显白", "hi"]
    params = GenerationParams(max_new_tokens=5, temperature=0)
    batched = [g.text for g in text_engine.generate(prompts, params)]
    single = [text_engine.generate([p], params)[0].text for p in prompts]
    assert batched == single


def test_stream_yields_the_same_text_as_generate(text_engine):
    params = GenerationParams(max_new_tokens=6, temperature=0)
    pieces = list(text_engine.stream("夏天必备的防晒霜", params))
    assert pieces
    assert "".join(pieces) == text_engine.generate(["夏天必备的防晒霜"], params)[0].text


def test_chat_template_comes_from_the_checkpoint(text_engine):
    prompt = text_engine.format_chat([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    assert prompt.endswith("<|im_start|>assistant\n") and "<|im_start|>system\ns<|im_end|>" in prompt


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
