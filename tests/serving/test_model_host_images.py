"""`ModelHost` serving a diffusion pipeline: PNG bytes both ways, progress and cancel through a streaming handle,
`HostedDiffusionEngine`, and per-merchant LoRA adapters multiplexed by Ray Serve (a real cluster)."""

from __future__ import annotations

import io
import socket
import time

import numpy as np
import pytest
import yaml
from PIL import Image
from ray import serve

from models import testing
from models.engines.base import DiffusionEngine
from models.engines.diffusion_inputs import DiffusionInputError
from models.loader import load_engine
from serving.deployments.model_host import HostedDiffusionEngine, ModelHost

STEPS = 2


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _px(data: bytes | Image.Image) -> np.ndarray:
    image = Image.open(io.BytesIO(data)) if isinstance(data, bytes) else data
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def host(tiny_registry_file):
    handle = serve.run(
        ModelHost.options(name="sd-host").bind("tiny-sd", {"models": str(tiny_registry_file)}),
        name="t-sd-host",
        _local_testing_mode=True,
    )
    return handle


@pytest.fixture(scope="module")
def local(tiny_models):
    return load_engine(tiny_models["diffusion"])


def test_text_to_image_returns_png_bytes_equal_to_the_local_engine(host, local):
    pngs = host.text_to_image.remote("口红", num_inference_steps=STEPS, seed=3, num_images_per_prompt=2).result()
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)
    expected = local.text_to_image("口红", num_inference_steps=STEPS, seed=3, num_images_per_prompt=2)
    assert all((_px(p) == _px(e)).all() for p, e in zip(pngs, expected, strict=True))
    assert host.diffusion_info.remote().result() == {"native_size": [64, 64], "size_multiple": 16, "loras": []}


def test_diffuse_replaces_the_background_and_keeps_the_product(host, local):
    photo = local.text_to_image("口红", num_inference_steps=STEPS, seed=9)[0]
    alpha = np.zeros((64, 64), np.uint8)
    alpha[16:48, 20:44] = 255
    product = Image.fromarray(np.dstack([np.asarray(photo), alpha]), "RGBA")
    [out] = host.diffuse.remote(
        "replace_background", {"product_rgba": _png(product), "prompt": "海边", "num_inference_steps": STEPS, "seed": 1}
    ).result()
    mask = alpha == 255
    assert out["seed"] == 1 and np.abs(_px(out["png"])[mask] - _px(photo)[mask]).max() <= 2
    [wide] = host.diffuse.remote(
        "outpaint", {"image": _png(photo.resize((48, 48))), "width": 48, "height": 64, "num_inference_steps": STEPS}
    ).result()
    assert wide["placement"] == [0, 8, 48, 48] and Image.open(io.BytesIO(wide["png"])).size == (48, 64)


def test_hosted_engine_is_a_diffusion_engine(host, tiny_models, local):
    engine = HostedDiffusionEngine(tiny_models["diffusion"], host)
    assert isinstance(engine, DiffusionEngine) and engine.engine_name == "diffusers"
    assert engine.native_size == (64, 64) and engine.size_for_aspect(3, 4) == local.size_for_aspect(3, 4)
    steps: list[tuple[int, int]] = []
    [image] = engine.text_to_image("口红", num_inference_steps=3, seed=5, callback=lambda s, t: steps.append((s, t)))
    assert steps == [(1, 3), (2, 3), (3, 3)] and image.info["seed"] == 5
    assert (_px(image) == _px(local.text_to_image("口红", num_inference_steps=3, seed=5)[0])).all()
    variations = engine.variations(image, n=2, strength=0.75, seed=1, num_inference_steps=4)
    assert [v.info["seed"] for v in variations] == [1, 2] and np.abs(_px(variations[0]) - _px(variations[1])).max() > 10
    [tall] = engine.outpaint(image, 48, 80, num_inference_steps=STEPS)
    assert tall.info["placement"] == (0, 16, 48, 48)


