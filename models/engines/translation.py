"""What a seq2seq model translates, read from its spec's `options`, and checks shared by the seq2seq engines.

Language codes on our side are spelled as LibreTranslate spells them (`en`, `zh-Hans`, `zh-Hant`, `ja`, `ko`,
`fr`, `de`, `es`, `pt-BR`, ...). A spec declares what its model serves in one of two ways:

- a bilingual model (MarianMT, opus-mt): `options: {pairs: [[zh-Hans, en]]}`, the ordered pairs it translates;
- a multilingual model (M2M100, NLLB): `options: {languages: {en: en, zh-Hans: zh}}`, our code -> the model's own
  code (M2M100 `en`, `zh`; NLLB `eng_Latn`, `zho_Hans`); every ordered pair of two listed languages is served.

The engine sets the tokenizer's `src_lang` to the source's model code and forces the target's language token
as the first generated token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.errors import ModelConfigError

__all__ = [
    "LanguageTable",
    "UnsupportedPairError",
    "check_options",
    "check_translate_args",
    "decode_without_languages",
    "language_token",
    "language_tokens",
    "option_int",
]

#: A LibreTranslate-style code: a 2-3 letter language, then optional script/region subtags (`zh-Hans`, `pt-BR`).
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
#: Bounds of `translate` arguments (the same `max_new_tokens` range as `GenerationParams`).
MAX_NEW_TOKENS = 8192
MAX_BEAMS = 16


class UnsupportedPairError(ValueError):
    """A translation direction the model does not serve; `served` is what it does serve."""

    def __init__(self, model: str, source: str, target: str, served: set[tuple[str, str]], summary: str) -> None:
        super().__init__(f"model {model!r} does not translate {source!r} -> {target!r}; it serves {summary}")
        self.model = model
        self.source = source
        self.target = target
        self.served = served


@dataclass(frozen=True)
class LanguageTable:
    """The directions one model serves (empty when its spec declares none).

    Attributes:
        declared_pairs: Ordered (source, target) pairs of a bilingual model.
        languages: Our code -> the model's code, for a multilingual model.
    """

    declared_pairs: frozenset[tuple[str, str]] = frozenset()
    languages: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, model: str, options: Mapping[str, Any]) -> LanguageTable:
        """Read `options.pairs` or `options.languages`.

        Raises:
            ModelConfigError: both are given, or one is malformed; the message names the option and the value.
        """
        pairs, languages = options.get("pairs"), options.get("languages")
        if pairs is not None and languages is not None:
            raise ModelConfigError(
                f"model {model!r}: options.pairs (bilingual) and options.languages (multilingual) exclude each "
                "other; keep one"
            )
        if pairs is not None:
            return cls(declared_pairs=frozenset(_parse_pairs(model, pairs)))
        if languages is not None:
            return cls(languages=_parse_languages(model, languages))
        return cls()

    @property
    def multilingual(self) -> bool:
        return bool(self.languages)

    def pairs(self) -> set[tuple[str, str]]:
        """Every ordered (source, target) pair served."""
        if self.multilingual:
            return {(s, t) for s in self.languages for t in self.languages if s != t}
        return set(self.declared_pairs)

    def summary(self) -> str:
        if self.multilingual:
            return "any two of: " + ", ".join(sorted(self.languages))
        return ", ".join(f"{s} -> {t}" for s, t in sorted(self.declared_pairs))

    def check(self, model: str, source: str, target: str) -> None:
        """Raise unless `source -> target` is served.

        Raises:
            ModelConfigError: the spec declares no languages at all (a configuration problem, not a bad request).
            UnsupportedPairError: the pair is not served.
        """
        if not self.declared_pairs and not self.languages:
            raise ModelConfigError(
                f"model {model!r} declares no languages; add options.pairs (bilingual, e.g. [[zh-Hans, en]]) or "
                "options.languages (multilingual, e.g. {en: en, zh-Hans: zh}) to its registry entry"
            )
        if (source, target) not in self.pairs():
            raise UnsupportedPairError(model, source, target, self.pairs(), self.summary())

    def model_code(self, code: str) -> str:
        """The model's own code for one of our codes (multilingual models)."""
        return self.languages[code]


def _check_code(model: str, where: str, code: object) -> str:
    if not isinstance(code, str) or not _CODE.match(code):
        raise ModelConfigError(
            f"model {model!r}: {where}: {code!r} is not a language code as LibreTranslate spells them "
            "(en, zh-Hans, zh-Hant, ja, pt-BR, ...)"
        )
    return code


