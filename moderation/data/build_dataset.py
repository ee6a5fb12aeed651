"""Build the labelled moderation dataset ``listings.jsonl`` from ``dataset_sources.yaml``.

The dataset is synthetic: records are filled in from hand-written templates and phrase banks (see the YAML header).
The build is deterministic (one seeded ``random.Random``; splits by SHA-1 of names, never by ``hash()``).

Held-out split, at the template and phrase level:
    1. Within every family, templates are ordered by the SHA-1 of their group id and the first quarter (at least
       one) goes to test; whole groups only, so no test sentence shares a template with train.
    2. Every phrase bank (and every category's brands and products) is split the same way into disjoint
       train / test subsets; test records draw fillers only from the test subsets.
    3. Each family puts ``round(count * test_fraction)`` of its records on its test templates.

Run:
    .venv/bin/python moderation/data/build_dataset.py [--sources YAML] [--output JSONL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
LABELS = ("ad_law", "medical_claim", "diversion", "counterfeit", "prohibited", "sexual", "fraud")
SPLITS = ("train", "test")
STYLES = ("listing", "note")
PRICE_MODES = ("normal", "low", "none")
GENERATED = ("wxid", "phone", "qq", "rnd", "num", "year", "bignum", "model", "tracking", "approval")
PER_RECORD = ("brand", "product", "price", "cat")
SLOT = re.compile(r"\{(\w+)\}")
KEYCAP = "\ufe0f\u20e3"
ZERO_WIDTH = "\u200b"
HARD_NEGATIVE_PREFIX = "hn_"


def stable_key(*parts: str) -> str:
    """Return a SHA-1 hex digest of ``parts``; stable across runs and Python versions."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def split_items(name: str, items: list[str], fraction: float) -> dict[str, list[str]]:
    """Split a phrase bank into disjoint train / test subsets (test gets ``fraction``, at least one item)."""
    if len(items) < 2 or len(set(items)) != len(items):
        raise ValueError(f"bank {name!r} needs at least 2 distinct items to split, got {items!r}")
    ordered = sorted(items, key=lambda item: stable_key(name, item))
    n_test = min(len(items) - 1, max(1, round(len(items) * fraction)))
    return {"test": ordered[:n_test], "train": ordered[n_test:]}


@dataclass(frozen=True)
class Template:
    """One title/body pattern; its ``group`` id is the unit of the train/test split."""

    group: str
    family: str
    labels: tuple[str, ...]
    title: str
    body: str
    style: str
    cats: tuple[str, ...]
    has_brand: bool
    price: str | None
    price_range: tuple[float, float] | None


def load_templates(sources: dict[str, Any], banks: dict[str, Any]) -> list[Template]:
    """Read and validate the families; every slot must name a bank, a per-record field or a generator."""
    templates: list[Template] = []
    for family, spec in sources["families"].items():
        labels = tuple(spec["labels"])
        if bad := [label for label in labels if label not in LABELS]:
            raise ValueError(f"family {family!r}: unknown labels {bad}; expected a subset of {LABELS}")
        if len(spec["templates"]) < 3:
            count = len(spec["templates"])
            raise ValueError(f"family {family!r} needs at least 3 templates to hold some out, got {count}")
        for index, raw in enumerate(spec["templates"], start=1):
            merged = {**spec, **raw}
            group = f"{family}.{index:02d}"
            style, price, cats = merged.get("style"), merged.get("price"), tuple(merged["cats"])
            if style not in STYLES:
                raise ValueError(f"template {group}: style={style!r}, expected one of {STYLES}")
            if price is not None and price not in PRICE_MODES:
                raise ValueError(f"template {group}: price={price!r}, expected one of {PRICE_MODES}")
            if bad := [cat for cat in cats if cat not in sources["categories"]]:
                raise ValueError(f"template {group}: unknown categories {bad}")
            if price == "low" and (bad := [cat for cat in cats if "fake" not in sources["categories"][cat]]):
                raise ValueError(f"template {group}: price=low needs a `fake` range on categories {bad}")
            has_brand = merged.get("brand") != "none"
            for slot in SLOT.findall(raw["title"] + raw["body"]):
                if slot not in banks and slot not in GENERATED and slot not in PER_RECORD:
                    raise ValueError(f"template {group}: unknown slot {{{slot}}}")
                if slot == "brand" and not has_brand:
                    raise ValueError(f"template {group}: uses {{brand}} but sets brand: none")
            price_range = tuple(merged["price_range"]) if "price_range" in merged else None
            templates.append(
                Template(group, family, labels, raw["title"], raw["body"], style, cats, has_brand, price, price_range)
            )
    return templates


