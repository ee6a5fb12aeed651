"""CTranslate2 engine and offline conversion on tiny Marian (opus-mt layout) and M2M100 checkpoints.

Greedy float32 translations must equal the transformers engine's on the same checkpoint; int8 must run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import EngineUnavailableError, MissingWeightsError, ModelConfigError, ModelSpec, load_engine, testing
from models.convert import convert_to_ctranslate2
from models.engines import Seq2SeqEngine, UnsupportedPairError

TEXTS = [
    "这款口红颜色超级显白，质地滋润不拔干，日常通勤约会都很合适。",
    "价格：99元，包邮，支持七天无理由退货。",
    "Lightweight sunscreen with SPF 50, no white cast.",
    "开箱",
    "",
]
PAIRS = {"marian": ("zh-Hans", "en"), "m2m100": ("zh-Hans", "fr")}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, dict[str, ModelSpec]]:
    """Per family: the transformers spec, its float32 conversion and its int8 conversion."""
    root = tmp_path_factory.mktemp("ct2")
    built = {
        "marian": testing.build_tiny_opus_marian(root / "marian"),
        "m2m100": testing.build_tiny_m2m100(root / "m2m100"),
    }
    return {
        family: {
            "transformers": spec,
            "float32": convert_to_ctranslate2(spec, root / f"{family}-f32", quantization="float32"),
            "int8": convert_to_ctranslate2(spec, root / f"{family}-int8"),
        }
        for family, spec in built.items()
    }


@pytest.fixture(scope="module")
def engines(models) -> dict[tuple[str, str], Seq2SeqEngine]:
    return {(family, kind): load_engine(spec) for family, specs in models.items() for kind, spec in specs.items()}


def test_conversion_returns_the_registry_entry(models):
    spec = models["m2m100"]["int8"]
    assert spec.name == "tiny-m2m100-ct2" and spec.engine.value == "ctranslate2" and spec.task.value == "seq2seq"
    assert spec.options == {"languages": testing.TINY_M2M100_LANGUAGES, "compute_type": "int8"}
    files = {p.name for p in Path(spec.source).iterdir()}
    assert {"model.bin", "config.json", "shared_vocabulary.json", "generation_config.json"} <= files
    assert {"tokenizer_config.json", "vocab.json", "sentencepiece.bpe.model"} <= files  # the tokenizer came along
    assert {"source.spm", "target.spm", "vocab.json"} <= {
        p.name for p in Path(models["marian"]["int8"].source).iterdir()
    }
    # M2M100: 100 language tokens and 8 made-up words beyond the sentencepiece vocabulary, at the model's ids
    vocabulary = json.loads((Path(spec.source) / "shared_vocabulary.json").read_text())
    assert vocabulary[-9] == "__zu__" and vocabulary[-1] == "madeupword7"


@pytest.mark.parametrize("family", ["marian", "m2m100"])
@pytest.mark.parametrize("max_new_tokens", [2, 6, 16])
def test_float32_equals_transformers_greedy(engines, family, max_new_tokens):
    reference = engines[(family, "transformers")].translate(TEXTS, *PAIRS[family], max_new_tokens=max_new_tokens)
    converted = engines[(family, "float32")].translate(TEXTS, *PAIRS[family], max_new_tokens=max_new_tokens)
    assert converted == reference
    if max_new_tokens > 2:
        assert sum(bool(t) for t in converted) == 4  # real outputs, not all empty


def test_float32_equals_transformers_other_directions_and_generate(engines):
    for pair in (("en", "ja"), ("ja", "zh-Hans")):
        reference = engines[("m2m100", "transformers")].translate(TEXTS, *pair, max_new_tokens=8)
        assert engines[("m2m100", "float32")].translate(TEXTS, *pair, max_new_tokens=8) == reference
    reference = engines[("marian", "transformers")].generate(TEXTS[:3], max_new_tokens=8, num_beams=1)
    assert engines[("marian", "float32")].generate(TEXTS[:3], max_new_tokens=8) == reference


def test_int8_runs_by_default_on_cpu(engines):
    for family in PAIRS:
        engine = engines[(family, "int8")]
        assert engine.engine_name == "ctranslate2" and engine.compute_type == "int8"
        out = engine.translate(TEXTS, *PAIRS[family], max_new_tokens=8)
        assert len(out) == 5 and out[-1] == "" and all(out[:4])
        assert out == engine.translate(TEXTS, *PAIRS[family], max_new_tokens=8)  # deterministic


def test_batches_are_split_without_changing_outputs(models):
    whole = load_engine(models["marian"]["float32"]).translate(TEXTS * 3, "zh-Hans", "en", max_new_tokens=6)
    spec = models["marian"]["float32"]
    small = spec.model_copy(update={"options": {**spec.options, "max_batch_size": 2, "intra_threads": 1}})
    assert load_engine(small).translate(TEXTS * 3, "zh-Hans", "en", max_new_tokens=6) == whole


def test_pairs_and_unsupported_pairs(engines):
    assert engines[("marian", "int8")].pairs() == {("zh-Hans", "en")}
    assert engines[("m2m100", "int8")].pairs() == engines[("m2m100", "transformers")].pairs()
    with pytest.raises(UnsupportedPairError, match="it serves zh-Hans -> en"):
        engines[("marian", "int8")].translate(["hello"], "en", "zh-Hans")
    with pytest.raises(UnsupportedPairError, match="any two of"):
        engines[("m2m100", "int8")].translate(["hello"], "en", "ko")


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"options": {"compute_typ": "int8"}}, "unknown option.*compute_typ"),
        ({"options": {"compute_type": "float16"}}, "options.compute_type 'float16' is not supported on cpu"),
        ({"options": {"inter_threads": 0}}, "options.inter_threads"),
        ({"options": {"intra_threads": "two"}}, "options.intra_threads"),
        ({"options": {"pairs": [["zh", "english"]]}}, "'english' is not a language code"),
        ({"dtype": "float16"}, "options.compute_type"),
    ],
)
def test_bad_options_are_named(models, update, message):
    spec = models["marian"]["int8"].model_copy(update=update)
    with pytest.raises(ModelConfigError, match=message):
        load_engine(spec)


def test_unconverted_directory_says_how_to_convert(models):
    spec = ModelSpec(**{**models["marian"]["transformers"].model_dump(), "engine": "ctranslate2", "options": {}})
    with pytest.raises(MissingWeightsError, match="notestudio models convert"):
        load_engine(spec)


def test_cuda_request_without_a_device(models):
    spec = models["marian"]["int8"].model_copy(update={"device": "cuda:3"})
    with pytest.raises(EngineUnavailableError, match="cuda:3"):
        load_engine(spec)


def test_ctranslate2_serves_only_seq2seq():
    with pytest.raises(ValueError, match="cannot run task 'text-generation'"):
        ModelSpec(name="m", task="text-generation", engine="ctranslate2", source="/x")


def test_conversion_refusals(models, tiny_models, tmp_path):
    spec = models["marian"]["transformers"]
    taken = tmp_path / "taken"
    taken.mkdir()
    with pytest.raises(ValueError, match="already exists; pass force=True"):
        convert_to_ctranslate2(spec, taken)
    with pytest.raises(ValueError, match="quantization"):
        convert_to_ctranslate2(spec, tmp_path / "q", quantization="int4")
    with pytest.raises(ValueError, match="holds the checkpoint"):
        convert_to_ctranslate2(spec, Path(spec.source), force=True)
    with pytest.raises(ValueError, match="only seq2seq models on the transformers engine"):
        convert_to_ctranslate2(tiny_models["text"], tmp_path / "qwen")
    # the plain tiny Marian keeps <pad> at id 0: CTranslate2 would drop the wrong row
    with pytest.raises(ModelConfigError, match="<pad> is the last token"):
        convert_to_ctranslate2(tiny_models["seq2seq"], tmp_path / "plain")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing half-written left


def test_conversion_resolves_weights_offline(tmp_path):
    spec = ModelSpec(name="m", task="seq2seq", engine="transformers", source="acme/opus-mt-absent")
    with pytest.raises(MissingWeightsError, match="hf download acme/opus-mt-absent"):
        convert_to_ctranslate2(spec, tmp_path / "out")


def test_force_replaces_a_conversion(models, tmp_path):
    spec = models["marian"]["transformers"]
    out = tmp_path / "out"
    convert_to_ctranslate2(spec, out, quantization="float32")
    converted = convert_to_ctranslate2(spec, out, quantization="int8_float32", force=True)
    assert converted.options["compute_type"] == "int8_float32"
    assert load_engine(converted).translate(["开箱"], "zh-Hans", "en", max_new_tokens=4)[0]
