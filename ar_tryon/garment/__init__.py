"""Garment try-on: RGBA garment (or cut-out), placed from pose landmarks, arms and hair kept in front."""

from ar_tryon.garment.cutout import garment_rgba
from ar_tryon.garment.fit import DressFit, GarmentAnchors, GarmentCategory, LowerFit, Placement, UpperFit
from ar_tryon.garment.renderer import GarmentResult, GarmentTryOn

__all__ = [
    "DressFit",
    "GarmentAnchors",
    "GarmentCategory",
    "GarmentResult",
    "GarmentTryOn",
    "LowerFit",
    "Placement",
    "UpperFit",
    "garment_rgba",
]
