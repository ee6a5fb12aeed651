"""The diffusers engine on tiny random SD / SDXL pipelines built at test time (64x64 images, 2-4 steps)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models import ModelConfigError, testing
from models.engines import DiffusionEngine
from models.engines.diffusers_image import DiffusersImageEngine
from models.engines.diffusion_inputs import DiffusionInputError, size_for_aspect
from models.engines.diffusion_speed import DiffusionOptions
from models.loader import load_engine

STEPS = 2


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _max_diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(_px(a) - _px(b)).max())


@pytest.fixture(scope="module")
def lora_dir(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("loras")
    testing.build_tiny_lora(tiny_models["diffusion"].source, root / "shop-a", seed=1)
    testing.build_tiny_lora(tiny_models["diffusion"].source, root / "shop-b", seed=2)
    return root


@pytest.fixture(scope="module")
def engine(tiny_models, lora_dir) -> DiffusersImageEngine:
    spec = tiny_models["diffusion"].model_copy(update={"options": {"lora_dir": str(lora_dir)}})
    return load_engine(spec)


@pytest.fixture(scope="module")
def photo(engine) -> Image.Image:
    return engine.text_to_image("口红", num_inference_steps=STEPS, seed=99)[0]


def _product(photo: Image.Image, size: tuple[int, int] = (64, 64)) -> tuple[Image.Image, np.ndarray]:
    """A cut-out: the photo's pixels, opaque in a rectangle, with a soft (partial alpha) rim around it."""
    rgb = np.asarray(photo.convert("RGB").resize(size))
    alpha = np.zeros(size[::-1], np.uint8)
    h, w = alpha.shape
    alpha[h // 4 - 2 : 3 * h // 4 + 2, w // 3 - 2 : 2 * w // 3 + 2] = 60  # anti-aliased rim, not the product
    alpha[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = 255
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), alpha >= 128


def test_one_engine_builds_every_variant_on_one_set_of_weights(engine):
    assert isinstance(engine, DiffusionEngine) and engine.engine_name == "diffusers"
    assert engine.img2img.unet is engine.text2img.unet and engine.inpainter.unet is engine.text2img.unet
    assert engine.inpainter.vae is engine.text2img.vae and engine.img2img.text_encoder is engine.text2img.text_encoder
    assert engine.native_size == (64, 64) and engine.size_multiple == 16
    assert engine.speed == []  # GPU speed options stay off on CPU


def test_text_to_image_shapes_and_seeds(engine):
    [first] = engine.text_to_image("红色口红", num_inference_steps=STEPS, seed=3)
    [again] = engine.text_to_image("红色口红", num_inference_steps=STEPS, seed=3)
    assert first.size == (64, 64) and first.info["seed"] == 3
    assert first.tobytes() == again.tobytes()
    [wide] = engine.text_to_image("红色口红", num_inference_steps=STEPS, seed=3, height=48, width=80)
    assert wide.size == (80, 48)
    [unseeded] = engine.text_to_image("红色口红", num_inference_steps=STEPS)
    assert isinstance(unseeded.info["seed"], int)  # a drawn seed that reproduces it
    [replay] = engine.text_to_image("红色口红", num_inference_steps=STEPS, seed=unseeded.info["seed"])
    assert replay.tobytes() == unseeded.tobytes()


def test_batch_rows_have_their_own_seeds(engine):
    batch = engine.text_to_image(
        ["口红", "面霜"], negative_prompt=["模糊", "低质"], num_inference_steps=STEPS, seed=10, num_images_per_prompt=2
    )
    assert [im.info["seed"] for im in batch] == [10, 11, 12, 13]
    # row i reproduces alone with seed + i (batched matmuls may round differently: within 2 levels)
    [alone] = engine.text_to_image("面霜", negative_prompt="低质", num_inference_steps=STEPS, seed=13)
    assert _max_diff(batch[3], alone) <= 2
    assert _max_diff(batch[0], batch[1]) > 10  # same prompt, other seed: another image


def test_image_to_image_and_variations(engine, photo):
    [restyled] = engine.image_to_image(photo, "油画风格", strength=0.5, num_inference_steps=4, seed=1)
    assert restyled.size == (64, 64) and restyled.info["seed"] == 1
    [portrait] = engine.image_to_image(photo, "油画", num_inference_steps=STEPS, strength=1.0, height=64, width=48)
    assert portrait.size == (48, 64)
    variations = engine.variations(photo, n=3, strength=0.75, seed=5, num_inference_steps=4)
    assert [v.info["seed"] for v in variations] == [5, 6, 7]
    assert all(_max_diff(a, b) > 10 for i, a in enumerate(variations) for b in variations[i + 1 :])
    again = engine.variations(photo, n=3, strength=0.75, seed=5, num_inference_steps=4)
    assert all(_max_diff(a, b) <= 2 for a, b in zip(variations, again, strict=True))


def test_replace_background_keeps_the_product_pixels_exactly(engine, photo):
    product, mask = _product(photo)
    [scene] = engine.replace_background(product, "海边，阳光", num_inference_steps=STEPS, seed=2)
    original = np.asarray(product)[..., :3].astype(np.int16)
    assert scene.size == product.size
    assert np.abs(_px(scene)[mask] - original[mask]).max() <= 2  # the product's own pixels, colours, logo
    assert np.abs(_px(scene)[~mask] - original[~mask]).mean() > 10  # a new background


def test_replace_background_feathers_only_outside_the_product(engine, photo):
    from scipy.ndimage import distance_transform_edt

    product, mask = _product(photo)
    hard = engine.replace_background(product, "森林", num_inference_steps=STEPS, seed=4, feather=0)[0]
    soft = engine.replace_background(product, "森林", num_inference_steps=STEPS, seed=4, feather=6)[0]
    distance = distance_transform_edt(~mask)
    changed = np.abs(_px(hard) - _px(soft)).max(axis=2) > 0
    assert not changed[mask].any()  # inside the product: identical, exact
    assert changed[(distance >= 1) & (distance <= 3)].any()  # the soft edge is outside
    assert not changed[distance > 6.5].any()  # and only within `feather` pixels


def test_replace_background_on_a_canvas_of_any_size(engine, photo):
    product, mask = _product(photo, size=(70, 90))  # not multiples of 8: generated at 64x80, composited at 70x90
    [scene] = engine.replace_background(product, "白色背景", num_inference_steps=STEPS, seed=1, height=64, width=48)
    assert scene.size == (70, 90)
    assert np.abs(_px(scene)[mask] - np.asarray(product)[..., :3].astype(np.int16)[mask]).max() <= 2


@pytest.mark.parametrize(("source", "target"), [((48, 48), (48, 64)), ((72, 72), (72, 128))], ids=["3:4", "9:16"])
def test_outpaint_to_a_preset_keeps_the_original_where_it_was(engine, photo, source, target):
    original = photo.resize(source)
    [wide] = engine.outpaint(original, *target, prompt="简洁背景", num_inference_steps=STEPS, seed=7)
    assert wide.size == target
    x, y, w, h = wide.info["placement"]
    assert (w, h) == source and x == (target[0] - w) // 2 and y == (target[1] - h) // 2
    assert _max_diff(wide.crop((x, y, x + w, y + h)), original) <= 2
    assert (target[0], target[1]) == size_for_aspect(*target, target[0] * target[1], 8)


def test_outpaint_scales_the_image_to_fit(engine, photo):
    [tall] = engine.outpaint(photo, 48, 80, num_inference_steps=STEPS, seed=1)  # 64x64 scaled to 48x48
    assert tall.size == (48, 80) and tall.info["placement"] == (0, 16, 48, 48)
    crop = tall.crop((0, 16, 48, 64))
    assert _max_diff(crop, photo.convert("RGB").resize((48, 48), Image.Resampling.LANCZOS)) <= 2


def test_inpaint_keeps_pixels_under_black(engine, photo):
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (0, 0, 32, 64))
    [out] = engine.inpaint(photo, mask, "蓝色", num_inference_steps=STEPS, seed=1)
    assert _max_diff(out.crop((32, 0, 64, 64)), photo.crop((32, 0, 64, 64))) == 0
    assert _max_diff(out.crop((0, 0, 32, 64)), photo.crop((0, 0, 32, 64))) > 10


