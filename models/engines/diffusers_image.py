"""Text-to-image diffusion pipelines (SD 1.x, SDXL, FLUX, ...) through diffusers' auto pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from models.engines.base import DiffusionEngine
from models.engines.device import resolve_device, resolve_dtype
from models.spec import ModelSpec

__all__ = ["DiffusersImageEngine"]


class DiffusersImageEngine(DiffusionEngine):
    """`AutoPipelineForText2Image` over a local diffusers checkpoint; the pipeline class comes from
    `model_index.json`, so any text-to-image family diffusers knows loads without code changes."""

    engine_name = "diffusers"

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        super().__init__(spec)
        from diffusers import AutoPipelineForText2Image

        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.pipeline = AutoPipelineForText2Image.from_pretrained(weights, dtype=self.dtype)
        self.pipeline.to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)

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
        callback: Any = None,
    ) -> list:
        generator = None
        if seed is not None:
            generator = torch.Generator(device="cpu").manual_seed(seed)
        kwargs: dict[str, Any] = {}
        if callback is not None:

            def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
                callback(step + 1, num_inference_steps)
                return tensors

            kwargs["callback_on_step_end"] = on_step_end
        result = self.pipeline(
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=generator,
            height=height,
            width=width,
            num_images_per_prompt=num_images_per_prompt,
            output_type="pil",
            **kwargs,
        )
        return list(result.images)
