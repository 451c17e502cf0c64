"""What a LoRA training run is asked to do, with defaults per model family.

Defaults follow diffusers' DreamBooth-LoRA examples (AdamW at 1e-4, constant rate, batch 1, the UNet's attention
projections) with a higher rank for faces; docs/generation.md ("Training") gives the reasons and published
time/memory figures. The tiny random-weight demo model gets a higher rate and few steps so the command line
finishes in seconds on a CPU and still shows the loss moving.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

from generation.training.dataset import validate_class_word, validate_trigger
from generation.training.errors import TrainingSettingsError

UNET_ATTENTION = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_ENCODER_ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")
MAX_STEPS = 20_000
MAX_RANK = 128


class ModelFamily(StrEnum):
    SD = "sd"  # SD 1.x / 2.x layout: one text encoder
    SDXL = "sdxl"  # two text encoders, size and crop conditioning


def model_family(pipe) -> ModelFamily:
    return ModelFamily.SDXL if getattr(pipe, "text_encoder_2", None) is not None else ModelFamily.SD


def native_resolution(pipe) -> int:
    return int(pipe.unet.config.sample_size * pipe.vae_scale_factor)


def resolution_step(pipe) -> int:
    """Picture sizes must be a multiple of this: the VAE's factor times the UNet's downsampling."""
    return int(pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1))


@dataclass(frozen=True)
class TrainingSettings:
    trigger: str
    class_word: str = "person"
    steps: int = 800
    rank: int = 16  # lora_alpha equals the rank, so a file's strength needs no alpha entries
    learning_rate: float = 1e-4
    resolution: int = 512
    seed: int = 0
    batch_size: int = 1
    train_text_encoder: bool = False
    unet_targets: tuple[str, ...] = UNET_ATTENTION
    weight_decay: float = 1e-4
    max_grad_norm: float = 1.0
    warmup_steps: int = 0  # linear warm-up, then constant: resuming never depends on the total step count
    crop_min: float = 0.8  # crops keep at least this share of the short side (the face stays in)
    flip: bool = True
    checkpoint_every: int = 100
    mixed_precision: bool | None = None  # None: on for CUDA, off elsewhere
    gradient_checkpointing: bool | None = None  # None: on for CUDA, off elsewhere

    def validated(self, pipe) -> TrainingSettings:
        """These settings with trigger and class word normalised; raises TrainingSettingsError for bad values."""
        checks = [
            (1 <= self.steps <= MAX_STEPS, "steps", f"steps must be 1-{MAX_STEPS}"),
            (1 <= self.rank <= MAX_RANK, "rank", f"rank must be 1-{MAX_RANK}"),
            (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 0.1, "lr", "lr must be in (0, 0.1]"),
            (0 <= self.seed < 2**63, "seed", "seed must be a whole number from 0 to 2**63-1"),
            (1 <= self.batch_size <= 16, "batch_size", "batch size must be 1-16"),
            (0.3 <= self.crop_min <= 1.0, "crop_min", "crop_min must be 0.3-1.0"),
            (self.checkpoint_every >= 1, "checkpoint_every", "checkpoint_every must be at least 1"),
            (self.warmup_steps >= 0, "warmup_steps", "warmup_steps must not be negative"),
        ]
        for ok, setting, message in checks:
            if not ok:
                raise TrainingSettingsError(message, setting=setting)
        step = resolution_step(pipe)
        if not (step <= self.resolution <= 2048 and self.resolution % step == 0):
            raise TrainingSettingsError(
                f"resolution {self.resolution} must be a multiple of {step} from {step} to 2048 for this model",
                setting="resolution",
            )
        return replace(self, trigger=validate_trigger(self.trigger), class_word=validate_class_word(self.class_word))

    def identity(self) -> dict:
        """The settings a checkpoint must share to be resumed. `steps` and `checkpoint_every` may change between
        runs (training longer is the point of resuming); everything that shapes the steps taken so far may not."""
        data = asdict(self)
        for free in ("steps", "checkpoint_every"):
            data.pop(free)
        data["unet_targets"] = list(self.unet_targets)
        return data


def recommended_settings(pipe, trigger: str, **overrides) -> TrainingSettings:
    """Defaults for the loaded model; `overrides` whose value is None are ignored (unset command-line flags)."""
    family = model_family(pipe)
    resolution = native_resolution(pipe)
    if resolution < 256:  # the random-weight demo model: seconds on a CPU
        base = TrainingSettings(trigger, steps=100, rank=4, learning_rate=1e-2, resolution=resolution)
        base = replace(base, checkpoint_every=25)
    elif family is ModelFamily.SDXL:
        base = TrainingSettings(trigger, steps=1000, rank=16, learning_rate=1e-4, resolution=resolution)
    else:
        base = TrainingSettings(trigger, steps=800, rank=16, learning_rate=1e-4, resolution=resolution)
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return replace(base, **chosen)
