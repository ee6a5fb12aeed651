"""Real clean Chinese prose from installed packages: negatives for calibration and a precision regression set.

The sources (`data/precision_corpus.yaml`) are manuals and UI catalogs that registry packages ship: human-written,
outside this project, clean by construction. `load_precision_corpus` reads them from the installed packages,
strips markup and format placeholders, splits sentences, keeps those with enough Han characters, dedupes, and
splits them by a hash of the text into a calibration part (training negatives, threshold calibration) and a
held-out part (only the regression test and the benchmark read it). The same installed files give the same
sentences in the same order on every run.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

import yaml

__all__ = ["ProseSentence", "CorpusMissing", "load_precision_corpus", "corpus_sources", "DEFAULT_CORPUS_SPEC"]

DEFAULT_CORPUS_SPEC = Path(__file__).with_name("data") / "precision_corpus.yaml"

Part = Literal["calibration", "heldout", "all"]

_HAN = re.compile(r"[\u3400-\u9fff]")
# Sentence ends: Chinese and Western terminal punctuation (kept with the sentence), and block boundaries.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|\x00")
# Format placeholders of catalogs: %s %d %(name)s %1 {name} {0} — a program fills them, no person wrote them.
_PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)[sdif]|%\d+|%[-+ #0]*\d*(?:\.\d+)?[sdifxXuc]|\{[A-Za-z_0-9]*\}")
# A line break inside running Chinese text is source wrapping, not a space.
_WRAPPED = re.compile(
    r"(?<=[\u3400-\u9fff\u3000-\u303f\uff00-\uffef])\s*\n\s*(?=[\u3400-\u9fff\u3000-\u303f\uff00-\uffef])"
)


class CorpusMissing(RuntimeError):
    """A source package is not installed; the message names it and how to install it."""


@dataclass(frozen=True)
class ProseSentence:
    text: str
    source: str


class _HtmlText(HTMLParser):
    """Text of an HTML page outside <pre>/<script>/<style>; block elements end sentences."""

    _SKIP = frozenset({"pre", "script", "style", "head"})
    _BLOCK = frozenset(
        {"p", "li", "td", "th", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "title", "tr", "table"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIP:
            self._skip += 1
        if tag in self._BLOCK:
            self.parts.append("\x00")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        if tag in self._BLOCK:
            self.parts.append("\x00")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_texts(path: Path) -> list[str]:
    parser = _HtmlText()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return ["".join(parser.parts)]


def _gettext_json_texts(path: Path) -> list[str]:
    catalog = json.loads(path.read_text(encoding="utf-8"))
    texts = []
    for key, value in catalog.items():
        if key and isinstance(value, list):
            texts += [v for v in value if isinstance(v, str)]
    return texts


_READERS = {"html": _html_texts, "gettext-json": _gettext_json_texts}


def split_sentences(text: str, min_han: int) -> list[str]:
    """Sentences of `text` with at least `min_han` Han characters, placeholders removed, spaces collapsed."""
    text = _PLACEHOLDER.sub("", _WRAPPED.sub("", text))
    sentences = []
    for piece in _SENTENCE_END.split(text.replace("\n\n", "\x00")):
        sentence = re.sub(r"\s+", " ", piece).strip()
        if len(_HAN.findall(sentence)) >= min_han:
            sentences.append(sentence)
    return sentences


def _source_files(source: dict) -> list[Path]:
    if source["installer"] == "pip":
        spec = importlib.util.find_spec(source["module"])
        if spec is None or spec.origin is None:
            raise CorpusMissing(
                f"precision corpus source {source['name']!r} needs the PyPI package {source['package']!r}: "
                f"pip install {source['package']} (a dependency of this project: `pip install -e .`)"
            )
        root = Path(spec.origin).parent
        patterns = [str(root / pattern) for pattern in source["files"]]
    else:
        patterns = list(source["files"])
    files = sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})
    if not files:
        install = (
            f"apt-get install {source['package']} (or `make corpus`)"
            if source["installer"] == "apt"
            else f"pip install {source['package']}"
        )
        raise CorpusMissing(
            f"precision corpus source {source['name']!r}: no file matches {patterns}; "
            f"install the {source['installer']} package {source['package']!r}: {install}"
        )
    return files


def corpus_sources(spec: Path = DEFAULT_CORPUS_SPEC) -> list[dict]:
    """The source entries of the corpus spec (name, package, installer, licence, format, files)."""
    return yaml.safe_load(spec.read_text(encoding="utf-8"))["sources"]


def _in_calibration(text: str, share: int) -> bool:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 100 < share


def load_precision_corpus(part: Part = "all", spec: Path = DEFAULT_CORPUS_SPEC) -> list[ProseSentence]:
    """Deduplicated sentences of every source, in source and file order, restricted to `part`.

    Raises:
        CorpusMissing: a source package is not installed (the message says what to install).
        ValueError: `part` is not one of calibration / heldout / all.
    """
    if part not in ("calibration", "heldout", "all"):
        raise ValueError(f"part must be 'calibration', 'heldout' or 'all', got {part!r}")
    sentences = _load_all(spec.resolve())
    if part == "all":
        return list(sentences)
    share = yaml.safe_load(spec.read_text(encoding="utf-8"))["calibration_share"]
    keep = part == "calibration"
    return [s for s in sentences if _in_calibration(s.text, share) == keep]


@functools.lru_cache(maxsize=2)
def _load_all(spec: Path) -> tuple[ProseSentence, ...]:
    config = yaml.safe_load(spec.read_text(encoding="utf-8"))
    seen: set[str] = set()
    out: list[ProseSentence] = []
    for source in config["sources"]:
        reader = _READERS[source["format"]]
        for path in _source_files(source):
            for text in reader(path):
                for sentence in split_sentences(text, config["min_han"]):
                    if sentence not in seen:
                        seen.add(sentence)
                        out.append(ProseSentence(sentence, source["name"]))
    return tuple(out)
