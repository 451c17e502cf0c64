"""The speed and memory options of a loaded engine: sampler, always-on speed LoRA, compile, offload, previews.

`SpeedOptions.from_env(values)` reads `SCHEDULER`, `SPEED_LORA`, `SPEED_LORA_SCALE`, `COMPILE`, `OFFLOAD`,
`VAE_TILING`, `PREVIEW`, `PREVIEW_VAE` (bot/settings.py calls it, so a bad value ends start-up with one sentence);
`load_engine(...)` loads a model with them applied in the only order that works:
1. offload hooks before the Engine reads its execution device (the model is loaded on the CPU for that),
2. the speed LoRA fused into the base weights before any persona LoRA is loaded,
3. compile last, warmed with one small picture.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from generation.compile import CompileMode
from generation.schedulers import SchedulerName, parse_scheduler

log = logging.getLogger(__name__)

SPEED_ADAPTER = "speed"  # the adapter name the speed LoRA has while it is being fused


class OffloadMode(StrEnum):
    NONE = "none"  # everything on the GPU: fastest
    MODEL = "model"  # one whole component on the GPU at a time (accelerate hooks): SDXL in ~6 GB at some speed cost
    SEQUENTIAL = "sequential"  # one layer at a time: the least memory, many times slower


# Steps and guidance that suit a few-step speed LoRA (LCM, Hyper-SD, Lightning, TCD LoRAs are trained for 4-8 steps
# at guidance 1-2; higher guidance burns the picture). Used when SPEED_LORA is set and SELFIE_STEPS /
# SELFIE_GUIDANCE are not.
SPEED_LORA_STEPS = 6
SPEED_LORA_GUIDANCE = 1.5

# The settings `SpeedOptions.from_env` reads: the bot hands exactly these to Ray replicas, which load their own engine.
SPEED_SETTINGS = (
    "SCHEDULER",
    "SPEED_LORA",
    "SPEED_LORA_SCALE",
    "COMPILE",
    "OFFLOAD",
    "VAE_TILING",
    "PREVIEW",
    "PREVIEW_VAE",
)


@dataclass(frozen=True)
class SpeedOptions:
    scheduler: SchedulerName = SchedulerName.DEFAULT
    speed_lora: Path | None = None
    speed_lora_scale: float = 1.0
    compile: CompileMode = CompileMode.OFF
    offload: OffloadMode = OffloadMode.NONE
    vae_tiling: bool = False  # VAE tiling + slicing: decode big or many pictures in pieces (less memory)
    preview: bool = True  # latent previews in progress events
    preview_vae: Path | None = None  # a tiny VAE (AutoencoderTiny folder) for sharper previews

    @property
    def default_steps(self) -> int | None:
        """Steps that fit the options (None: the bot's own default)."""
        return SPEED_LORA_STEPS if self.speed_lora else None

    @property
    def default_guidance(self) -> float | None:
        return SPEED_LORA_GUIDANCE if self.speed_lora else None

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> SpeedOptions:
        """Parse the settings; raises ValueError with one sentence naming the setting."""

        def choice(key: str, kind):
            raw = (values.get(key) or "").strip().lower() or next(iter(kind)).value
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"{key} must be one of {', '.join(k.value for k in kind)}, not {raw!r}.") from None

        def flag(key: str, default: bool) -> bool:
            raw = (values.get(key) or "").strip().lower()
            if not raw:
                return default
            if raw in {"1", "true", "yes", "on"}:
                return True
            if raw in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"{key} must be on or off, not {raw!r}.")

        def existing_file(key: str) -> Path | None:
            raw = (values.get(key) or "").strip()
            if not raw:
                return None
            path = Path(raw).expanduser()
            if not path.exists():
                raise ValueError(f"{key}={raw} does not exist.")
            return path

        try:
            scheduler = parse_scheduler(values.get("SCHEDULER"))
        except ValueError as error:
            raise ValueError(f"SCHEDULER: {error}.") from None
        raw_scale = (values.get("SPEED_LORA_SCALE") or "").strip() or "1.0"
        try:
            scale = float(raw_scale)
        except ValueError:
            raise ValueError(f"SPEED_LORA_SCALE must be a number, not {raw_scale!r}.") from None
        if not 0.0 < scale <= 4.0:
            raise ValueError(f"SPEED_LORA_SCALE must be above 0 and at most 4, not {scale}.")
        speed_lora = existing_file("SPEED_LORA")
        if speed_lora is not None and speed_lora.suffix != ".safetensors":
            raise ValueError("SPEED_LORA must be a .safetensors file (pickled files are not loaded).")
        return cls(
            scheduler=scheduler,
            speed_lora=speed_lora,
            speed_lora_scale=scale,
            compile=choice("COMPILE", CompileMode),
            offload=choice("OFFLOAD", OffloadMode),
            vae_tiling=flag("VAE_TILING", False),
            preview=flag("PREVIEW", True),
            preview_vae=existing_file("PREVIEW_VAE"),
        )


