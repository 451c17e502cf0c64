"""DreamBooth-style LoRA training, one step at a time, on a pipeline that may keep serving selfies in between.

`TrainingRun` owns nothing but the trained adapter, its optimizer and its progress. Each `step()` is a complete
optimisation step (noise-prediction MSE with the pipeline's own noise schedule, AdamW, gradient clipping), so the
generation worker can serve every waiting selfie between two steps and training simply goes on afterwards.
Every random draw of step n comes from a generator seeded by (seed, n): a run is reproducible for its seed, and a
run resumed from a checkpoint takes exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import torch
import torch.nn.functional as F

from generation.training import lora_layers
from generation.training.checkpoint import CheckpointState, load_checkpoint, save_checkpoint
from generation.training.dataset import TrainingExample, TrainingSet, augment
from generation.training.errors import CheckpointError, TrainingError, TrainingSettingsError
from generation.training.export import LoraFormat, save_lora
from generation.training.settings import TEXT_ENCODER_ATTENTION, ModelFamily, TrainingSettings, model_family

log = logging.getLogger(__name__)


class RunState(StrEnum):
    FINISHED = "finished"
    PAUSED = "paused"  # `should_pause` asked for the device; call `run` again to go on
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepReport:
    step: int  # steps done, 1-based
    total: int
    loss: float
    elapsed_s: float  # training time so far, pauses excluded

    @property
    def seconds_left(self) -> float:
        return self.elapsed_s / self.step * (self.total - self.step) if self.step else 0.0

    def as_json(self) -> dict:
        return {"step": self.step, "loss": round(self.loss, 6)}


def step_generator(seed: int, *labels: object) -> torch.Generator:
    """A CPU generator for one purpose (a step, an epoch's order), independent of every other."""
    digest = hashlib.sha256(json.dumps([seed, *labels]).encode()).digest()
    return torch.Generator("cpu").manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


class TrainingRun:
    """Trains a LoRA for `training_set` on `pipe` (a loaded SD or SDXL pipeline, possibly the serving one).

    `before_step` runs first in every step: the generation worker passes what switches its IP-Adapter off (a UNet
    with IP-Adapter processors cannot run without image embeddings). `checkpoint_dir` with `resume=True` continues
    from the checkpoint there, if any. Call `close()` (or use `with`) to take the adapter out of the pipeline again.
    """

    def __init__(
        self,
        pipe,
        training_set: TrainingSet,
        settings: TrainingSettings,
        *,
        checkpoint_dir: Path | None = None,
        resume: bool = False,
        before_step: Callable[[], None] | None = None,
        model_label: str = "",
    ) -> None:
        self.settings = settings.validated(pipe)
        if training_set.trigger != self.settings.trigger:
            raise TrainingSettingsError(
                f"the training set is captioned for {training_set.trigger!r}, the settings name "
                f"{self.settings.trigger!r}",
                setting="trigger",
            )
        self.training_set = training_set.usable_at(self.settings.resolution)
        self.pipe = pipe
        self.model_label = model_label
        self.family = model_family(pipe)
        self.device = pipe._execution_device
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self._before_step = before_step
        self._noise_schedule = _noise_schedule(pipe)
        self._unet_dtype, self._vae_dtype = pipe.unet.dtype, pipe.vae.dtype  # each lookup walks every parameter
        self._autocast_dtype = self._choose_autocast()
        self._vae_fp32 = None
        self._text_cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._orders: dict[int, list[int]] = {}
        self.losses: list[float] = []
        self._step = 0
        self._elapsed = 0.0
        self._closed = False
        for component in lora_layers.components(pipe).values():
            component.requires_grad_(False)
        self._checkpointing_enabled_here = False
        self._layers = lora_layers.inject(pipe, self._targets(), rank=self.settings.rank, seed=self.settings.seed)
        try:
            parameters = [p for item in self._layers for p in (item.down, item.up)]
            self.optimizer = torch.optim.AdamW(
                parameters, lr=self.settings.learning_rate, weight_decay=self.settings.weight_decay
            )
            self.scaler = torch.amp.GradScaler("cuda") if self._autocast_dtype == torch.float16 else None
            self._identity = {
                **self.settings.identity(),
                "training_set": self.training_set.fingerprint(),
                "model": _model_identity(pipe, model_label),
            }
            if self._use_gradient_checkpointing() and not pipe.unet.is_gradient_checkpointing:
                pipe.unet.enable_gradient_checkpointing()
                self._checkpointing_enabled_here = True
            if resume and self.checkpoint_dir is not None:
                self._resume()
        except BaseException:
            self.close()  # a run that cannot start leaves the pipeline as it found it
            raise

    # ----- progress ----------------------------------------------------------------------------------------------

    @property
    def step_count(self) -> int:
        return self._step

    @property
    def mixed_precision(self) -> torch.dtype | None:
        """The autocast precision of the forward passes, or None for full precision."""
        return self._autocast_dtype

    @property
    def gradient_checkpointing(self) -> bool:
        return bool(self.pipe.unet.is_gradient_checkpointing)

    @property
    def finished(self) -> bool:
        return self._step >= self.settings.steps

    def run(
        self,
        *,
        should_pause: Callable[[], bool] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        on_progress: Callable[[StepReport], None] | None = None,
    ) -> RunState:
        """Steps until finished, or until `should_cancel` / `should_pause` (asked before every step) say stop."""
        while not self.finished:
            if should_cancel is not None and should_cancel():
                return RunState.CANCELLED
            if should_pause is not None and should_pause():
                return RunState.PAUSED
            report = self.step()
            if on_progress is not None:
                on_progress(report)
        return RunState.FINISHED

    def step(self) -> StepReport:
        """One optimisation step; checkpoints every `checkpoint_every` steps and at the end."""
        if self._closed:
            raise TrainingError("this training run was closed")
        if self.finished:
            raise TrainingError(f"training already finished its {self.settings.steps} steps")
        started = time.perf_counter()
        if self._before_step is not None:
            self._before_step()
        _require_plain_unet(self.pipe.unet)
        generator = step_generator(self.settings.seed, "step", self._step)
        examples = self._batch(self._step)
        for group in self.optimizer.param_groups:
            group["lr"] = self._learning_rate(self._step)
        with lora_layers.active(self.pipe):
            loss = self._loss(examples, generator)
            self._update(loss)
        self._step += 1
        self.losses.append(float(loss.detach()))
        self._elapsed += time.perf_counter() - started
        if self.checkpoint_dir is not None and (self._step % self.settings.checkpoint_every == 0 or self.finished):
            self.save_checkpoint()
        return StepReport(self._step, self.settings.steps, self.losses[-1], self._elapsed)

    # ----- results -----------------------------------------------------------------------------------------------

    def lora_weights(self) -> dict[str, torch.Tensor]:
        """The LoRA so far in diffusers' key layout, fp32 copies on the CPU."""
        weights = {}
        for item in self._layers:
            weights[f"{item.key}.lora_A.weight"] = item.down.detach().float().cpu().clone()
            weights[f"{item.key}.lora_B.weight"] = item.up.detach().float().cpu().clone()
        return weights

    def export(self, path: Path, *, lora_format: LoraFormat = LoraFormat.DIFFUSERS) -> Path:
        metadata = {
            "selfiebot.trigger": self.settings.trigger,
            "selfiebot.class_word": self.settings.class_word,
            "selfiebot.caption": self.training_set.trigger_caption,
            "selfiebot.steps": str(self._step),
            "selfiebot.rank": str(self.settings.rank),
            "selfiebot.resolution": str(self.settings.resolution),
            "selfiebot.base_model": self.model_label,
        }
        return save_lora(path, self.lora_weights(), metadata=metadata, lora_format=lora_format)

    def save_checkpoint(self) -> Path:
        if self.checkpoint_dir is None:
            raise TrainingError("this training run has no checkpoint folder")
        state = CheckpointState(
            step=self._step,
            identity=self._identity,
            lora=self.lora_weights(),
            optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict() if self.scaler is not None else None,
            elapsed_s=self._elapsed,
            losses=list(self.losses),
        )
        return save_checkpoint(self.checkpoint_dir, state)

    def close(self) -> None:
        """Take the adapter out of the pipeline and free what training held. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        lora_layers.remove(self.pipe)
        if self._checkpointing_enabled_here:
            self.pipe.unet.disable_gradient_checkpointing()
        if hasattr(self, "optimizer"):
            self.optimizer.state.clear()
        self._text_cache.clear()
        self._vae_fp32 = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ----- one step ------------------------------------------------------------------------------------------------

    def _loss(self, examples: list[TrainingExample], generator: torch.Generator) -> torch.Tensor:
        views = [
            augment(e.image, resolution=self.settings.resolution, generator=generator,
                    crop_min=self.settings.crop_min, flip=self.settings.flip)
            for e in examples
        ]  # fmt: skip
        pixels = torch.stack([view.pixels for view in views]).to(self.device)
        with torch.no_grad():
            latents = self._encode(pixels, generator)
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        schedule_length = self._noise_schedule.config.num_train_timesteps
        timesteps = torch.randint(0, schedule_length, (len(views),), generator=generator)
        timesteps = timesteps.to(self.device)
        noisy = self._noise_schedule.add_noise(latents, noise, timesteps)
        if self._noise_schedule.config.prediction_type == "v_prediction":
            target = self._noise_schedule.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        unet = self.pipe.unet
        with self._autocast():
            hidden, pooled = self._text([e.caption for e in examples])
            extra = {}
            if self.family is ModelFamily.SDXL:
                sizes = [[*v.original_size, *v.crop_top_left, self.settings.resolution, self.settings.resolution]
                         for v in views]  # fmt: skip
                time_ids = torch.tensor(sizes, dtype=hidden.dtype, device=self.device)
                extra["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}
            prediction = unet(
                noisy.to(self._unet_dtype), timesteps, encoder_hidden_states=hidden, return_dict=False, **extra
            )
        return F.mse_loss(prediction[0].float(), target.float())

    def _update(self, loss: torch.Tensor) -> None:
        parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(parameters, self.settings.max_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, self.settings.max_grad_norm)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _encode(self, pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        vae, dtype = self.pipe.vae, self._vae_dtype
        if dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
            if self._vae_fp32 is None:  # SDXL's VAE overflows in fp16; a private fp32 copy encodes instead
                self._vae_fp32 = copy.deepcopy(vae).to(torch.float32)
            vae, dtype = self._vae_fp32, torch.float32
        distribution = vae.encode(pixels.to(dtype)).latent_dist
        latents = distribution.sample(generator=generator).float()
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        return (latents - shift) * vae.config.scaling_factor

    def _text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prompt embeddings as the pipeline computes them at inference. Cached unless the text encoder trains."""
        encoded = [self._encode_caption(caption) for caption in captions]
        hidden = torch.cat([h for h, _ in encoded])
        pooled = torch.cat([p for _, p in encoded]) if encoded[0][1] is not None else None
        return hidden, pooled

    def _encode_caption(self, caption: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        if caption in self._text_cache:
            return self._text_cache[caption]
        grad = torch.enable_grad() if self.settings.train_text_encoder else torch.no_grad()
        with grad:
            if self.family is ModelFamily.SDXL:
                hidden, _, pooled, _ = self.pipe.encode_prompt(
                    prompt=caption, device=self.device, num_images_per_prompt=1, do_classifier_free_guidance=False
                )
            else:
                hidden, _ = self.pipe.encode_prompt(caption, self.device, 1, False)
                pooled = None
        if not self.settings.train_text_encoder:
            self._text_cache[caption] = (hidden, pooled)
        return hidden, pooled

    # ----- set-up ------------------------------------------------------------------------------------------------

    def _targets(self) -> dict[str, list[str]]:
        targets = {"unet": lora_layers.unet_targets(self.pipe.unet, self.settings.unet_targets)}
        if not targets["unet"]:
            raise TrainingSettingsError(
                f"no UNet layer matches {list(self.settings.unet_targets)}", setting="unet_targets"
            )
        if self.settings.train_text_encoder:
            for name in ("text_encoder", "text_encoder_2"):
                encoder = getattr(self.pipe, name, None)
                if encoder is not None:
                    targets[name] = lora_layers.text_encoder_targets(encoder, TEXT_ENCODER_ATTENTION)
        return targets

    def _batch(self, step: int) -> list[TrainingExample]:
        """The examples of `step`: consecutive places in a fresh shuffled order per epoch."""
        count = len(self.training_set)
        chosen = []
        for place in range(step * self.settings.batch_size, (step + 1) * self.settings.batch_size):
            epoch = place // count
            if epoch not in self._orders:
                self._orders = {epoch: torch.randperm(count, generator=step_generator(self.settings.seed, "order", epoch)).tolist()}  # fmt: skip
            chosen.append(self.training_set.examples[self._orders[epoch][place % count]])
        return chosen

    def _learning_rate(self, step: int) -> float:
        warmup = self.settings.warmup_steps
        factor = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return self.settings.learning_rate * factor

    def _choose_autocast(self) -> torch.dtype | None:
        wanted = self.settings.mixed_precision
        if wanted is None:
            wanted = self.device.type == "cuda"
        if not wanted or self.device.type != "cuda":
            return None
        weights = self.pipe.unet.dtype
        if weights in (torch.float16, torch.bfloat16):
            return weights
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def _autocast(self):
        if self._autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._autocast_dtype)

    def _use_gradient_checkpointing(self) -> bool:
        wanted = self.settings.gradient_checkpointing
        return self.device.type == "cuda" if wanted is None else wanted

    def _resume(self) -> None:
        state = load_checkpoint(self.checkpoint_dir)
        if state is None:
            return
        if state.identity != self._identity:
            changed = sorted(k for k in self._identity.keys() | state.identity.keys()
                             if self._identity.get(k) != state.identity.get(k))  # fmt: skip
            raise CheckpointError(
                f"the checkpoint in {self.checkpoint_dir} was made with a different {', '.join(changed)}; "
                "delete it or start without resuming",
                path=self.checkpoint_dir,
            )
        if state.step > self.settings.steps:
            raise CheckpointError(
                f"the checkpoint in {self.checkpoint_dir} is at step {state.step}, beyond the {self.settings.steps} "
                "steps asked for",
                path=self.checkpoint_dir,
            )
        with torch.no_grad():
            for item in self._layers:
                item.down.copy_(state.lora[f"{item.key}.lora_A.weight"])
                item.up.copy_(state.lora[f"{item.key}.lora_B.weight"])
        self.optimizer.load_state_dict(state.optimizer)
        if self.scaler is not None and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        self._step, self._elapsed, self.losses = state.step, state.elapsed_s, list(state.losses)
        log.info("resumed LoRA training at step %d from %s", self._step, self.checkpoint_dir)


def _noise_schedule(pipe):
    """The DDPM training schedule matching the pipeline's sampler (same betas, same prediction type)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(pipe.scheduler.config)


def _require_plain_unet(unet) -> None:
    if getattr(unet.config, "encoder_hid_dim_type", None) == "ip_image_proj":
        raise TrainingError(
            "the UNet has its IP-Adapter switched on; switch it off before each training step (pass before_step)"
        )


def _model_identity(pipe, label: str) -> str:
    """The model as the caller names it (MODEL, --model) plus its architecture: a checkpoint is not resumed onto a
    different model. Weights are not hashed: that would take seconds for SDXL and differ between fp16 and fp32."""
    config = {key: value for key, value in dict(pipe.unet.config).items() if not key.startswith("_")}
    text = json.dumps([type(pipe).__name__, label, config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
