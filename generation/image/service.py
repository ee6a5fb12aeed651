"""`ImageService`: covers and product cut-outs from a merchant's photos — one, or many as a batch.

The composer (no weights) lays out the cover: product cut-out, palette, template, the note's title set in
Noto Sans CJK. Photos arrive as bytes (uploads, files, base64 in a batch) and are decoded here with the
shared bomb-checked decoder, so every entry point refuses the same bad input with the same 4xx.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import InputError, ModelUnavailableError, from_validation_error
from common.images import MAX_PIXELS, check_pixels, decode_base64, decode_image, encode_image
from generation.image.composer import Composer
from generation.image.scenes import Scenes
from generation.image.schema import CoverInfo, CoverSpec
from models.engines.base import DiffusionEngine

__all__ = [
    "ImageService",
    "ModelUnavailableError",
    "RenderedImage",
    "CoverItem",
    "CoversBatchResult",
    "TemplateOut",
    "OutputFormat",
]

OutputFormat = Literal["png", "jpeg", "json"]
MAX_PHOTOS = 4
#: `on_progress(done, total)` after each cover of a batch; it may raise to stop the batch (job cancel).
ProgressCallback = Callable[[int, int], None]


class TemplateOut(BaseModel):
    name: str
    display_name: str = Field(description="The name merchants see (Chinese).")
    description: str
    min_photos: int
    max_photos: int
    needs: list[str] = Field(default_factory=list, description="Fields the template needs (e.g. price).")


@dataclass
class RenderedImage:
    """Encoded image bytes and how they were made."""

    data: bytes
    media_type: str
    info: CoverInfo


class CoverItem(BaseModel):
    """One cover of a batch: its words and its photos (base64 or data: URIs)."""

    model_config = ConfigDict(extra="forbid")

    spec: CoverSpec
    photos: list[str] = Field(min_length=1, max_length=MAX_PHOTOS, description="base64 or data: URIs of photos.")
    id: str | int | None = Field(None, description="Your id, echoed in the batch result.")


class CoversBatchResult(BaseModel):
    covers: int
    failed: int
    engine: str
    results: list[dict[str, Any]] = Field(description="Per item in order: info and artifact name, or an error.")


class ImageService:
    """Covers and cut-outs.

    Args:
        composer: the layout engine (no weights).
        max_pixels: larger photos are refused (413) before their pixels are decoded.
    """

    def __init__(
        self,
        composer: Composer,
        diffusion: Callable[[], DiffusionEngine] | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.composer = composer
        self.max_pixels = max_pixels
        self._diffusion = diffusion
        self._scenes: Scenes | None = None
        self._scenes_lock = threading.Lock()

    @property
    def engine_name(self) -> str:
        return self.composer.engine_name

    def templates(self) -> list[TemplateOut]:
        return [TemplateOut(**dataclasses.asdict(t)) for t in self.composer.templates()]

    # -- diffusion ------------------------------------------------------------------------------------------
    @property
    def scenes_available(self) -> bool:
        return self._diffusion is not None

    def scenes(self) -> Scenes:
        """The diffusion side (its engine loads on the first scene, not with the service).

        Raises:
            ModelUnavailableError: no image model is configured (503 with the fix).
        """
        if self._diffusion is None:
            raise ModelUnavailableError(
                "no image model is configured: set NOTESTUDIO_IMAGE_MODEL (image_model) to a registry "
                "text-to-image model whose weights are on this machine (see `notestudio models check`); covers "
                "from the composer need none",
                "scene",
            )
        with self._scenes_lock:
            if self._scenes is None:
                self._scenes = Scenes(_once(self._diffusion), self.composer, self.max_pixels)
            return self._scenes

    # -- photos --------------------------------------------------------------------------------------------
    def photo(self, data: bytes, param: str) -> np.ndarray:
        """RGB (or RGBA when the photo has transparency) uint8; `InputError` naming `param` otherwise."""
        decoded = decode_image(data, param, self.max_pixels)
        return decoded.with_rgb(decoded.rgb)

    def photos(self, data: Sequence[bytes], param: str = "photos") -> list[np.ndarray]:
        if not data:
            raise InputError(f"{param}: give at least one photo of the product", param)
        if len(data) > MAX_PHOTOS:
            raise InputError(f"{param}: at most {MAX_PHOTOS} photos per cover, got {len(data)}", param)
        check_pixels(((f"{param}.{i}", d) for i, d in enumerate(data)), self.max_pixels)  # 413 before decoding any
        return [self.photo(d, f"{param}.{i}") for i, d in enumerate(data)]

    # -- requests --------------------------------------------------------------------------------------------
    def cover(
        self, photos: Sequence[bytes], spec: CoverSpec, output: str = "png", photos_param: str = "photos"
    ) -> RenderedImage:
        """One cover at the preset's size. `output`: png, or jpeg (what feeds serve; json answers carry PNG).
        `photos_param` is what errors call the photos (the multipart form's field is `photo`)."""
        images = self.photos(photos, photos_param)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        cover = self.composer(images, spec, seed)
        fmt = "jpeg" if output == "jpeg" else "png"
        h, w = cover.image.shape[:2]
        info = CoverInfo(
            engine=self.engine_name,
            model=None,
            template=cover.template,
            preset=spec.preset,
            width=w,
            height=h,
            seed=seed,
            palette=list(cover.palette),
        )
        return RenderedImage(encode_image(cover.image, fmt), f"image/{fmt}", info)

    def cutout(self, photo: bytes, mask: bytes | None = None) -> bytes:
        """The product cut out of its photo as an RGBA PNG (a mask, white = product, skips the search)."""
        rgb = self.photo(photo, "photo")[..., :3]
        alpha = None
        if mask is not None:
            decoded = decode_image(mask, "mask", self.max_pixels)
            alpha = decoded.alpha if decoded.alpha is not None else decoded.rgb.mean(axis=2).astype(np.uint8)
            if alpha.shape != rgb.shape[:2]:
                raise InputError(f"mask: {alpha.shape[1]}x{alpha.shape[0]} differs from the photo's size", "mask")
        return encode_image(self.composer.cutout(np.ascontiguousarray(rgb), alpha), "png")

    def item(self, raw: Any, where: str, output: str = "png") -> RenderedImage:
        """One cover from a JSON item ({spec, photos: [base64...]}); errors name the field under `where`."""
        item = _item(raw, where)
        photos = [decode_base64(p, f"{where}.photos.{i}") for i, p in enumerate(item.photos)]
        try:
            return self.cover(photos, item.spec, output)
        except InputError as exc:  # name the field inside the batch
            raise InputError(f"{where}.{exc.message}", f"{where}.{exc.param}", exc.status) from None

    def batch(
        self,
        items: Sequence[Any],
        save: Callable[[str, bytes], None],
        output: str = "png",
        on_progress: ProgressCallback | None = None,
    ) -> CoversBatchResult:
        """Every item in order; a bad item becomes an error entry and the rest are made. Each cover is handed
        to `save(name, bytes)` as soon as it exists (a job writes it as an artifact)."""
        results: list[dict[str, Any]] = []
        ext = "jpg" if output == "jpeg" else "png"
        for index, raw in enumerate(items):
            entry: dict[str, Any] = {"index": index, "id": raw.get("id") if isinstance(raw, dict) else None}
            try:
                rendered = self.item(raw, f"items.{index}", output)
                name = f"cover-{index:04d}.{ext}"
                save(name, rendered.data)
                entry.update(artifact=name, info=rendered.info.model_dump())
            except InputError as exc:
                entry["error"] = exc.to_dict()
            results.append(entry)
            if on_progress:
                on_progress(index + 1, len(items))
        failed = sum(1 for r in results if "error" in r)
        return CoversBatchResult(covers=len(items) - failed, failed=failed, engine=self.engine_name, results=results)


def _once(build: Callable[[], DiffusionEngine]) -> Callable[[], DiffusionEngine]:
    """`build` called once, under a lock (loading a pipeline takes seconds to minutes)."""
    lock, made = threading.Lock(), []

    def get() -> DiffusionEngine:
        with lock:
            if not made:
                made.append(build())
            return made[0]

    return get


def _item(raw: Any, where: str) -> CoverItem:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an item must be a JSON object", where)
    try:
        return CoverItem.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, where) from None
