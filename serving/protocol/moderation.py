"""Wire models of `/v1/moderation/*`: the moderation service's own models (see `moderation/schema.py`)."""

from moderation.schema import (
    MAX_BATCH,
    AppealIn,
    AppealOut,
    BrandImageIn,
    BrandImageOut,
    DecisionOut,
    EvidenceOut,
    ImagesIn,
    LabelOut,
    ListingIn,
    ListingsIn,
    ListingsOut,
    ModerationOut,
    RecordError,
    TextIn,
)

__all__ = [
    "MAX_BATCH",
    "AppealIn",
    "AppealOut",
    "BrandImageIn",
    "BrandImageOut",
    "DecisionOut",
    "EvidenceOut",
    "ImagesIn",
    "LabelOut",
    "ListingIn",
    "ListingsIn",
    "ListingsOut",
    "ModerationOut",
    "RecordError",
    "TextIn",
]
