"""`Scenes`: diffusion requests — text to image, restyle, background replacement, outpaint, variations.

Each request is mapped onto the configured `DiffusionEngine` at the preset's aspect: the engine paints at a
size near its native resolution (`size_for_aspect`), and results are delivered at the preset's size. For
background replacement the product (cut out by the composer, or the photo's own alpha) is placed on a canvas
of the preset's size and the engine composites its original pixels back over the new scene, so the product's
colours and logo are exactly the merchant's. With `cover` words, each image becomes the hero photo of a
composer cover. Progress is per denoising step; a cancel hook stops between steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from common.errors import InputError
from common.images import decode_base64, decode_image, encode_image
from generation.image.composer import Composer
from generation.image.schema import PRESET_SIZES, CoverInfo, SceneRequest
from models.engines.base import DiffusionEngine

__all__ = ["Scenes", "PRODUCT_HEIGHT"]

#: Share of the canvas height a placed product takes in background replacement.
PRODUCT_HEIGHT = 0.62


class Scenes:
    """Runs `SceneRequest`s on one diffusion engine (built on first use by `engine`)."""

    def __init__(self, engine: Callable[[], DiffusionEngine], composer: Composer, max_pixels: int) -> None:
        self._engine = engine
        self.composer = composer
        self.max_pixels = max_pixels

    def __call__(
        self,
        request: SceneRequest,
        save: Callable[[str, bytes], None],
        on_step: Callable[[int, int], None] | None = None,
        cancel: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Paint, save each image (and cover) with `save(name, bytes)`, return what was made and by what."""
        # 1. check inputs
        photo = self._photo(request)
        engine = self._engine()
        width, height = PRESET_SIZES[request.preset]
        gen_w, gen_h = engine.size_for_aspect(width, height)
        common: dict[str, Any] = {
            "negative_prompt": request.negative_prompt or None,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "seed": request.seed,
            "callback": on_step,
            "cancel": cancel,
        }
        # 2. paint
        lora = engine.using_lora(request.lora) if request.lora else contextlib.nullcontext()
        try:
            with lora:
                images = self._paint(engine, request, photo, (width, height), (gen_w, gen_h), common)
        except ValueError as exc:  # the engine's checks name the argument (`DiffusionInputError`)
            param = getattr(exc, "param", None)
            raise InputError(str(exc), f"scene.{param}" if param else "scene") from None
        # 3. deliver at the preset's size, as covers when asked
        results = []
        for index, image in enumerate(images):
            seed = int(image.info.get("seed", (request.seed or 0) + index))
            rgb = _fit(np.asarray(image.convert("RGB")), width, height)
            name = f"scene-{index:02d}.png"
            save(name, encode_image(rgb, "png"))
            entry: dict[str, Any] = {"artifact": name, "seed": seed}
            if request.cover is not None:
                spec = request.cover.model_copy(update={"preset": request.preset, "seed": seed})
                cover = self.composer([rgb], spec, seed)
                cover_name = f"cover-{index:02d}.jpg"
                save(cover_name, encode_image(cover.image, "jpeg"))
                painted = {"engine": engine.engine_name, "model": engine.model_name}  # the scene's painter
                info = CoverInfo(**{**cover.info().model_dump(), **painted})
                entry.update(cover=cover_name, cover_info=info.model_dump())
            results.append(entry)
        return {
            "engine": engine.engine_name,
            "model": engine.model_name,
            "mode": request.mode,
            "preset": request.preset,
            "generated_at": [gen_w, gen_h],
            "lora": request.lora,
            "images": results,
        }

    def _photo(self, request: SceneRequest) -> np.ndarray | None:
        if request.mode == "text2img":
            if not request.prompt:
                raise InputError("scene.prompt: text2img needs a prompt", "scene.prompt")
            return None
        if not request.photo:
            raise InputError(f"scene.photo: mode {request.mode} needs the product photo", "scene.photo")
        decoded = decode_image(decode_base64(request.photo, "scene.photo"), "scene.photo", self.max_pixels)
        return decoded.with_rgb(decoded.rgb)

    def _paint(
        self,
        engine: DiffusionEngine,
        request: SceneRequest,
        photo: np.ndarray | None,
        size: tuple[int, int],
        gen: tuple[int, int],
        common: dict[str, Any],
    ) -> list[Image.Image]:
        (width, height), (gen_w, gen_h) = size, gen
        n = request.n
        if request.mode == "text2img":
            return engine.text_to_image(request.prompt, height=gen_h, width=gen_w, num_images_per_prompt=n, **common)
        assert photo is not None
        rgb = Image.fromarray(np.ascontiguousarray(photo[..., :3]))
        if request.mode == "restyle":
            source = Image.fromarray(_fit(np.asarray(rgb), gen_w, gen_h))
            return engine.image_to_image(
                source, request.prompt, strength=request.strength, num_images_per_prompt=n, **common
            )
        if request.mode == "variations":
            source = Image.fromarray(_fit(np.asarray(rgb), gen_w, gen_h))
            return engine.variations(source, n=n, strength=request.strength, prompt=request.prompt, **common)
        if request.mode == "outpaint":
            return engine.outpaint(rgb, gen_w, gen_h, request.prompt, num_images_per_prompt=n, **common)
        # background: the product, cut out, placed on a canvas of the preset's size
        canvas = _place(self._product(photo), width, height)
        return engine.replace_background(
            canvas, request.prompt, height=gen_h, width=gen_w, num_images_per_prompt=n, **common
        )

    def _product(self, photo: np.ndarray) -> np.ndarray:
        """RGBA of the product: the photo's own alpha when it has one, else the composer's cut-out when it is clean
        (a new background around a broken cut-out would show the break)."""
        if photo.shape[2] == 4 and (photo[..., 3] < 128).any():
            return photo
        cut = self.composer.cutout_checked(np.ascontiguousarray(photo[..., :3]))
        if not cut.clean:
            raise InputError(
                f"scene.photo: the product could not be cut out cleanly ({cut.reason}); send a PNG whose alpha is"
                " the product (e.g. from /v1/images/cutout with a mask)",
                "scene.photo",
            )
        return cut.rgba


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover `width` x `height` and crop the centre (no bars, no distortion)."""
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    image = Image.fromarray(rgb).resize((max(width, round(w * scale)), max(height, round(h * scale))), Image.LANCZOS)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)))


def _place(product: np.ndarray, width: int, height: int) -> Image.Image:
    """The product's bounding box scaled to `PRODUCT_HEIGHT` of the canvas, centred a little low."""
    alpha = product[..., 3]
    ys, xs = np.nonzero(alpha >= 128)
    if len(xs) == 0:
        raise InputError("scene.photo: no product found in the photo to keep", "scene.photo")
    crop = Image.fromarray(product[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    scale = min(PRODUCT_HEIGHT * height / crop.height, 0.8 * width / crop.width)
    crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.LANCZOS)
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(crop, ((width - crop.width) // 2, int(height * 0.58 - crop.height / 2)))  # RGBA copied as is
    return canvas