def _parse_pairs(model: str, pairs: object) -> list[tuple[str, str]]:
    if not isinstance(pairs, list) or not pairs:
        raise ModelConfigError(
            f"model {model!r}: options.pairs must be a non-empty list of [source, target], got {pairs!r}"
        )
    parsed = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ModelConfigError(f"model {model!r}: options.pairs[{index}] must be [source, target], got {pair!r}")
        source = _check_code(model, f"options.pairs[{index}][0]", pair[0])
        target = _check_code(model, f"options.pairs[{index}][1]", pair[1])
        if source == target:
            raise ModelConfigError(f"model {model!r}: options.pairs[{index}] translates {source!r} into itself")
        parsed.append((source, target))
    return parsed


def _parse_languages(model: str, languages: object) -> dict[str, str]:
    if not isinstance(languages, Mapping) or len(languages) < 2:
        raise ModelConfigError(
            f"model {model!r}: options.languages must map at least two of our codes to the model's codes "
            f"(e.g. {{en: eng_Latn, zh-Hans: zho_Hans}}), got {languages!r}"
        )
    parsed = {}
    for code, model_code in languages.items():
        _check_code(model, "options.languages", code)
        if not isinstance(model_code, str) or not model_code.strip():
            raise ModelConfigError(
                f"model {model!r}: options.languages.{code} must be the model's language code, got {model_code!r}"
            )
        parsed[code] = model_code
    return parsed


def check_options(model: str, options: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Reject option keys an engine does not read (a typo would otherwise be ignored silently).

    Raises:
        ModelConfigError: naming the unknown keys and the known ones.
    """
    known = set(allowed)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ModelConfigError(
            f"model {model!r}: unknown option(s) {', '.join(unknown)}; this engine reads: {', '.join(sorted(known))}"
        )


def option_int(model: str, options: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    """An integer option >= `minimum`.

    Raises:
        ModelConfigError: naming the option and the bad value.
    """
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelConfigError(f"model {model!r}: options.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_translate_args(texts: Sequence[str], num_beams: int, max_new_tokens: int) -> list[str]:
    """Validate `translate` arguments; returns the texts as a list.

    Raises:
        ValueError: naming the argument and the bad value.
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts: expected a sequence of strings")
    if not _int_in(num_beams, 1, MAX_BEAMS):
        raise ValueError(f"num_beams must be in 1..{MAX_BEAMS}, got {num_beams!r}")
    if not _int_in(max_new_tokens, 1, MAX_NEW_TOKENS):
        raise ValueError(f"max_new_tokens must be in 1..{MAX_NEW_TOKENS}, got {max_new_tokens!r}")
    return list(texts)


def language_token(tokenizer: Any, model_code: str) -> str | None:
    """The vocabulary token that marks `model_code` (M2M100 `__en__`, NLLB `eng_Latn`), or None when absent."""
    get_lang_token = getattr(tokenizer, "get_lang_token", None)  # M2M100 wraps its codes: en -> __en__
    if get_lang_token is not None:
        try:
            token = get_lang_token(model_code)
        except KeyError:
            return None
    else:
        token = model_code
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or (token_id == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return token


def language_tokens(model: str, tokenizer: Any, table: LanguageTable) -> dict[str, str]:
    """Our code -> the model's language token, for every language of a multilingual table.

    Raises:
        ModelConfigError: the tokenizer has no token for some listed model codes (named in the message).
    """
    tokens = {code: language_token(tokenizer, model_code) for code, model_code in table.languages.items()}
    missing = sorted(f"{code}: {table.languages[code]}" for code, token in tokens.items() if token is None)
    if missing:
        raise ModelConfigError(
            f"model {model!r}: options.languages names codes its tokenizer does not know ({', '.join(missing)}); "
            "use the model's own codes (M2M100: en, zh; NLLB: eng_Latn, zho_Hans)"
        )
    return tokens  # type: ignore[return-value]


def decode_without_languages(tokenizer: Any, rows: Iterable[Sequence[int]], language_ids: set[int]) -> list[str]:
    """Decode generated ids without special tokens nor language tokens.

    transformers 5 no longer counts M2M100's `__xx__` tokens as special, so `skip_special_tokens` keeps them;
    the ids of every language token the tokenizer knows (`lang_token_to_id`) and of `language_ids` are dropped here.
    """
    drop = set(language_ids) | set(getattr(tokenizer, "lang_token_to_id", {}).values())
    return tokenizer.batch_decode(
        [[int(i) for i in row if int(i) not in drop] for row in rows], skip_special_tokens=True
    )