def split_templates(templates: list[Template], fraction: float) -> dict[str, str]:
    """Assign whole template groups to train or test, per family, by the SHA-1 of the group id."""
    assignment: dict[str, str] = {}
    families = sorted({t.family for t in templates})
    for family in families:
        groups = sorted((t.group for t in templates if t.family == family), key=lambda g: stable_key("group", g))
        n_test = max(1, round(len(groups) * fraction))
        assignment.update({g: ("test" if i < n_test else "train") for i, g in enumerate(groups)})
    return assignment


class Evader:
    """Rewrites a trigger phrase the way sellers dodge keyword filters."""

    def __init__(self, config: dict[str, Any], emoji: list[str], rng: random.Random) -> None:
        self.separators: list[str] = config["separators"]
        self.traditional: dict[str, str] = config["traditional"]
        self.pinyin: dict[str, list[str]] = config["pinyin"]
        self.digit_styles: list[str] = config["digit_styles"]
        self.emoji = emoji
        self.rng = rng

    def text(self, phrase: str) -> str:
        """Apply one applicable rewrite (separators, zero-width, full-width, Traditional, pinyin, emoji)."""
        candidates = [
            rewritten
            for rewrite in (self._separate, self._zero_width, self._fullwidth, self._traditional, self._pinyin)
            if (rewritten := rewrite(phrase)) not in (None, phrase)
        ]
        if len(phrase) >= 2:
            at = self.rng.randrange(1, len(phrase))
            candidates.append(phrase[:at] + self.rng.choice(self.emoji) + phrase[at:])
        return self.rng.choice(candidates) if candidates else phrase

    def digits(self, number: str) -> str:
        """Write the digits of ``number`` as circled, dingbat, parenthesized, Chinese, full-width or keycap digits."""
        if self.rng.random() < 0.15:
            return "".join(ch + KEYCAP if ch.isdigit() else ch for ch in number)
        style = self.rng.choice(self.digit_styles)
        return "".join(style[int(ch)] if ch.isdigit() else ch for ch in number)

    def _separate(self, phrase: str) -> str | None:
        return self.rng.choice(self.separators).join(phrase) if 2 <= len(phrase) <= 10 else None

    def _zero_width(self, phrase: str) -> str | None:
        if len(phrase) < 2:
            return None
        at = self.rng.randrange(1, len(phrase))
        return ZERO_WIDTH.join(phrase) if len(phrase) <= 4 else phrase[:at] + ZERO_WIDTH + phrase[at:]

    def _fullwidth(self, phrase: str) -> str | None:
        if not any(ch.isascii() and ch.isalnum() for ch in phrase):
            return None
        return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in phrase)

    def _traditional(self, phrase: str) -> str | None:
        return "".join(self.traditional.get(ch, ch) for ch in phrase)

    def _pinyin(self, phrase: str) -> str | None:
        keys = [key for key in self.pinyin if key in phrase]
        if not keys:
            return None
        key = self.rng.choice(keys)
        return phrase.replace(key, self.rng.choice(self.pinyin[key]), 1)


