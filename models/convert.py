"""Offline conversion of a transformers seq2seq checkpoint to a CTranslate2 model directory.

`convert_to_ctranslate2` reads the weights where the registry finds them (a local directory or the local HF
cache, never the network), converts them with `ctranslate2.converters.TransformersConverter`, copies the
tokenizer files and the generation config beside the converted model, checks that every vocabulary row still
names the token the tokenizer gives that id, and returns the spec of the new model (`<name>-ct2`, engine
`ctranslate2`, the same options plus `compute_type`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from models.engines.ctranslate2_seq2seq import import_ctranslate2
from models.errors import ModelConfigError
from models.registry import resolve_weights
from models.spec import EngineKind, ModelSpec, Task

__all__ = ["QUANTIZATIONS", "convert_to_ctranslate2"]

#: Weight types CTranslate2 can store (int8 for CPU; float16 / int8_float16 / bfloat16 for GPUs).
QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")


def convert_to_ctranslate2(
    spec: ModelSpec, out_dir: Path, quantization: str = "int8", force: bool = False
) -> ModelSpec:
    """Convert the transformers seq2seq model of `spec` into `out_dir`.

    Args:
        spec: A `seq2seq` model on the `transformers` engine.
        out_dir: Directory to write (the converted model and the tokenizer files).
        quantization: Weight type stored (see `QUANTIZATIONS`); also the new spec's `options.compute_type`.
        force: Replace `out_dir` when it exists.

    Returns:
        The spec to add to the registry: name `<name>-ct2`, engine `ctranslate2`, `source` the absolute `out_dir`.

    Raises:
        ValueError: a bad argument (named in the message).
        MissingWeightsError: the weights are not on disk.
        EngineUnavailableError: ctranslate2 is not installed.
        ModelConfigError: CTranslate2 cannot convert this checkpoint, or the converted vocabulary does not line up
            with the tokenizer.
    """
    # 1. check inputs
    if spec.task is not Task.SEQ2SEQ or spec.engine is not EngineKind.TRANSFORMERS:
        raise ValueError(
            f"model {spec.name!r}: only seq2seq models on the transformers engine convert to CTranslate2, got "
            f"task {spec.task.value!r}, engine {spec.engine.value!r}"
        )
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    out_dir = Path(out_dir).expanduser().resolve()
    if out_dir.exists() and not force:
        raise ValueError(f"out_dir {out_dir} already exists; pass force=True (--force) to replace it")
    weights = resolve_weights(spec).path
    if out_dir == weights or out_dir in weights.parents:
        raise ValueError(f"out_dir {out_dir} holds the checkpoint being converted; choose another directory")
    import_ctranslate2()

    # 2. convert into a scratch directory next to out_dir, so a failure leaves no half-written model
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(weights)
    _check_layout(spec, AutoConfig.from_pretrained(weights), tokenizer)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        converted = scratch / "model"
        try:
            _converter(str(weights)).convert(str(converted), quantization=quantization)
        except (ValueError, NotImplementedError, KeyError) as exc:
            raise ModelConfigError(f"model {spec.name!r} cannot be converted to CTranslate2: {exc}") from exc
        tokenizer.save_pretrained(converted)
        _save_generation_config(weights, converted)
        _check_vocabulary(spec, converted, tokenizer)
        # 3. move it into place
        if out_dir.exists():
            shutil.rmtree(out_dir)
        converted.rename(out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    # 4. the registry entry
    return ModelSpec(
        name=f"{spec.name}-ct2",
        task=Task.SEQ2SEQ,
        engine=EngineKind.CTRANSLATE2,
        source=str(out_dir),
        device=spec.device,
        licence=spec.licence,
        description=f"{spec.name} converted to CTranslate2 ({quantization} weights)",
        options={**spec.options, "compute_type": quantization},
    )


class _TokenizerView:
    """The tokenizer as CTranslate2's converter reads it, with M2M100's language tokens in `get_vocab()`.

    transformers 5's M2M100Tokenizer leaves its `__xx__` tokens out of `get_vocab()` and of the special tokens map,
    so CTranslate2 4.x would build a vocabulary 100 tokens short of the model's.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self._tokenizer.get_vocab())
        vocab.update(getattr(self._tokenizer, "lang_token_to_id", {}))
        return vocab


def _converter(path: str) -> Any:
    """A `TransformersConverter` that reads the tokenizer through `_TokenizerView`."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return _TokenizerView(super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs))

    return Converter(path)


def _check_layout(spec: ModelSpec, config: Any, tokenizer: Any) -> None:
    """CTranslate2 drops a Marian model's LAST vocabulary row, which must be `<pad>` (the opus-mt layout)."""
    if config.model_type == "marian" and tokenizer.pad_token_id != config.vocab_size - 1:
        raise ModelConfigError(
            f"model {spec.name!r}: CTranslate2 converts Marian checkpoints whose <pad> is the last token "
            f"(Helsinki-NLP's layout); this one has <pad> at id {tokenizer.pad_token_id} of {config.vocab_size}"
        )


def _save_generation_config(weights: Path, out: Path) -> None:
    """The checkpoint's decoding settings (forced end token, n-gram blocking), as transformers would use them."""
    from transformers import GenerationConfig

    try:
        generation = GenerationConfig.from_pretrained(weights)
    except OSError:  # no generation_config.json: transformers derives it from config.json
        from transformers import AutoConfig

        generation = GenerationConfig.from_model_config(AutoConfig.from_pretrained(weights))
    generation.save_pretrained(out)


def _check_vocabulary(spec: ModelSpec, converted: Path, tokenizer: Any) -> None:
    """Row i of the converted vocabulary must be the token the tokenizer gives id i (made-up fillers aside)."""
    files = sorted(converted.glob("*_vocabulary.json"))
    if not files:
        raise ModelConfigError(f"model {spec.name!r}: the conversion wrote no vocabulary file in {converted}")
    for file in files:
        tokens = json.loads(file.read_text(encoding="utf-8"))
        expected = tokenizer.convert_ids_to_tokens(list(range(len(tokens))))
        for index, (token, wanted) in enumerate(zip(tokens, expected, strict=True)):
            if token != wanted and not token.startswith("madeupword"):
                raise ModelConfigError(
                    f"model {spec.name!r}: converted vocabulary {file.name} has {token!r} at id {index} where the "
                    f"tokenizer has {wanted!r}; this checkpoint's layout is not one CTranslate2 converts faithfully"
                )
