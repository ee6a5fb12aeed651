"""OCR and QR codes of listing images with the real RapidOCR models and OpenCV's QR decoder.

Images are real photos (skimage, scikit-learn samples) with real Chinese text drawn on them in the project's
Noto Sans CJK, and QR codes made by OpenCV's encoder. The ids and phone numbers are made up.
"""

from __future__ import annotations

import io
import threading

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from generation.image.fonts import wheel_font
from moderation.image_policy import ImagePolicy
from moderation.image_text import ImageTextReader, ImageTextSignals, as_rgb
from moderation.normalize import normalize
from moderation.policy import Policy
from moderation.rules import find_contact_details
from moderation.types import Hit

pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is installed by `make install` (--no-deps)")

WECHAT_LINE = "加微信 abc12345 领优惠"
PHONE_LINE = "电话 138 1234 5678"


def contact_rules(field: str, text: str) -> list[Hit]:
    """The text rules the moderator runs on titles and bodies (contact details)."""
    return find_contact_details(field, normalize(text))


def product_photo(width: int = 1080, height: int = 1440) -> np.ndarray:
    """skimage's coffee cup at a phone photo's size."""
    return cv2.resize(data.coffee(), (width, height), interpolation=cv2.INTER_CUBIC)


def draw_lines(rgb: np.ndarray, lines: list[tuple[str, tuple[int, int], int]]) -> tuple[np.ndarray, list[tuple]]:
    """Draw outlined text (white on a dark stroke, as sellers do); returns the image and each line's ink box."""
    font_file = wheel_font()
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    boxes = []
    for text, xy, size in lines:
        font = ImageFont.truetype(font_file.path, size, index=font_file.index)
        draw.text(xy, text, font=font, fill=(255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0))
        boxes.append(draw.textbbox(xy, text, font=font, stroke_width=3))
    return np.asarray(image), boxes


def qr_image(payload: str, module_px: int = 8) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(payload)
    return cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)


