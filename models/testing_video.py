"""Tiny random image-to-video pipelines (Wan, CogVideoX, SVD) for tests, built like `models.testing`'s others.

They live apart from `models.testing` because they are a family of their own (3D VAEs, video transformers and
UNets, per-family frame rules); `models.testing` re-exports them, so `testing.build_tiny_wan_i2v_pipeline` works.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from models.spec import EngineKind, ModelSpec, Task
from models.testing import _fast_tokenizer, train_tiny_tokenizer

__all__ = ["build_tiny_wan_i2v_pipeline", "build_tiny_cogvideox_i2v_pipeline", "build_tiny_svd_pipeline"]


def _video_spec(path: Path, name: str, options: dict | None) -> ModelSpec:
    return ModelSpec(
        name=name,
        task=Task.IMAGE_TO_VIDEO,
        engine=EngineKind.DIFFUSERS,
        source=str(path),
        device="cpu",
        dtype="float32",
        options=options or {},
    )


def _tiny_t5_tokenizer() -> PreTrainedTokenizerFast:
    return _fast_tokenizer(
        train_tiny_tokenizer(["<pad>", "</s>", "<unk>"]), pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def build_tiny_wan_i2v_pipeline(
    path: str | Path, name: str = "tiny-wan-i2v", seed: int = 0, options: dict | None = None, ti2v: bool = False
) -> ModelSpec:
    """A Wan image-to-video pipeline at toy sizes: UMT5 text encoder, 3D causal VAE (4x time), a 2-layer
    `WanTransformer3DModel` with 1x2x2 patches.

    Wan 2.1 layout by default: CLIP image encoder, VAE 8x space (sides multiples of 16), the image latents
    concatenated to the noise (36 input channels). `ti2v=True` builds the Wan 2.2 TI2V-5B layout instead: saved as
    a `WanPipeline` with `expand_timesteps` (as published), no image encoder, a residual patchified VAE with 16x
    space (sides multiples of 32), the first frame's latents blended in.

    `options` go into the spec; `{"long_side": 112}` keeps CPU runs at toy sizes (the family default is 832).
    Running it needs `ftfy` (Wan's prompt cleaning).
    """
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    path = Path(path)
    tokenizer = _tiny_t5_tokenizer()
    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    common = dict(z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    if ti2v:
        vae = AutoencoderKLWan(
            base_dim=12,
            decoder_base_dim=16,
            is_residual=True,
            in_channels=12,  # RGB in 2x2 patches
            out_channels=12,
            patch_size=2,
            scale_factor_spatial=16,
            latents_mean=[0.0] * 16,
            latents_std=[1.0] * 16,
            **common,
        )
    else:
        vae = AutoencoderKLWan(base_dim=3, **common)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16 if ti2v else 36,  # 2.1: 16 noise + 4 first-frame mask + 16 image latent channels
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=None if ti2v else 4,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    if ti2v:
        pipeline = WanPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            scheduler=scheduler,
            transformer=transformer,
            expand_timesteps=True,
        )
    else:
        image_encoder = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                projection_dim=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=32,
                intermediate_size=16,
                patch_size=1,
            )
        )
        pipeline = WanImageToVideoPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            scheduler=scheduler,
            image_processor=CLIPImageProcessor(crop_size=32, size=32),
            image_encoder=image_encoder,
            transformer=transformer,
        )
    pipeline.save_pretrained(path)
    return _video_spec(path, name, options)


def build_tiny_cogvideox_i2v_pipeline(
    path: str | Path,
    name: str = "tiny-cogvideox-i2v",
    seed: int = 0,
    options: dict | None = None,
    fixed_size: bool = False,
) -> ModelSpec:
    """A CogVideoX image-to-video pipeline at toy sizes (T5 text encoder, 3D VAE 8x space / 4x time, a 1-layer
    transformer with rotary positions).

    By default CogVideoX 1.5-style (`patch_size_t=2`): any size up to 128x128 in multiples of 16, 4k+1 frames
    (default 9, at most 17). `fixed_size=True` builds the CogVideoX 1.0 I2V layout instead: learned position
    embeddings, so it generates 64x48 (its sample size) and 9 frames only.
    """
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    path = Path(path)
    tokenizer = _tiny_t5_tokenizer()
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    layout = (
        dict(sample_width=8, sample_height=6, patch_size_t=None, use_learned_positional_embeddings=True)
        if fixed_size
        else dict(sample_width=16, sample_height=16, patch_size_t=2, use_learned_positional_embeddings=False)
    )
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4,
        attention_head_dim=16,
        in_channels=8,  # noise + image latents
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
        **layout,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    pipeline = CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    pipeline.save_pretrained(path)
    return _video_spec(path, name, options)


def build_tiny_svd_pipeline(
    path: str | Path, name: str = "tiny-svd", seed: int = 0, options: dict | None = None
) -> ModelSpec:
    """A Stable Video Diffusion pipeline at toy sizes: CLIP image encoder (224 px input, as SVD resizes to),
    temporal-decoder VAE (4x), a 2-level spatio-temporal UNet of trained length 4 frames; sides multiples of 8."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    path = Path(path)
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),  # GroupNorm with 32 groups inside
        layers_per_block=1,
        sample_size=16,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=4,
        projection_class_embeddings_input_dim=3 * 8,  # fps, motion bucket, noise augmentation x 8
        addition_time_embed_dim=8,
        num_frames=4,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32, 32],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 3,
        latent_channels=4,
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    pipeline = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    pipeline.save_pretrained(path)
    return _video_spec(path, name, options)


# -- sentencepiece translation models in their published layouts (opus-mt Marian, M2M100) --------------------------
