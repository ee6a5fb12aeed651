"""Checked arguments of the diffusion engines: one error type naming the argument, per-row seeds, sizes.

Every diffusion engine validates its arguments here before any model work, so a bad request fails in
microseconds with `DiffusionInputError` (a `ValueError` whose `param` is the argument's name); the service
maps it to a 4xx naming that field.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

__all__ = [
    "DiffusionInputError",
    "MAX_BATCH",
    "MAX_STEPS",
    "MAX_GUIDANCE",
    "MAX_SIDE",
    "MAX_INPUT_SIDE",
    "check_prompts",
    "check_run",
    "check_side",
    "check_strength",
    "check_count",
    "check_feather",
    "check_image",
    "row_seeds",
    "size_for_aspect",
]

#: Images per call (prompts x num_images_per_prompt), inference steps, classifier-free guidance scale.
MAX_BATCH = 8
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
#: Longest side the diffusion runs at (pixels, a multiple of 8), and of an input image (product canvas, photo).
MAX_SIDE = 2048
MAX_INPUT_SIDE = 4096
_SEED_LIMIT = 2**63


class DiffusionInputError(ValueError):
    """An argument a caller can fix; `param` names it (e.g. `"height"`, `"strength"`, `"lora"`)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param

    def __reduce__(self) -> tuple[Any, ...]:  # survive pickling across Ray processes with `param` intact
        return (_rebuild, (self.param, str(self)))


def _rebuild(param: str, text: str) -> DiffusionInputError:
    prefix = f"{param}: "
    return DiffusionInputError(param, text[len(prefix) :] if text.startswith(prefix) else text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_prompts(prompt: Any, negative_prompt: Any, num_images_per_prompt: Any) -> tuple[list[str], list[str] | None]:
    """Prompts as a list, negative prompts aligned with them, and a batch within 1..`MAX_BATCH` images."""
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list | tuple) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise DiffusionInputError("prompt", f"expected a string or a non-empty list of strings, got {prompt!r:.80}")
    prompts = list(prompts)
    negatives: list[str] | None
    if negative_prompt is None:
        negatives = None
    elif isinstance(negative_prompt, str):
        negatives = [negative_prompt] * len(prompts)
    elif isinstance(negative_prompt, list | tuple) and all(isinstance(p, str) for p in negative_prompt):
        if len(negative_prompt) != len(prompts):
            raise DiffusionInputError(
                "negative_prompt", f"expected one per prompt ({len(prompts)}), got {len(negative_prompt)}"
            )
        negatives = list(negative_prompt)
    else:
        raise DiffusionInputError(
            "negative_prompt", f"expected a string or a list of strings, got {negative_prompt!r:.80}"
        )
    if not _is_int(num_images_per_prompt) or num_images_per_prompt < 1:
        raise DiffusionInputError("num_images_per_prompt", f"must be an integer >= 1, got {num_images_per_prompt!r}")
    total = len(prompts) * num_images_per_prompt
    if total > MAX_BATCH:
        param = "num_images_per_prompt" if num_images_per_prompt > 1 else "prompt"
        raise DiffusionInputError(
            param,
            f"at most {MAX_BATCH} images per call, asked for {len(prompts)} prompt(s) x {num_images_per_prompt}",
        )
    return prompts, negatives


def check_run(num_inference_steps: Any, guidance_scale: Any, seed: Any) -> None:
    """Steps in 1..`MAX_STEPS`, guidance in 0..`MAX_GUIDANCE`, seed a non-negative integer (or None)."""
    if not _is_int(num_inference_steps) or not 1 <= num_inference_steps <= MAX_STEPS:
        raise DiffusionInputError(
            "num_inference_steps", f"must be an integer in 1..{MAX_STEPS}, got {num_inference_steps!r}"
        )
    if (
        isinstance(guidance_scale, bool)
        or not isinstance(guidance_scale, int | float)
        or not 0.0 <= guidance_scale <= MAX_GUIDANCE
    ):
        raise DiffusionInputError("guidance_scale", f"must be a number in 0..{MAX_GUIDANCE:g}, got {guidance_scale!r}")
    if seed is not None and (not _is_int(seed) or not 0 <= seed < _SEED_LIMIT):
        raise DiffusionInputError("seed", f"must be an integer in 0..2**63-1 or null, got {seed!r}")


