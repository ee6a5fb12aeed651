"""The project's labelled listings (`data/listings.jsonl`, see data/DATASET.md) and how to read them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from moderation.types import TOP_LABELS

__all__ = ["LabelledListing", "load_dataset", "DEFAULT_DATASET", "dataset_version"]

DEFAULT_DATASET = Path(__file__).with_name("data") / "listings.jsonl"


@dataclass(frozen=True)
class LabelledListing:
    id: str
    title: str
    body: str
    price: float | None
    brand: str | None
    category: str | None
    labels: frozenset[str]
    split: str
    group: str = ""

    def record(self) -> dict:
        """The input-contract form (what the platform would send)."""
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "price": self.price,
            "brand": self.brand,
            "category": self.category,
        }


def load_dataset(path: Path = DEFAULT_DATASET, split: str | None = None) -> list[LabelledListing]:
    """Read the JSONL; `split` filters to `train` or `test`. Unknown label codes are an error."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            labels = frozenset(raw.get("labels") or [])
            unknown = labels - set(TOP_LABELS)
            if unknown:
                raise ValueError(f"{path}:{number}: unknown labels {sorted(unknown)}")
            row = LabelledListing(
                id=str(raw["id"]),
                title=raw.get("title") or "",
                body=raw.get("body") or "",
                price=raw.get("price"),
                brand=raw.get("brand"),
                category=raw.get("category"),
                labels=labels,
                split=raw.get("split", "train"),
                group=raw.get("group", ""),
            )
            if split is None or row.split == split:
                rows.append(row)
    return rows


def dataset_version(path: Path = DEFAULT_DATASET) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