def test_bad_arguments_cross_the_handle_naming_themselves(host, tiny_models):
    engine = HostedDiffusionEngine(tiny_models["diffusion"], host)
    with pytest.raises(DiffusionInputError) as err:
        engine.text_to_image("口红", height=60)
    assert err.value.param == "height"
    with pytest.raises(DiffusionInputError) as err:
        host.diffuse.remote("image_to_image", {"image": b"not a png", "prompt": "x"}).result()
    assert err.value.param == "image"
    with pytest.raises(DiffusionInputError) as err:
        host.diffuse.remote("delete_everything", {}).result()
    assert err.value.param == "method"
    with pytest.raises(TypeError):  # an argument the engine does not have, as locally
        engine.text_to_image("口红", steps=3)
    with pytest.raises(DiffusionInputError, match="lora"):
        engine.load_lora("shop-a")  # this host has no lora_dir


def test_cancel_stops_the_run_on_the_host(host, tiny_models):
    engine = HostedDiffusionEngine(tiny_models["diffusion"], host)

    class Stop(Exception):
        pass

    def stop_after_first(step: int, total: int) -> None:
        if step >= 1:
            raise Stop

    before = host.engine_stats.remote().result()["denoise_steps"]
    with pytest.raises(Stop):
        engine.text_to_image("口红", num_inference_steps=150, callback=stop_after_first)
    engine.text_to_image("口红", num_inference_steps=1)  # waits for the engine: the cancelled run has ended
    ran = host.engine_stats.remote().result()["denoise_steps"] - before
    assert ran < 100, ran  # not the 151 steps of both runs: the first stopped soon after its first step


def test_a_text_model_host_refuses_diffusion(tiny_registry_file):
    bert = serve.run(
        ModelHost.options(name="bert-img-host").bind("tiny-bert", {"models": str(tiny_registry_file)}),
        name="t-bert-img",
        _local_testing_mode=True,
    )
    with pytest.raises(TypeError, match="not a DiffusionEngine"):
        bert.diffuse.remote("text_to_image", {"prompt": "x"}).result()


@pytest.mark.slow
def test_lora_adapters_are_multiplexed_per_replica(tiny_models, tmp_path):
    """`@serve.multiplexed` needs a real replica (local testing mode has no replica context and drops the
    multiplexed id): adapters load from `lora_dir` on first use, the LRU keeps `MAX_LORAS_PER_REPLICA`."""
    import ray

    from serving.deployments.model_host import MAX_LORAS_PER_REPLICA

    sd = tiny_models["diffusion"]
    lora_dir = tmp_path / "loras"
    names = [f"shop-{i}" for i in range(MAX_LORAS_PER_REPLICA + 1)]
    for i, name in enumerate(names):
        testing.build_tiny_lora(sd.source, lora_dir / name, seed=i)
    spec = sd.model_copy(update={"name": "tiny-sd-lora", "options": {"lora_dir": str(lora_dir)}})
    registry = tmp_path / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json")]}))

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": _free_port()})  # never a fixed port
        handle = serve.run(
            ModelHost.options(name="lora-host", ray_actor_options={"num_cpus": 0}).bind(
                spec.name, {"models": str(registry)}
            ),
            name="t-lora",
            route_prefix=None,
        )
        engine = HostedDiffusionEngine(spec, handle)
        assert engine.loras == names
        [base] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
        with engine.using_lora("shop-0"):
            [styled] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
        [again] = engine.text_to_image("口红", num_inference_steps=STEPS, seed=1)
        assert np.abs(_px(styled) - _px(base)).max() > 10 and (_px(again) == _px(base)).all()
        # the multiplexed id alone selects the adapter (what any Serve client sends)
        routed = handle.options(multiplexed_model_id="shop-0").diffuse.remote(
            "text_to_image", {"prompt": "口红", "num_inference_steps": STEPS, "seed": 1}
        )
        assert (_px(routed.result(timeout_s=120)[0]["png"]) == _px(styled)).all()
        for name in names[1:]:  # one more adapter than a replica keeps: the least recently used goes
            engine.set_lora(name)
            engine.text_to_image("口红", num_inference_steps=1, seed=1)
        engine.set_lora(None)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            loaded = handle.engine_stats.remote().result()["loras"]
            if len(loaded) == MAX_LORAS_PER_REPLICA:
                break
            time.sleep(0.2)
        assert sorted(loaded) == sorted(names[1:]), loaded
        with pytest.raises(DiffusionInputError) as err:  # an unknown adapter is the client's error, named
            with engine.using_lora("shop-99"):
                engine.text_to_image("口红", num_inference_steps=1)
        assert err.value.param == "lora"
    finally:
        serve.shutdown()
        ray.shutdown()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
