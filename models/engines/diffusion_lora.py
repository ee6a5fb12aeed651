"""Per-merchant LoRA adapters on a diffusers pipeline, through diffusers' PEFT integration.

Adapters load next to each other under their own names (`load_lora_weights(..., adapter_name=name)`); one
is active at a time (`set_adapters([name])`) or none (`disable_lora()`, the base model's exact output).
Deleting an adapter (`delete_adapters`) frees it. Files are diffusers LoRA checkpoints
(`save_lora_weights` writes `pytorch_lora_weights.safetensors`); diffusers also converts kohya / A1111
`.safetensors` LoRAs for SD 1.x and SDXL when they load. Requires `peft`.

Where adapter files come from is configuration (`options.lora_dir` of the spec): requests name an adapter,
never a path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from models.engines.diffusion_inputs import DiffusionInputError
from models.errors import EngineUnavailableError

__all__ = ["LoraAdapters", "LORA_WEIGHTS", "check_adapter_name", "adapter_path", "available_adapters"]

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_adapter_name(name: Any) -> str:
    """Adapter names are plain identifiers (they name files under `lora_dir`, so no path parts)."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise DiffusionInputError("lora", f"adapter names are 1-64 of [A-Za-z0-9_.-], got {name!r:.80}")
    return name


def adapter_path(lora_dir: Path | None, name: str, model: str = "") -> Path:
    """The weights of adapter `name`: `<lora_dir>/<name>/` (diffusers layout) or `<lora_dir>/<name>.safetensors`."""
    check_adapter_name(name)
    if lora_dir is None:
        raise DiffusionInputError("lora", f"model {model!r} has no LoRA adapters (no options.lora_dir configured)")
    folder, single = lora_dir / name, lora_dir / f"{name}.safetensors"
    if (folder / LORA_WEIGHTS).is_file() or (folder.is_dir() and any(folder.glob("*.safetensors"))):
        return folder
    if single.is_file():
        return single
    raise DiffusionInputError("lora", f"no LoRA adapter {name!r} for model {model!r}")


def available_adapters(lora_dir: Path | None) -> list[str]:
    """Adapter names found under `lora_dir` (sorted)."""
    if lora_dir is None or not lora_dir.is_dir():
        return []
    names = {p.stem for p in lora_dir.glob("*.safetensors") if p.is_file()}
    names |= {p.name for p in lora_dir.iterdir() if p.is_dir() and any(p.glob("*.safetensors"))}
    return sorted(n for n in names if _NAME.match(n))


class LoraAdapters:
    """The adapters loaded into one pipeline and which one is active.

    Not thread-safe on its own: the engine calls it under its lock (adapters change modules in place).
    """

    def __init__(self, pipeline: Any, lora_dir: Path | None, model: str = "") -> None:
        self.pipeline = pipeline
        self.lora_dir = lora_dir
        self.model = model
        self.loaded: dict[str, Path] = {}
        self.active: str | None = None
        self.scale = 1.0

    def load(self, name: str, path: str | Path | None = None) -> None:
        """Load adapter `name` (from `path`, or from `lora_dir`); loading a loaded name is a no-op."""
        check_adapter_name(name)
        if name in self.loaded:
            return
        _require_peft()
        source = Path(path) if path is not None else adapter_path(self.lora_dir, name, self.model)
        if source.is_file():
            self.pipeline.load_lora_weights(str(source.parent), weight_name=source.name, adapter_name=name)
        elif source.is_dir():
            weight_name = LORA_WEIGHTS if (source / LORA_WEIGHTS).is_file() else None
            self.pipeline.load_lora_weights(str(source), weight_name=weight_name, adapter_name=name)
        else:
            raise DiffusionInputError("lora", f"no LoRA weights at {source}")
        self.loaded[name] = source
        self._apply()  # loading activates the new adapter in PEFT; restore what was active

    def set(self, name: str | None, scale: float = 1.0) -> None:
        """Make `name` the only active adapter (at `scale`), or none."""
        if name is not None and name not in self.loaded:
            raise DiffusionInputError("lora", f"adapter {name!r} is not loaded (loaded: {sorted(self.loaded)})")
        self.active, self.scale = name, float(scale)
        self._apply()

    def unload(self, name: str) -> None:
        """Delete adapter `name` from the pipeline (no-op when it is not loaded)."""
        if name not in self.loaded:
            return
        self.pipeline.delete_adapters(name)
        del self.loaded[name]
        if self.active == name:
            self.active = None
        self._apply()

    def _apply(self) -> None:
        if not self.loaded:
            return
        if self.active is None:
            self.pipeline.disable_lora()
        else:
            self.pipeline.enable_lora()
            self.pipeline.set_adapters([self.active], adapter_weights=[self.scale])


def _require_peft() -> None:
    try:
        import peft  # noqa: F401
    except ImportError as err:
        raise EngineUnavailableError(
            "LoRA adapters need the `peft` package (pip install 'peft>=0.17'); it is a dependency of note-studio"
        ) from err
