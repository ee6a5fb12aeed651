"""Wire models of `/v1/tryon/*`: the try-on service's own models (see `ar_tryon/schema.py`)."""

from ar_tryon.schema import (
    FaceOut,
    FacesMode,
    FrameRequest,
    GarmentOut,
    GarmentRequest,
    MakeupOut,
    MakeupRequest,
    MerchantShadeIn,
    MerchantShadePatch,
    OutputFormat,
    ShadeListOut,
    ShadeOut,
    SwatchOut,
    SwatchRequest,
    SwatchShadeForm,
)

__all__ = [
    "FaceOut",
    "FacesMode",
    "FrameRequest",
    "GarmentOut",
    "GarmentRequest",
    "MakeupOut",
    "MakeupRequest",
    "MerchantShadeIn",
    "MerchantShadePatch",
    "OutputFormat",
    "ShadeListOut",
    "ShadeOut",
    "SwatchOut",
    "SwatchRequest",
    "SwatchShadeForm",
]