def test_lora_changes_the_output_and_none_restores_it(engine):
    [base] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    engine.load_lora("shop-a")  # from options.lora_dir
    engine.set_lora("shop-a")
    [styled] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    with engine.using_lora("shop-b"):  # loads on demand, restores shop-a after
        [other] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert engine.active_lora == "shop-a" and engine.loras == ["shop-a", "shop-b"]
    engine.set_lora(None)
    [restored] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert _max_diff(styled, base) > 10 and _max_diff(other, base) > 10 and _max_diff(other, styled) > 10
    assert restored.tobytes() == base.tobytes()
    engine.unload_lora("shop-a")
    engine.unload_lora("shop-b")
    assert engine.loras == [] and engine.active_lora is None
    [after] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert after.tobytes() == base.tobytes()


def test_lora_names_come_from_the_configured_directory_only(engine, tiny_models):
    for name in ("nope", "../shop-a", "/etc/passwd", ""):
        with pytest.raises(DiffusionInputError) as err:
            engine.load_lora(name)
        assert err.value.param == "lora"
    with pytest.raises(DiffusionInputError, match="not loaded"):
        engine.set_lora("shop-b")
    plain = DiffusersImageEngine(tiny_models["diffusion"], tiny_models["diffusion"].source)
    with pytest.raises(DiffusionInputError, match="no options.lora_dir"):
        plain.load_lora("shop-a")


