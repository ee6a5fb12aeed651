"""GPU: our image-to-video engine vs naive diffusers, Wan 2.2 TI2V-5B and SVD-XT architectures, random weights.

Pipelines are built from the published configs (written below; no download) with random weights, so every
matmul and convolution has the real models' shapes and bytes: Wan 2.2 TI2V-5B (the smallest published Wan
image-to-video model: 5B DiT, UMT5-XXL text encoder, the 16x-compressing Wan 2.2 VAE) and SVD-XT (1.5B
spatio-temporal UNet, ViT-H image encoder, temporal-decoder VAE). Wan 2.1 I2V exists only at 14B.

Variants, in one run on the same weights, photo and seed:
- naive: the diffusers documentation's usage: Wan in bf16 with its VAE in fp32, `pipe(image=..., height, width,
  num_frames)` then `(frames * 255).round()` to uint8; SVD in fp16 with `decode_chunk_size=8`;
- eager: `DiffusersVideoEngine` with `fuse_qkv` and `channels_last` (plus `--attention` when given);
- compiled: eager + `compile` (`--compile-mode`, regional on Wan's repeated block);
- vae16 (Wan): compiled + the VAE in bf16 (`vae_fp32: false`); tiled (Wan): compiled + `vae_tiling` (memory).
Per variant: s/video (median of `--runs`), frames/s, s per denoising step, VAE decode + postprocess s, warm-up
(compile) s, peak GPU memory, and ours vs naive pixels (mean |diff| in 8-bit levels, PSNR) on the same seed.

`--cpu-dry-run` runs every variant on toy-size pipelines on CPU (code paths only; figures mean nothing).

    python benchmarks/gpu_video.py [--arch wan|svd|both] [--frames N] [--steps N] [--runs 1]
        [--variants naive,eager,compiled,vae16,tiled] [--compile-mode default] [--attention NAME] [--cpu-dry-run]
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# -- architectures: the published configs (diffusers / transformers config.json fields) ---------------------------
WAN_TI2V_5B = {
    "title": "Wan 2.2 TI2V-5B architecture",
    "transformer": dict(patch_size=(1, 2, 2), num_attention_heads=24, attention_head_dim=128, in_channels=48,
                        out_channels=48, text_dim=4096, freq_dim=256, ffn_dim=14336, num_layers=30,
                        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None,
                        added_kv_proj_dim=None, rope_max_seq_len=1024, pos_embed_seq_len=None),
    "vae": dict(base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                temperal_downsample=[False, True, True], dropout=0.0, is_residual=True, in_channels=12,
                out_channels=12, patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4),
    # UMT5-XXL encoder (google/umt5-xxl): 5.7B parameters
    "text_encoder": dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                         relative_attention_num_buckets=32, relative_attention_max_distance=128,
                         feed_forward_proj="gated-gelu"),
    "long_side": 832, "frames": 81, "steps": 30, "dtype": "bfloat16",
}  # fmt: skip
SVD_XT = {
    "title": "SVD-XT architecture",
    "unet": dict(block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, cross_attention_dim=1024,
                 num_attention_heads=(5, 10, 20, 20), addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=768, transformer_layers_per_block=1, sample_size=96,
                 in_channels=8, out_channels=4, num_frames=25,
                 down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
                 up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3),
    "vae": dict(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
                layers_per_block=2, latent_channels=4, sample_size=768, scaling_factor=0.18215, force_upcast=True),
    # OpenCLIP ViT-H/14 image tower
    "image_encoder": dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=16, num_hidden_layers=32,
                          patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu", layer_norm_eps=1e-5),
    "long_side": 1024, "frames": 25, "steps": 25, "dtype": "float16",
}  # fmt: skip
ARCHS = {"wan": WAN_TI2V_5B, "svd": SVD_XT}
#: --cpu-dry-run: the same structures at toy width (what `models.testing` builds for tests).
TOY = {
    "wan": dict(transformer=dict(WAN_TI2V_5B["transformer"], num_attention_heads=2, attention_head_dim=12,
                                 in_channels=16, out_channels=16, text_dim=32, ffn_dim=32, num_layers=2,
                                 rope_max_seq_len=32),
                vae=dict(WAN_TI2V_5B["vae"], base_dim=12, decoder_base_dim=16, z_dim=16, dim_mult=[1, 1, 1, 1],
                         num_res_blocks=1),
                text_encoder=dict(vocab_size=512, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                  relative_attention_num_buckets=8, feed_forward_proj="gated-gelu"),
                long_side=128, frames=9),
    "svd": dict(unet=dict(SVD_XT["unet"], block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32,
                          num_attention_heads=4, addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
                          sample_size=16, num_frames=4,
                          down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                          up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal")),
                vae=dict(SVD_XT["vae"], block_out_channels=[32, 32, 32], down_block_types=["DownEncoderBlock2D"] * 3,
                         layers_per_block=1),
                image_encoder=dict(SVD_XT["image_encoder"], hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                   num_hidden_layers=2, patch_size=32, projection_dim=32),
                long_side=128, frames=4),
}  # fmt: skip
PROMPT = "a glass bottle of perfume turning slowly on a marble table, soft morning light, product video"
NEGATIVE = "blurry, low quality, static, watermark, subtitles"
VARIANTS = ("naive", "eager", "compiled", "vae16", "tiled")


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def product_photo(width: int = 1024, height: int = 1024) -> Any:
    """A synthetic product shot (RGB uint8): a gradient backdrop, a bottle-shaped block and a label."""
    import numpy as np

    yy, xx = np.mgrid[:height, :width]
    photo = np.empty((height, width, 3), np.uint8)
    photo[..., 0] = 200 + 40 * yy // height
    photo[..., 1] = 190 + 30 * xx // width
    photo[..., 2] = 180
    bottle = (abs(xx - width // 2) < width // 6) & (yy > height // 4) & (yy < 7 * height // 8)
    photo[bottle] = (40, 90, 160)
    photo[bottle & (abs(yy - height // 2) < height // 12)] = (240, 230, 210)
    return photo


def build_pipeline(arch: str, device: str, toy: bool) -> Any:
    """The architecture's diffusers pipeline with seeded random weights, built on `device`.

    Modules are created in the run dtype (bf16 / fp16; fp32 on CPU); Wan's VAE is created in fp32, as the Wan
    examples load it.
    """
    import torch

    config = {**ARCHS[arch], **(TOY[arch] if toy else {})}
    dtype = torch.float32 if toy else getattr(torch, config["dtype"])
    torch.manual_seed(0)
    with torch.device(device):
        if arch == "wan":
            return _build_wan(config, dtype)
        return _build_svd(config, dtype)


def _build_wan(config: dict[str, Any], dtype: Any) -> Any:
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    from models.testing import _tiny_t5_tokenizer

    tokenizer = _tiny_t5_tokenizer()  # ids < 512: any vocabulary size works
    text_config = UMT5Config(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                             decoder_start_token_id=tokenizer.pad_token_id, **config["text_encoder"])  # fmt: skip
    z_dim = config["vae"]["z_dim"]
    with _default_dtype(dtype):
        transformer = WanTransformer3DModel(**config["transformer"]).eval()
        text_encoder = UMT5EncoderModel(text_config).eval()
    vae = AutoencoderKLWan(latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim, **config["vae"]).eval()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0,
                                        num_train_timesteps=1000, beta_schedule="linear", beta_start=0.0001,
                                        beta_end=0.02)  # fmt: skip
    return WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                                   transformer=transformer, expand_timesteps=True)  # fmt: skip


def _build_svd(config: dict[str, Any], dtype: Any) -> Any:
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    with _default_dtype(dtype):
        unet = UNetSpatioTemporalConditionModel(**config["unet"]).eval()
        vae = AutoencoderKLTemporalDecoder(in_channels=3, out_channels=3, **config["vae"]).eval()
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**config["image_encoder"])).eval()
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       interpolation_type="linear", num_train_timesteps=1000,
                                       prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1,
                                       timestep_spacing="leading", timestep_type="continuous",
                                       use_karras_sigmas=True)  # fmt: skip
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
                                        feature_extractor=CLIPImageProcessor(crop_size=224, size=224))  # fmt: skip


class _default_dtype:
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def __enter__(self) -> None:
        import torch

        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_default_dtype(self.previous)


def variant_pipeline(base: Any) -> Any:
    """The base pipeline's modules, with private copies of the ones our options change in place (denoiser, VAE);
    the text and image encoders are shared (nothing changes them)."""
    components = dict(base.components)
    for name in ("transformer", "unet", "vae"):
        if components.get(name) is not None:
            components[name] = copy.deepcopy(components[name])
    return type(base)(**components, **_pipeline_config(base))


def _pipeline_config(pipeline: Any) -> dict[str, Any]:
    if type(pipeline).__name__ == "WanImageToVideoPipeline":
        return {"expand_timesteps": pipeline.config.expand_timesteps, "boundary_ratio": pipeline.config.boundary_ratio}
    return {}


@dataclass
class Figures:
    s_per_video: float = float("nan")
    s_per_step: float = float("nan")
    decode_s: float = float("nan")
    warmup_s: float = float("nan")
    peak_gib: float = float("nan")
    frames: Any = None
    notes: list[str] = field(default_factory=list)


class StepClock:
    """Timestamps of denoising step ends (synchronised), to split a run into steps and decode."""

    def __init__(self) -> None:
        self.start = 0.0
        self.marks: list[float] = []

    def begin(self) -> None:
        _sync()
        self.marks = []
        self.start = time.perf_counter()

    def mark(self, *_: Any) -> None:
        _sync()
        self.marks.append(time.perf_counter())

    def split(self, end: float) -> tuple[float, float]:
        """(seconds per step between the first and last step end, seconds after the last step)."""
        if len(self.marks) < 2:
            return float("nan"), end - self.marks[-1]
        return (self.marks[-1] - self.marks[0]) / (len(self.marks) - 1), end - self.marks[-1]


def _measure(call: Any, clock: StepClock, runs: int, figures: Figures) -> None:
    import torch

    totals, steps, decodes = [], [], []
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for _ in range(runs):
        clock.begin()
        figures.frames = call()
        _sync()
        end = time.perf_counter()
        totals.append(end - clock.start)
        step, decode = clock.split(end)
        steps.append(step)
        decodes.append(decode)
    figures.s_per_video = statistics.median(totals)
    figures.s_per_step = statistics.median(steps)
    figures.decode_s = statistics.median(decodes)
    if torch.cuda.is_available():
        figures.peak_gib = torch.cuda.max_memory_allocated() / 2**30


def bench_naive(pipeline: Any, arch: str, first: Any, size: tuple[int, int], frames: int, steps: int, runs: int,
                device: str) -> Figures:  # fmt: skip
    """The documented diffusers call on the photo already fitted to the frame (same input as ours)."""
    import numpy as np
    import torch

    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    clock = StepClock()
    width, height = size

    def call(num_steps: int = steps) -> list[Any]:
        generator = torch.Generator(device=device).manual_seed(1234)
        if arch == "wan":
            out = pipeline(image=first, prompt=PROMPT, negative_prompt=NEGATIVE, height=height, width=width,
                           num_frames=frames, num_inference_steps=num_steps, guidance_scale=5.0, generator=generator,
                           callback_on_step_end=lambda p, i, t, kw: (clock.mark(), kw)[1]).frames[0]  # fmt: skip
        else:
            out = pipeline(first, height=height, width=width, num_frames=frames, num_inference_steps=num_steps,
                           decode_chunk_size=8, generator=generator, output_type="np",
                           callback_on_step_end=lambda p, i, t, kw: (clock.mark(), kw)[1]).frames[0]  # fmt: skip
        return list((out * 255).round().astype(np.uint8))

    figures = Figures()
    clock.begin()
    call(2)  # warm-up: cuDNN autotuning, allocator
    _sync()
    figures.warmup_s = time.perf_counter() - clock.start
    _measure(call, clock, runs, figures)
    return figures


def bench_ours(pipeline: Any, arch: str, variant: str, photo: Any, long_side: int, frames: int, steps: int, runs: int,
               device: str, args: argparse.Namespace) -> Figures:  # fmt: skip
    from models.engines.diffusers_video import DiffusersVideoEngine
    from models.spec import EngineKind, ModelSpec, Task

    config = ARCHS[arch]
    options: dict[str, Any] = {"fuse_qkv": True, "channels_last": True, "speed_on_cpu": device == "cpu"}
    if args.attention:
        options["attention_backend"] = args.attention
    if variant in ("compiled", "vae16", "tiled"):
        options["compile"] = args.compile_mode
    if variant == "vae16":
        options["vae_fp32"] = False
    if variant == "tiled":
        options["vae_tiling"] = True
    dtype = "float32" if device == "cpu" else config["dtype"]
    spec = ModelSpec(name=f"{arch}-arch-random", task=Task.IMAGE_TO_VIDEO, engine=EngineKind.DIFFUSERS,
                     source="(built in memory)", device=device, dtype=dtype, options=options)  # fmt: skip
    engine = DiffusersVideoEngine.from_pipeline(spec, pipeline)
    figures = Figures(notes=[f"{variant}: applied {', '.join(engine.speed) or 'nothing'}"])
    clock = StepClock()
    prompt = PROMPT if engine.takes_prompt else ""
    negative = NEGATIVE if engine.takes_prompt else ""

    def call(num_steps: int = steps) -> list[Any]:
        return engine.image_to_video(photo, prompt=prompt, negative_prompt=negative, num_frames=frames,
                                     long_side=long_side, num_inference_steps=num_steps,
                                     guidance_scale=5.0 if arch == "wan" else 3.0, seed=1234,
                                     on_step=clock.mark).frames  # fmt: skip

    clock.begin()
    call(2)  # warm-up: compiles the denoiser (and the VAE's kernels' autotuning) at this shape
    _sync()
    figures.warmup_s = time.perf_counter() - clock.start
    _measure(call, clock, runs, figures)
    engine.close()
    return figures


def compare(a: list[Any], b: list[Any]) -> dict[str, float]:
    import numpy as np

    x, y = np.stack(a).astype(np.float64), np.stack(b).astype(np.float64)
    diff = np.abs(x - y)
    mse = float((diff**2).mean())
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return {"mean_abs": float(diff.mean()), "max_abs": float(diff.max()), "psnr_db": psnr}


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    torch._dynamo.reset()


def run_arch(arch: str, args: argparse.Namespace) -> bool:
    from models.engines.video_inputs import fit_photo, video_size_for_aspect

    toy = args.cpu_dry_run
    device = "cpu" if toy else "cuda"
    config = {**ARCHS[arch], **(TOY[arch] if toy else {})}
    frames = args.frames or config["frames"]
    steps = 2 if toy else (args.steps or config["steps"])
    long_side = config["long_side"] if toy else (args.long_side or config["long_side"])
    variants = [v for v in args.variants if arch == "wan" or v not in ("vae16", "tiled")]
    build_start = time.perf_counter()
    base = build_pipeline(arch, device, toy)
    if arch == "wan":
        multiple = base.vae_scale_factor_spatial * base.transformer.config.patch_size[1]
    else:
        multiple = base.vae_scale_factor * 2 ** (len(base.unet.config.block_out_channels) - 1)
    size = video_size_for_aspect(9, 16, long_side, multiple)
    dtype = "float32" if toy else config["dtype"]
    print(f"\n== {config['title']}{' (TOY SIZE, CPU DRY RUN)' if toy else ''}: 9:16 {size[0]}x{size[1]}, {frames} "
          f"frames, {steps} steps, {device} {dtype}; built in {time.perf_counter() - build_start:.1f} s")  # fmt: skip
    photo = product_photo()
    first = fit_photo(photo, *size, "cover")
    results: dict[str, Figures] = {}
    for variant in variants:
        if variant == "naive":
            results[variant] = bench_naive(base, arch, first, size, frames, steps, args.runs, device)
        else:
            pipeline = variant_pipeline(base)
            results[variant] = bench_ours(
                pipeline, arch, variant, photo, long_side, frames, steps, args.runs, device, args
            )
            del pipeline
        _free()
        got = results[variant]
        ok = len(got.frames) == frames and all(f.shape == (size[1], size[0], 3) and f.dtype.name == "uint8"
                                               for f in got.frames)  # fmt: skip
        got.notes.append(f"{variant}: {len(got.frames)} frames of {got.frames[0].shape} {got.frames[0].dtype}"
                         + ("" if ok else " WRONG"))  # fmt: skip

    naive = results.get("naive")
    print(f"{'':12} {'s/video':>9} {'frames/s':>9} {'s/step':>8} {'decode s':>9} {'warm-up s':>10} {'peak GiB':>9} "
          f"{'vs naive':>9} {'|diff|':>7} {'PSNR dB':>8}")  # fmt: skip
    for variant, got in results.items():
        speedup = f"{naive.s_per_video / got.s_per_video:.2f}x" if naive else "-"
        equal = compare(got.frames, naive.frames) if naive else None
        diff = f"{equal['mean_abs']:.2f}" if equal else "-"
        psnr = f"{equal['psnr_db']:.1f}" if equal else "-"
        print(f"{variant:12} {got.s_per_video:9.2f} {frames / got.s_per_video:9.2f} {got.s_per_step:8.3f} "
              f"{got.decode_s:9.2f} {got.warmup_s:10.1f} {got.peak_gib:9.1f} {speedup:>9} {diff:>7} "
              f"{psnr:>8}")  # fmt: skip
    for got in results.values():
        for note in got.notes:
            print(f"  {note}")
    checks = {"every variant returned the frames asked for, uint8 RGB at the 9:16 size": all(
        not any(n.endswith("WRONG") for n in got.notes) for got in results.values())}  # fmt: skip
    if toy:
        print("  speed figures not evaluated on a toy dry run (they mean nothing)")
    elif naive:
        for variant in ("eager", "compiled"):
            if variant in results:
                checks[f"{variant} not slower than naive"] = results[variant].s_per_video <= naive.s_per_video * 1.02
    for name, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    del base
    _free()
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["wan", "svd", "both"], default="both")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (Wan 4k+1; default 81 Wan, 25 SVD)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 30 Wan, 25 SVD)")
    parser.add_argument("--long-side", type=int, default=None, help="frame long side (default 832 Wan, 1024 SVD)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per variant (median)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode of the compiled variants")
    parser.add_argument("--attention", default=None, help="diffusers attention backend for ours (e.g. _native_cudnn)")
    parser.add_argument("--cpu-dry-run", action="store_true", help="toy-size pipelines on CPU: checks the code paths")
    args = parser.parse_args()
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    if not args.cpu_dry_run and not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU (or --cpu-dry-run to check the code paths on CPU)")
    if args.cpu_dry_run:
        args.runs = 1
    else:
        print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    archs = ["wan", "svd"] if args.arch == "both" else [args.arch]
    results = [run_arch(arch, args) for arch in archs]
    print("\nall checks passed" if all(results) else "\nsome checks FAILED")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