def check_side(param: str, value: Any, *, optional: bool = True) -> int | None:
    """A generation height or width: a multiple of 8 in 8..`MAX_SIDE` (None when optional)."""
    if value is None and optional:
        return None
    if not _is_int(value) or not 8 <= value <= MAX_SIDE or value % 8:
        raise DiffusionInputError(param, f"must be a multiple of 8 in 8..{MAX_SIDE}, got {value!r}")
    return value


def check_strength(strength: Any, num_inference_steps: int) -> float:
    """How much of the input is re-noised, in (0, 1]; at least one denoising step must remain."""
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0.0 < strength <= 1.0:
        raise DiffusionInputError("strength", f"must be a number in (0, 1], got {strength!r}")
    if int(num_inference_steps * strength) < 1:
        raise DiffusionInputError(
            "strength",
            f"{strength:g} x {num_inference_steps} steps leaves no denoising step; raise it or num_inference_steps",
        )
    return float(strength)


def check_count(param: str, value: Any) -> int:
    """A number of images in 1..`MAX_BATCH`."""
    if not _is_int(value) or not 1 <= value <= MAX_BATCH:
        raise DiffusionInputError(param, f"must be an integer in 1..{MAX_BATCH}, got {value!r}")
    return value


def check_feather(value: Any) -> int:
    """Width in pixels of the soft edge laid outside kept pixels (0 = hard edge)."""
    if not _is_int(value) or not 0 <= value <= 256:
        raise DiffusionInputError("feather", f"must be an integer in 0..256 pixels, got {value!r}")
    return value


def check_image(param: str, image: Any) -> Any:
    """A PIL image of a sane size (sides 8..`MAX_INPUT_SIDE`)."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise DiffusionInputError(param, f"expected a PIL image, got {type(image).__name__}")
    width, height = image.size
    if not (8 <= width <= MAX_INPUT_SIDE and 8 <= height <= MAX_INPUT_SIDE):
        raise DiffusionInputError(param, f"sides must be 8..{MAX_INPUT_SIDE} pixels, got {width}x{height}")
    return image


def row_seeds(seed: int | None, count: int) -> list[int]:
    """One seed per image: `seed + i` for row `i` (row `i` reproduces alone with that seed); a fresh random
    base when `seed` is None, so every image still carries a seed that reproduces it."""
    base = secrets.randbelow(2**32) if seed is None else seed
    return [(base + i) % _SEED_LIMIT for i in range(count)]


def size_for_aspect(aspect_width: float, aspect_height: float, area: int, multiple: int = 8) -> tuple[int, int]:
    """(width, height) with the given aspect, about `area` pixels, both multiples of `multiple`.

    Args:
        aspect_width: e.g. 3 for a 3:4 cover.
        aspect_height: e.g. 4.
        area: target pixel count, usually the model's native resolution squared (512² SD 1.x, 1024² SDXL).
        multiple: side granularity; the engine's `size_multiple` keeps every size on the UNet's fast path.
    """
    if aspect_width <= 0 or aspect_height <= 0:
        raise DiffusionInputError("aspect", f"must be positive, got {aspect_width}:{aspect_height}")
    width = math.sqrt(area * aspect_width / aspect_height)
    height = width * aspect_height / aspect_width
    limit = MAX_SIDE // multiple * multiple

    def snap(side: float) -> int:
        return min(limit, max(multiple, round(side / multiple) * multiple))

    return snap(width), snap(height)