class Filler:
    """Fills template slots from the banks of one split; rewrites trigger fillers at ``rate``."""

    def __init__(
        self, banks: dict[str, dict[str, list[str]]], evadable: set[str], sticky: set[str], evader: Evader, rate: float
    ) -> None:
        self.banks = banks
        self.evadable = evadable
        self.sticky = sticky
        self.memo: dict[str, str] = {}
        self.evader = evader
        self.rate = rate
        self.rng = evader.rng
        self.evaded = False

    def fill(self, text: str, context: dict[str, str], split: str) -> str:
        """Replace every ``{slot}`` in ``text``; per-record slots come from ``context``."""
        return SLOT.sub(lambda m: self._slot(m.group(1), context, split), text)

    def _slot(self, name: str, context: dict[str, str], split: str) -> str:
        if name in context:
            return context[name]
        if name in GENERATED:
            return self._generated(name)
        bank = self.banks[name][split]
        if name == "spec" and f"{context['_cat']}.specs" in self.banks and self.rng.random() < 0.6:
            bank = self.banks[f"{context['_cat']}.specs"][split]
        phrase = self.memo.setdefault(name, self.rng.choice(bank)) if name in self.sticky else self.rng.choice(bank)
        if name in self.evadable and self.rng.random() < self.rate:
            self.evaded = True
            parts = SLOT.split(phrase)  # literal, slot, literal, ...: rewrite the longest literal only
            longest = max(range(0, len(parts), 2), key=lambda i: len(parts[i]))
            parts[longest] = self.evader.text(parts[longest])
            phrase = "".join(p if i % 2 == 0 else "{" + p + "}" for i, p in enumerate(parts))
        return self.fill(phrase, context, split)

    def _generated(self, name: str) -> str:
        rng = self.rng
        digits = "0123456789"
        if name in ("wxid", "phone", "qq"):
            if name == "wxid":
                letters = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 7)))
                value = letters + rng.choice(["", "_", ""]) + "".join(rng.choices(digits, k=rng.randint(2, 6)))
            elif name == "phone":
                raw = "1" + rng.choice("3456789") + "".join(rng.choices(digits, k=9))
                value = rng.choice([raw, f"{raw[:3]} {raw[3:7]} {raw[7:]}", f"{raw[:3]}-{raw[3:7]}-{raw[7:]}"])
            else:
                value = rng.choice("123456789") + "".join(rng.choices(digits, k=rng.randint(5, 9)))
            if rng.random() < self.rate:
                self.evaded = True
                return self.evader.digits(value)
            return value
        if name == "rnd":
            return "".join(rng.choices("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=rng.randint(5, 8)))
        if name in ("num", "year"):
            return str(rng.randint(*{"num": (2, 30), "year": (1985, 2016)}[name]))
        if name == "bignum":
            return str(rng.choice([rng.randint(1000, 99999), 13800, 13900, 15800, 18600]))
        if name == "model":
            return rng.choice(["XM-", "A", "HW", "KB", "T", "Pro-"]) + "".join(rng.choices(digits, k=rng.randint(3, 5)))
        if name == "tracking":
            return "SF" + "".join(rng.choices(digits, k=13))
        return "国药准字" + rng.choice("HZ") + "".join(rng.choices(digits, k=8))  # approval


def make_price(template: Template, category: dict[str, Any], needed: bool, rng: random.Random) -> float | None:
    """Draw a price in CNY: ``normal`` in the category (or template) range, ``low`` in the ``fake`` range, or none."""
    mode = template.price
    if mode is None:
        mode = "normal" if template.style == "listing" or rng.random() < 0.4 else "none"
    if mode == "none" and not needed:
        return None
    lo, hi = category["fake"] if mode == "low" else template.price_range or category["price"]
    value = rng.uniform(lo, hi)
    if value >= 100:
        return float(int(value) - int(value) % 10 + 9)
    return round(max(int(value) - 0.1, 1.9), 1)


def add_noise(text: str, rng: random.Random) -> str:
    """Harmless formatting artefacts for clean records, so evasion characters alone do not mean a violation."""
    if rng.random() < 0.5:
        at = rng.randrange(0, len(text) + 1)
        return text[:at] + ZERO_WIDTH + text[at:]
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def build(sources: dict[str, Any]) -> tuple[list[dict[str, Any]], Counter]:
    """Generate all records (shuffled, with ids) and a counter of build statistics."""
    rng = random.Random(sources["seed"])
    fraction = float(sources["test_fraction"])
    raw_banks: dict[str, list[str]] = {name: [str(x) for x in items] for name, items in sources["banks"].items()}
    banks = {name: split_items(name, items, fraction) for name, items in raw_banks.items()}
    for key, cat in sources["categories"].items():
        for part in ("brands", "products", "specs")[: 3 if "specs" in cat else 2]:
            banks[f"{key}.{part}"] = split_items(f"{key}.{part}", [str(x) for x in cat[part]], fraction)
    if bad := [name for name in sources["evadable"] + sources["sticky"] if name not in raw_banks]:
        raise ValueError(f"evadable / sticky name unknown banks: {bad}")
    templates = load_templates(sources, raw_banks)
    assignment = split_templates(templates, fraction)
    evader = Evader(sources["evasion"], raw_banks["emoji"], rng)
    filler = Filler(banks, set(sources["evadable"]), set(sources["sticky"]), evader, float(sources["evasion_rate"]))
    records: list[dict[str, Any]] = []
    stats: Counter = Counter()
    seen: set[tuple[str, str]] = set()
    for family, spec in sources["families"].items():
        members = {s: [t for t in templates if t.family == family and assignment[t.group] == s] for s in SPLITS}
        n_test = round(spec["count"] * fraction)
        for split, total in (("train", spec["count"] - n_test), ("test", n_test)):
            for i in range(total):
                template = members[split][i % len(members[split])]
                for _attempt in range(40):
                    record = make_record(template, split, sources["categories"], filler)
                    key = (record["title"], record["body"])
                    if key not in seen:
                        break
                else:
                    stats["duplicates"] += 1
                seen.add(key)
                stats["evaded"] += filler.evaded
                stats[f"style.{template.style}"] += 1
                records.append(record)
    rng.shuffle(records)
    for number, record in enumerate(records, start=1):
        record["id"] = f"m{number:06d}"
    return records, stats


def make_record(template: Template, split: str, categories: dict[str, Any], filler: Filler) -> dict[str, Any]:
    """Fill one template into a record of the dataset schema (``id`` is assigned after shuffling)."""
    banks, rng = filler.banks, filler.rng
    cat_key = rng.choice(template.cats)
    category = categories[cat_key]
    text = template.title + template.body
    price = make_price(template, category, "{price}" in text, rng)
    brand = rng.choice(banks[f"{cat_key}.brands"][split]) if template.has_brand else None
    context = {"product": rng.choice(banks[f"{cat_key}.products"][split]), "cat": category["zh"], "_cat": cat_key}
    if brand is not None:
        context["brand"] = brand
    if price is not None:
        context["price"] = rng.choice(["¥{:g}", "{:g}元", "{:g}r"]).format(price)
    filler.evaded, filler.memo = False, {}
    title = filler.fill(template.title, context, split)
    body = filler.fill(template.body, context, split)
    if not template.labels and rng.random() < 0.08:
        title, body = (add_noise(title, rng), body) if rng.random() < 0.5 else (title, add_noise(body, rng))
    return {
        "id": "",
        "title": title,
        "body": body,
        "price": price,
        "brand": brand,
        "category": category["zh"],
        "labels": list(template.labels),
        "split": split,
        "group": template.group,
    }


def summary(records: list[dict[str, Any]], stats: Counter) -> str:
    """Markdown tables of counts per label and split, plus build checks."""
    rows = [("clean (no label)", lambda r: not r["labels"])]
    rows += [(f"hard negatives ({HARD_NEGATIVE_PREFIX}*)", lambda r: r["group"].startswith(HARD_NEGATIVE_PREFIX))]
    rows += [(label, lambda r, label=label: label in r["labels"]) for label in LABELS]
    rows += [("multi-label", lambda r: len(r["labels"]) > 1), ("all records", lambda r: True)]
    lines = ["| subset | train | test | total | test share |", "|---|---:|---:|---:|---:|"]
    for name, keep in rows:
        n = {s: sum(1 for r in records if r["split"] == s and keep(r)) for s in SPLITS}
        total = n["train"] + n["test"]
        lines.append(f"| {name} | {n['train']} | {n['test']} | {total} | {n['test'] / max(total, 1):.0%} |")
    groups = {s: {r["group"] for r in records if r["split"] == s} for s in SPLITS}
    texts = {s: {(r["title"], r["body"]) for r in records if r["split"] == s} for s in SPLITS}
    if groups["train"] & groups["test"] or texts["train"] & texts["test"]:
        raise RuntimeError("train and test share template groups or texts; the split is broken")
    clean = sum(1 for r in records if not r["labels"])
    lines += [
        "",
        f"- template groups: {len(groups['train'])} train, {len(groups['test'])} test (disjoint)",
        f"- clean share: {clean / len(records):.1%}; categories: {len({r['category'] for r in records})}",
        f"- records with an evasion rewrite: {stats['evaded']}; listing style {stats['style.listing']}, "
        f"note style {stats['style.note']}; duplicate texts kept after retries: {stats['duplicates']}",
    ]
    return "\n".join(lines)


def main() -> None:
    """Read the sources, build the records, write the JSONL and print the count tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=HERE / "dataset_sources.yaml")
    parser.add_argument("--output", type=Path, default=HERE / "listings.jsonl")
    args = parser.parse_args()
    if not args.sources.is_file():
        raise SystemExit(f"--sources {args.sources} does not exist")
    sources = yaml.safe_load(args.sources.read_text(encoding="utf-8"))
    records, stats = build(sources)
    with args.output.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {args.output}")
    print(summary(records, stats))


if __name__ == "__main__":
    main()
