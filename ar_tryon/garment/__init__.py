"""Garment try-on: RGBA garment (or cut-out) worn by the person in a photo.

Pieces (torso, sleeves cut at the elbows, legs cut at the knees, a dress's skirt) are warped from pose
landmarks, shaded by the clothing underneath, kept behind arms and hair, and the old garment is hidden where
the new one is smaller.
"""

from ar_tryon.garment.cutout import garment_rgba
from ar_tryon.garment.fit import DressFit, GarmentAnchors, GarmentCategory, LowerFit, Placement, UpperFit
from ar_tryon.garment.flat import FlatGarmentResult, FlatGarmentTryOn
from ar_tryon.garment.keypoints import GarmentKeypoints, Limb, estimate_keypoints
from ar_tryon.garment.pieces import Piece, plan_pieces
from ar_tryon.garment.renderer import SUPPORT_MARGIN, GarmentResult, GarmentTryOn

__all__ = [
    "SUPPORT_MARGIN",
    "DressFit",
    "FlatGarmentResult",
    "FlatGarmentTryOn",
    "GarmentAnchors",
    "GarmentCategory",
    "GarmentKeypoints",
    "GarmentResult",
    "GarmentTryOn",
    "Limb",
    "LowerFit",
    "Piece",
    "Placement",
    "UpperFit",
    "estimate_keypoints",
    "garment_rgba",
    "plan_pieces",
]
