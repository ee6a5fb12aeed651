"""JSON-schema constrained decoding for in-process transformers engines, through xgrammar.

xgrammar is vLLM's own grammar backend, so the transformers and vLLM engines accept the same schemas with
the same semantics. Text engines read the schema from `GenerationParams.extra["json_schema"]`; compiled
grammars are cached per schema because compiling costs milliseconds to seconds and schemas repeat.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["JSON_SCHEMA_KEY", "SchemaGrammars", "schema_key"]

#: Key of `GenerationParams.extra` that asks any text engine for output valid against a JSON schema.
JSON_SCHEMA_KEY = "json_schema"


def schema_key(schema: dict[str, Any] | str) -> str:
    """Canonical JSON text of a schema (the cache key, and what vLLM/OpenAI servers are sent)."""
    return schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True, ensure_ascii=False)


class SchemaGrammars:
    """Compiles JSON schemas against one tokenizer and hands out fresh logits processors."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:  # pragma: no cover - xgrammar is a core dependency
            from models.errors import EngineUnavailableError

            raise EngineUnavailableError("constrained decoding needs xgrammar: pip install xgrammar==0.2.8") from exc
        self._xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self._compiler = xgr.GrammarCompiler(info)
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compiled(self, schema: dict[str, Any] | str) -> Any:
        """The compiled grammar of `schema` (no free whitespace: fewer tokens, same JSON)."""
        key = schema_key(schema)
        with self._lock:
            grammar = self._compiled.get(key)
            if grammar is None:
                grammar = self._compiler.compile_json_schema(key, any_whitespace=False)
                self._compiled[key] = grammar
            return grammar

    def matcher(self, schema: dict[str, Any] | str) -> Any:
        """A grammar matcher for one sequence (used by the batching scheduler)."""
        return self._xgr.GrammarMatcher(self.compiled(schema))

    def logits_processor(self, schema: dict[str, Any] | str) -> Any:
        """A new transformers `LogitsProcessor` (one per `generate` call: it keeps per-row state)."""
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor(self.compiled(schema))
