"""Image-to-video diffusion over a local diffusers checkpoint: Wan 2.1 / 2.2, CogVideoX (1.0 and 1.5) and SVD.

The pipeline class is the one named in the checkpoint's `model_index.json` (`WanImageToVideoPipeline`,
`CogVideoXImageToVideoPipeline`, `StableVideoDiffusionPipeline`); anything else is a configuration error. Each
family has its own rules, read from the loaded modules' configs (`VideoFamily`):

| family | sides multiple of | frame size | frames | fps |
|---|---|---|---|---|
| Wan 2.1 / 2.2 A14B | VAE 8 x patch 2 = 16 | default long side 832 (480P) | 4k+1, 5..81, default 81 | 16 |
| Wan 2.2 TI2V-5B (`expand_timesteps`) | VAE 16 x patch 2 = 32 | default long side 1280 | 4k+1, 5..121, def. 121 | 24 |
| CogVideoX 1.0 I2V (learned positions) | 16 | fixed 720x480 only (3:2) | exactly 49 | 8 |
| CogVideoX 1.5 I2V (`patch_size_t`) | 16 | default long side 1360 | 8k+1, 9..161, default 81 | 16 |
| SVD / SVD-XT | VAE 8 x UNet 2^3 = 64 | default long side 1024 | 2..trained length (14 / 25) | 7 (conditions SVD) |

The photo is fitted to the frame without distortion (`fit="cover"` crops, `"contain"` pads with a blurred fill;
see `video_inputs.fit_photo`). Frames come back as RGB uint8 arrays with the fps to encode them at.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.engines.base import CancelHook, DiffusionCancelled, Engine
from models.engines.device import resolve_device, resolve_dtype
from models.engines.diffusion_inputs import DiffusionInputError, check_run
from models.engines.video_inputs import (
    MAX_FPS,
    Fit,
    FrameRule,
    check_aspect,
    check_photo,
    fit_photo,
    video_size_for_aspect,
)
from models.errors import EngineUnavailableError, ModelConfigError
from models.spec import ModelSpec

__all__ = [
    "DiffusersVideoEngine",
    "ImageToVideoEngine",
    "SUPPORTED_PIPELINES",
    "VideoFamily",
    "VideoFrames",
    "VideoOptions",
]

log = logging.getLogger(__name__)

#: Pipeline classes (model_index.json `_class_name`) this engine runs.
SUPPORTED_PIPELINES = ("WanImageToVideoPipeline", "CogVideoXImageToVideoPipeline", "StableVideoDiffusionPipeline")
_COMPILE_MODES = {None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"}
#: `on_step(step, total)` after every denoising step.
StepHook = Callable[[int, int], None]


@dataclass
class VideoFrames:
    """One generated clip.

    Attributes:
        frames: `num_frames` RGB frames, each a (height, width, 3) uint8 array (views into one array).
        fps: Frames per second to encode them at.
        model: The registry name of the model that made them (`spec.name`).
        pipeline: The diffusers pipeline class that ran (e.g. `WanImageToVideoPipeline`).
        seed: The seed that reproduces the clip (drawn when none was given).
        fit: How the photo was fitted to the frame (`cover` or `contain`).
        seconds: Wall time of the generation (lock wait excluded).
    """

    frames: list[np.ndarray]
    fps: int
    model: str
    pipeline: str
    width: int
    height: int
    seed: int
    num_inference_steps: int
    guidance_scale: float
    fit: str
    seconds: float
    engine: str = "diffusers"

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def duration(self) -> float:
        """Clip length in seconds at `fps`."""
        return self.num_frames / self.fps


@dataclass(frozen=True)
class VideoFamily:
    """What a loaded checkpoint accepts and its defaults (see the module docstring's table)."""

    name: str
    multiple: int
    long_side: int
    frames: FrameRule
    fps: int
    steps: int
    guidance: float
    takes_prompt: bool = True
    fixed_size: tuple[int, int] | None = None  # (width, height) for models that generate one size only
    max_size: tuple[int, int] | None = None  # (width, height) limits of the position embeddings


class ImageToVideoEngine(Engine, ABC):
    """Animate a product photo into a short clip.

    Errors: a bad argument raises `DiffusionInputError` (a `ValueError` whose `param` names it; map it to 4xx);
    a run stopped through `cancel` raises `DiffusionCancelled`; an exception raised by `on_step` propagates as is.
    """

    family: VideoFamily

    @property
    def takes_prompt(self) -> bool:
        """Whether `prompt` / `negative_prompt` steer the model (SVD has no text conditioning)."""
        return self.family.takes_prompt

    @property
    def default_fps(self) -> int:
        return self.family.fps

    @property
    def frame_rule(self) -> FrameRule:
        """Valid `num_frames` (use `frame_rule.nearest(seconds * fps)` to pick a count)."""
        return self.family.frames

    def video_size(self, aspect: tuple[int, int] = (9, 16), long_side: int | None = None) -> tuple[int, int]:
        """(width, height) the engine generates at for `aspect` and `long_side` (default: the family's)."""
        aspect = check_aspect(aspect)
        family = self.family
        if family.fixed_size is not None:
            width, height = family.fixed_size
            if long_side is not None and long_side != max(width, height):
                raise DiffusionInputError(
                    "long_side", f"model {self.model_name!r} generates {width}x{height} only, got long side {long_side}"
                )
            if aspect[0] * height != aspect[1] * width:
                raise DiffusionInputError(
                    "aspect",
                    f"model {self.model_name!r} generates {width}x{height} only; {aspect[0]}:{aspect[1]} needs a model "
                    "of another family (Wan, CogVideoX 1.5 or SVD)",
                )
            return width, height
        width, height = video_size_for_aspect(*aspect, long_side or family.long_side, family.multiple)
        if family.max_size is not None and (width > family.max_size[0] or height > family.max_size[1]):
            raise DiffusionInputError(
                "long_side",
                f"{width}x{height} exceeds what model {self.model_name!r} can place "
                f"({family.max_size[0]}x{family.max_size[1]}); ask for a shorter long side",
            )
        return width, height

    @abstractmethod
    def image_to_video(
        self,
        image: np.ndarray,
        *,
        prompt: str = "",
        negative_prompt: str = "",
        num_frames: int | None = None,
        fps: int | None = None,
        aspect: tuple[int, int] = (9, 16),
        long_side: int | None = None,
        fit: Fit = "cover",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        on_step: StepHook | None = None,
        cancel: threading.Event | CancelHook | None = None,
    ) -> VideoFrames:
        """A clip whose first frame is `image` (H, W, 3 uint8 RGB) fitted to `video_size(aspect, long_side)`."""


@dataclass
class VideoOptions:
    """`options:` of an `image-to-video` / `diffusers` model spec.

    Attributes:
        long_side: Default long side of the frame (pixels), e.g. 1280 for Wan 2.1 I2V 720P; family default else.
        num_frames: Default frame count (must follow the family's rule).
        max_frames: Longest clip allowed (frames), above the family's trained length at your own risk.
        fps: Default frames per second.
        num_inference_steps: Default denoising steps.
        guidance_scale: Default classifier-free guidance (SVD: the last frame's, ramping up from 1).
        vae_fp32: Run the VAE in float32 (null: the family's recipe — Wan's examples keep its VAE and image encoder
            in float32, CogVideoX and SVD run in the model dtype).
        vae_tiling: Decode in spatial tiles (Wan, CogVideoX): less memory at large sizes, a little slower.
        decode_chunk_size: SVD: frames decoded at once (memory vs speed); all at once by default.
        fuse_qkv: Fuse the denoiser's attention projections into one matmul.
        channels_last: Convolution-heavy modules in channels_last (SVD's UNet and VAE, the 3D VAEs' 5D weights).
        attention_backend: diffusers attention backend of the denoiser (e.g. `flash`, `_native_cudnn`).
        compile: `torch.compile` mode of the denoiser(s), or null for eager.
        compile_regional: Compile the repeated transformer block once instead of the whole model (Wan): same speed
            in diffusers' measurements, a fraction of the compile time.
        offload: `model` moves each module to the GPU only while it runs (big models on small GPUs; slower).
        warmup: One 2-step run at the default size and frame count at load time (compiles before real traffic).
        speed_on_cpu: Apply the speed options on CPU too (dry runs; no gain there).
    """

    long_side: int | None = None
    num_frames: int | None = None
    max_frames: int | None = None
    fps: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    vae_fp32: bool | None = None
    vae_tiling: bool = False
    decode_chunk_size: int | None = None
    fuse_qkv: bool = False
    channels_last: bool = False
    attention_backend: str | None = None
    compile: str | None = None
    compile_regional: bool = True
    offload: str | None = None
    warmup: bool = False
    speed_on_cpu: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any], model: str = "") -> VideoOptions:
        """Parse a spec's `options`; unknown keys and bad values raise `ModelConfigError` naming them."""
        where = f"model {model!r}: " if model else ""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ModelConfigError(f"{where}unknown image-to-video options {unknown}; known: {sorted(known)}")
        kinds: dict[str, tuple[type, ...]] = {
            "long_side": (int,),
            "num_frames": (int,),
            "max_frames": (int,),
            "fps": (int,),
            "num_inference_steps": (int,),
            "decode_chunk_size": (int,),
            "guidance_scale": (int, float),
            "vae_fp32": (bool,),
            "vae_tiling": (bool,),
            "fuse_qkv": (bool,),
            "channels_last": (bool,),
            "compile_regional": (bool,),
            "warmup": (bool,),
            "speed_on_cpu": (bool,),
            "attention_backend": (str,),
            "compile": (str,),
            "offload": (str,),
        }
        for name, value in options.items():
            allowed = kinds[name]
            bad_bool = isinstance(value, bool) and bool not in allowed
            if value is not None and (bad_bool or not isinstance(value, allowed)):
                names = " or ".join(t.__name__ for t in allowed)
                raise ModelConfigError(f"{where}options.{name} must be {names} or null, got {value!r}")
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise ModelConfigError(f"{where}options.{name} must be positive, got {value!r}")
        if options.get("compile") not in _COMPILE_MODES:
            modes = sorted(m for m in _COMPILE_MODES if m)
            raise ModelConfigError(f"{where}options.compile must be one of {modes} or null, got {options['compile']!r}")
        if options.get("offload") not in (None, "model"):
            raise ModelConfigError(f"{where}options.offload must be 'model' or null, got {options['offload']!r}")
        return cls(**options)

    def speed_wanted(self, device: torch.device) -> bool:
        return device.type == "cuda" or self.speed_on_cpu


