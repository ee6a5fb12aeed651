"""The cover composer: merchant photos + a `CoverSpec` -> a finished cover, no model weights.

`Composer()(photos, spec, seed)` checks its inputs, prepares each photo once (working copy, product cut-out,
dominant colours: an LRU owned by the instance, keyed by the pixels' hash), picks the template (`spec.template`
or, by seed, one that fits the photos and the words), and paints it at the preset's size. Same inputs and seed,
same pixels. Errors a client can fix are `InputError`s naming the field: `photos`, `photos.N`, `masks`,
`masks.N`, `preset`, `template`, `seed`, `title`, `subtitle`, `points`, `badge`, `price`.

Threads: photos are prepared in parallel (the cut-out releases the GIL in OpenCV); painting takes turns on
one lock per instance, because the sized FreeType faces and the text caches are shared.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from common.errors import InputError
from generation.image.cutout import CutOut, alpha_box, cut_out, cut_out_checked, mask_alpha
from generation.image.fonts import Fonts
from generation.image.palette import Palette, dominant_colours, from_hex, make_palette
from generation.image.photos import check_photo
from generation.image.schema import PRESET_SIZES, CoverInfo, CoverSpec
from generation.image.templates import DATA_PATH, ProductPhoto, Scene, Template, build_templates, load_data
from generation.image.text import Block, Typesetter

__all__ = ["Composer", "Cover", "TemplateInfo", "MAX_PHOTOS", "WORK_SIDE"]

#: Photos one cover can use.
MAX_PHOTOS = 4
#: Long side of the working copy of a photo (enough for the largest area a template fills).
WORK_SIDE = 1600
_TEXT_PARAMS = ("title", "subtitle", "points", "badge", "price")


@dataclass(frozen=True)
class Cover:
    """A finished cover.

    Attributes:
        image: RGB uint8, the preset's size (H x W x 3).
        template: the template's name.
        palette: the product's colours (hex).
        seed: the seed it was made with.
        preset: `3:4`, `1:1` or `9:16`.
        texts: where each text went, as (field, laid-out block: box, size, lines and their ink boxes).
        products: where the product is on the cover (x0, y0, x1, y1): its cut-out's box, or its box inside a
            framed photo; none where the photo had no clean cut-out.
        stickers: where each sticker went, as (`badge` / `price` / `tag`, box); none of them covers a product
            box or a text.
    """

    image: np.ndarray
    template: str
    palette: list[str]
    seed: int
    preset: str
    texts: tuple[tuple[str, Block], ...] = ()
    products: tuple[tuple[int, int, int, int], ...] = ()
    stickers: tuple[tuple[str, tuple[int, int, int, int]], ...] = ()

    def info(self) -> CoverInfo:
        """The wire description (`engine: composer`, no model)."""
        return CoverInfo(
            engine=Composer.engine_name,
            model=None,
            template=self.template,
            preset=self.preset,
            width=self.image.shape[1],
            height=self.image.shape[0],
            seed=self.seed,
            palette=self.palette,
        )

    def encode(self, fmt: str = "JPEG", quality: int = 90) -> bytes:
        """The image as JPEG (default, quality 90: what feeds serve) or PNG bytes."""
        buf = io.BytesIO()
        img = Image.fromarray(self.image)
        if fmt.upper() in ("JPEG", "JPG"):
            img.save(buf, "JPEG", quality=quality, optimize=False, subsampling="4:2:0")
        else:
            img.save(buf, "PNG", compress_level=3)
        return buf.getvalue()


@dataclass(frozen=True)
class TemplateInfo:
    """What `templates()` lists for each template."""

    name: str
    display_name: str
    description: str
    min_photos: int
    max_photos: int
    needs: tuple[str, ...]


def _photo_key(photo: np.ndarray, mask: np.ndarray | None) -> bytes:
    h = hashlib.sha1(usedforsecurity=False)
    h.update(repr((photo.shape, str(photo.dtype))).encode())
    h.update(np.ascontiguousarray(photo).data)
    if mask is not None:
        m = np.ascontiguousarray(mask)
        h.update(repr((m.shape, str(m.dtype))).encode())
        h.update(m.data)
    return h.digest()


class Composer:
    """Covers from photos and words, by layout templates (the no-weights engine).

    Args:
        fonts: the CJK faces (default: `Fonts()`, see `generation.image.fonts`).
        cache_size: prepared photos kept (working copy + cut-out, ~10 MB each at most).
        data: layout data (default: `data/templates.yaml`).
    """

    engine_name = "composer"
    TEMPLATES: tuple[str, ...] = tuple(load_data(DATA_PATH)["templates"])

    def __init__(self, fonts: Fonts | None = None, cache_size: int = 16, data: dict[str, Any] | None = None) -> None:
        self._data = data if data is not None else load_data(DATA_PATH)
        self._templates: dict[str, Template] = build_templates(self._data)
        self._ts = Typesetter(fonts or Fonts())
        self._cache: OrderedDict[bytes, ProductPhoto] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the photo cache
        self._paint = threading.Lock()  # one cover painted at a time: the FreeType faces are shared

    # listing ------------------------------------------------------------------------------------------------
    @property
    def typesetter(self) -> Typesetter:
        """The composer's typesetter (its fonts and word segmenter), for others that set text the same way."""
        return self._ts

    def templates(self) -> list[TemplateInfo]:
        """Every template: name, Chinese display name, description, photo count range, what it needs."""
        return [
            TemplateInfo(t.name, t.display_name, t.description, t.photos[0], t.photos[1], t.needs)
            for t in self._templates.values()
        ]

    # cut-outs -----------------------------------------------------------------------------------------------
    def cutout(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The product cut out of a photo at the photo's size (RGBA uint8); see `generation.image.cutout`."""
        return cut_out(check_photo(rgb, "photo"), mask, param="photo", mask_param="mask")

    def cutout_checked(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> CutOut:
        """`cutout` with the verdict: whether it may be shown as the product (`generation.image.cutout.CutOut`)."""
        return cut_out_checked(check_photo(rgb, "photo"), mask, param="photo", mask_param="mask")

    def _prepare(self, photo: np.ndarray, mask: np.ndarray | None, index: int) -> ProductPhoto:
        param = f"photos.{index}"
        if mask is not None:
            mask = mask_alpha(mask, photo.shape[:2], f"masks.{index}")
        key = _photo_key(photo, mask)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        h, w = photo.shape[:2]
        f = min(1.0, WORK_SIDE / max(h, w))
        work = photo if f == 1.0 else cv2.resize(photo, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        work_mask = mask
        if mask is not None and f < 1.0:
            work_mask = cv2.resize(mask, (work.shape[1], work.shape[0]), interpolation=cv2.INTER_AREA)
        cut = cut_out_checked(work, work_mask, param=param)
        rgba = cut.rgba
        box = alpha_box(rgba[..., 3])
        clean = cut.clean and box is not None
        # a failed cut-out leaves no trace: the photo is framed as it was (no recoloured edge along a wrong outline)
        rgb = np.ascontiguousarray(rgba[..., :3] if clean else work[..., :3])
        if clean:
            x0, y0, x1, y1 = box
            focus = ((x0 + x1) / 2 / rgb.shape[1], (y0 + y1) / 2 / rgb.shape[0])
            cutout = np.ascontiguousarray(rgba[y0:y1, x0:x1])
            colours = dominant_colours(cutout)
        else:
            focus, cutout, box = (0.5, 0.5), None, None
            colours = dominant_colours(rgb)
        prepared = ProductPhoto(rgb=rgb, cutout=cutout, focus=focus, colours=tuple(colours), box=box)
        with self._lock:
            self._cache[key] = prepared
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return prepared

    # the cover ----------------------------------------------------------------------------------------------
    def _check_inputs(
        self, photos: Sequence[np.ndarray], spec: CoverSpec, seed: int, masks: Sequence[np.ndarray | None] | None
    ) -> list[np.ndarray]:
        if not isinstance(spec, CoverSpec):
            raise TypeError(f"spec must be a CoverSpec, got {type(spec).__name__}")
        if spec.preset not in PRESET_SIZES:
            raise InputError(f"preset: unknown preset {spec.preset!r} (one of {', '.join(PRESET_SIZES)})", "preset")
        if spec.template is not None and spec.template not in self._templates:
            raise InputError(
                f"template: unknown template {spec.template!r} (one of {', '.join(self._templates)})", "template"
            )
        if not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**32:
            raise InputError(f"seed: must be an integer in [0, 2^32), got {seed!r}", "seed")
        if isinstance(photos, np.ndarray) or not isinstance(photos, Sequence):
            raise InputError("photos: expected a list of photos", "photos")
        if not 1 <= len(photos) <= MAX_PHOTOS:
            raise InputError(f"photos: 1 to {MAX_PHOTOS} photos are needed, got {len(photos)}", "photos")
        if masks is not None and len(masks) != len(photos):
            raise InputError(f"masks: {len(masks)} masks for {len(photos)} photos (use None for no mask)", "masks")
        return [check_photo(p, f"photos.{i}") for i, p in enumerate(photos)]

    def _palette(self, photo: ProductPhoto, rng: np.random.Generator) -> Palette:
        accents = self._data["colours"]["fallback_accents"]
        fallback = from_hex(accents[int(rng.integers(len(accents)))])
        return make_palette(photo.colours, fallback)

    def _render(
        self, template: Template, spec: CoverSpec, prepared: list[ProductPhoto], seed: int
    ) -> tuple[Image.Image, Palette, Scene]:
        rng = np.random.default_rng([int(seed), zlib.crc32(template.name.encode())])
        palette = self._palette(prepared[0], rng)
        scene = Scene(
            spec=spec,
            preset=spec.preset,
            size=PRESET_SIZES[spec.preset],
            photos=prepared,
            palette=palette,
            rng=rng,
            ts=self._ts,
            layout=template.conf["presets"][spec.preset],
            conf=template.conf,
            data=self._data,
        )
        image = template.render(scene)
        if image.size != scene.size or image.mode != "RGB":  # a template bug, not bad input
            raise RuntimeError(f"template {template.name} painted {image.mode} {image.size}, not RGB {scene.size}")
        return image, palette, scene

    def __call__(
        self,
        photos: Sequence[np.ndarray],
        spec: CoverSpec,
        seed: int,
        masks: Sequence[np.ndarray | None] | None = None,
    ) -> Cover:
        """Compose one cover.

        Args:
            photos: 1-4 photos, H x W x 3 RGB or x 4 RGBA uint8 (alpha = the product mask); the first is the hero.
            spec: the words and choices (title, subtitle, points, price, badge, template, preset).
            seed: same inputs and seed, same pixels; picks the template when `spec.template` is None.
            masks: optional product masks, one per photo (None entries for none), bypassing GrabCut.

        Returns:
            The cover at the preset's size.

        Raises:
            InputError: naming `photos`, `photos.N`, `masks`, `masks.N`, `preset`, `template`, `seed`, or the words
                (`title`, `subtitle`, `points`, `badge`, `price`) that a template cannot show.
        """
        # 1. check inputs
        arrays = self._check_inputs(photos, spec, seed, masks)
        n = len(arrays)
        if spec.template is not None:
            err = self._templates[spec.template].missing(spec, n)
            if err is not None:
                raise err
            candidates = [self._templates[spec.template]]
        else:
            candidates = [t for t in self._templates.values() if t.missing(spec, n) is None]
            if not candidates:
                raise InputError(f"photos: no template shows {n} photos with these words", "photos")
            order = np.random.default_rng(int(seed)).permutation(len(candidates))
            candidates = [candidates[i] for i in order]
        # 2. prepare the photos (cached per photo)
        prepared = [self._prepare(p, None if masks is None else masks[i], i) for i, p in enumerate(arrays)]
        # 3. paint: the chosen template, or the first one by seed whose boxes hold the words
        first_error: InputError | None = None
        for template in candidates:
            try:
                with self._paint:
                    image, palette, scene = self._render(template, spec, prepared, int(seed))
            except InputError as exc:
                if spec.template is not None or exc.param is None or exc.param.split(".")[0] not in _TEXT_PARAMS:
                    raise
                first_error = first_error or exc
                continue
            # 4. postprocess
            return Cover(
                image=np.asarray(image),
                template=template.name,
                palette=palette.hex(),
                seed=int(seed),
                preset=spec.preset,
                texts=tuple(scene.blocks),
                products=tuple(scene.products),
                stickers=tuple(scene.placed),
            )
        assert first_error is not None
        raise InputError(
            f"{first_error.param}: does not fit any template ({first_error.message.split(': ', 1)[-1]})",
            first_error.param,
        )
