"""Diffusion over a local diffusers checkpoint (SD 1.x, SDXL, ...) through diffusers' auto pipelines.

One set of weights, several tasks: `AutoPipelineForText2Image` loads the checkpoint (its class comes from
`model_index.json`), then `AutoPipelineForImage2Image.from_pipe` and `AutoPipelineForInpainting.from_pipe`
build the other variants on the SAME modules (no second copy of the weights; a LoRA adapter or a speed
option applied once serves every task). Text-to-image checkpoints have 4-channel UNets: diffusers inpaints
with them by blending the original latents outside the mask at every step ("legacy" inpainting); dedicated
9-channel inpainting checkpoints are not text-to-image models and are not loaded here.

Background replacement and outpainting are inpainting runs around a kept region followed by an exact
composite of the original pixels (see `diffusion_compose`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from models.engines import diffusion_compose as compose
from models.engines.base import CancelHook, DiffusionEngine, StepCallback
from models.engines.device import resolve_device, resolve_dtype
from models.engines.diffusion_inputs import (
    DiffusionInputError,
    check_count,
    check_feather,
    check_image,
    check_prompts,
    check_run,
    check_side,
    check_strength,
    row_seeds,
    size_for_aspect,
)
from models.engines.diffusion_lora import LoraAdapters
from models.engines.diffusion_speed import DiffusionOptions, apply_speed_options, compile_scope
from models.errors import EngineUnavailableError
from models.spec import ModelSpec

__all__ = ["DiffusersImageEngine"]

log = logging.getLogger(__name__)


class DiffusersImageEngine(DiffusionEngine):
    """Every `DiffusionEngine` task on one diffusers checkpoint; calls take turns on the model (`self.lock`).

    Spec `options` (see `DiffusionOptions`): GPU speed options (`fuse_qkv`, `channels_last`,
    `compile: reduce-overhead`, `vae_fp16`, `warmup`) and `lora_dir` for adapters.
    """

    engine_name = "diffusers"

    def __init__(self, spec: ModelSpec, weights: Path | None = None, *, pipeline: Any = None) -> None:
        super().__init__(spec)
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

        self.options = DiffusionOptions.from_options(spec.options, spec.name)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        if pipeline is None:
            if weights is None:
                raise ValueError("DiffusersImageEngine needs the checkpoint directory or a loaded pipeline")
            pipeline = AutoPipelineForText2Image.from_pretrained(weights, dtype=self.dtype)
        self.text2img = pipeline.to(self.device)
        self.img2img = _variant(AutoPipelineForImage2Image, self.text2img)
        self.inpainter = _variant(AutoPipelineForInpainting, self.text2img)
        for pipe in (self.text2img, self.img2img, self.inpainter):
            if pipe is not None:
                pipe.set_progress_bar_config(disable=True)
        self.speed: list[str] = []
        if self.options.speed_wanted(self.device):
            self.speed = apply_speed_options(self.text2img, self.options)
        self.compiled = any(s.startswith("compile") for s in self.speed)
        #: Denoising steps run by this engine (all calls); cancelled runs stop adding to it.
        self.denoise_steps = 0
        self.adapters = LoraAdapters(self.text2img, self.options.lora_dir, spec.name)
        scale = getattr(self.text2img, "vae_scale_factor", 8)
        unet = getattr(self.text2img, "unet", None)
        if unet is not None:
            side = int(unet.config.sample_size) * scale
            # Latent sides divisible by the UNet's total upsampling keep one graph (no odd-size fallback path).
            self.size_multiple = scale * 2 ** (len(unet.config.block_out_channels) - 1)
        else:  # transformer denoisers (SD3, FLUX, ...): 2x2 latent patches
            side = int(getattr(self.text2img, "default_sample_size", 128)) * scale
            self.size_multiple = scale * 2
        self.native_size = (side, side)
        for batch, height, width in self.options.warmup:
            self.warm_up(batch, height, width)

    @classmethod
    def from_pipeline(cls, spec: ModelSpec, pipeline: Any) -> DiffusersImageEngine:
        """An engine over an already built text-to-image pipeline (benchmarks; no checkpoint on disk)."""
        return cls(spec, pipeline=pipeline)

    def warm_up(self, batch: int = 1, height: int | None = None, width: int | None = None, steps: int = 2) -> None:
        """One short text-to-image run at a shape (compiles and captures CUDA graphs before real traffic)."""
        self.text_to_image(["warm-up"] * batch, num_inference_steps=steps, seed=0, height=height, width=width)

    # -- tasks --------------------------------------------------------------------------------------------
    def text_to_image(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image.Image]:
        # 1. check inputs
        prompts, negatives = check_prompts(prompt, negative_prompt, num_images_per_prompt)
        check_run(num_inference_steps, guidance_scale, seed)
        height, width = check_side("height", height), check_side("width", width)
        # 2. run
        return self._run(
            self.text2img,
            dict(prompt=prompts, negative_prompt=negatives, height=height, width=width),
            len(prompts) * num_images_per_prompt,
            num_inference_steps,
            guidance_scale,
            num_images_per_prompt,
            seed,
            callback,
            cancel,
        )

    def image_to_image(
        self,
        image: Image.Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        strength: float = 0.6,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image.Image]:
        # 1. check inputs
        check_image("image", image)
        prompts, negatives = check_prompts(prompt, negative_prompt, num_images_per_prompt)
        check_run(num_inference_steps, guidance_scale, seed)
        strength = check_strength(strength, num_inference_steps)
        size = self._generation_size(image.size, check_side("height", height), check_side("width", width))
        # 2. prepare: the input at the output size (the img2img pipelines take their size from the image)
        init = image.convert("RGB")
        if init.size != size:
            init = init.resize(size, Image.Resampling.LANCZOS)
        # 3. run
        return self._run(
            self._require(self.img2img, "image-to-image"),
            dict(prompt=prompts, negative_prompt=negatives, image=init, strength=strength),
            len(prompts) * num_images_per_prompt,
            num_inference_steps,
            guidance_scale,
            num_images_per_prompt,
            seed,
            callback,
            cancel,
        )

    def inpaint(
        self,
        image: Image.Image,
        mask_image: Image.Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        strength: float = 1.0,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 0,
    ) -> list[Image.Image]:
        check_image("image", image)
        check_image("mask_image", mask_image)
        if mask_image.size != image.size:
            raise DiffusionInputError("mask_image", f"size {mask_image.size} differs from the image's {image.size}")
        canvas = compose.masked_canvas(image, mask_image)
        if canvas.keep.all():
            raise DiffusionInputError("mask_image", "is black everywhere: nothing to repaint")
        return self._paint_around(
            canvas,
            prompt,
            negative_prompt,
            strength,
            num_inference_steps,
            guidance_scale,
            seed,
            height,
            width,
            num_images_per_prompt,
            callback,
            cancel,
            feather,
        )

    def replace_background(
        self,
        product_rgba: Image.Image,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 8,
    ) -> list[Image.Image]:
        check_image("product_rgba", product_rgba)
        if "A" not in product_rgba.getbands():
            raise DiffusionInputError(
                "product_rgba", f"needs an alpha channel marking the product, got {product_rgba.mode}"
            )
        canvas = compose.product_canvas(product_rgba)
        if not canvas.keep.any():
            raise DiffusionInputError("product_rgba", "the alpha channel marks no product pixel (alpha >= 128)")
        if canvas.keep.all():
            raise DiffusionInputError("product_rgba", "the product covers the whole canvas: no background to replace")
        return self._paint_around(
            canvas,
            prompt,
            negative_prompt,
            1.0,
            num_inference_steps,
            guidance_scale,
            seed,
            height,
            width,
            num_images_per_prompt,
            callback,
            cancel,
            feather,
        )

    def outpaint(
        self,
        image: Image.Image,
        width: int,
        height: int,
        prompt: str | list[str] = "",
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
        feather: int = 8,
    ) -> list[Image.Image]:
        check_image("image", image)
        width = check_side("width", width, optional=False)
        height = check_side("height", height, optional=False)
        canvas = compose.placed_canvas(image, width, height)
        if canvas.keep.all():
            raise DiffusionInputError("width", f"{width}x{height} has the image's own aspect: nothing to outpaint")
        images = self._paint_around(
            canvas,
            prompt,
            negative_prompt,
            1.0,
            num_inference_steps,
            guidance_scale,
            seed,
            height,
            width,
            num_images_per_prompt,
            callback,
            cancel,
            feather,
        )
        for out in images:
            out.info["placement"] = canvas.box
        return images

    def variations(
        self,
        image: Image.Image,
        n: int = 4,
        strength: float = 0.5,
        seed: int | None = None,
        prompt: str = "",
        negative_prompt: str | None = None,
        num_inference_steps: int = 30,
        guidance_scale: float = 7.0,
        callback: StepCallback | None = None,
        *,
        cancel: CancelHook | None = None,
    ) -> list[Image.Image]:
        n = check_count("n", n)
        if not isinstance(prompt, str):
            raise DiffusionInputError("prompt", f"variations take one prompt string, got {type(prompt).__name__}")
        return self.image_to_image(
            image,
            prompt,
            negative_prompt,
            strength=strength,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            seed=seed,
            num_images_per_prompt=n,
            callback=callback,
            cancel=cancel,
        )

    # -- LoRA adapters ------------------------------------------------------------------------------------
    @property
    def loras(self) -> list[str]:
        return sorted(self.adapters.loaded)

    @property
    def active_lora(self) -> str | None:
        return self.adapters.active

    def load_lora(self, name: str, path: str | Path | None = None) -> None:
        with self.lock:
            self.adapters.load(name, path)

    def set_lora(self, name: str | None, scale: float = 1.0) -> None:
        with self.lock:
            self.adapters.set(name, scale)

    def unload_lora(self, name: str) -> None:
        with self.lock:
            self.adapters.unload(name)

    # -- shared steps -------------------------------------------------------------------------------------
    def _require(self, pipeline: Any, task: str) -> Any:
        if pipeline is None:
            raise EngineUnavailableError(
                f"model {self.model_name!r} ({type(self.text2img).__name__}) has no {task} pipeline in diffusers "
                f"{_diffusers_version()}; use an SD 1.x / SDXL / SD3 / FLUX checkpoint for this task"
            )
        return pipeline

    def _generation_size(self, source: tuple[int, int], height: int | None, width: int | None) -> tuple[int, int]:
        """(width, height) to run at: as given, else the source's aspect at the native pixel count."""
        if height is not None and width is not None:
            return width, height
        native_w, native_h = self.native_size
        auto_w, auto_h = size_for_aspect(source[0], source[1], native_w * native_h, self.size_multiple)
        if width is not None:  # one side given: the other from the source's aspect
            return width, max(8, round(width * source[1] / source[0] / 8) * 8)
        if height is not None:
            return max(8, round(height * source[0] / source[1] / 8) * 8), height
        return auto_w, auto_h

    def _paint_around(
        self,
        canvas: compose.Canvas,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None,
        strength: float,
        num_inference_steps: int,
        guidance_scale: float,
        seed: int | None,
        height: int | None,
        width: int | None,
        num_images_per_prompt: int,
        callback: StepCallback | None,
        cancel: CancelHook | None,
        feather: int,
    ) -> list[Image.Image]:
        """Inpaint everything outside `canvas.keep`, then put the kept pixels back exactly."""
        # 1. check inputs
        prompts, negatives = check_prompts(prompt, negative_prompt, num_images_per_prompt)
        check_run(num_inference_steps, guidance_scale, seed)
        strength = check_strength(strength, num_inference_steps)
        feather = check_feather(feather)
        size = self._generation_size(canvas.size, check_side("height", height), check_side("width", width))
        # 2. prepare the init image (kept pixels on grey) and the repaint mask at the generation size
        kwargs = dict(
            prompt=prompts,
            negative_prompt=negatives,
            image=canvas.init_image(size),
            mask_image=canvas.repaint_mask(size),
            strength=strength,
            width=size[0],
            height=size[1],
        )
        # 3. run
        scenes = self._run(
            self._require(self.inpainter, "inpainting"),
            kwargs,
            len(prompts) * num_images_per_prompt,
            num_inference_steps,
            guidance_scale,
            num_images_per_prompt,
            seed,
            callback,
            cancel,
        )
        # 4. postprocess: the original pixels back, exactly, at the canvas size
        images = []
        for scene in scenes:
            out = compose.composite(scene, canvas, feather)
            out.info.update(scene.info)
            images.append(out)
        return images

    def _run(
        self,
        pipeline: Any,
        kwargs: dict[str, Any],
        count: int,
        num_inference_steps: int,
        guidance_scale: float,
        num_images_per_prompt: int,
        seed: int | None,
        callback: StepCallback | None,
        cancel: CancelHook | None,
    ) -> list[Image.Image]:
        """One pipeline call: per-image generators, step hooks, the engine lock, the compile scope."""
        seeds = row_seeds(seed, count)
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.denoise_steps += 1
            if callback is not None:
                callback(step + 1, int(getattr(pipe, "num_timesteps", num_inference_steps)))
            if cancel is not None:
                cancel()
            return tensors

        with self.lock, compile_scope(self.compiled):
            if cancel is not None:
                cancel()
            result = pipeline(
                **kwargs,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                num_images_per_prompt=num_images_per_prompt,
                generator=generators,
                output_type="pil",
                callback_on_step_end=on_step_end,
            )
        images = list(result.images)
        for image, row_seed in zip(images, seeds, strict=True):
            image.info["seed"] = row_seed
        return images


def _variant(auto_class: Any, pipeline: Any) -> Any:
    """The task variant of `pipeline` on the same modules, or None when diffusers has none for its family."""
    try:
        return auto_class.from_pipe(pipeline)
    except ValueError as err:  # "AutoPipeline can't find a pipeline linked to ..."
        log.info("%s: %s", auto_class.__name__, err)
        return None


def _diffusers_version() -> str:
    import diffusers

    return diffusers.__version__