def pipeline_class_name(weights: Path, model: str) -> str:
    """The pipeline class to load the checkpoint with, checked before any weight is read.

    A class of `SUPPORTED_PIPELINES` loads as itself. Wan 2.2 TI2V-5B is published as a `WanPipeline` with
    `expand_timesteps: true` (one model for text- and image-to-video); it loads as `WanImageToVideoPipeline`.
    """
    index_path = Path(weights) / "model_index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        class_name = index["_class_name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelConfigError(
            f"model {model!r}: {index_path} is missing or has no `_class_name`; an image-to-video model must be a "
            "diffusers pipeline directory (save_pretrained) of one of: " + ", ".join(SUPPORTED_PIPELINES)
        ) from exc
    if class_name == "WanPipeline" and index.get("expand_timesteps"):
        return "WanImageToVideoPipeline"
    if class_name not in SUPPORTED_PIPELINES:
        raise ModelConfigError(
            f"model {model!r}: checkpoint pipeline {class_name} is not an image-to-video pipeline this engine runs; "
            f"use a {', '.join(SUPPORTED_PIPELINES)} checkpoint (or Wan 2.2 TI2V), or give the model the task its "
            "pipeline serves"
        )
    return class_name


def detect_family(pipeline: Any, options: VideoOptions, model: str = "") -> VideoFamily:
    """Rules and defaults of a loaded pipeline, from its modules' configs, with the spec's option overrides.

    Raises:
        ModelConfigError: an option the checkpoint cannot follow (e.g. `num_frames` off the family's rule).
    """
    kind = type(pipeline).__name__
    where = f"model {model!r}: " if model else ""
    if kind == "WanImageToVideoPipeline":
        denoiser = pipeline.transformer if pipeline.transformer is not None else pipeline.transformer_2
        patch = denoiser.config.patch_size
        multiple = pipeline.vae_scale_factor_spatial * int(np.lcm(patch[1], patch[2]))
        ti2v = bool(pipeline.config.expand_timesteps)  # Wan 2.2 TI2V-5B: 720P, 24 fps, 121 frames
        name = "wan2.2-ti2v" if ti2v else ("wan2.2" if pipeline.config.boundary_ratio is not None else "wan2.1")
        temporal = pipeline.vae_scale_factor_temporal
        default_frames, long_side, fps = (121, 1280, 24) if ti2v else (81, 832, 16)
        frames = _frame_rule(where, options, temporal, temporal + 1, default_frames, default_frames)
        return _with_options(VideoFamily(name, multiple, long_side, frames, fps, steps=50, guidance=5.0), options)
    if kind == "CogVideoXImageToVideoPipeline":
        config = pipeline.transformer.config
        scale = pipeline.vae_scale_factor_spatial
        multiple = scale * config.patch_size
        temporal = pipeline.vae_scale_factor_temporal
        sample = (config.sample_width * scale, config.sample_height * scale)
        if config.use_learned_positional_embeddings:  # CogVideoX-5b-I2V: one size and one length only
            rule = FrameRule(1, config.sample_frames, config.sample_frames, config.sample_frames)
            family = VideoFamily("cogvideox-1.0", multiple, max(sample), rule, 8, 50, 6.0, fixed_size=sample)
            if options.long_side is not None or options.num_frames is not None or options.max_frames is not None:
                raise ModelConfigError(
                    f"{where}{kind} with learned position embeddings (CogVideoX 1.0) generates "
                    f"{sample[0]}x{sample[1]}, {config.sample_frames} frames only: "
                    "remove options long_side / num_frames / max_frames"
                )
            return _with_options(family, options)
        version = "cogvideox-1.5" if config.patch_size_t is not None else "cogvideox"
        max_frames = 2 * config.sample_frames - 1
        # The VAE decodes latent frames in pairs after the first: an even latent count comes back with the wrong
        # length (4 latents -> 16 frames, not 13), so the latent count must be odd: 8k+1 frames.
        step = temporal * getattr(pipeline.vae, "num_latent_frames_batch_size", 2)
        rule = _frame_rule(where, options, step, step + 1, config.sample_frames, max_frames)
        long_side = min(1360, *sample) // multiple * multiple
        fps = 16 if config.patch_size_t is not None else 8
        family = VideoFamily(version, multiple, long_side, rule, fps, 50, 6.0, max_size=sample)
        return _with_options(family, options)
    if kind == "StableVideoDiffusionPipeline":
        unet = pipeline.unet.config
        multiple = pipeline.vae_scale_factor * 2 ** (len(unet.block_out_channels) - 1)
        side = unet.sample_size * pipeline.vae_scale_factor  # trained area side x side = 576 x 1024 for SVD
        long_side = max(multiple, round(side * 4 / 3 / multiple) * multiple)
        rule = _frame_rule(where, options, 1, 2, unet.num_frames, unet.num_frames)
        family = VideoFamily("svd", multiple, long_side, rule, 7, 25, 3.0, takes_prompt=False)
        return _with_options(family, options)
    raise ModelConfigError(f"{where}{kind} is not one of {', '.join(SUPPORTED_PIPELINES)}")