def test_progress_callback_counts_the_steps_run(engine, photo):
    steps: list[tuple[int, int]] = []
    engine.text_to_image("口红", num_inference_steps=3, seed=1, callback=lambda s, t: steps.append((s, t)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    steps.clear()
    engine.image_to_image(photo, "x", strength=0.5, num_inference_steps=4, callback=lambda s, t: steps.append((s, t)))
    assert steps == [(1, 2), (2, 2)]  # strength 0.5 of 4 steps runs 2


def test_cancel_stops_between_steps(engine):
    class Stop(Exception):
        pass

    steps: list[int] = []
    calls = {"n": 0}

    def cancel() -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # before step 1 passes; after step 1 stops
            raise Stop

    with pytest.raises(Stop):
        engine.text_to_image(
            "口红", num_inference_steps=5, seed=1, callback=lambda s, t: steps.append(s), cancel=cancel
        )
    assert steps == [1]
    with pytest.raises(Stop):  # a progress callback may raise as well (a job's JobCancelled)
        engine.text_to_image("口红", num_inference_steps=5, callback=lambda s, t: (_ for _ in ()).throw(Stop()))
    assert engine.lock.acquire(blocking=False)  # released: the engine serves the next call
    engine.lock.release()
    assert len(engine.text_to_image("口红", num_inference_steps=1)) == 1


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda e, p: e.text_to_image("x", height=60), "height"),
        (lambda e, p: e.text_to_image("x", width=4096), "width"),
        (lambda e, p: e.text_to_image("x", num_inference_steps=0), "num_inference_steps"),
        (lambda e, p: e.text_to_image("x", num_inference_steps=151), "num_inference_steps"),
        (lambda e, p: e.text_to_image("x", guidance_scale=31), "guidance_scale"),
        (lambda e, p: e.text_to_image("x", guidance_scale=-1), "guidance_scale"),
        (lambda e, p: e.text_to_image("x", num_images_per_prompt=9), "num_images_per_prompt"),
        (lambda e, p: e.text_to_image(["x"] * 9), "prompt"),
        (lambda e, p: e.text_to_image(["x", "y"], negative_prompt=["z"]), "negative_prompt"),
        (lambda e, p: e.text_to_image(""), None),  # an empty prompt is allowed (unconditional)
        (lambda e, p: e.text_to_image(None), "prompt"),
        (lambda e, p: e.text_to_image("x", seed=-1), "seed"),
        (lambda e, p: e.image_to_image(p, "x", strength=0), "strength"),
        (lambda e, p: e.image_to_image(p, "x", strength=0.1, num_inference_steps=5), "strength"),
        (lambda e, p: e.image_to_image("not an image", "x"), "image"),
        (lambda e, p: e.variations(p, n=0), "n"),
        (lambda e, p: e.replace_background(p, "x"), "product_rgba"),  # RGB: no alpha
        (lambda e, p: e.replace_background(p.convert("RGBA"), "x"), "product_rgba"),  # all opaque
        (lambda e, p: e.replace_background(_product(p)[0], "x", feather=-1), "feather"),
        (lambda e, p: e.outpaint(p, 50, 64), "width"),
        (lambda e, p: e.outpaint(p, 64, 64), "width"),  # same aspect: nothing to paint
        (lambda e, p: e.inpaint(p, Image.new("L", (8, 8)), "x"), "mask_image"),
    ],
)
def test_bad_arguments_name_themselves(engine, photo, call, param):
    if param is None:
        assert len(call(engine, photo)) == 1
        return
    with pytest.raises(ValueError) as err:
        call(engine, photo)
    assert isinstance(err.value, DiffusionInputError) and err.value.param == param
    assert str(err.value).startswith(f"{param}: ")


