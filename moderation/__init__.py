"""Moderation: normalize (evasion-proof) -> rules & lexicons -> learnt classifier -> counterfeit signals ->
decision, with an audit trail. See README, "Moderation"."""

from moderation.audit import AuditLog, input_hash
from moderation.classifier import LinearClassifier, TextClassifier, TransformerClassifier
from moderation.counterfeit import BrandBook
from moderation.image_registry import ImageError, ImageRegistry, decode_image
from moderation.lexicon import Lexicon
from moderation.moderator import Moderator
from moderation.normalize import NormalizedText, fold, normalize
from moderation.policy import Policy
from moderation.types import TOP_LABELS, Evidence, Hit, Label, Listing, ModerationResult

__all__ = [
    "TOP_LABELS",
    "AuditLog",
    "BrandBook",
    "Evidence",
    "Hit",
    "ImageError",
    "ImageRegistry",
    "Label",
    "Lexicon",
    "LinearClassifier",
    "Listing",
    "ModerationResult",
    "Moderator",
    "NormalizedText",
    "Policy",
    "TextClassifier",
    "TransformerClassifier",
    "decode_image",
    "fold",
    "input_hash",
    "normalize",
]