def _frame_rule(where: str, options: VideoOptions, step: int, minimum: int, default: int, maximum: int) -> FrameRule:
    maximum = max(minimum, options.max_frames or maximum)
    default = min(default, maximum)
    default = minimum + (default - minimum) // step * step
    rule = FrameRule(step, minimum, maximum, default)
    if options.num_frames is not None:
        if not rule.is_valid(options.num_frames):
            raise ModelConfigError(f"{where}options.num_frames must be {rule.describe()}, got {options.num_frames}")
        rule = FrameRule(step, minimum, maximum, options.num_frames)
    return rule


def _with_options(family: VideoFamily, options: VideoOptions) -> VideoFamily:
    overrides: dict[str, Any] = {}
    if options.long_side is not None:
        overrides["long_side"] = options.long_side
    if options.fps is not None:
        overrides["fps"] = options.fps
    if options.num_inference_steps is not None:
        overrides["steps"] = options.num_inference_steps
    if options.guidance_scale is not None:
        overrides["guidance"] = float(options.guidance_scale)
    return replace(family, **overrides)


def _denoisers(pipeline: Any) -> list[Any]:
    found = [getattr(pipeline, name, None) for name in ("transformer", "transformer_2", "unet")]
    return [module for module in found if module is not None]


def apply_video_speed_options(pipeline: Any, options: VideoOptions) -> list[str]:
    """Apply the speed options to the pipeline's denoiser(s) and VAE in place; returns what was applied."""
    applied: list[str] = []
    denoisers = _denoisers(pipeline)
    if options.fuse_qkv:
        for module in denoisers:
            module.fuse_qkv_projections()
        applied.append("fuse_qkv")
    if options.channels_last:
        for module in [*denoisers, pipeline.vae]:
            _channels_last(module)
        applied.append("channels_last")
    if options.attention_backend:
        for module in denoisers:
            module.set_attention_backend(options.attention_backend)
        applied.append(f"attention({options.attention_backend})")
    if options.compile:
        regional = options.compile_regional and all(getattr(m, "_repeated_blocks", None) for m in denoisers)
        for module in denoisers:
            if regional:
                module.compile_repeated_blocks(mode=options.compile, fullgraph=True)
            else:
                module.compile(mode=options.compile)
        applied.append(f"compile({options.compile}{', regional' if regional else ''})")
    return applied