def with_qr(rgb: np.ndarray, payload: str, x: int, y: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    code = qr_image(payload)
    out = rgb.copy()
    out[y : y + code.shape[0], x : x + code.shape[1]] = code[..., None]
    return out, (x, y, x + code.shape[1], y + code.shape[0])


def png(rgb_or_rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb_or_rgba).save(buffer, "PNG")
    return buffer.getvalue()


def iou(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def reader() -> ImageTextReader:
    return ImageTextReader()


@pytest.fixture(scope="module")
def signals(reader) -> ImageTextSignals:
    return ImageTextSignals(contact_rules, reader)


@pytest.fixture(scope="module")
def overlay_photo() -> tuple[np.ndarray, list[tuple]]:
    return draw_lines(product_photo(), [(WECHAT_LINE, (60, 80), 56), (PHONE_LINE, (60, 1250), 56)])


def test_reads_lines_with_boxes_in_original_pixels(reader, overlay_photo):
    rgb, ink = overlay_photo
    read = reader.read(rgb)
    assert (read.width, read.height) == (1080, 1440)
    assert len(read.lines) == 2
    wechat, phone = read.lines  # top to bottom
    assert "abc12345" in wechat.text and "微信" in wechat.text
    assert "".join(phone.text.split()).endswith("13812345678")
    # the OCR ran on a 720x960 copy; boxes are mapped back onto the 1080x1440 photo
    assert iou(wechat.box, ink[0]) > 0.6 and iou(phone.box, ink[1]) > 0.6
    for line in read.lines:
        assert read.text[line.start : line.end] == line.text
    assert read.qr_codes == ()


def test_contact_details_in_an_image_are_hits_with_evidence_on_it(signals, overlay_photo):
    rgb, ink = overlay_photo
    hits, reasons = signals([png(rgb)])
    codes = {hit.code for hit in hits}
    assert codes == {"diversion.contact"}
    evidence = [e for hit in hits for e in hit.evidence]
    assert {e.field for e in evidence} == {"images[0]"}
    texts = ["".join(e.text.split()) for e in evidence]
    assert any("abc12345" in t for t in texts) and any("13812345678" in t for t in texts)
    assert all(hit.source == "image:ocr" for hit in hits)
    assert max(hit.score for hit in hits) >= Policy.load().thresholds("diversion").block
    # every evidence span is located: a reason names the line's box and what it reads
    assert any(r.startswith("images[0] box [") and "abc12345" in r for r in reasons)
    assert any("138" in r for r in reasons)


def test_evidence_offsets_index_the_image_text(reader, overlay_photo):
    rgb, _ = overlay_photo
    read = reader.read(rgb)
    for hit in contact_rules("images[0]", read.text):
        for e in hit.evidence:
            assert read.text[e.start : e.end] == e.text
            assert read.lines_at(e.start, e.end)


def test_second_image_is_named_by_its_index(signals, overlay_photo):
    rgb, _ = overlay_photo
    hits, _ = signals([data.chelsea(), rgb])
    assert hits and {e.field for hit in hits for e in hit.evidence} == {"images[1]"}


def test_qr_link_on_a_photo_is_decoded_and_blocks(reader, signals):
    policy = ImagePolicy.load()
    payload = "https://u.wechat.com/EFa1b2c3d4"
    rgb, pasted = with_qr(product_photo(), payload, 700, 1000)
    read = reader.read(rgb)
    assert [code.payload for code in read.qr_codes] == [payload]
    box = read.qr_codes[0].box  # the code without the encoder's white quiet zone, in original pixels
    assert pasted[0] <= box[0] < box[2] <= pasted[2] and pasted[1] <= box[1] < box[3] <= pasted[3]
    assert iou(box, pasted) > 0.7
    hits, reasons = signals([rgb])
    qr_hits = [hit for hit in hits if hit.code == "diversion.qr"]
    assert len(qr_hits) == 1 and qr_hits[0].source == "image:qr"
    assert qr_hits[0].evidence[0].field == "images[0]" and qr_hits[0].evidence[0].text == payload
    assert qr_hits[0].score == policy.qr.link_score >= Policy.load().thresholds("diversion").block
    assert any("QR code" in r and payload in r for r in reasons)


def test_plain_qr_payload_is_a_review_not_a_block(signals):
    policy, thresholds = ImagePolicy.load(), Policy.load().thresholds("diversion")
    rgb, _ = with_qr(data.chelsea(), "BATCH 2026-11 LOT 7", 20, 20)
    hits, _ = signals([rgb])
    assert [hit.code for hit in hits] == ["diversion.qr"]
    assert hits[0].score == policy.qr.score and thresholds.review <= hits[0].score < thresholds.block


def test_link_patterns():
    qr = ImagePolicy.load().qr
    for payload in ("https://weixin.qq.com/g/AbC", "weixin://dl/business/?t=x", "www.example.shop/x", "wxp://f2f0abc"):
        assert qr.is_link(payload), payload
    for payload in ("BATCH 2026-11 LOT 7", "6901234567892", "note studio"):
        assert not qr.is_link(payload), payload


@pytest.mark.parametrize(
    "name",
    ["coffee", "chelsea", "astronaut", "rocket", "camera", "motorcycle", "china", "flower", "hubble", "page"],
)
def test_clean_photos_give_no_hits(signals, reader, name):
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    photos = {
        "coffee": product_photo(),
        "chelsea": data.chelsea(),
        "astronaut": data.astronaut(),
        "rocket": data.rocket(),
        "camera": data.camera(),
        "motorcycle": data.stereo_motorcycle()[0],
        "china": china,
        "flower": flower,
        "hubble": data.hubble_deep_field(),
        "page": data.page(),  # a scanned page: plenty of text, none of it contact details
    }
    hits, reasons = signals([photos[name]])
    assert hits == [] and reasons == []
    if name == "page":
        assert "segmentation" in reader.read(photos[name]).text.lower()


def test_grey_and_rgba_images_are_read(signals, overlay_photo):
    rgb, _ = overlay_photo
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    for image in (grey, png(grey), rgba, png(rgba)):
        hits, _ = signals([image])
        assert {hit.code for hit in hits} == {"diversion.contact"}


def test_odd_images_never_raise(signals):
    odd = [
        np.zeros((1, 1), np.uint8),
        np.zeros((1, 1, 4), np.uint8),
        np.full((40, 20000, 3), 200, np.uint8),
        np.full((20000, 17), 30, np.uint8),
        np.zeros((5, 3000, 3), np.uint8),
    ]
    hits, reasons = signals(odd)
    assert hits == [] and reasons == []
    # bytes that are no usable image: no hit, a reason that says why, and the next image is still read
    tiny = png(np.zeros((1, 1, 3), np.uint8))
    hits, reasons = signals([tiny, b"GIF89a not really", with_qr(data.chelsea(), "https://x.example.com", 20, 20)[0]])
    assert [hit.code for hit in hits] == ["diversion.qr"] and hits[0].evidence[0].field == "images[2]"
    assert reasons[0].startswith("images[0] not read for text: image is 1x1")
    assert reasons[1].startswith("images[1] not read for text: not a readable image")


def test_long_strip_is_read_in_tiles(signals):
    # a product-detail strip 750x4500 (9 photos); squeezed to 960 px tall its 40 px text would be 8 px high
    strip = np.concatenate([cv2.resize(data.coffee(), (750, 500))] * 9, axis=0)
    strip, ink = draw_lines(strip, [("微信号 shop8888 咨询", (40, 3000), 40)])
    hits, reasons = signals([strip])
    assert [hit.code for hit in hits] == ["diversion.contact"]
    assert "shop8888" in hits[0].evidence[0].text
    box = [int(v) for v in reasons[0].split("box [", 1)[1].split("]", 1)[0].split(",")]
    assert iou(box, ink[0]) > 0.5


def test_concurrent_reads_share_one_engine(reader, overlay_photo):
    rgb, _ = overlay_photo
    small = cv2.resize(rgb, (540, 720), interpolation=cv2.INTER_AREA)
    results: list = [None, None]

    def work(i: int) -> None:
        results[i] = ImageTextReader(reader.policy).read(small)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[0] == results[1] and "abc12345" in results[0].text


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="uint8"):
        as_rgb(np.zeros((20, 20), np.float32))
    with pytest.raises(ValueError, match="shape"):
        as_rgb(np.zeros((20, 20, 2), np.uint8))
    with pytest.raises(ValueError, match="threads"):
        ImageTextReader(threads=0)
    with pytest.raises(ValueError, match="text_hits"):
        ImageTextSignals("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="link_patterns"):
        ImagePolicy.model_validate({**ImagePolicy.load().model_dump(), "qr": {"link_patterns": ["(unclosed"]}})


def test_the_moderator_reads_text_and_qr_codes_in_listing_images(overlay_photo):
    """End to end: a clean title and body, the contact id only inside the second image, a QR link in the third;
    the decision blocks on them, evidence names each image, and the versions say what read them."""
    from moderation.moderator import Moderator
    from moderation.types import Listing

    rgb, _ = overlay_photo
    qr, _ = with_qr(product_photo(), "https://t.cn/A6abcdef", 700, 1000)
    listing = Listing(
        id="img-1",
        title="咖啡杯 陶瓷",
        body="容量350毫升，可以进微波炉。",
        images=[png(product_photo()), png(rgb), png(qr)],
    )
    result = Moderator().moderate(listing)
    assert result.decision == "block", result
    fields = {e.field for label in result.labels for e in label.evidence}
    assert "images[1]" in fields and "images[2]" in fields and "images[0]" not in fields
    assert {"image_text"} <= set(result.versions)
    assert any(reason.startswith("images[1] box [") for reason in result.reasons)
    clean = Moderator().moderate(Listing(title="咖啡杯", body="陶瓷杯子", images=[png(product_photo())]))
    assert clean.decision == "pass", clean
