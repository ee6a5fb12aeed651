"""The studio end to end: Chromium (Debian's, with its CJK and emoji fonts) against a real `notestudio serve`.

Every tab is used as a merchant uses it, and each test saves a full-page screenshot of its tab under
`test-artifacts/studio/` (`NOTESTUDIO_DOCS_SCREENSHOTS=1` also refreshes the README's copies in
`docs/screenshots/`). The webcam is a fake camera fed from a generated Y4M of a real face
(`--use-file-for-fake-video-capture`); its test measures the frames the page shows per second, end to end
(camera -> JPEG -> `POST /v1/tryon/frames` -> makeup -> drawn).

Tests run in order against one server and one browser (startup ~15-50 s); each test opens its own page.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.test_live_server import LiveServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None, reason="Debian chromium not installed (make test installs it)"
    ),
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "studio"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: The issue's bar for live try-on at 640x480, end to end in the browser.
MIN_WEBCAM_FPS = 15.0
CAMERA_FPS = 30
CAMERA_SIZE = (640, 480)
#: The canvas the webcam panel draws tried-on frames on; `data-frames` counts them.
OUT = "#ns-webcam canvas.ns-webcam-out"


def face_frames(seconds: float = 2.0, fps: int = CAMERA_FPS, size: tuple[int, int] = CAMERA_SIZE):
    """A real face (skimage's astronaut, 480 px high, centred) swaying a few pixels: RGB frames of `size`."""
    import cv2
    from skimage import data

    width, height = size
    face = cv2.resize(data.astronaut(), (height, height), interpolation=cv2.INTER_AREA)
    count = int(seconds * fps)
    for i in range(count):
        phase = 2 * np.pi * i / count
        shift = np.float32([[1, 0, (width - height) / 2 + 4 * np.sin(phase)], [0, 1, 1.5 * np.sin(2 * phase)]])
        yield cv2.warpAffine(face, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)


def write_y4m(path: Path, frames, fps: int = CAMERA_FPS) -> Path:
    """Frames as an uncompressed YUV4MPEG2 file (4:2:0), what Chromium's fake camera reads (and loops)."""
    import cv2

    with open(path, "wb") as out:
        for i, rgb in enumerate(frames):
            if i == 0:
                height, width = rgb.shape[:2]
                out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("studio"))
    yield live
    assert live.stop() == 0, "".join(live.lines[-30:])