def _channels_last(module: torch.nn.Module) -> None:
    """Conv weights in channels_last (4D) / channels_last_3d (5D); `Module.to` refuses modules holding both."""
    for param in module.parameters():
        if param.dim() == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
        elif param.dim() == 5:
            param.data = param.data.contiguous(memory_format=torch.channels_last_3d)


class DiffusersVideoEngine(ImageToVideoEngine):
    """`image_to_video` on one Wan / CogVideoX / SVD checkpoint; calls take turns on the model (`self.lock`).

    Spec `options`: see `VideoOptions` (defaults per model, memory and GPU speed options).
    """

    engine_name = "diffusers"

    def __init__(self, spec: ModelSpec, weights: Path | None = None, *, pipeline: Any = None) -> None:
        super().__init__(spec)
        self.options = VideoOptions.from_options(spec.options, spec.name)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        if pipeline is None:
            if weights is None:
                raise ValueError("DiffusersVideoEngine needs the checkpoint directory or a loaded pipeline")
            class_name = pipeline_class_name(weights, spec.name)
            _require_text_cleaner(class_name, spec.name)
            import diffusers

            pipeline = getattr(diffusers, class_name).from_pretrained(weights, dtype=self.dtype)
        else:
            _require_text_cleaner(type(pipeline).__name__, spec.name)
        self.pipeline = pipeline
        #: Name of the diffusers pipeline class, reported in every result.
        self.pipeline_name = type(pipeline).__name__
        self.family = detect_family(pipeline, self.options, spec.name)
        self._place(pipeline)
        pipeline.set_progress_bar_config(disable=True)
        self.speed: list[str] = []
        if self.options.speed_wanted(self.device):
            self.speed = apply_video_speed_options(pipeline, self.options)
        self.lock = threading.RLock()
        #: Denoising steps run by this engine (all calls); cancelled runs stop adding to it.
        self.denoise_steps = 0
        if self.options.warmup:
            self.warm_up()

    @classmethod
    def from_pipeline(cls, spec: ModelSpec, pipeline: Any) -> DiffusersVideoEngine:
        """An engine over an already built pipeline (benchmarks; no checkpoint on disk)."""
        return cls(spec, pipeline=pipeline)

    def _place(self, pipeline: Any) -> None:
        """Device, VAE precision and memory options (before the speed options, which may compile)."""
        vae_fp32 = self.options.vae_fp32
        if vae_fp32 is None:
            vae_fp32 = self.family.name.startswith("wan")
        vae_dtype = torch.float32 if vae_fp32 else self.dtype
        if pipeline.vae.dtype != vae_dtype:
            pipeline.vae.to(vae_dtype)
        encoder = getattr(pipeline, "image_encoder", None)
        if encoder is not None and self.family.name.startswith("wan") and encoder.dtype != vae_dtype:
            encoder.to(vae_dtype)  # Wan's examples keep the CLIP image encoder with the VAE in float32
        if self.options.vae_tiling:
            if self.family.name == "svd":
                raise ModelConfigError(
                    f"model {self.model_name!r}: SVD's VAE has no tiling; set options.decode_chunk_size instead"
                )
            pipeline.vae.enable_tiling()
        if self.options.decode_chunk_size is not None and self.family.name != "svd":
            raise ModelConfigError(f"model {self.model_name!r}: options.decode_chunk_size is for SVD only")
        if self.options.offload == "model":
            if self.device.type != "cuda":
                raise ModelConfigError(f"model {self.model_name!r}: options.offload needs a CUDA device")
            pipeline.enable_model_cpu_offload(device=self.device)
        else:
            pipeline.to(self.device)

    def warm_up(self, num_inference_steps: int = 2) -> None:
        """One short run at the default size and length (compiles before real traffic)."""
        aspect = self.family.fixed_size or (9, 16)
        width, height = self.video_size(aspect)
        grey = np.full((height, width, 3), 128, np.uint8)
        prompt = "warm-up" if self.takes_prompt else ""
        self.image_to_video(grey, prompt=prompt, aspect=aspect, seed=0, num_inference_steps=num_inference_steps)

    def image_to_video(
        self,
        image: np.ndarray,
        *,
        prompt: str = "",
        negative_prompt: str = "",
        num_frames: int | None = None,
        fps: int | None = None,
        aspect: tuple[int, int] = (9, 16),
        long_side: int | None = None,
        fit: Fit = "cover",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        on_step: StepHook | None = None,
        cancel: threading.Event | CancelHook | None = None,
    ) -> VideoFrames:
        """A clip whose first frame is `image` fitted to `video_size(aspect, long_side)`.

        Args:
            image: The product photo, (H, W, 3) uint8 RGB, sides 8..4096.
            prompt: How it should move (Wan, CogVideoX); SVD takes none (`takes_prompt`), a non-empty one is an error.
            negative_prompt: What to avoid (Wan, CogVideoX).
            num_frames: Follows `frame_rule` (Wan / CogVideoX 1.5: 4k+1); None: the family's default.
            fps: Frames per second of the clip, 1..60; None: the family's (SVD is conditioned on it).
            aspect: (width, height) of the frame, 9:16 by default.
            long_side: Long side of the frame in pixels; None: the model's default (the size it was trained at).
            fit: `cover` crops the photo to the frame, `contain` pads it with a blurred fill (`fit_photo`).
            num_inference_steps: Denoising steps, 1..150; None: the family's default.
            guidance_scale: Classifier-free guidance, 0..30 (SVD: the last frame's); None: the family's default.
            seed: Reproduces a clip exactly on the same device; None draws one (returned in the result).
            on_step: `on_step(step, total)` after every denoising step; raising stops the run (propagates).
            cancel: A `threading.Event` (set: the run stops after the current step with `DiffusionCancelled`) or a
                hook that raises to stop; checked before the first step and after every step.

        Raises:
            DiffusionInputError: a bad argument (`param` names it).
            DiffusionCancelled: `cancel` was set.
        """
        # 1. check inputs
        photo = check_photo(image)
        family = self.family
        if not isinstance(prompt, str) or not isinstance(negative_prompt, str):
            raise DiffusionInputError("prompt", "prompt and negative_prompt must be strings")
        if not family.takes_prompt and (prompt.strip() or negative_prompt.strip()):
            raise DiffusionInputError(
                "prompt", f"model {self.model_name!r} ({self.pipeline_name}) takes no text prompt; send an empty one"
            )
        width, height = self.video_size(aspect, long_side)
        num_frames = family.frames.check(num_frames)
        fps = family.fps if fps is None else fps
        if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
            raise DiffusionInputError("fps", f"must be an integer in 1..{MAX_FPS}, got {fps!r}")
        steps = family.steps if num_inference_steps is None else num_inference_steps
        guidance = family.guidance if guidance_scale is None else guidance_scale
        check_run(steps, guidance, seed)
        seed = secrets.randbelow(2**32) if seed is None else seed
        # 2. prepare: the photo at the frame size, the family's arguments, the step hook
        first = fit_photo(photo, width, height, fit)
        kwargs = self._family_kwargs(prompt, negative_prompt, fps, float(guidance))
        stop = _cancel_check(cancel)

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.denoise_steps += 1
            if on_step is not None:
                on_step(step + 1, int(getattr(pipe, "num_timesteps", steps)))
            stop(step + 1, steps)
            return tensors

        # 3. run, one call at a time
        with self.lock:
            if self.pipeline is None:
                raise EngineUnavailableError(f"model {self.model_name!r}: the engine is closed")
            stop(0, steps)
            started = time.perf_counter()
            generator = torch.Generator(device=self._generator_device()).manual_seed(seed)
            result = self.pipeline(
                image=first,
                height=height,
                width=width,
                num_frames=num_frames,
                num_inference_steps=steps,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step_end,
                **kwargs,
            )
            # 4. postprocess: float [0, 1] -> uint8, in place (a 81-frame 480p clip is ~400 MB as float32)
            video = _to_uint8(result.frames[0])
            seconds = time.perf_counter() - started
        return VideoFrames(
            frames=list(video),
            fps=fps,
            model=self.model_name,
            pipeline=self.pipeline_name,
            width=width,
            height=height,
            seed=seed,
            num_inference_steps=steps,
            guidance_scale=float(guidance),
            fit=fit,
            seconds=seconds,
        )

    def _family_kwargs(self, prompt: str, negative_prompt: str, fps: int, guidance: float) -> dict[str, Any]:
        name = self.family.name
        if name == "svd":
            return {
                "fps": fps,
                "min_guidance_scale": min(1.0, guidance),
                "max_guidance_scale": guidance,
                "decode_chunk_size": self.options.decode_chunk_size,
            }
        kwargs: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative_prompt, "guidance_scale": guidance}
        if name.startswith("cogvideox"):
            kwargs["max_sequence_length"] = self.pipeline.transformer.config.max_text_seq_length
        return kwargs

    def _generator_device(self) -> torch.device:
        return self.device if self.options.offload is None else torch.device(self.pipeline._execution_device)

    def close(self) -> None:
        with self.lock:
            self.pipeline = None
            if self.device.type == "cuda":
                torch.cuda.empty_cache()


