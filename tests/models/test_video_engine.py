"""The image-to-video engine on tiny random Wan / CogVideoX / SVD pipelines built at test time (64x112, 2 steps)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from models import testing
from models.engines import DiffusionCancelled
from models.engines.diffusers_video import DiffusersVideoEngine, ImageToVideoEngine, VideoOptions, _to_uint8
from models.engines.diffusion_inputs import DiffusionInputError
from models.engines.video_inputs import FrameRule, fit_photo, video_size_for_aspect
from models.errors import EngineUnavailableError, ModelConfigError
from models.loader import load_engine
from models.spec import EngineKind, ModelSpec, Task

STEPS = 2
TOY = {"long_side": 112}  # 9:16 -> 64x112 on every tiny family


def _photo(width: int = 200, height: int = 300, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("video-models")


@pytest.fixture(scope="module")
def wan_spec(root) -> ModelSpec:
    return testing.build_tiny_wan_i2v_pipeline(root / "wan", options={**TOY, "num_frames": 9})


def _need_ftfy() -> None:
    pytest.importorskip("ftfy", reason="Wan pipelines clean prompts with ftfy: `pip install ftfy`")


@pytest.fixture(scope="module")
def wan(wan_spec) -> DiffusersVideoEngine:
    _need_ftfy()
    return load_engine(wan_spec)


@pytest.fixture(scope="module")
def cog(root) -> DiffusersVideoEngine:
    return load_engine(testing.build_tiny_cogvideox_i2v_pipeline(root / "cog", options=TOY))


@pytest.fixture(scope="module")
def svd(root) -> DiffusersVideoEngine:
    return load_engine(testing.build_tiny_svd_pipeline(root / "svd", options=TOY))


@pytest.fixture(params=["wan", "cog", "svd"])
def engine(request) -> DiffusersVideoEngine:
    return request.getfixturevalue(request.param)


def _run(engine: DiffusersVideoEngine, **kwargs):
    kwargs.setdefault("prompt", "口红在桌上缓缓旋转" if engine.takes_prompt else "")
    kwargs.setdefault("num_inference_steps", STEPS)
    kwargs.setdefault("seed", 7)
    return engine.image_to_video(kwargs.pop("image", _photo()), **kwargs)


# -- the size helper, frame rules, fitting ---------------------------------------------------------------------
ASPECTS = [(9, 16), (16, 9), (3, 4), (4, 3), (1, 1), (2, 3), (3, 2), (21, 9), (9, 21), (4, 5), (1, 3), (100, 1)]


@pytest.mark.parametrize("multiple", [8, 16, 32, 64])
@pytest.mark.parametrize("long_side", [112, 480, 832, 1024, 1280, 1360, 2048])
def test_video_size_for_aspect(multiple, long_side):
    if long_side < multiple:
        pytest.skip("long side below one multiple")
    for aw, ah in ASPECTS:
        width, height = video_size_for_aspect(aw, ah, long_side, multiple)
        assert width % multiple == 0 and height % multiple == 0 and width >= multiple and height >= multiple
        long_px, short_px = max(width, height), min(width, height)
        assert long_px == long_side // multiple * multiple  # never above the requested long side
        assert width == height or (height > width) == (ah > aw)  # orientation kept
        exact = long_px * min(aw, ah) / max(aw, ah)
        assert abs(short_px - exact) <= multiple / 2 or short_px == multiple  # nearest multiple to the aspect


def test_video_size_known_values():
    assert video_size_for_aspect(9, 16, 832, 16) == (464, 832)  # Wan 480P, portrait
    assert video_size_for_aspect(9, 16, 1024, 64) == (576, 1024)  # SVD's trained area, portrait
    assert video_size_for_aspect(9, 16, 1360, 16) == (768, 1360)  # CogVideoX 1.5
    assert video_size_for_aspect(9, 16, 1280, 32) == (704, 1280)  # Wan 2.2 TI2V-5B 720P
    assert video_size_for_aspect(16, 9, 840, 16) == (832, 464)


@pytest.mark.parametrize(
    ("aspect", "long_side", "param"),
    [((0, 16), 832, "aspect"), ((9.5, 16), 832, "aspect"), ((1, 101), 832, "aspect"), ((9, 16), 4096, "long_side")],
)
def test_video_size_rejects(aspect, long_side, param):
    with pytest.raises(DiffusionInputError) as err:
        video_size_for_aspect(*aspect, long_side, 16)
    assert err.value.param == param


def test_frame_rule():
    wan = FrameRule(step=4, minimum=5, maximum=81, default=81)
    assert wan.check(None) == 81 and wan.check(49) == 49
    assert wan.nearest(47) == 45 and wan.nearest(48) == 49 and wan.nearest(500) == 81 and wan.nearest(0) == 5
    assert wan.describe() == "4k+1 in 5..81"
    for bad, hint in [(47, "45 or 49"), (100, "81"), (2, "5")]:
        with pytest.raises(DiffusionInputError, match=f"nearest valid: {hint}") as err:
            wan.check(bad)
        assert err.value.param == "num_frames"
    assert FrameRule(1, 2, 25, 25).describe() == "2..25" and FrameRule(1, 49, 49, 49).describe() == "exactly 49"
    with pytest.raises(ValueError):
        FrameRule(4, 5, 81, 80)


def _blob_box(frame: np.ndarray) -> tuple[int, int]:
    """Width and height of the blue pixels' bounding box."""
    ys, xs = np.nonzero((frame[..., 2] > 200) & (frame[..., 0] < 60))
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_fit_photo_never_stretches():
    photo = np.full((300, 400, 3), 230, np.uint8)  # 4:3 product shot, a blue disc in the middle
    yy, xx = np.mgrid[:300, :400]
    photo[(yy - 150) ** 2 + (xx - 200) ** 2 <= 60**2] = (20, 40, 240)
    cover = np.asarray(fit_photo(photo, 144, 256, "cover"))
    assert cover.shape == (256, 144, 3)
    w, h = _blob_box(cover)
    assert abs(w - h) <= 2 and abs(h - 120 * 256 / 300) <= 3  # scaled to the frame height, still round
    contain = np.asarray(fit_photo(photo, 144, 256, "contain"))
    w, h = _blob_box(contain)
    assert abs(w - h) <= 2 and abs(w - 120 * 144 / 400) <= 3  # whole photo across the width, still round
    band = contain[: (256 - 108) // 2 - 2]  # blurred fill above the photo: the photo's own colours, darker
    assert band.std() < 40 and band.mean() < 230
    same = np.asarray(fit_photo(_photo(144, 256), 144, 256, "contain"))
    assert np.array_equal(same, _photo(144, 256))  # already the frame's size: untouched
    with pytest.raises(DiffusionInputError) as err:
        fit_photo(photo, 144, 256, "stretch")
    assert err.value.param == "fit"


def test_float_frames_to_uint8():
    frames = np.array([[[[0.0, 1.0, 0.5], [-0.2, 1.3, 0.25]]]], np.float32)
    assert _to_uint8(frames).tolist() == [[[[0, 255, 128], [0, 255, 64]]]]


# -- loading through the registry path --------------------------------------------------------------------------
def test_spec_and_loader(wan, cog, svd):
    for engine, pipeline, family in [
        (wan, "WanImageToVideoPipeline", "wan2.1"),
        (cog, "CogVideoXImageToVideoPipeline", "cogvideox-1.5"),
        (svd, "StableVideoDiffusionPipeline", "svd"),
    ]:
        assert isinstance(engine, ImageToVideoEngine) and engine.engine_name == "diffusers"
        assert engine.spec.task is Task.IMAGE_TO_VIDEO and engine.pipeline_name == pipeline
        assert engine.family.name == family and engine.speed == []  # speed options stay off on CPU
    assert (wan.family.multiple, cog.family.multiple, svd.family.multiple) == (16, 16, 8)
    assert (wan.default_fps, cog.default_fps, svd.default_fps) == (16, 16, 7)
    assert wan.frame_rule == FrameRule(4, 5, 81, 9) and cog.frame_rule == FrameRule(8, 9, 17, 9)
    assert svd.frame_rule == FrameRule(1, 2, 4, 4)
    assert wan.takes_prompt and cog.takes_prompt and not svd.takes_prompt
    with pytest.raises(ValueError, match="cannot run task 'image-to-video'"):
        ModelSpec(name="x", task=Task.IMAGE_TO_VIDEO, engine=EngineKind.TRANSFORMERS, source="/x")


def test_image_checkpoint_is_a_config_error(tmp_path):
    spec = testing.build_tiny_sd_pipeline(tmp_path / "sd")
    spec = spec.model_copy(update={"task": Task.IMAGE_TO_VIDEO})
    with pytest.raises(ModelConfigError, match="StableDiffusionPipeline is not an image-to-video pipeline"):
        load_engine(spec)


def test_bad_options_are_config_errors(wan_spec):
    _need_ftfy()
    spec = wan_spec.model_copy
    for options, match in [
        ({"frames": 9}, "unknown image-to-video options"),
        ({"num_frames": 10}, "options.num_frames must be 4k\\+1"),
        ({"compile": "fast"}, "options.compile must be one of"),
        ({"long_side": "832"}, "options.long_side must be int"),
        ({"vae_tiling": 1}, "options.vae_tiling must be bool"),
        ({"decode_chunk_size": 4}, "decode_chunk_size is for SVD only"),
        ({"offload": "model"}, "offload needs a CUDA device"),
    ]:
        with pytest.raises(ModelConfigError, match=match):
            load_engine(spec(update={"options": options}))
    assert VideoOptions.from_options({"compile": "max-autotune-no-cudagraphs"}).compile_regional


def test_wan_without_ftfy_says_what_to_install(wan_spec, monkeypatch):
    import diffusers.utils

    monkeypatch.setattr(diffusers.utils, "is_ftfy_available", lambda: False)
    with pytest.raises(EngineUnavailableError, match="pip install ftfy"):
        load_engine(wan_spec)


# -- generation --------------------------------------------------------------------------------------------------
def test_frames_shapes_and_honest_names(engine):
    clip = _run(engine)
    assert (clip.width, clip.height) == (64, 112)  # 9:16 at long side 112
    assert clip.num_frames == engine.frame_rule.default and clip.fps == engine.default_fps
    assert all(f.shape == (112, 64, 3) and f.dtype == np.uint8 for f in clip.frames)
    assert clip.model == engine.model_name and clip.pipeline == engine.pipeline_name and clip.engine == "diffusers"
    assert clip.seed == 7 and clip.num_inference_steps == STEPS and clip.fit == "cover"
    assert clip.duration == pytest.approx(clip.num_frames / clip.fps)
    assert np.ptp(np.stack(clip.frames)) > 0


@pytest.mark.parametrize(("name", "frames"), [("wan", 5), ("wan", 13), ("cog", 17), ("svd", 3)])
def test_frame_counts_follow_the_family(request, name, frames):
    engine = request.getfixturevalue(name)
    clip = _run(engine, num_frames=frames, fps=24, fit="contain")
    assert clip.num_frames == frames and clip.fps == 24 and clip.fit == "contain"


def test_same_seed_same_clip(engine):
    first, again, drawn = _run(engine, seed=3), _run(engine, seed=3), _run(engine, seed=None)
    assert np.array_equal(np.stack(first.frames), np.stack(again.frames))
    assert drawn.seed != 3 and not np.array_equal(np.stack(first.frames), np.stack(drawn.frames))
    assert np.array_equal(np.stack(drawn.frames), np.stack(_run(engine, seed=drawn.seed).frames))  # drawn seed replays


def test_other_aspects_and_sizes(wan, cog, svd):
    clip = _run(wan, aspect=(16, 9), long_side=96)
    assert (clip.width, clip.height) == (96, 48) and clip.frames[0].shape == (48, 96, 3)
    assert _run(svd, aspect=(1, 1), long_side=64).frames[0].shape == (64, 64, 3)
    with pytest.raises(DiffusionInputError, match="exceeds what model") as err:  # CogVideoX 1.5 rope: <= 128 here
        _run(cog, long_side=256)
    assert err.value.param == "long_side"


def test_progress_callbacks(engine):
    seen: list[tuple[int, int]] = []
    before = engine.denoise_steps
    _run(engine, num_inference_steps=3, on_step=lambda step, total: seen.append((step, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and engine.denoise_steps == before + 3


def test_cancel_stops_between_steps(engine):
    cancel = threading.Event()
    seen: list[int] = []

    def on_step(step: int, total: int) -> None:
        seen.append(step)
        if step == 1:
            cancel.set()

    with pytest.raises(DiffusionCancelled, match="after step 1 of 4"):
        _run(engine, num_inference_steps=4, on_step=on_step, cancel=cancel)
    assert seen == [1]
    with pytest.raises(DiffusionCancelled, match="before the first step"):
        _run(engine, on_step=lambda s, t: seen.append(s), cancel=cancel)
    assert seen == [1]


def test_cancel_hook_and_step_hook_errors_propagate(wan):
    class JobCancelled(Exception):
        pass

    def hook() -> None:
        raise JobCancelled

    with pytest.raises(JobCancelled):
        _run(wan, cancel=hook)

    def failing(step: int, total: int) -> None:
        raise RuntimeError("job store down")

    with pytest.raises(RuntimeError, match="job store down"):
        _run(wan, on_step=failing)
    assert _run(wan).num_frames == 9  # the engine still works afterwards


def test_concurrent_calls_take_turns(wan):
    order: list[str] = []
    results = {}

    def worker(tag: str) -> None:
        results[tag] = _run(wan, num_inference_steps=3, seed=11, on_step=lambda s, t: order.append(tag))

    threads = [threading.Thread(target=worker, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order in (["a"] * 3 + ["b"] * 3, ["b"] * 3 + ["a"] * 3)  # no interleaved steps
    assert np.array_equal(np.stack(results["a"].frames), np.stack(results["b"].frames))


@pytest.mark.parametrize(
    ("engine_name", "kwargs", "param", "match"),
    [
        ("wan", {"num_frames": 10}, "num_frames", "4k\\+1 in 5..81 frames, got 10; nearest valid: 9 or 13"),
        ("cog", {"num_frames": 13}, "num_frames", "8k\\+1 in 9..17 frames, got 13; nearest valid: 9 or 17"),
        ("cog", {"num_frames": 21}, "num_frames", "nearest valid: 17"),
        ("svd", {"num_frames": 5}, "num_frames", "2..4"),
        ("wan", {"long_side": 8}, "long_side", "16..2048"),
        ("wan", {"aspect": (9, 0)}, "aspect", "positive integers"),
        ("wan", {"image": np.zeros((64, 64, 3), np.float32)}, "image", "uint8"),
        ("wan", {"image": np.zeros((64, 64), np.uint8)}, "image", "RGB"),
        ("wan", {"image": np.zeros((4, 64, 3), np.uint8)}, "image", "sides"),
        ("wan", {"fps": 0}, "fps", "1..60"),
        ("wan", {"num_inference_steps": 0}, "num_inference_steps", "1..150"),
        ("wan", {"guidance_scale": -1.0}, "guidance_scale", "0..30"),
        ("wan", {"seed": -1}, "seed", "0..2\\*\\*63-1"),
        ("wan", {"fit": "stretch"}, "fit", "cover"),
        ("svd", {"prompt": "spin"}, "prompt", "takes no text prompt"),
    ],
)
def test_bad_arguments_name_the_field(request, engine_name, kwargs, param, match):
    engine = request.getfixturevalue(engine_name)
    before = engine.denoise_steps
    with pytest.raises(DiffusionInputError, match=match) as err:
        _run(engine, **kwargs)
    assert err.value.param == param and engine.denoise_steps == before  # failed before any model work


def test_fixed_size_cogvideox(root):
    engine = load_engine(testing.build_tiny_cogvideox_i2v_pipeline(root / "cog10", fixed_size=True))
    assert engine.family.name == "cogvideox-1.0" and engine.frame_rule.describe() == "exactly 9"
    with pytest.raises(DiffusionInputError, match="generates 64x48 only") as err:
        _run(engine)
    assert err.value.param == "aspect"
    clip = _run(engine, aspect=(4, 3))
    assert (clip.width, clip.height, clip.num_frames, clip.fps) == (64, 48, 9, 8)
    with pytest.raises(ModelConfigError, match="remove options long_side"):
        load_engine(engine.spec.model_copy(update={"options": {"long_side": 96}}))
    warmed = load_engine(engine.spec.model_copy(update={"options": {"warmup": True}}))  # warms up at 4:3
    assert warmed.denoise_steps == 2


def test_wan22_ti2v_checkpoint_loads_as_image_to_video(root):
    _need_ftfy()
    spec = testing.build_tiny_wan_i2v_pipeline(root / "ti2v", ti2v=True, options={"long_side": 128, "num_frames": 5})
    engine = load_engine(spec)
    assert engine.pipeline_name == "WanImageToVideoPipeline" and engine.family.name == "wan2.2-ti2v"
    assert engine.family.multiple == 32 and engine.default_fps == 24 and engine.frame_rule.maximum == 121
    clip = _run(engine)
    assert (clip.width, clip.height, clip.num_frames) == (64, 128, 5)  # 9:16 at long side 128, sides of 32


def test_speed_options_and_warmup_on_cpu(root):
    _need_ftfy()
    options = {**TOY, "num_frames": 5, "fuse_qkv": True, "channels_last": True, "speed_on_cpu": True, "warmup": True}
    spec = testing.build_tiny_wan_i2v_pipeline(root / "wan-fast", options=options)
    engine = load_engine(spec)
    assert engine.speed == ["fuse_qkv", "channels_last"] and engine.denoise_steps == 2  # warm-up ran
    assert _run(engine).num_frames == 5


def test_vae_precision_follows_the_family(wan_spec, svd):
    import torch

    _need_ftfy()
    engine = load_engine(wan_spec.model_copy(update={"dtype": "bfloat16", "options": {**TOY, "num_frames": 5}}))
    pipe = engine.pipeline
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32 and pipe.image_encoder.dtype == torch.float32  # as Wan's examples run
    clip = _run(engine)
    assert clip.num_frames == 5 and clip.frames[0].dtype == np.uint8
    options = {**TOY, "num_frames": 5, "vae_fp32": False}
    low = load_engine(wan_spec.model_copy(update={"dtype": "bfloat16", "options": options}))
    assert low.pipeline.vae.dtype == torch.bfloat16 and low.pipeline.image_encoder.dtype == torch.bfloat16
    assert svd.pipeline.vae.dtype == torch.float32  # float32 spec: everything float32
