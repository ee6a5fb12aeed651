"""Batch files: CSV (UTF-8 or GBK), XLSX and JSONL with English or Chinese columns; an empty cell is unknown
(no price is sent, never 0); bad cells are errors naming the row and column; the ZIP holds notes and covers."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest

from ui.batch import BatchFileError, build_zip, read_products
from ui.i18n import translator

TR = translator("zh")
EN = translator("en")


def test_csv_with_chinese_columns_and_an_empty_price(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(
        "商品,品牌,价格,卖点,备注,图片\n防晒霜,山茶集,89,清爽；不泛白;SPF50\n口红,,,显白\n", encoding="utf-8-sig"
    )
    read = read_products(path, TR)
    first, second = read.products
    assert first == {
        "product": "防晒霜",
        "brand": "山茶集",
        "price": 89.0,
        "selling_points": ["清爽", "不泛白", "SPF50"],
    }
    assert second == {"product": "口红", "selling_points": ["显白"]} and "price" not in second
    assert read.ignored == ["备注"] and read.photos == [None, None]


def test_gbk_csv_as_excel_saves_it(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("product,price,image\n连衣裙,￥199,photos/dress.jpg\n".encode("gbk"))
    read = read_products(path, TR)
    assert read.products == [{"product": "连衣裙", "price": 199.0}] and read.photos == ["dress.jpg"]


def test_xlsx(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["SKU", "Product", "Brand", "Price", "Selling points", "n"])
    sheet.append([1001, "咖啡机", 361, None, "一键萃取\n小巧", 2])
    sheet.append([None, None, None, None, None, None])  # an empty row is skipped
    sheet.append(["A-2", "手冲壶", "", 0, "", None])
    path = tmp_path / "p.xlsx"
    book.save(path)
    read = read_products(path, EN)
    assert read.products == [
        {"id": 1001, "product": "咖啡机", "brand": "361", "selling_points": ["一键萃取", "小巧"], "n": 2},
        {"id": "A-2", "product": "手冲壶", "price": 0.0},  # a price of 0 written in the file is a price
    ]


def test_jsonl_and_json_list(tmp_path):
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"商品": "面霜", "price": ""}\n\n{"product": "精华", "price": 299, "selling_points": "a;b"}\n')
    assert read_products(lines, TR).products == [
        {"product": "面霜"},
        {"product": "精华", "price": 299.0, "selling_points": ["a", "b"]},
    ]
    listed = tmp_path / "p.json"
    listed.write_text(json.dumps([{"name": "眼影"}]))
    assert read_products(listed, TR).products == [{"product": "眼影"}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "商品,价格\n面霜,abc\n", "第 2 行「价格」"),
        ("p.csv", "品牌,价格\n山茶集,89\n", "第 2 行没有商品名称"),
        ("p.jsonl", '{"product": "a"}\n{oops\n', "第 2 行不是合法的 JSON"),
        ("p.jsonl", "[1]", "第 1 条不是 JSON 对象"),
        ("p.txt", "x", "只支持"),
        ("p.csv", "商品\n", "没有商品"),
    ],
)
def test_readable_errors_name_the_row_and_column(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BatchFileError, match=message):
        read_products(path, TR)


def test_zip_holds_notes_markdown_and_covers():
    products = [{"product": "防晒/霜", "price": 89.0}, {"product": "口红"}]
    compliance = {"status": "clean", "rewrites": [], "remaining": []}
    draft = {"titles": ["夏日防晒", "b", "c"], "body": "正文", "hashtags": ["防晒"], "engine": "template",
             "model": None, "variant": 0, "compliance": compliance}  # fmt: skip
    results = [{"index": 0, "drafts": [draft], "error": None}, {"index": 1, "error": {"message": "product: too long"}}]
    data = build_zip(products, results, {0: b"\xff\xd8jpeg"}, TR)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == ["notes.jsonl", "notes/001-防晒_霜.md", "covers/001-防晒_霜.jpg", "notes/002-口红.md"]
        markdown = archive.read("notes/001-防晒_霜.md").decode()
        assert "1. 夏日防晒" in markdown and "#防晒" in markdown and "生成引擎: template" in markdown
        assert "0元" not in archive.read("notes/002-口红.md").decode()
        assert "too long" in archive.read("notes/002-口红.md").decode()
        assert len(archive.read("notes.jsonl").decode().splitlines()) == 2
