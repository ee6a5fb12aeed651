"""Encoder-decoder models (MarianMT, M2M100, NLLB) through CTranslate2: int8 on CPU, batched `translate_batch`.

`source` is a directory written by `notestudio models convert` (`models.convert.convert_to_ctranslate2`): the
CTranslate2 model (`model.bin`, `config.json`, vocabularies) beside the transformers tokenizer files and the
checkpoint's `generation_config.json`. Texts are tokenized with that tokenizer, its ids turned into tokens for
CTranslate2, and the tokens it returns turned back into ids and decoded, so both engines see the same pieces.

Greedy outputs match the transformers engine on the same checkpoint (float32): the checkpoint's forced end token
counts in `max_new_tokens` as it does in transformers, and a multilingual model's target language token is the
`target_prefix`, as `forced_bos_token_id` is there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.engines.base import Seq2SeqEngine
from models.engines.translation import (
    check_options,
    decode_without_languages,
    language_tokens,
    option_int,
)
from models.errors import EngineUnavailableError, MissingWeightsError, ModelConfigError
from models.spec import ModelSpec

__all__ = ["CTranslate2Seq2SeqEngine", "OPTIONS"]

#: Options this engine reads (those of the transformers engine too, so a converted spec keeps its options).
OPTIONS = (
    "compute_type",
    "inter_threads",
    "intra_threads",
    "max_batch_size",
    "max_input_tokens",
    "pairs",
    "languages",
)
#: Compute type when `options.compute_type` is not set, per device.
DEFAULT_COMPUTE_TYPE = {"cpu": "int8", "cuda": "int8_float16"}


def import_ctranslate2() -> Any:
    """`ctranslate2`, or an error that says what to install."""
    try:
        import ctranslate2
    except ImportError as exc:
        raise EngineUnavailableError(
            "engine 'ctranslate2' needs the ctranslate2 package: pip install 'ctranslate2>=4.8,<5'"
        ) from exc
    return ctranslate2


class CTranslate2Seq2SeqEngine(Seq2SeqEngine):
    """Seq2seq generation with a CTranslate2 `Translator`.

    Options:
        compute_type: `int8` (default on CPU), `int8_float32`, `float32`, ...; on CUDA the default is
            `int8_float16`. Must be one `ctranslate2.get_supported_compute_types(device)` lists.
        inter_threads: Batches run in parallel (default 1).
        intra_threads: Threads per batch (default 0: CTranslate2 picks).
        max_batch_size: Texts per `translate_batch` batch (default 32).
        max_input_tokens: Inputs are truncated to this many tokens (default 512).
        pairs / languages: The directions `translate` serves (see `models.engines.translation`).

    `spec.dtype` must stay `auto`: CTranslate2's precision is `options.compute_type`. On AMD CPUs CTranslate2 picks
    oneDNN for its matrix products; forcing Intel MKL there (`CT2_USE_MKL=1`) was ~50x slower on an EPYC.

    Raises (at load):
        ModelConfigError: an unknown or malformed option, or a dtype other than auto (named in the message).
        MissingWeightsError: `source` is not a converted model directory (the message says how to convert).
        EngineUnavailableError: ctranslate2 is not installed, or the device is not available.
    """

    engine_name = "ctranslate2"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        # 1. check the spec
        ctranslate2 = import_ctranslate2()
        check_options(spec.name, spec.options, OPTIONS)
        if spec.dtype != "auto":
            raise ModelConfigError(
                f"model {spec.name!r}: engine ctranslate2 ignores dtype ({spec.dtype!r}); leave dtype: auto and set "
                "options.compute_type (int8, int8_float32, float32, ...)"
            )
        self.max_batch_size = option_int(spec.name, spec.options, "max_batch_size", 32, 1)
        self.max_input_tokens = option_int(spec.name, spec.options, "max_input_tokens", 512, 1)
        inter_threads = option_int(spec.name, spec.options, "inter_threads", 1, 1)
        intra_threads = option_int(spec.name, spec.options, "intra_threads", 0, 0)
        self.device, device_index = _device(ctranslate2, spec.device)
        self.compute_type = _compute_type(ctranslate2, spec, self.device)
        if not (weights / "model.bin").is_file():
            raise MissingWeightsError(
                f"model {spec.name!r}: {weights} is not a CTranslate2 model directory (no model.bin); write one with "
                "`notestudio models convert NAME --out DIR` and point `source` at DIR"
            )
        # 2. load the tokenizer, the translator and the checkpoint's decoding settings
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(weights)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(
                f"model {spec.name!r}: no tokenizer files in {weights} ({exc}); convert again with "
                "`notestudio models convert`, which copies them"
            ) from exc
        self.translator = ctranslate2.Translator(
            str(weights),
            device=self.device,
            device_index=device_index,
            compute_type=self.compute_type,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
        )
        generation = _generation_config(weights)
        #: transformers forces the end token as the last of `max_new_tokens`; CTranslate2 does not count it.
        self._forced_eos = generation.get("forced_eos_token_id") is not None
        self._decode_options: dict[str, Any] = {}
        if generation.get("no_repeat_ngram_size"):
            self._decode_options["no_repeat_ngram_size"] = int(generation["no_repeat_ngram_size"])
        if generation.get("repetition_penalty") not in (None, 1.0):
            self._decode_options["repetition_penalty"] = float(generation["repetition_penalty"])
        # 3. language tokens of a multilingual model
        self._language_tokens = language_tokens(spec.name, self.tokenizer, self.languages)
        self._drop_ids = {self.tokenizer.convert_tokens_to_ids(t) for t in self._language_tokens.values()}
        self._tokenizer_lock = threading.Lock()

    def generate(self, texts: Sequence[str], max_new_tokens: int = 256, num_beams: int = 1) -> list[str]:
        return self._run(list(texts), None, None, max_new_tokens=max_new_tokens, num_beams=num_beams)

    def _translate(
        self, texts: list[str], source: str, target: str, *, num_beams: int, max_new_tokens: int
    ) -> list[str]:
        if not self.languages.multilingual:
            return self._run(texts, None, None, max_new_tokens=max_new_tokens, num_beams=num_beams)
        src_lang = self.languages.model_code(source)
        return self._run(
            texts, src_lang, self._language_tokens[target], max_new_tokens=max_new_tokens, num_beams=num_beams
        )

    def _run(
        self, texts: list[str], src_lang: str | None, target_token: str | None, *, max_new_tokens: int, num_beams: int
    ) -> list[str]:
        if not texts:
            return []
        # 1. ids -> tokens, with the source language set for a multilingual tokenizer
        with self._tokenizer_lock:
            if src_lang is not None:
                self.tokenizer.src_lang = src_lang
            ids = self.tokenizer(texts, truncation=True, max_length=self.max_input_tokens)["input_ids"]
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        # 2. translate; a forced end token is one of transformers' max_new_tokens, CTranslate2 leaves it out
        length = max(1, max_new_tokens - 1) if self._forced_eos else max_new_tokens
        results = self.translator.translate_batch(
            tokens,
            target_prefix=[[target_token]] * len(tokens) if target_token else None,
            beam_size=num_beams,
            max_batch_size=self.max_batch_size,
            max_decoding_length=length,
            **self._decode_options,
        )
        # 3. tokens -> ids -> text
        out_ids = [self.tokenizer.convert_tokens_to_ids(result.hypotheses[0]) for result in results]
        return decode_without_languages(self.tokenizer, out_ids, self._drop_ids)


def _device(ctranslate2: Any, requested: str) -> tuple[str, int]:
    """(`cpu` | `cuda`, device index) from a spec's device."""
    cuda_count = ctranslate2.get_cuda_device_count()
    if requested == "auto":
        return ("cuda", 0) if cuda_count else ("cpu", 0)
    if requested == "cpu":
        return "cpu", 0
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        if index >= cuda_count:
            raise EngineUnavailableError(
                f"device {requested!r} requested but CTranslate2 sees {cuda_count} CUDA device(s); set `device: cpu` "
                "or install a CUDA build of ctranslate2"
            )
        return "cuda", index
    raise EngineUnavailableError(f"engine ctranslate2 runs on cpu or cuda, not {requested!r}; set `device: cpu`")


def _compute_type(ctranslate2: Any, spec: ModelSpec, device: str) -> str:
    value = spec.options.get("compute_type", DEFAULT_COMPUTE_TYPE[device])
    supported = set(ctranslate2.get_supported_compute_types(device)) | {"default", "auto"}
    if value not in supported:
        raise ModelConfigError(
            f"model {spec.name!r}: options.compute_type {value!r} is not supported on {device}; use one of: "
            f"{', '.join(sorted(supported))}"
        )
    return value


def _generation_config(weights: Path) -> dict[str, Any]:
    """The checkpoint's `generation_config.json` (copied there by the conversion), or nothing."""
    path = weights / "generation_config.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
