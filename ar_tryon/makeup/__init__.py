"""Makeup renderers: lips (matte/gloss/shimmer), blush, eyeshadow, eyeliner, brows — Lab colour inside small boxes."""

from ar_tryon.makeup.face_effects import BlushRenderer, BrowRenderer, EyelinerRenderer, EyeshadowRenderer
from ar_tryon.makeup.lips import GlossFinish, LipRenderer, MatteFinish, ShimmerFinish
from ar_tryon.makeup.look import Look, LookItem, apply_look
from ar_tryon.makeup.regions import Region

__all__ = [
    "BlushRenderer",
    "BrowRenderer",
    "EyelinerRenderer",
    "EyeshadowRenderer",
    "GlossFinish",
    "LipRenderer",
    "Look",
    "LookItem",
    "MatteFinish",
    "Region",
    "ShimmerFinish",
    "apply_look",
]
