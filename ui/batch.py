"""Batch files of products (CSV, XLSX, JSONL or a JSON list) -> `POST /v1/copy/notes/batch` products, and the
ZIP a merchant downloads afterwards (notes as JSONL, one Markdown file per product, covers).

Column names may be English or Chinese (商品, 品牌, 类目, 价格, 卖点 ...). An empty cell means "unknown" and is
not sent: a product without a price never gets a price of 0.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BatchFileError", "Products", "COLUMNS", "read_products", "normalize_product", "notes_markdown", "build_zip"]


class BatchFileError(ValueError):
    """A batch file that cannot be read, naming the row and the column."""


#: Column name (lower case, as written in a file) -> the API's field.
COLUMNS: dict[str, str] = {
    **{name: "product" for name in ("product", "name", "product_name", "商品", "商品名", "商品名称", "产品", "品名")},
    **{name: "brand" for name in ("brand", "品牌")},
    **{name: "category" for name in ("category", "类目", "品类", "分类")},
    **{name: "price" for name in ("price", "价格", "售价", "价格(元)", "价格（元）")},
    **{name: "selling_points" for name in ("selling_points", "selling points", "points", "卖点")},
    **{name: "audience" for name in ("audience", "人群", "目标人群")},
    **{name: "scenario" for name in ("scenario", "场景", "使用场景")},
    **{name: "style" for name in ("style", "风格", "笔记风格")},
    **{name: "tone" for name in ("tone", "语气")},
    **{name: "length" for name in ("length", "篇幅")},
    **{name: "language" for name in ("language", "语言")},
    **{name: "n" for name in ("n", "variants", "数量", "篇数")},
    **{name: "seed" for name in ("seed", "种子")},
    **{name: "id" for name in ("id", "sku", "编号", "货号")},
    **{name: "photo" for name in ("photo", "image", "图片", "主图", "照片")},
}
_POINTS = re.compile(r"[\n;；]+")
_INTS = {"n", "seed"}


def _cell(value: Any) -> Any:
    """A cell as a value: stripped text, numbers as they are; empty text is None (unknown)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


@dataclass
class Products:
    """What a batch file holds: the API products, each one's photo file name (or None), and the columns that
    are not product fields (ignored, and named to the merchant)."""

    products: list[dict[str, Any]]
    photos: list[str | None]
    ignored: list[str] = field(default_factory=list)


def normalize_product(
    record: dict[str, Any], row: int, tr: Callable[..., str]
) -> tuple[dict[str, Any], str | None, list[str]]:
    """One row or JSON object as an API product (known columns renamed, empty cells dropped), its photo's file
    name (for a cover) and the columns it ignored; `BatchFileError` naming the row and the column otherwise."""
    product: dict[str, Any] = {}
    photo = None
    ignored = []
    for column, raw in record.items():
        key = COLUMNS.get(str(column).strip().lower())
        value = _cell(raw)
        if key is None:
            if str(column).strip():
                ignored.append(str(column).strip())
            continue
        if value is None:
            continue
        if key == "photo":
            photo = Path(str(value)).name
        elif key == "price":
            try:
                number = float(str(value).strip().lstrip("¥￥").rstrip("元").replace(",", ""))
            except ValueError:
                raise BatchFileError(tr("batch.bad_number", row=row, column=column, value=repr(value))) from None
            if not number >= 0 or number == float("inf"):
                raise BatchFileError(tr("batch.bad_number", row=row, column=column, value=repr(value)))
            product["price"] = number
        elif key == "selling_points":
            points = value if isinstance(value, list) else _POINTS.split(str(value))
            product["selling_points"] = [str(p).strip() for p in points if str(p).strip()]
        elif key in _INTS:
            try:
                product[key] = int(float(value))
            except (TypeError, ValueError, OverflowError):
                raise BatchFileError(tr("batch.bad_number", row=row, column=column, value=repr(value))) from None
        elif key == "id":
            product["id"] = int(value) if isinstance(value, float) and value.is_integer() else value
        else:
            product[key] = value if isinstance(value, str | list | dict | bool) else _plain(value)
    if not product.get("product"):
        raise BatchFileError(tr("batch.no_product", row=row))
    return product, photo, ignored