def _cancel_check(cancel: threading.Event | CancelHook | None) -> Callable[[int, int], None]:
    if cancel is None:
        return lambda step, total: None
    if isinstance(cancel, threading.Event):

        def check(step: int, total: int) -> None:
            if cancel.is_set():
                where = "before the first step" if step == 0 else f"after step {step} of {total}"
                raise DiffusionCancelled(f"image-to-video cancelled {where}")

        return check
    if callable(cancel):
        return lambda step, total: cancel()
    raise DiffusionInputError("cancel", f"expected a threading.Event or a callable, got {type(cancel).__name__}")


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    """(F, H, W, 3) float in [0, 1] -> uint8, rounding to nearest as diffusers' own `numpy_to_pil` does."""
    frames = np.asarray(frames, dtype=np.float32)
    np.clip(frames, 0.0, 1.0, out=frames)
    np.multiply(frames, 255.0, out=frames)
    np.rint(frames, out=frames)
    return frames.astype(np.uint8)


def _require_text_cleaner(class_name: str, model: str) -> None:
    """Wan's prompt cleaning calls `ftfy` unconditionally (diffusers imports it only when installed)."""
    if class_name != "WanImageToVideoPipeline":
        return
    from diffusers.utils import is_ftfy_available

    if not is_ftfy_available():
        raise EngineUnavailableError(
            f"model {model!r}: WanImageToVideoPipeline cleans prompts with ftfy, which is not installed; "
            "`pip install ftfy`"
        )
