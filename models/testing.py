"""Tiny random checkpoints of every engine type, built locally and loaded back through the real loaders.

No weights can be downloaded here, so tests and `--tiny` demos build real architectures at toy sizes:
a byte-level BPE tokenizer trained on a few sentences, a model from its config with seeded random
weights, `save_pretrained` to a directory, and a `ModelSpec` pointing at it. The outputs are gibberish
but every code path (tokenizer, loader, generate, pipelines) is the production one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from models.spec import EngineKind, ModelSpec, Task

__all__ = [
    "TINY_CORPUS",
    "train_tiny_tokenizer",
    "tiny_clip_tokenizer",
    "build_tiny_qwen2",
    "build_tiny_marian",
    "build_tiny_bert_classifier",
    "build_tiny_sd_pipeline",
    "build_tiny_sdxl_pipeline",
    "build_tiny_lora",
    "build_tiny_wan_i2v_pipeline",
    "build_tiny_cogvideox_i2v_pipeline",
    "build_tiny_svd_pipeline",
    "train_tiny_sentencepiece",
    "save_opus_marian_tokenizer",
    "build_tiny_opus_marian",
    "TINY_M2M100_LANGUAGES",
    "build_tiny_m2m100",
]

#: Mixed Chinese/English e-commerce sentences: enough for a small BPE vocabulary.
TINY_CORPUS = [
    "这款口红颜色超级显白，质地滋润不拔干，日常通勤约会都很合适。",
    "夏天必备的防晒霜，清爽不油腻，户外运动也不怕晒黑。",
    "新款连衣裙面料柔软透气，版型修身，搭配小白鞋很好看。",
    "This lipstick is creamy and long lasting, perfect for everyday wear.",
    "Lightweight sunscreen with SPF 50, no white cast, great under makeup.",
    "平价好物分享 | 学生党也能入手的护肤套装，真实测评来啦！",
    "开箱：这台咖啡机颜值很高，操作简单，十分钟就能做一杯拿铁。",
    "The dress fabric is soft and breathable; pair it with white sneakers.",
    "#好物推荐 #护肤 #口红试色 #穿搭 #开箱",
    "价格：99元，包邮，支持七天无理由退货。",
]

_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_tiny_tokenizer(
    special_tokens: list[str], vocab_size: int = 512, corpus: list[str] | None = None
) -> Tokenizer:
    """Train a byte-level BPE tokenizer (any Unicode text encodes, as with Qwen/GPT-2 tokenizers)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus or TINY_CORPUS, trainer=trainer)
    return tokenizer


def _fast_tokenizer(tokenizer: Tokenizer, **special: str) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special)


def build_tiny_qwen2(path: str | Path, name: str = "tiny-qwen2", seed: int = 0) -> ModelSpec:
    """Qwen2 causal LM: hidden 128, 2 heads of dim 64 (vLLM's CPU attention needs >= 64), 2 layers."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = _fast_tokenizer(train_tiny_tokenizer(specials), eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = _CHATML
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=config.bos_token_id
    )
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return ModelSpec(
        name=name, task=Task.TEXT_GENERATION, engine=EngineKind.TRANSFORMERS, source=str(path), device="cpu"
    )


def build_tiny_marian(path: str | Path, name: str = "tiny-marian", seed: int = 0) -> ModelSpec:
    """MarianMT encoder-decoder (1+1 layers, d_model 64) sharing one tokenizer for both languages."""
    from transformers import MarianConfig, MarianMTModel

    path = Path(path)
    tok = _fast_tokenizer(
        train_tiny_tokenizer(["<pad>", "</s>", "<unk>"]),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
    )
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(tok),
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
        forced_eos_token_id=tok.eos_token_id,
    )
    MarianMTModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return ModelSpec(name=name, task=Task.SEQ2SEQ, engine=EngineKind.TRANSFORMERS, source=str(path), device="cpu")


def build_tiny_bert_classifier(
    path: str | Path, labels: list[str], name: str = "tiny-bert", seed: int = 0
) -> ModelSpec:
    """BERT sequence classifier (2 layers, hidden 64) with the given label names."""
    from transformers import BertConfig, BertForSequenceClassification

    path = Path(path)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    raw = train_tiny_tokenizer(specials)
    from tokenizers.processors import TemplateProcessing

    cls_id, sep_id = raw.token_to_id("[CLS]"), raw.token_to_id("[SEP]")
    raw.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok = _fast_tokenizer(
        raw, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    BertForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)
    return ModelSpec(
        name=name, task=Task.CLASSIFICATION, engine=EngineKind.TRANSFORMERS, source=str(path), device="cpu"
    )


def tiny_clip_tokenizer():
    """A CLIP tokenizer (end-of-word suffix `</w>`, as CLIP's BPE) trained on the tiny corpus."""
    from transformers import CLIPTokenizer

    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|startoftext|>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    tokenizer.train_from_iterator(TINY_CORPUS, trainer=trainer)
    model_json = json.loads(tokenizer.to_str())["model"]
    vocab = dict(model_json["vocab"])
    # CLIP's BPE also needs every byte-level character as a final (`</w>`) symbol.
    for char in pre_tokenizers.ByteLevel.alphabet():
        vocab.setdefault(char + "</w>", len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model_json["merges"]]
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def build_tiny_sd_pipeline(path: str | Path, name: str = "tiny-sd", seed: int = 0) -> ModelSpec:
    """A Stable-Diffusion-style pipeline (UNet, VAE, CLIP text encoder, scheduler) at toy sizes, 64x64 output."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(path)
    return ModelSpec(
        name=name,
        task=Task.TEXT_TO_IMAGE,
        engine=EngineKind.DIFFUSERS,
        source=str(path),
        device="cpu",
        dtype="float32",
    )


def build_tiny_sdxl_pipeline(path: str | Path, name: str = "tiny-sdxl", seed: int = 0) -> ModelSpec:
    """An SDXL-style pipeline at toy sizes (two CLIP text encoders, `text_time` conditioning), 64x64 output."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    path = Path(path)
    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * 8 + 32,  # 6 size/crop ids x 8 + the pooled text embedding
        cross_attention_dim=64,  # both encoders' hidden states side by side (32 + 32)
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
        scaling_factor=0.13025,
    )
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_act="gelu",
        projection_dim=32,
    )
    pipeline = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(**text_config)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text_config)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
            steps_offset=1,
        ),
    )
    pipeline.save_pretrained(path)
    return ModelSpec(
        name=name,
        task=Task.TEXT_TO_IMAGE,
        engine=EngineKind.DIFFUSERS,
        source=str(path),
        device="cpu",
        dtype="float32",
    )