def _plain(value: Any) -> str:
    """A spreadsheet number in a text column (a brand called 361, a category 2024)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BatchFileError("UTF-8 / GBK")


def _rows(path: Path, tr: Callable[..., str]) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = _decode(path.read_bytes())
        except BatchFileError:
            raise BatchFileError(tr("batch.encoding", name=path.name)) from None
        return list(csv.DictReader(io.StringIO(text)))
    if suffix == ".xlsx":
        try:
            import openpyxl
        except ImportError as exc:  # a declared dependency; say what to install if it is missing
            raise BatchFileError("XLSX needs openpyxl: pip install openpyxl") from exc
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise BatchFileError(tr("batch.unreadable", name=path.name, error=exc)) from None
        try:
            values = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
        if not values:
            return []
        header = [str(h).strip() if h is not None else "" for h in values[0]]
        return [
            {h: v for h, v in zip(header, row, strict=False) if h}
            for row in values[1:]
            if any(v not in (None, "") for v in row)
        ]
    if suffix in (".jsonl", ".json"):
        text = _decode(path.read_bytes()).strip()
        try:
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            records = []
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise BatchFileError(tr("batch.bad_json", row=number, error=exc.msg)) from None
        for number, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise BatchFileError(tr("batch.not_object", row=number))
        return records
    raise BatchFileError(tr("batch.kind", name=path.name))


def read_products(path: str | Path, tr: Callable[..., str]) -> Products:
    """Products of a CSV / XLSX / JSONL / JSON file, each one's photo file name, the ignored columns.

    Rows are numbered as a spreadsheet shows them (the header is row 1) and JSON lines from 1.

    Raises:
        BatchFileError: an unreadable file, a row without a product name, a price that is not a number.
    """
    path = Path(path)
    rows = _rows(path, tr)
    if not rows:
        raise BatchFileError(tr("batch.empty", name=path.name))
    first = 2 if path.suffix.lower() in (".csv", ".xlsx") else 1
    read = [normalize_product(row, first + i, tr) for i, row in enumerate(rows)]
    ignored = list(dict.fromkeys(column for _, _, columns in read for column in columns))
    return Products([p for p, _, _ in read], [photo for _, photo, _ in read], ignored)


def notes_markdown(product: dict[str, Any], slot: dict[str, Any], tr: Callable[..., str]) -> str:
    """One product's notes as Markdown: each variant's titles, body, hashtags, compliance and writer."""
    lines = [f"# {product.get('product', '')}", ""]
    if slot.get("error"):
        return "\n".join([*lines, f"> {tr('batch.failed')}: {slot['error'].get('message', '')}", ""])
    for draft in slot.get("drafts", []):
        compliance = draft.get("compliance") or {}
        lines += [f"## {tr('card.variant', n=draft.get('variant', 0) + 1)}", ""]
        lines += [f"{i}. {title}" for i, title in enumerate(draft.get("titles", []), 1)]
        lines += ["", draft.get("body", ""), "", " ".join(f"#{tag}" for tag in draft.get("hashtags", [])), ""]
        if compliance.get("status"):
            lines.append(f"- {tr('card.compliance')}: {tr('card.status_' + compliance['status'])}")
        lines += [f"- {r.get('original', '')} → {r.get('replacement', '')}" for r in compliance.get("rewrites", [])]
        model = draft.get("model")
        lines += [f"- {tr('card.written_by')}: {draft.get('engine', '')}" + (f" / {model}" if model else ""), ""]
    return "\n".join(lines)


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _slug(index: int, name: str) -> str:
    return f"{index + 1:03d}-{_UNSAFE.sub('_', name).strip(' ._')[:40] or 'product'}"


def build_zip(
    products: list[dict[str, Any]],
    results: list[dict[str, Any]],
    covers: dict[int, bytes],
    tr: Callable[..., str],
) -> bytes:
    """The download: `notes.jsonl` (the job's results, one product a line), `notes/NNN-name.md` per product, and
    `covers/NNN-name.jpg` for the products that got a cover."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
        for index, (product, slot) in enumerate(zip(products, results, strict=False)):
            slug = _slug(index, str(product.get("product", "")))
            archive.writestr(f"notes/{slug}.md", notes_markdown(product, slot, tr))
            if index in covers:
                archive.writestr(f"covers/{slug}.jpg", covers[index], compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