def test_sdxl_pipeline_runs_every_task(tmp_path):
    spec = testing.build_tiny_sdxl_pipeline(tmp_path / "sdxl")
    testing.build_tiny_lora(spec.source, tmp_path / "loras" / "shop-x", seed=3)
    engine = load_engine(spec.model_copy(update={"options": {"lora_dir": str(tmp_path / "loras")}}))
    assert type(engine.inpainter).__name__ == "StableDiffusionXLInpaintPipeline"
    [photo] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    product, mask = _product(photo)
    [scene] = engine.replace_background(product, "海边", num_inference_steps=STEPS, seed=1)
    assert np.abs(_px(scene)[mask] - np.asarray(product)[..., :3].astype(np.int16)[mask]).max() <= 2
    [tall] = engine.outpaint(photo, 48, 80, num_inference_steps=STEPS, seed=1)
    assert tall.size == (48, 80)
    with engine.using_lora("shop-x"):
        [styled] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert _max_diff(styled, photo) > 10
    [base] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert base.tobytes() == photo.tobytes()


def test_speed_options_parse_and_apply_on_request(tiny_models):
    with pytest.raises(ModelConfigError, match="unknown diffusion options"):
        DiffusionOptions.from_options({"fuse_qvk": True}, "m")
    with pytest.raises(ModelConfigError, match="compile"):
        DiffusionOptions.from_options({"compile": "fast"}, "m")
    with pytest.raises(ModelConfigError, match="warmup"):
        DiffusionOptions.from_options({"warmup": [[1, 64]]}, "m")
    spec = tiny_models["diffusion"]
    fast = spec.model_copy(update={"options": {"fuse_qkv": True, "channels_last": True, "speed_on_cpu": True}})
    engine, plain = load_engine(fast), load_engine(spec)
    assert engine.speed == ["fuse_qkv", "channels_last"]
    [a] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    [b] = plain.text_to_image("口红", num_inference_steps=STEPS, seed=1)
    assert _max_diff(a, b) <= 2


def test_size_for_aspect():
    assert size_for_aspect(3, 4, 1024 * 1024, 32) == (896, 1184)
    assert size_for_aspect(9, 16, 512 * 512, 64) == (384, 704)
    assert size_for_aspect(1, 1, 1024 * 1024, 64) == (1024, 1024)
    with pytest.raises(DiffusionInputError):
        size_for_aspect(0, 1, 100)
