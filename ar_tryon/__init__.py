"""AR try-on: face/pose landmarks (mediapipe) + smoothing -> makeup and garment renderers.

Quick start::

    from ar_tryon import PhotoMakeup, Look, default_catalog
    shades = default_catalog()
    with PhotoMakeup() as makeup:
        result = makeup.process(rgb, Look.of([shades.get("LIP-102")], intensity=0.8))
"""

from ar_tryon.errors import ImageError, ImageTooLargeError, NoBodyError, NoFaceError, TryOnError, UnknownShadeError
from ar_tryon.garment import GarmentCategory, GarmentResult, GarmentTryOn, garment_rgba
from ar_tryon.landmarks import (
    FaceLandmarker,
    FaceLandmarkerOptions,
    FaceLandmarks,
    PoseLandmarker,
    PoseLandmarkerOptions,
    PoseLandmarks,
    SegmenterOptions,
    SelfieSegmenter,
)
from ar_tryon.makeup import Look, LookItem, apply_look
from ar_tryon.pipeline import MakeupResult, PhotoMakeup, VideoMakeup
from ar_tryon.service import TryOnService
from ar_tryon.shades import Finish, Product, Shade, ShadeCatalog, default_catalog
from ar_tryon.smoothing import OneEuroFilter, OneEuroOptions
from ar_tryon.swatch import NoSwatchError, Swatch, SwatchExtractor, SwatchOptions, extract_swatch
from common.images import DecodedImage, decode_image, encode_image

__all__ = [
    "DecodedImage",
    "FaceLandmarker",
    "FaceLandmarkerOptions",
    "FaceLandmarks",
    "Finish",
    "GarmentCategory",
    "GarmentResult",
    "GarmentTryOn",
    "ImageError",
    "ImageTooLargeError",
    "Look",
    "LookItem",
    "MakeupResult",
    "NoBodyError",
    "NoFaceError",
    "NoSwatchError",
    "OneEuroFilter",
    "OneEuroOptions",
    "PhotoMakeup",
    "PoseLandmarker",
    "PoseLandmarkerOptions",
    "PoseLandmarks",
    "Product",
    "SegmenterOptions",
    "SelfieSegmenter",
    "Shade",
    "ShadeCatalog",
    "Swatch",
    "SwatchExtractor",
    "SwatchOptions",
    "TryOnError",
    "TryOnService",
    "UnknownShadeError",
    "VideoMakeup",
    "apply_look",
    "decode_image",
    "default_catalog",
    "encode_image",
    "extract_swatch",
    "garment_rgba",
]