def fuse_speed_lora(pipe, path: Path, scale: float) -> None:
    """Fold an always-on LoRA into the base weights, so every sample gets it at no run-time cost and persona LoRAs
    (routed per sample by AdapterCache) stack on top, as diffusers' `set_adapters([speed, persona])` would.

    Call before any persona LoRA is loaded: `unload_lora_weights` removes every peft layer (the fused weights stay,
    as diffusers documents for `fuse_lora` + `unload_lora_weights`)."""
    from generation.assets import load_safetensors
    from generation.errors import AssetProblem, InvalidAssetError
    from generation.kohya_text_encoder import rename_text_encoder_layers

    state_dict = rename_text_encoder_layers(pipe, load_safetensors(Path(path)))
    try:
        pipe.load_lora_weights(state_dict, adapter_name=SPEED_ADAPTER)
        components = [name for name in pipe._lora_loadable_modules if getattr(pipe, name, None) is not None]
        pipe.fuse_lora(components=components, lora_scale=scale, adapter_names=[SPEED_ADAPTER])
    except Exception as error:
        raise InvalidAssetError(
            f"SPEED_LORA {Path(path).name} does not fit the model ({error})", problem=AssetProblem.DOES_NOT_FIT
        ) from error
    finally:
        pipe.unload_lora_weights()
    log.info("speed LoRA %s fused at scale %s", path, scale)


def apply_memory_options(pipe, options: SpeedOptions, device) -> None:
    """Offload and VAE tiling. Offloading needs an accelerator: accelerate's hooks move weights to it per use."""
    if options.offload is not OffloadMode.NONE:
        if device.type != "cuda":
            raise ValueError(f"OFFLOAD={options.offload.value} needs a CUDA device, not {device}.")
        if options.offload is OffloadMode.MODEL:
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.enable_sequential_cpu_offload(device=device)
    if options.vae_tiling or options.offload is not OffloadMode.NONE:
        pipe.vae.enable_tiling()
        pipe.vae.enable_slicing()


def load_engine(
    *,
    model: str,
    device: str,
    data_dir: Path,
    options: SpeedOptions,
    ip_adapter=None,
    lora_capacity: int = 8,
    dtype: str = "auto",
    max_batch: int | None = None,
):
    """An Engine for `model` on `device` with `options` applied (see the module docstring for the order).

    `max_batch`: the most requests the service puts in one call (MAX_BATCH), which the compile warm-up covers."""
    import torch

    from generation.devices import resolve_device, resolve_dtype
    from generation.engine import Engine
    from generation.loading import load_pipeline

    resolved = resolve_device(device)
    offloading = options.offload is not OffloadMode.NONE
    if offloading and resolved.type != "cuda":
        raise ValueError(f"OFFLOAD={options.offload.value} needs a CUDA device, not {resolved}.")
    load_on = torch.device("cpu") if offloading else resolved
    loaded = load_pipeline(model, load_on, resolve_dtype(dtype, resolved), Path(data_dir))
    if options.speed_lora is not None:
        fuse_speed_lora(loaded.pipe, options.speed_lora, options.speed_lora_scale)
    apply_memory_options(loaded.pipe, options, resolved)
    engine = Engine(loaded, ip_adapter=ip_adapter, lora_capacity=lora_capacity, cache_dir=Path(data_dir) / "cache")
    apply_engine_options(engine, options, max_batch=max_batch)
    return engine


def apply_engine_options(
    engine,
    options: SpeedOptions,
    *,
    warm_steps: int = 2,
    max_batch: int | None = None,
    compile_backend: str = "inductor",
):
    """Scheduler default, previews and compile on a built Engine. Returns the CompileReport or None.

    `max_batch`: MAX_BATCH, the largest batch the compile warm-up covers (None: the service's GPU default and best
    of N fit in `LARGEST_BATCH`). `compile_backend`: "eager" in tests (same graphs, no code generation)."""
    from generation.preview import LatentPreviewer

    engine.default_scheduler = options.scheduler.value
    if options.preview:
        engine.preview = LatentPreviewer(engine.pipe, tiny_vae_path=options.preview_vae)
    if options.compile is CompileMode.OFF:
        return None
    from generation.compile import LARGEST_BATCH, compile_engine
    from generation.request import GenerationRequest

    size = engine.native_size
    warm = GenerationRequest(prompt="warm-up", seed=0, steps=warm_steps, width=size, height=size)
    report = compile_engine(engine, warm, largest_batch=max_batch or LARGEST_BATCH, backend=compile_backend)
    log.info("UNet compiled: %s", report.as_dict())
    engine.compile_report = report
    return report