@pytest.fixture(scope="module")
def camera(tmp_path_factory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", face_frames())


@pytest.fixture(scope="module")
def browser(camera):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def studio(server, browser):
    """A fresh page on the studio, the dev key filled in by the page itself."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, permissions=["camera"])
    page = context.new_page()
    page.goto(f"{server.url}/studio/", wait_until="domcontentloaded", timeout=60_000)
    key = page.locator("#ns-api-key input")
    expect(key).to_have_value(server.key, timeout=30_000)
    yield page
    context.close()


def shoot(page, name: str, full_page: bool = True) -> Path:
    """Save the page as `test-artifacts/studio/<name>.png`; with `NOTESTUDIO_DOCS_SCREENSHOTS=1` also as the
    README's copy, `docs/screenshots/<name>.png` (256 colours: a fraction of the size, text still sharp)."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("NOTESTUDIO_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as shot:
            small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
            small.save(DOCS / f"{name}.png", optimize=True)
    return path


def lip_points(server, frame: np.ndarray) -> np.ndarray:
    """Points in the middle of the upper and lower lip of the camera's face, from the service's own landmarks."""
    import cv2

    jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()
    response = httpx.post(
        f"{server.url}/v1/tryon/makeup",
        files={"image": ("f.jpg", jpeg, "image/jpeg")},
        data={"shade": "LIP-107", "output": "json"},
        headers={"Authorization": f"Bearer {server.key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    landmarks = np.array(response.json()["faces"][0]["landmarks"])[:, :2]
    upper, lower = (landmarks[0] + landmarks[13]) / 2, (landmarks[14] + landmarks[17]) / 2  # outer/inner lip rims
    return np.round([upper, lower]).astype(int)


def open_tab(page, name: str, label: str):
    """Click the studio's tab `name` (its elem_id `ns-tab-<name>`, else its label: a regex, Chinese or English)."""
    from playwright.sync_api import expect

    tab = page.locator(f"#ns-tab-{name}-button")
    if not tab.count():
        tab = page.get_by_role("tab", name=re.compile(label, re.I)).first
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    return page


def field(scope, label: str):
    """The text box whose accessible name matches `label` (a regex; Gradio's labels carry spaces around)."""
    return scope.get_by_role("textbox", name=re.compile(label, re.I)).first


def choose(page, label: str, option: str) -> None:
    """Pick the first option containing `option` in the dropdown labelled `label` (a regex)."""
    from playwright.sync_api import expect

    box = page.get_by_label(re.compile(label, re.I)).first
    box.click()
    item = page.get_by_role("option", name=re.compile(re.escape(option))).first
    expect(item).to_be_visible(timeout=30_000)
    item.click()
    expect(box).to_have_value(re.compile(re.escape(option)))


def pick_lipstick(page, sku: str = "LIP-107"):
    """The try-on tab with the shade catalog loaded and lipstick `sku` (Plum Night) chosen."""
    open_tab(page, "tryon", "试妆|try")
    page.get_by_role("button", name=re.compile("load shades|加载", re.I)).click()
    choose(page, "^(lips|口红|唇)", sku)
    return page


_SAMPLE_LIPS = """([points]) => {
    const out = document.querySelector("#ns-webcam canvas.ns-webcam-out");
    const video = document.querySelector("#ns-webcam video");
    const raw = document.createElement("canvas");
    raw.width = video.videoWidth;
    raw.height = video.videoHeight;
    raw.getContext("2d").drawImage(video, 0, 0);
    const mean = (canvas, [x, y]) => {
        const d = canvas.getContext("2d").getImageData(x - 2, y - 2, 5, 5).data;
        const sum = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += d[i + c];
        return sum.map((v) => v / 25);
    };
    return points.map((p) => [mean(out, p), mean(raw, p)]);
}"""


def test_webcam_try_on_runs_at_15_fps_in_chromium(server, studio):
    """Camera -> JPEG -> POST /v1/tryon/frames -> lipstick -> drawn: at least 15 distinct tried-on frames a
    second at 640x480 in a real browser, counted by the page and by the responses Chromium received."""
    page = pick_lipstick(studio)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/v1/tryon/frames" in r.url else None)
    page.get_by_role("tab", name=re.compile("webcam|摄像头", re.I)).click()
    page.locator("#ns-webcam-start").click()
    counters = f"""() => [performance.now(), Number(document.querySelector('{OUT}').dataset.frames),
        window.nsWebcam.stats.sent, window.nsWebcam.stats.requestMs]"""
    # Warm-up: the session's first frames build its face graphs (and the first request opens the connection).
    page.wait_for_function(f"() => Number(document.querySelector('{OUT}').dataset.frames) >= 30", timeout=60_000)
    (t0, f0, s0, ms0), r0 = page.evaluate(counters), len(statuses)
    page.wait_for_timeout(8_000)
    (t1, f1, s1, ms1), r1 = page.evaluate(counters), len(statuses)
    seconds = (t1 - t0) / 1000
    fps, answered, request_ms = (f1 - f0) / seconds, (r1 - r0) / seconds, (ms1 - ms0) / max(s1 - s0, 1)
    print(
        f"\nwebcam try-on in Chromium at 640x480: {fps:.1f} frames/s shown, {answered:.1f} answers/s, "
        f"{request_ms:.1f} ms a request (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    samples = page.evaluate(_SAMPLE_LIPS, [lip_points(server, next(face_frames())).tolist()])
    print(f"lip colour (tried on, camera): {samples}")
    shoot(page, "tryon-webcam")
    page.locator("#ns-webcam-stop").click()
    assert set(statuses) == {200}, statuses
    assert fps >= MIN_WEBCAM_FPS, f"{fps:.1f} fps shown (< {MIN_WEBCAM_FPS})"
    # Plum Night (#5E2340) on the astronaut's pink lips: the shown frame is much darker there than the camera's.
    assert all(sum(camera) - sum(tried) > 60 for tried, camera in samples), samples


def product_photos(folder: Path) -> list[str]:
    """Two product shots (a bottle, a box) on white, as JPEG files the studio uploads."""
    import cv2

    from generation.image.testing import product_shot

    paths = []
    for i, kind in enumerate(["bottle", "box"]):
        path = folder / f"{kind}.jpg"
        rgb = product_shot(kind, "white", size=(600, 800), seed=i).rgb
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    return paths


def upload(page, target: str, files: list[str], attempts: int = 3) -> None:
    """Give the file component `target` these files and wait until it lists them. Once in a while (1 run in ~5
    here) the files set right after a tab is first shown never reach the component: they are set again."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        page.locator(f"{target} input[type=file]").first.set_input_files(files)
        try:
            expect(page.locator(target).get_by_text(Path(files[0]).name)).to_be_visible(timeout=20_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def write_notes(page) -> None:
    from playwright.sync_api import expect

    open_tab(page, "notes", "笔记|notes")
    page.locator("#ns-product textarea, #ns-product input").first.fill("山茶集轻薄水感防晒霜 SPF50")
    field(page, "^(类目|Category)").fill("防晒")
    page.locator("#ns-price textarea, #ns-price input").first.fill("89")
    field(page, "^(卖点|Selling points)").fill("SPF50+ PA++++\n清爽不油腻\n不泛白")
    page.locator("#ns-write-notes").click()
    expect(page.locator("#ns-notes .ns-card").first).to_be_visible(timeout=60_000)


def test_notes_tab_writes_note_cards(studio):
    """笔记: a product in, note cards out (titles, body, hashtags, copy buttons); Chinese and emoji on screen."""
    from playwright.sync_api import expect

    write_notes(studio)
    cards = studio.locator("#ns-notes .ns-card")
    expect(cards).to_have_count(3)
    text = cards.first.inner_text()
    assert "防晒" in text and "#" in text, text
    assert studio.locator("#ns-notes .ns-copy").count() >= 3
    shoot(studio, "notes")


def test_notes_tab_on_a_phone(server, browser):
    """The notes tab at 390x844: one column, cards readable."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/studio/", wait_until="domcontentloaded", timeout=60_000)
        expect(page.locator("#ns-api-key input")).to_have_value(server.key, timeout=30_000)
        write_notes(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways on a phone ({width} px)"
        page.locator("#ns-notes .ns-card").first.scroll_into_view_if_needed()
        page.evaluate(
            "window.scrollBy(0, document.querySelector('#ns-notes .ns-card').getBoundingClientRect().top - 8)"
        )
        shoot(page, "notes-phone", full_page=False)
    finally:
        context.close()


def test_images_tab_makes_covers(studio, tmp_path):
    """封面: product photos and a title in, a gallery of 3:4 covers out."""
    from playwright.sync_api import expect

    page = open_tab(studio, "images", "封面|images")
    upload(page, "#ns-cover-photos", product_photos(tmp_path))
    page.locator("#ns-cover-title textarea, #ns-cover-title input").first.fill("夏天通勤必备的清爽防晒 ☀️")
    page.locator("#ns-make-covers").click()
    panel = page.locator("#ns-tab-images")
    expect(panel.locator("button img, .gallery img, img").first).to_be_visible(timeout=120_000)
    shoot(page, "images")


def test_video_tab_makes_a_video_that_plays_to_the_end(studio, tmp_path):
    """视频: photos and words in, a progress bar, then an MP4 that Chromium plays to its end."""
    from playwright.sync_api import expect

    page = open_tab(studio, "video", "视频|video")
    upload(page, "#ns-video-photos", product_photos(tmp_path))
    page.locator("#ns-video-title textarea, #ns-video-title input").first.fill("夏日通勤防晒 ☀️")
    page.locator("#ns-video-captions textarea").fill("清爽不油腻 💧\n一抹成膜不泛白")
    duration = page.locator("#ns-video-duration input[type=number]")
    duration.fill("6")
    duration.press("Enter")
    page.locator("#ns-make-video").click()
    video = page.locator("#ns-tab-video video")
    expect(video).to_be_attached(timeout=180_000)
    played = video.evaluate(
        """async (v) => {
            if (v.readyState < 1) await new Promise((r) => v.addEventListener("loadedmetadata", r, {once: true}));
            v.muted = true;
            v.playbackRate = 2;
            const ended = new Promise((r) => v.addEventListener("ended", r, {once: true}));
            await v.play();
            await ended;
            const result = {width: v.videoWidth, height: v.videoHeight, duration: v.duration, time: v.currentTime,
                    ended: v.ended, error: v.error && v.error.code};
            v.currentTime = 0.5;  // the screenshot shows the cover frame (the title), not the last one
            await new Promise((r) => v.addEventListener("seeked", r, {once: true}));
            return result;
        }"""
    )
    assert played["ended"] and played["error"] is None, played
    assert (played["width"], played["height"]) == (1080, 1920) and abs(played["duration"] - 6) <= 0.1, played
    shoot(page, "video")


def test_translate_tab_simplified_to_traditional(studio):
    """翻译: a note in Simplified Chinese with emoji, to Traditional (OpenCC, no weights needed)."""

    page = open_tab(studio, "translate", "翻译|translate")
    panel = page.locator("#ns-tab-translate")
    field(panel, "^(标题|Titles)").fill("夏天通勤必备的清爽防晒☀️")
    field(panel, "^(正文|Body)").fill("今天分享一支防晒！\n\n1. 质地清爽 💧\n✅ 不泛白")
    field(panel, "^(话题|Hashtags)").fill("#防晒 #通勤")
    choose(page, "^(目标语言|To)$", "繁体中文")
    page.locator("#ns-translate").click()
    # The note out: Traditional characters, the emoji and list marks kept.
    page.wait_for_function(
        """() => [...document.querySelectorAll("#ns-tab-translate textarea")].some(
            (t) => t.value.includes("質地清爽 💧") && t.value.includes("✅ 不泛白"))""",
        timeout=60_000,
    )
    outputs = panel.locator("textarea").evaluate_all("(ts) => ts.map((t) => t.value)")
    assert "夏天通勤必備的清爽防曬☀️" in outputs, outputs
    shoot(page, "translate")


def test_moderation_tab_highlights_violations(studio):
    """审核: a listing with a counterfeit claim and a contact detour; the decision badge and <mark>ed spans."""
    from playwright.sync_api import expect

    page = open_tab(studio, "moderation", "审核|moderation")
    page.locator("#ns-mod-title textarea, #ns-mod-title input").first.fill("全网最低价 高仿大牌包 🔥")
    page.locator("#ns-mod-body textarea").fill("一比一复刻，和专柜一样 👜\n加 薇 信 abc12345 了解更多")
    page.locator("#ns-moderate").click()
    report = page.locator("#ns-mod-report")
    expect(report.locator("mark").first).to_be_visible(timeout=60_000)
    expect(report.locator(".ns-badge.ns-block")).to_be_visible()
    assert report.locator("mark").count() >= 2
    expect(page.locator("#ns-appeal")).to_be_enabled()
    shoot(page, "moderation")


def test_tryon_tab_on_a_photo(server, studio, tmp_path):
    """试妆: a shade on a photo, before and after side by side."""
    import cv2
    from playwright.sync_api import expect
    from skimage import data

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    page = pick_lipstick(studio)
    page.get_by_role("tab", name=re.compile("^(photo|照片)$", re.I)).click()
    panel = page.get_by_role("tabpanel").filter(has=page.locator("input[type=file]")).last
    panel.locator("input[type=file]").first.set_input_files(str(photo))
    panel.get_by_role("button", name=re.compile("^(try on|试妆|试色|试用)", re.I)).click()
    expect(panel.locator("img").nth(2)).to_be_visible(timeout=60_000)
    shoot(page, "tryon")


def test_service_tab(studio):
    """服务: health and the model registry."""
    from playwright.sync_api import expect

    page = open_tab(studio, "service", "服务|service")
    page.locator("#ns-health").click()
    page.locator("#ns-list-models").click()
    expect(page.get_by_text("qwen2.5-1.5b-instruct").first).to_be_visible(timeout=30_000)
    shoot(page, "service")
