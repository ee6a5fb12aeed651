"""Options of a diffusion model spec (`options:` in models.yaml) and the GPU speed recipe they switch on.

The recipe measured on an H100 (benchmarks/gpu_images.py, /work/shared/ENVIRONMENT.md): fused QKV
projections, channels_last UNet and VAE, `torch.compile(unet, mode="reduce-overhead")` (CUDA graphs) and an
fp16 VAE decode. They are applied on CUDA only (on CPU they cost compile minutes and gain nothing) unless
`speed_on_cpu: true` (the benchmark's `--cpu-dry-run`).

The compiled UNet takes any batch size and any size on the UNet's fast path (sides multiples of
`size_multiple`) without recompiling: it is compiled with dynamic shapes, and calls run with dynamo's "duck
sizing" off (which would otherwise specialise on height == width or on two equal batch dimensions).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from models.errors import ModelConfigError

__all__ = ["DiffusionOptions", "apply_speed_options", "compile_scope", "compiled_graphs"]

log = logging.getLogger(__name__)

_COMPILE_MODES = {None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"}


@dataclass
class DiffusionOptions:
    """`options:` of a `text-to-image` / `diffusers` model spec.

    Attributes:
        fuse_qkv: Fuse attention QKV projections (UNet and VAE). With `lora_dir` set only the VAE is fused:
            a fused UNet attention would bypass the LoRA layers on `to_q/to_k/to_v`.
        channels_last: UNet and VAE in channels_last memory format.
        compile: `torch.compile` mode of the UNet (`reduce-overhead` = CUDA graphs), or null for eager.
        compile_fullgraph: Compile the UNet as one graph (an unexpected graph break is then an error).
        vae_fp16: Decode in the model dtype instead of upcasting the VAE to fp32 (SDXL's `force_upcast`);
            use an fp16-safe VAE (e.g. sdxl-vae-fp16-fix) with SDXL.
        speed_on_cpu: Apply the options above on CPU as well (dry runs; no speed gain there).
        warmup: `[[batch, height, width], ...]` text-to-image runs at load time, so compilation and CUDA graph
            capture happen before the first request (include the smallest and largest batch).
        lora_dir: Directory of per-merchant LoRA adapters: `<name>/pytorch_lora_weights.safetensors` or
            `<name>.safetensors`. Adapter names come from requests, paths only from here. With `compile`, loading
            an adapter changes the UNet's modules and so recompiles it once (switching between loaded adapters
            changes PEFT's active-adapter state, which dynamo guards on, too).
    """

    fuse_qkv: bool = False
    channels_last: bool = False
    compile: str | None = None
    compile_fullgraph: bool = True
    vae_fp16: bool = False
    speed_on_cpu: bool = False
    warmup: list[list[int]] = field(default_factory=list)
    lora_dir: Path | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any], model: str = "") -> DiffusionOptions:
        """Parse a spec's `options`; unknown keys and bad values raise `ModelConfigError` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        where = f"model {model!r}: " if model else ""
        if unknown:
            raise ModelConfigError(f"{where}unknown diffusion options {unknown}; known: {sorted(known)}")
        values = dict(options)
        if values.get("compile") not in _COMPILE_MODES:
            raise ModelConfigError(
                f"{where}options.compile must be one of {sorted(m for m in _COMPILE_MODES if m)} or null, "
                f"got {values['compile']!r}"
            )
        for name in ("fuse_qkv", "channels_last", "compile_fullgraph", "vae_fp16", "speed_on_cpu"):
            if name in values and not isinstance(values[name], bool):
                raise ModelConfigError(f"{where}options.{name} must be true or false, got {values[name]!r}")
        warmup = values.get("warmup") or []
        if not isinstance(warmup, list) or not all(
            isinstance(row, list | tuple) and len(row) == 3 and all(isinstance(v, int) for v in row) for row in warmup
        ):
            raise ModelConfigError(f"{where}options.warmup must be a list of [batch, height, width], got {warmup!r}")
        values["warmup"] = [list(row) for row in warmup]
        if values.get("lora_dir") is not None:
            values["lora_dir"] = Path(values["lora_dir"]).expanduser()
        return cls(**values)

    def speed_wanted(self, device: torch.device) -> bool:
        return device.type == "cuda" or self.speed_on_cpu


def apply_speed_options(pipeline: Any, options: DiffusionOptions) -> list[str]:
    """Apply the speed options to a pipeline's denoiser (UNet, or transformer for SD3 / FLUX) and VAE in place;
    returns what was applied. The pipelines made by `from_pipe` share these modules, so every variant gets it."""
    applied: list[str] = []
    unet = getattr(pipeline, "unet", None)
    denoiser = unet if unet is not None else getattr(pipeline, "transformer", None)
    if options.fuse_qkv:
        keep_lora_working = options.lora_dir is not None
        if keep_lora_working:
            log.info("fuse_qkv: fusing the VAE only (a fused attention would bypass LoRA adapters)")
        if unet is not None:
            pipeline.fuse_qkv_projections(unet=not keep_lora_working, vae=True)
        else:
            if not keep_lora_working and hasattr(denoiser, "fuse_qkv_projections"):
                denoiser.fuse_qkv_projections()
            if hasattr(pipeline.vae, "fuse_qkv_projections"):
                pipeline.vae.fuse_qkv_projections()
        applied.append("fuse_qkv(vae)" if keep_lora_working else "fuse_qkv")
    if options.channels_last:  # convolution-heavy modules only
        for module in (unet, pipeline.vae):
            if module is not None:
                module.to(memory_format=torch.channels_last)
        applied.append("channels_last")
    if options.vae_fp16 and getattr(pipeline.vae.config, "force_upcast", False):
        pipeline.vae.register_to_config(force_upcast=False)
        applied.append("vae_fp16")
    if options.compile and denoiser is not None:
        denoiser.compile(mode=options.compile, fullgraph=options.compile_fullgraph, dynamic=True)
        applied.append(f"compile({options.compile})")
    return applied


@contextlib.contextmanager
def compile_scope(compiled: bool) -> Iterator[None]:
    """Around every call of a compiled pipeline: no duck sizing, so new batch sizes and sizes reuse the graph."""
    if not compiled:
        yield
        return
    from torch.fx.experimental import _config as fx_config

    with fx_config.patch(use_duck_shape=False):
        yield


def compiled_graphs() -> int:
    """Graphs dynamo has compiled in this process so far (a recompilation adds one)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
