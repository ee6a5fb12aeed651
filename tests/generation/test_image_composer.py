"""The cover composer end to end: every template on every preset, text never clipped and legible at 360 px,
deterministic per seed, varied across seeds, real photos, and errors naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from common.errors import InputError
from generation.image.composer import Composer, Cover
from generation.image.schema import PRESET_SIZES, CoverInfo, CoverSpec
from generation.image.testing import labelled_photos, product_shot

PRESETS = list(PRESET_SIZES)
REAL_PHOTOS = Path(__file__).parent / "data" / "real_photos.yaml"
LONG_TITLE = "夏天必备的防晒霜清爽不油腻，户外运动也不怕晒黑｜SPF50+学生党平价好物大合集"  # 40 characters
assert len(LONG_TITLE) == 40


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer()


@pytest.fixture(scope="module")
def shots() -> dict[str, np.ndarray]:
    return {
        "bottle": product_shot("bottle", "white", size=(900, 1200), seed=3).rgb,
        "box": product_shot("box", "white", size=(1200, 900), seed=5).rgb,
        "jar": product_shot("jar", "busy", size=(900, 1200), seed=1).rgb,
        "coffee": data.coffee(),
    }


def full_spec(**kw) -> CoverSpec:
    base = dict(
        title="被这款面霜种草了｜干皮救星",
        subtitle="温和保湿 一抹化水",
        points=["质地清爽好吸收", "敏感肌也能用", "大容量超耐用"],
        price=89.9,
        badge="新品",
    )
    base.update(kw)
    return CoverSpec(**base)


def photos_for(template: str, shots: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [shots["jar"], shots["box"], shots["coffee"]] if template == "collage" else [shots["bottle"]]


def assert_text_inside(cover: Cover) -> None:
    h, w = cover.image.shape[:2]
    assert cover.texts, "no text was laid out"
    for param, block in cover.texts:
        assert block.box.contains(block.ink), (param, block.box, block.ink)
        x0, y0, x1, y1 = block.ink
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (param, block.ink)


def test_templates_are_listed_with_chinese_names(composer: Composer) -> None:
    infos = composer.templates()
    names = [t.name for t in infos]
    assert len(infos) >= 6 and names == list(Composer.TEMPLATES)
    assert {"hero_blur", "panel", "collage", "price_tag", "minimal", "checklist"} <= set(names)
    for t in infos:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t.display_name), t
        assert t.description and 1 <= t.min_photos <= t.max_photos <= 4
    collage = next(t for t in infos if t.name == "collage")
    assert (collage.min_photos, collage.max_photos) == (2, 4)
    assert composer.engine_name == "composer"


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("template", Composer.TEMPLATES)
def test_every_template_on_every_preset(composer: Composer, shots, template: str, preset: str) -> None:
    cover = composer(photos_for(template, shots), full_spec(template=template, preset=preset), seed=7)
    w, h = PRESET_SIZES[preset]
    assert cover.image.shape == (h, w, 3) and cover.image.dtype == np.uint8
    assert cover.template == template and cover.preset == preset and cover.seed == 7
    assert cover.palette and all(c.startswith("#") and len(c) == 7 for c in cover.palette)
    assert cover.image.std() > 20  # a picture, not a blank
    assert_text_inside(cover)
    title = [b for p, b in cover.texts if p == "title"]
    assert len(title) == 1 and "".join(line.text for line in title[0].lines) in (
        "被这款面霜种草了｜干皮救星",
        "被这款面霜种草了干皮救星",
    )


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("template", Composer.TEMPLATES)
def test_a_40_character_title_fits_legibly(composer: Composer, shots, template: str, preset: str) -> None:
    spec = full_spec(
        title=LONG_TITLE,
        subtitle="温和保湿不刺激，一抹化水，干皮敏感肌都能用，上妆不卡粉不搓泥",
        template=template,
        preset=preset,
    )
    cover = composer(photos_for(template, shots), spec, seed=3)
    assert_text_inside(cover)
    w = PRESET_SIZES[preset][0]
    (title,) = [b for p, b in cover.texts if p == "title"]
    assert title.size * 360 / w >= 15.9  # >= 16 px em (a Han character ~14 px tall) at feed-thumbnail width
    shown = "".join(line.text for line in title.lines)
    assert sum(ch.isalnum() for ch in shown) == sum(ch.isalnum() for ch in LONG_TITLE)  # nothing cut off


def test_same_seed_same_pixels_different_seeds_different_covers(composer: Composer, shots) -> None:
    spec = full_spec()
    a = composer([shots["bottle"]], spec, seed=11)
    b = composer([shots["bottle"]], spec, seed=11)
    fresh = Composer()([shots["bottle"].copy()], spec, seed=11)  # another instance, cold cache
    assert np.array_equal(a.image, b.image) and np.array_equal(a.image, fresh.image)
    assert a.template == fresh.template and a.palette == fresh.palette
    covers = [composer([shots["bottle"]], spec, seed=s) for s in range(8)]
    assert len({c.template for c in covers}) >= 3  # the template is picked by seed
    same_template = [composer([shots["bottle"]], full_spec(template="panel"), seed=s).image for s in range(6)]
    assert len({img.tobytes() for img in same_template}) >= 3  # layout and colour variants by seed


def test_covers_made_from_several_threads_are_the_same_as_one_by_one(shots) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [
        ([shots[name]], full_spec(template=t), seed)
        for seed, (name, t) in enumerate(
            [("bottle", "hero_blur"), ("jar", "panel"), ("coffee", "minimal"), ("box", "big_type")] * 2
        )
    ]
    alone = [Composer()(*job).image for job in jobs]
    shared = Composer()
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: shared(*job).image, jobs))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_seed_picks_only_templates_that_fit(composer: Composer, shots) -> None:
    one = CoverSpec(title="通勤包里的补妆神器")  # no price, no points
    for seed in range(12):
        assert composer([shots["bottle"]], one, seed=seed).template not in ("collage", "price_tag", "checklist")
    for seed in range(4):
        assert composer([shots["jar"], shots["box"], shots["coffee"]], one, seed=seed).template == "collage"


def test_real_photos(composer: Composer) -> None:
    for name in ("coffee", "chelsea", "astronaut", "rocket"):
        photo = getattr(data, name)()
        for template in ("hero_blur", "minimal", "big_type"):
            cover = composer([photo], CoverSpec(title="真实照片也能做封面", badge="好物", template=template), seed=1)
            assert cover.image.shape == (1660, 1242, 3)
            assert_text_inside(cover)
    logo = data.logo()  # RGBA: its alpha is the product
    assert composer([logo], CoverSpec(title="透明背景的产品图", template="minimal"), seed=0).image.std() > 10
    grey = data.camera()  # grey H x W
    assert composer([grey], CoverSpec(title="黑白照片", template="panel"), seed=0).image.shape == (1660, 1242, 3)


def test_a_user_mask_is_used(composer: Composer, shots) -> None:
    shot = product_shot("box", "busy", size=(900, 1200), seed=2)
    spec = CoverSpec(title="自带抠图", template="minimal")
    cover = composer([shot.rgb], spec, seed=0, masks=[shot.mask])
    assert cover.image.shape == (1660, 1242, 3)
    assert np.array_equal(composer.cutout(shot.rgb, shot.mask)[..., 3] >= 128, shot.mask)


def test_cutouts_are_cached_per_photo_in_a_bounded_lru(shots) -> None:
    composer = Composer(cache_size=2)
    spec = CoverSpec(title="缓存", template="minimal")
    first = composer([shots["bottle"]], spec, seed=0)
    for name in ("box", "jar", "coffee"):
        composer([shots[name]], spec, seed=0)
    assert len(composer._cache) == 2
    again = composer([shots["bottle"]], spec, seed=0)  # evicted, prepared again: same pixels
    assert np.array_equal(first.image, again.image)


def test_info_and_encoding(composer: Composer, shots) -> None:
    cover = composer([shots["bottle"]], full_spec(template="price_tag", preset="1:1"), seed=5)
    info = cover.info()
    assert isinstance(info, CoverInfo)
    assert (info.engine, info.model, info.template, info.width, info.height, info.seed) == (
        "composer",
        None,
        "price_tag",
        1080,
        1080,
        5,
    )
    assert cover.encode()[:2] == b"\xff\xd8" and cover.encode("PNG")[:4] == b"\x89PNG"


def test_emoji_in_the_title_are_dropped(composer: Composer, shots) -> None:
    cover = composer([shots["bottle"]], CoverSpec(title="种草✨好物💕", template="minimal"), seed=0)
    (title,) = [b for p, b in cover.texts if p == "title"]
    assert "".join(line.text for line in title.lines) == "种草好物"


def _error(composer: Composer, photos, spec, seed: int = 0, **kw) -> InputError:
    with pytest.raises(InputError) as err:
        composer(photos, spec, seed, **kw)
    assert err.value.message.startswith(f"{err.value.param}:"), err.value.message
    assert 400 <= err.value.status < 500
    return err.value


def test_errors_name_the_field(composer: Composer, shots) -> None:
    bottle = shots["bottle"]
    spec = CoverSpec(title="标题")
    assert _error(composer, [bottle], CoverSpec(title="标题", template="poster")).param == "template"
    assert (
        _error(composer, [bottle], CoverSpec.model_construct(**{**spec.model_dump(), "preset": "4:5"})).param
        == "preset"
    )
    assert _error(composer, [], spec).param == "photos"
    assert _error(composer, [bottle] * 5, spec).param == "photos"
    assert _error(composer, [bottle], CoverSpec(title="标题", template="collage")).param == "photos"
    assert _error(composer, [bottle, bottle], CoverSpec(title="标题", template="minimal")).param == "photos"
    assert _error(composer, [bottle], CoverSpec(title="标题", template="price_tag")).param == "price"
    assert _error(composer, [bottle], CoverSpec(title="标题", template="checklist", points=["一个"])).param == "points"
    assert _error(composer, [bottle, bottle.astype(np.float32)], spec).param == "photos.1"
    assert _error(composer, [np.zeros((20, 20, 3), np.uint8)], spec).param == "photos.0"
    assert _error(composer, [np.zeros((100, 2000, 3), np.uint8)], spec).param == "photos.0"
    bomb = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (7000, 7000, 3))  # 49 MP, no memory
    assert _error(composer, [bomb], spec).param == "photos.0"
    assert _error(composer, [bottle], spec, masks=[]).param == "masks"
    assert _error(composer, [bottle], spec, masks=[np.zeros((10, 500), bool)]).param == "masks.0"
    assert _error(composer, [bottle], spec, seed=-1).param == "seed"


def test_a_title_too_long_for_any_template_names_the_title(composer: Composer, shots) -> None:
    huge = CoverSpec.model_construct(**{**CoverSpec(title="x").model_dump(), "title": "这是一个非常非常长的标题" * 30})
    err = _error(composer, [shots["bottle"]], huge)
    assert err.param == "title"
    explicit = CoverSpec.model_construct(**{**huge.model_dump(), "template": "hero_blur"})
    assert _error(composer, [shots["bottle"]], explicit).param == "title"
    assert _error(composer, [shots["bottle"]], CoverSpec(title="✨🎉", template="minimal")).param == "title"


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def sticker_photos(shots) -> dict[str, np.ndarray]:
    photos = {"coffee": shots["coffee"], "bottle": shots["bottle"]}
    cub, _ = labelled_photos(REAL_PHOTOS)
    photos.update({p.name: p.rgb for p in cub if p.name in ("cheetah_cub", "dahlia")})
    return photos  # the cub fills its box: the hardest to find room beside


@pytest.mark.parametrize("preset", PRESETS)
def test_stickers_never_cover_the_product_or_the_words(composer: Composer, shots, sticker_photos, preset) -> None:
    spec = dict(
        title="一杯好咖啡的秘密",
        subtitle="醇香浓郁 每天一杯",
        points=["现磨咖啡豆", "意式浓缩", "拉花"],
        price=29.9,
        badge="新品",
        preset=preset,
    )
    for name, photo in sticker_photos.items():
        for template in Composer.TEMPLATES:
            photos = [photo, shots["box"]] if template == "collage" else [photo]
            cover = composer(photos, CoverSpec(template=template, **spec), seed=0)
            where = (name, template, preset)
            kinds = [kind for kind, _ in cover.stickers]
            assert "badge" in kinds and ("price" in kinds or "tag" in kinds), (where, kinds)
            if template in ("hero_blur", "minimal", "big_type", "price_tag", "checklist"):
                assert cover.products, where  # these photos have clean cut-outs: the product's box is known
            words = [block.ink for _, block in cover.texts]
            for kind, box in cover.stickers:
                for product in cover.products:
                    assert not _overlap(box, product), (where, kind, box, product)
                for ink in words:
                    assert not _overlap(box, ink), (where, kind, box, ink)


def test_a_photo_without_a_clean_cut_out_is_framed_by_every_template(composer: Composer, shots) -> None:
    cat = data.chelsea()  # a face filling the frame: no product to cut out
    assert composer._prepare(cat, None, 0).cutout is None
    for template in Composer.TEMPLATES:
        for preset in PRESETS:
            photos = [cat, shots["bottle"]] if template == "collage" else [cat]
            spec = full_spec(template=template, preset=preset)
            cover = composer(photos, spec, seed=2)
            assert_text_inside(cover)
            assert not any(_overlap(b, p) for _, b in cover.stickers for p in cover.products)
            # the photo is shown, its middle (where the product most likely is) kept clear of stickers
            assert cover.products, (template, preset)
            fur = np.abs(cover.image.astype(int) - (150, 120, 95)).sum(-1) < 60
            assert fur.mean() > 0.05, (template, preset, fur.mean())


def test_a_scene_never_puts_a_new_background_around_a_broken_cut_out(composer: Composer, shots) -> None:
    from generation.image.scenes import Scenes

    def no_engine():
        raise AssertionError("the engine is not needed to find the product")

    scenes = Scenes(no_engine, composer, max_pixels=4_000_000)
    with pytest.raises(InputError) as err:
        scenes._product(data.chelsea())  # no clean cut-out: refused, naming the field, saying what to send
    assert err.value.param == "scene.photo" and "alpha" in err.value.message
    product = scenes._product(shots["bottle"])
    assert product.shape[2] == 4 and (product[..., 3] >= 128).mean() > 0.05
