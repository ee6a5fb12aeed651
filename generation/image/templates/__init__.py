"""The cover templates of the composer, built from `data/templates.yaml` (one module per template)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from generation.image.templates.base import ProductPhoto, Scene, Template
from generation.image.templates.big_type import BigType
from generation.image.templates.checklist import Checklist
from generation.image.templates.collage import Collage
from generation.image.templates.hero_blur import HeroBlur
from generation.image.templates.minimal import Minimal
from generation.image.templates.panel import Panel
from generation.image.templates.price_tag import PriceTag

__all__ = ["TEMPLATE_CLASSES", "DATA_PATH", "load_data", "build_templates", "ProductPhoto", "Scene", "Template"]

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "templates.yaml"
#: Every template, in the order `templates()` lists them.
TEMPLATE_CLASSES: tuple[type[Template], ...] = (HeroBlur, Panel, Collage, PriceTag, Minimal, Checklist, BigType)


def load_data(path: Path = DATA_PATH) -> dict[str, Any]:
    """The layout data (boxes, sizes, colours, words)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def build_templates(data: dict[str, Any]) -> dict[str, Template]:
    """One instance of every template, configured from the data's `templates` entries."""
    missing = [cls.name for cls in TEMPLATE_CLASSES if cls.name not in data["templates"]]
    if missing:
        raise ValueError(f"templates.yaml has no entry for {missing}")
    return {cls.name: cls(data["templates"][cls.name]) for cls in TEMPLATE_CLASSES}
