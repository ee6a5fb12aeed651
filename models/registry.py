"""The model registry: `ModelSpec`s read from a YAML file, and where their weights are on disk.

Offline by default: no weights are ever downloaded at run time (`HF_HUB_OFFLINE=1` unless
`NOTESTUDIO_ALLOW_DOWNLOADS=1`). A spec's `source` is a local directory or a Hugging Face repo id that must
already be in the local HF cache; anything else raises `MissingWeightsError` with the command that fixes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from models.errors import MissingWeightsError, ModelConfigError, UnknownModelError
from models.spec import EngineKind, ModelSpec

__all__ = ["ModelRegistry", "ResolvedWeights", "default_registry_path", "resolve_weights"]

if os.environ.get("NOTESTUDIO_ALLOW_DOWNLOADS", "0") not in {"1", "true", "yes"}:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The registry that ships with the package: real model names whose weights the user brings.
EMBEDDED_REGISTRY = Path(__file__).with_name("models.yaml")
#: Files that mark a directory as a loadable checkpoint (transformers or diffusers layout).
_CHECKPOINT_MARKERS = ("config.json", "model_index.json")
#: Engines whose weights live on a server: `source` names the served model, nothing is looked up on disk.
REMOTE_ENGINES = frozenset({EngineKind.OPENAI})


def default_registry_path() -> Path:
    """`NOTESTUDIO_MODELS` when set, else the embedded registry."""
    override = os.environ.get("NOTESTUDIO_MODELS")
    return Path(override).expanduser() if override else EMBEDDED_REGISTRY


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a spec's weights were found and how (`local` directory or `hf-cache`)."""

    path: Path
    origin: str


def _looks_like_path(source: str) -> bool:
    """A hub repo id is `name` or `org/name`; anything else (absolute, relative, deeper) is a directory."""
    return source.startswith(("/", ".", "~")) or source.count("/") > 1


def resolve_weights(spec: ModelSpec) -> ResolvedWeights:
    """Find the weights of `spec` without touching the network.

    Remote engines (`openai`) resolve to origin `remote` with `path` holding the served model name.

    Raises:
        MissingWeightsError: with a message naming the model, where it looked and how to add the weights.
    """
    if spec.engine in REMOTE_ENGINES:
        return ResolvedWeights(Path(spec.source), "remote")
    local = Path(spec.source).expanduser()
    if local.is_dir():
        if not any((local / marker).is_file() for marker in _CHECKPOINT_MARKERS):
            raise MissingWeightsError(
                f"model {spec.name!r}: directory {local} has no config.json or model_index.json; point `source` "
                "at a directory written by save_pretrained()"
            )
        return ResolvedWeights(local.resolve(), "local")
    if _looks_like_path(spec.source):
        raise MissingWeightsError(
            f"model {spec.name!r}: local directory {local} does not exist; copy the checkpoint there or fix "
            f"`source` in {default_registry_path()}"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = snapshot_download(repo_id=spec.source, revision=spec.revision, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError) as exc:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise MissingWeightsError(
            f"model {spec.name!r}: weights for {spec.source}@{spec.revision} are not in the Hugging Face cache "
            f"({cache}); on a machine with access run `hf download {spec.source} --revision {spec.revision}` and "
            "copy the cache here, or set `source` to a local directory"
        ) from exc
    return ResolvedWeights(Path(path), "hf-cache")


class ModelRegistry:
    """Named `ModelSpec`s loaded from a YAML file with a top-level `models:` list."""

    def __init__(self, specs: list[ModelSpec], path: Path | None = None) -> None:
        self.path = path
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ModelConfigError(f"{path or 'registry'}: model name {spec.name!r} is defined twice")
            self._specs[spec.name] = spec

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> ModelRegistry:
        """Read and validate a registry file.

        Raises:
            ModelConfigError: the file is missing, not YAML, or an entry does not match `ModelSpec`; the message
                names the file and the offending entry and field.
        """
        path = Path(path).expanduser() if path else default_registry_path()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelConfigError(f"models file {path} does not exist; set NOTESTUDIO_MODELS to a YAML file") from exc
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ModelConfigError(f"models file {path} is not valid YAML: {exc}".splitlines()[0]) from exc
        if raw is None:
            raw = {"models": []}
        if not isinstance(raw, dict) or not isinstance(raw.get("models", []), list):
            raise ModelConfigError(f"models file {path}: expected a mapping with a `models:` list at the top")
        specs = []
        for index, entry in enumerate(raw.get("models") or []):
            try:
                specs.append(ModelSpec.model_validate(entry))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "entry"
                label = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
                raise ModelConfigError(f"models file {path}: model {label}: {where}: {first['msg']}") from exc
        return cls(specs, path)

    def get(self, name: str) -> ModelSpec:
        """The spec named `name`; raises `UnknownModelError` listing the configured names."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownModelError(name, list(self._specs)) from None

    def names(self) -> list[str]:
        return list(self._specs)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs
