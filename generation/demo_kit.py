"""The `demo` model: a tiny random-weight Stable Diffusion pipeline with a matching IP-Adapter, LoRAs and references.

Everything is built offline from fixed seeds, so the same kit comes out on every machine. Pictures are noise, but
every code path (from_pretrained, LoRA loading, IP-Adapter loading, batching) is the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

KIT_VERSION = "v4"
TOKENIZER_FILE = Path(__file__).with_name("demo_tokenizer.json")
IP_ADAPTER_WEIGHTS = "ip-adapter.safetensors"
IP_ADAPTER_PLUS_WEIGHTS = "ip-adapter-plus.safetensors"


@dataclass(frozen=True)
class DemoShape:
    """Sizes of the demo networks. `tiny` keeps tests fast; `bench` is big enough that denoising dominates."""

    name: str
    unet_channels: tuple[int, ...]
    unet_layers: int
    text_dim: int
    vae_channels: tuple[int, ...]
    groups: int
    image_size: int  # default picture size in pixels
    cross_attention_blocks: int = 1  # the innermost blocks have no cross-attention, as in SD
    head_dim: int = 4
    text_layers: int = 2
    text_heads: int = 2
    vision_dim: int = 0  # 0: same as text_dim
    vision_layers: int = 2
    vision_heads: int = 2
    vision_image_size: int = 32
    vision_patch: int = 8
    family: str = "sd"  # "sd" (SD 1.x/2.x layout) or "sdxl" (two text encoders, size/crop conditioning)


SHAPES = {
    "tiny": DemoShape("tiny", (16, 32), 1, 16, (8, 8, 8, 8), 4, 64),
    "bench": DemoShape("bench", (64, 128), 2, 64, (16, 32, 32, 32), 8, 128),
    "tiny-xl": DemoShape("tiny-xl", (16, 32), 1, 16, (8, 8, 8, 8), 4, 64, family="sdxl"),
    # The real SD 1.5 architecture (random weights) for GPU benchmarks; about 1 GB in fp32 on disk.
    "sd15": DemoShape(
        "sd15", (320, 640, 1280, 1280), 2, 768, (128, 256, 512, 512), 32, 512,
        cross_attention_blocks=3, head_dim=8, text_layers=12, text_heads=12,
        vision_dim=1024, vision_layers=24, vision_heads=16, vision_image_size=224, vision_patch=14,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class DemoKit:
    """Paths of a written demo kit (the layout `selfiebot demo-kit DIR` produces)."""

    root: Path

    @property
    def pipeline(self) -> Path:
        return self.root / "pipeline"

    @property
    def ip_adapter(self) -> Path:
        return self.root / "ip_adapter"

    @property
    def ip_adapter_plus(self) -> Path:
        return self.root / "ip_adapter_plus"

    @property
    def loras(self) -> list[Path]:
        return sorted((self.root / "loras").glob("*.safetensors"))

    @property
    def references(self) -> list[Path]:
        return sorted((self.root / "references").glob("*.png"))


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's byte-to-printable-character table (every byte gets a visible stand-in character)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def build_demo_tokenizer():
    """A CLIP BPE tokenizer built in memory from the committed demo vocabulary (see scripts/make_demo_tokenizer.py).

    Common prompt words are whole tokens, so prompt token counts are close to the real CLIP tokenizer's.
    """
    from transformers import CLIPTokenizer

    data = json.loads(TOKENIZER_FILE.read_text())
    merges = [tuple(merge.split(" ")) for merge in data["merges"]]
    return CLIPTokenizer(vocab=data["vocab"], merges=merges, model_max_length=77)


def build_demo_pipeline(shape: DemoShape):
    """The demo pipeline itself (random weights from fixed seeds), in the SD or SDXL layout."""
    if shape.family == "sdxl":
        return build_demo_xl_pipeline(shape)
    return build_demo_sd_pipeline(shape)


def _vae(shape: DemoShape):
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=shape.vae_channels,
        down_block_types=("DownEncoderBlock2D",) * len(shape.vae_channels),
        up_block_types=("UpDecoderBlock2D",) * len(shape.vae_channels),
        latent_channels=4,
        norm_num_groups=shape.groups,
        sample_size=shape.image_size,
    )


def _text_config(shape: DemoShape, vocab_size: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=shape.text_dim,
        intermediate_size=shape.text_dim * 4,
        num_hidden_layers=shape.text_layers,
        num_attention_heads=shape.text_heads,
        max_position_embeddings=77,
        projection_dim=shape.text_dim,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


def _unet(shape: DemoShape, **family_options):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    down_blocks = _down_blocks(shape)
    return UNet2DConditionModel(
        sample_size=shape.image_size // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=shape.unet_channels,
        layers_per_block=shape.unet_layers,
        down_block_types=down_blocks,
        up_block_types=tuple(reversed([kind.replace("Down", "Up") for kind in down_blocks])),
        attention_head_dim=shape.head_dim,
        norm_num_groups=shape.groups,
        **family_options,
    )


def build_demo_xl_pipeline(shape: DemoShape):
    """A tiny SDXL-layout pipeline: two text encoders and size/crop ("text_time") conditioning."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = build_demo_tokenizer()
    time_dim = 8
    unet = _unet(
        shape,
        cross_attention_dim=shape.text_dim * 2,  # both encoders' hidden states, concatenated
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + shape.text_dim,
    )
    vae = _vae(shape)
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(_text_config(shape, len(tokenizer)))
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(shape, len(tokenizer)))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        image_encoder=None,
        feature_extractor=None,
    )


def build_demo_sd_pipeline(shape: DemoShape):
    """The tiny SD pipeline (random weights from fixed seeds)."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    tokenizer = build_demo_tokenizer()
    unet = _unet(shape, cross_attention_dim=shape.text_dim)
    vae = _vae(shape)
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(_text_config(shape, len(tokenizer)))
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def _down_blocks(shape: DemoShape) -> tuple[str, ...]:
    count = len(shape.unet_channels)
    if shape.cross_attention_blocks >= count:
        raise ValueError("At least one UNet block must be without cross-attention.")
    if count == 2:  # the tiny shapes put attention at the lower resolution, where it is cheapest
        return ("DownBlock2D", "CrossAttnDownBlock2D")
    return ("CrossAttnDownBlock2D",) * shape.cross_attention_blocks + ("DownBlock2D",) * (
        count - shape.cross_attention_blocks
    )


def build_demo_ip_adapter(unet, shape: DemoShape):
    """A tiny CLIP image encoder and IP-Adapter weights whose shapes fit `unet` (plain IP-Adapter layout)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(3)
    vision_dim = shape.vision_dim or shape.text_dim
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=vision_dim,
            intermediate_size=vision_dim * 4,
            projection_dim=shape.text_dim,
            num_hidden_layers=shape.vision_layers,
            num_attention_heads=shape.vision_heads,
            image_size=shape.vision_image_size,
            patch_size=shape.vision_patch,
        )
    )
    cross_dim = unet.config.cross_attention_dim
    generator = torch.Generator().manual_seed(4)
    weights = {
        "image_proj.proj.weight": torch.randn(cross_dim * 4, shape.text_dim, generator=generator) * 0.3,
        "image_proj.proj.bias": torch.zeros(cross_dim * 4),
        "image_proj.norm.weight": torch.ones(cross_dim),
        "image_proj.norm.bias": torch.zeros(cross_dim),
    }
    weights.update(_ip_attention_weights(unet, generator))
    return encoder, weights


def _ip_attention_weights(unet, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The image key/value projections of every cross-attention processor, in the public IP-Adapter layout.

    Numbering follows diffusers' converter: 1, 3, 5, ... over the cross-attention processors in order."""
    cross_dim = unet.config.cross_attention_dim
    weights = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = _hidden_size_for(name, unet.config.block_out_channels)
        for which in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key_id}.{which}.weight"] = torch.randn(hidden, cross_dim, generator=generator) * 0.3
        key_id += 2
    return weights


def build_demo_ip_adapter_plus(unet, image_encoder) -> dict[str, torch.Tensor]:
    """IP-Adapter Plus weights (a perceiver resampler over the encoder's hidden states) in the public layout.

    Built as diffusers' own projection module with random weights, then written under the original key names that
    diffusers' loader converts back (layers.N.0 = attention with norm1/norm2/to_q/to_kv/to_out, layers.N.1 = ff)."""
    from diffusers.models.embeddings import IPAdapterPlusImageProjection

    torch.manual_seed(5)
    projection = IPAdapterPlusImageProjection(
        embed_dims=image_encoder.config.hidden_size,
        output_dims=unet.config.cross_attention_dim,
        hidden_dims=64,  # diffusers infers heads as width // 64
        heads=1,
        num_queries=4,
    )
    state = projection.state_dict()
    weights = {}
    for key in ("latents", "proj_in.weight", "proj_in.bias", "proj_out.weight", "proj_out.bias"):
        weights[f"image_proj.{key}"] = state[key]
    for key in ("norm_out.weight", "norm_out.bias"):
        weights[f"image_proj.{key}"] = state[key]
    for layer in range(4):
        original, ours = f"image_proj.layers.{layer}", f"layers.{layer}"
        for norm, name in (("ln0", "norm1"), ("ln1", "norm2")):
            for part in ("weight", "bias"):
                weights[f"{original}.0.{name}.{part}"] = state[f"{ours}.{norm}.{part}"]
        weights[f"{original}.0.to_q.weight"] = state[f"{ours}.attn.to_q.weight"]
        weights[f"{original}.0.to_kv.weight"] = torch.cat(
            [state[f"{ours}.attn.to_k.weight"], state[f"{ours}.attn.to_v.weight"]]
        )
        weights[f"{original}.0.to_out.weight"] = state[f"{ours}.attn.to_out.0.weight"]
        for part in ("weight", "bias"):
            weights[f"{original}.1.0.{part}"] = state[f"{ours}.ff.0.{part}"]
        weights[f"{original}.1.1.weight"] = state[f"{ours}.ff.1.net.0.proj.weight"]
        weights[f"{original}.1.3.weight"] = state[f"{ours}.ff.1.net.2.weight"]
    weights.update(_ip_attention_weights(unet, torch.Generator().manual_seed(6)))
    return {key: value.detach().clone().contiguous() for key, value in weights.items()}


def _hidden_size_for(processor_name: str, channels: tuple[int, ...]) -> int:
    if processor_name.startswith("mid_block"):
        return channels[-1]
    block_id = int(processor_name.split(".")[1])
    if processor_name.startswith("up_blocks"):
        return list(reversed(channels))[block_id]
    return channels[block_id]


def build_demo_lora(pipe, seed: int, rank: int, targets: list[str], text_encoder: bool = False) -> dict:
    """A random LoRA in diffusers' format, made through peft exactly as a trained one would be saved; with
    `text_encoder`, it also adapts the (first) text encoder's attention, as many community LoRAs do."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, inject_adapter_in_model
    from peft.tuners.tuners_utils import delete_adapter
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False)
    pipe.unet.add_adapter(config, adapter_name="kit")
    packed = StableDiffusionPipeline.pack_weights(get_peft_model_state_dict(pipe.unet, adapter_name="kit"), "unet")
    pipe.unet.delete_adapters("kit")
    if text_encoder:
        # peft directly: transformers 5's own add_adapter insists on a newer peft than diffusers needs.
        te_config = LoraConfig(r=rank, lora_alpha=rank, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        inject_adapter_in_model(te_config, pipe.text_encoder, adapter_name="kit")
        te_layers = get_peft_model_state_dict(pipe.text_encoder, adapter_name="kit")
        packed.update(StableDiffusionPipeline.pack_weights(te_layers, "text_encoder"))
        delete_adapter(pipe.text_encoder, "kit", prefix="lora_")
    return {key: value.detach().clone().contiguous() for key, value in packed.items()}


def build_demo_reference(index: int, size: int = 64) -> Image.Image:
    """A deterministic abstract 'photo': a gradient background and a few shapes in a palette per index."""
    rng = np.random.default_rng(100 + index)
    base = rng.integers(0, 256, size=3)
    gradient = np.linspace(0, 1, size)[None, :, None]
    pixels = (base[None, None, :] * (0.4 + 0.6 * gradient)).astype(np.uint8).repeat(size, axis=0)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.integers(0, size - 16, size=2)
        extent = rng.integers(8, 24)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse([int(x0), int(y0), int(x0 + extent), int(y0 + extent)], fill=colour)
    return image


LORA_SPECS = [
    # name, seed, rank, UNet targets, text encoder too
    ("freckles", 10, 4, ["to_q", "to_k", "to_v", "to_out.0"], True),
    ("watercolor", 11, 8, ["to_k", "to_v", "proj_in", "proj_out"], False),
    ("film-grain", 12, 4, ["to_q", "to_v", "ff.net.2", "conv1"], False),
    ("soft-light", 13, 4, ["to_q", "to_k", "to_v", "to_out.0", "ff.net.2"], True),
]


def write_demo_kit(root: Path, shape_name: str = "tiny") -> DemoKit:
    """Write the whole kit to `root` (pipeline/, ip_adapter/, loras/, references/)."""
    from safetensors.torch import save_file

    shape = SHAPES[shape_name]
    root = Path(root)
    pipe = build_demo_pipeline(shape)
    # Full-size shapes are stored in half precision, as published checkpoints are (halves disk and load time).
    save_dtype = torch.float16 if shape.name == "sd15" else None
    if save_dtype is not None:
        pipe.to(dtype=save_dtype)
    pipe.save_pretrained(root / "pipeline", safe_serialization=True)
    encoder, ip_weights = build_demo_ip_adapter(pipe.unet, shape)
    if save_dtype is not None:
        encoder.to(dtype=save_dtype)
        ip_weights = {key: value.to(save_dtype) for key, value in ip_weights.items()}
    (root / "ip_adapter").mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(root / "ip_adapter" / "image_encoder", safe_serialization=True)
    save_file(ip_weights, str(root / "ip_adapter" / IP_ADAPTER_WEIGHTS))
    if shape.name != "sd15":  # IP-Adapter Plus variant (hidden-state resampler), for tests of that path
        (root / "ip_adapter_plus").mkdir(parents=True, exist_ok=True)
        encoder.save_pretrained(root / "ip_adapter_plus" / "image_encoder", safe_serialization=True)
        plus = build_demo_ip_adapter_plus(pipe.unet, encoder)
        save_file(plus, str(root / "ip_adapter_plus" / IP_ADAPTER_PLUS_WEIGHTS))
    (root / "loras").mkdir(parents=True, exist_ok=True)
    for name, seed, rank, targets, with_text_encoder in LORA_SPECS:
        weights = build_demo_lora(pipe, seed, rank, targets, with_text_encoder)
        save_file(weights, str(root / "loras" / f"{name}.safetensors"))
    (root / "references").mkdir(parents=True, exist_ok=True)
    for index in range(4):
        build_demo_reference(index).save(root / "references" / f"reference-{index + 1}.png")
    return DemoKit(root)


def ensure_demo_kit(cache_dir: Path, shape_name: str = "tiny") -> DemoKit:
    """The cached kit under `cache_dir`, built once (atomically, so a crash never leaves half a kit)."""
    target = Path(cache_dir) / f"demo-{shape_name}-{KIT_VERSION}"
    if (target / "pipeline" / "model_index.json").exists():
        return DemoKit(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write_demo_kit(staging, shape_name)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished first; its kit is identical.
            if not (target / "pipeline" / "model_index.json").exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return DemoKit(target)