def build_tiny_lora(pipeline_dir: str | Path, path: str | Path, seed: int = 0, rank: int = 4, std: float = 0.3) -> Path:
    """A random LoRA for the UNet of the pipeline in `pipeline_dir`, saved with `save_lora_weights`.

    Every attention projection gets rank-`rank` A and B matrices drawn with `std` (PEFT would start B at zero,
    a no-op adapter), so the adapter visibly changes the output. Written as
    `<path>/pytorch_lora_weights.safetensors`, the layout `options.lora_dir/<name>/` expects. Needs `peft`.
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipeline_dir, path = Path(pipeline_dir), Path(path)
    unet = UNet2DConditionModel.from_pretrained(pipeline_dir / "unet")
    unet.add_adapter(
        LoraConfig(
            r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False
        )
    )
    generator = torch.Generator().manual_seed(seed)
    layers = {
        key: torch.randn(value.shape, generator=generator) * std
        for key, value in convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)).items()
    }
    index = json.loads((pipeline_dir / "model_index.json").read_text())
    saver = (
        StableDiffusionXLPipeline if index["_class_name"].startswith("StableDiffusionXL") else StableDiffusionPipeline
    )
    saver.save_lora_weights(path, unet_lora_layers=layers, safe_serialization=True)
    return path


def train_tiny_sentencepiece(corpus: list[str] | None = None, vocab_size: int = 300) -> bytes:
    """A unigram sentencepiece model (the serialized `.spm` bytes) trained on `corpus` (default `TINY_CORPUS`).

    `vocab_size` is an upper bound: a small corpus yields fewer pieces; it is raised to hold every character of
    the corpus, which is kept (`character_coverage=1.0`, as for Chinese); anything else maps to `<unk>`.
    """
    import io

    import sentencepiece as spm

    corpus = corpus or TINY_CORPUS
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=max(vocab_size, len(set("".join(corpus))) + 8),
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        minloglevel=2,
    )
    return model.getvalue()


def _sentencepiece_pieces(model: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def save_opus_marian_tokenizer(
    path: str | Path, vocab_size: int | None = None, corpus: list[str] | None = None, pieces: int = 300
):
    """A `MarianTokenizer` in the opus-mt layout saved to `path` (source.spm, target.spm, vocab.json).

    Ids as in Helsinki-NLP/opus-mt-*: `</s>` 0, `<unk>` 1, the sentencepiece pieces, then `<pad>` LAST (it is also
    the decoder start token; CTranslate2's converter relies on that). `vocab_size` (e.g. 65001 as opus-mt-zh-en)
    pads the vocabulary with filler pieces `▁w<i>` that no text encodes to, so a model of the real output size can be
    built from a tiny corpus. `pieces` bounds the sentencepiece vocabulary trained on `corpus`.
    """
    from transformers import MarianTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = train_tiny_sentencepiece(corpus, vocab_size=pieces)
    (path / "source.spm").write_bytes(model)
    (path / "target.spm").write_bytes(model)
    vocab = {"</s>": 0, "<unk>": 1}
    for piece in _sentencepiece_pieces(model):
        vocab.setdefault(piece, len(vocab))
    if vocab_size is not None:
        if vocab_size < len(vocab) + 1:
            raise ValueError(f"vocab_size must be at least {len(vocab) + 1} for this corpus, got {vocab_size}")
        for index in range(vocab_size - 1 - len(vocab)):
            vocab[f"▁w{index}"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"), target_spm=str(path / "target.spm"), vocab=str(path / "vocab.json")
    )
    tokenizer.save_pretrained(path)
    return tokenizer


def build_tiny_opus_marian(
    path: str | Path, name: str = "tiny-opus-marian", seed: int = 0, pairs: list[list[str]] | None = None
) -> ModelSpec:
    """MarianMT as Helsinki-NLP publishes it (MarianTokenizer, `<pad>` last, zero start embedding), at toy size.

    1+1 layers, d_model 64. Weights use a large init (std 0.3) so greedy outputs depend on the input, which makes
    output comparisons between engines meaningful. The spec declares `options.pairs` (default `[[zh-Hans, en]]`).
    """
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    path = Path(path)
    tok = save_opus_marian_tokenizer(path)
    pad, eos = tok.pad_token_id, tok.eos_token_id
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(tok),
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=256,
        init_std=0.3,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=eos,
    )
    model = MarianMTModel(config)
    with torch.no_grad():
        model.get_input_embeddings().weight[pad].zero_()  # Marian starts decoding from a zero embedding
    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad]],
        decoder_start_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        pad_token_id=pad,
        max_length=512,
        num_beams=4,
    )
    model.save_pretrained(path)
    return ModelSpec(
        name=name,
        task=Task.SEQ2SEQ,
        engine=EngineKind.TRANSFORMERS,
        source=str(path),
        device="cpu",
        options={"pairs": pairs or [["zh-Hans", "en"]]},
    )


#: Our codes -> M2M100's codes for the tiny M2M100 (the tokenizer knows all 100 of M2M100's languages).
TINY_M2M100_LANGUAGES = {"en": "en", "zh-Hans": "zh", "ja": "ja", "fr": "fr"}


def build_tiny_m2m100(
    path: str | Path, name: str = "tiny-m2m100", seed: int = 0, languages: dict[str, str] | None = None
) -> ModelSpec:
    """M2M100 with its own tokenizer class (sentencepiece + vocab.json + 100 `__xx__` language tokens + 8 made-up
    words, as facebook/m2m100_418M), 1+1 layers, d_model 64, large init (std 0.3).

    The spec declares `options.languages` (default `TINY_M2M100_LANGUAGES`).
    """
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model_file = path / "sentencepiece.bpe.model"
    model_file.write_bytes(train_tiny_sentencepiece())
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}  # fairseq's dictionary order
    for piece in _sentencepiece_pieces(model_file.read_bytes()):
        vocab.setdefault(piece, len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = M2M100Tokenizer(vocab_file=str(path / "vocab.json"), spm_file=str(model_file))
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=tok.vocab_size + len(tok.lang_token_to_id) + tok.num_madeup_words,
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=256,
        init_std=0.3,
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        forced_eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    model = M2M100ForConditionalGeneration(config)
    with torch.no_grad():  # never choose a language token or a made-up word (trained models almost never do)
        model.lm_head.weight[tok.vocab_size :].zero_()
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        forced_eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        max_length=200,
    )
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return ModelSpec(
        name=name,
        task=Task.SEQ2SEQ,
        engine=EngineKind.TRANSFORMERS,
        source=str(path),
        device="cpu",
        options={"languages": dict(languages or TINY_M2M100_LANGUAGES)},
    )


# The image-to-video builders live in their own module (imported last: it uses the helpers above).
from models.testing_video import (  # noqa: E402
    build_tiny_cogvideox_i2v_pipeline,
    build_tiny_svd_pipeline,
    build_tiny_wan_i2v_pipeline,
)
