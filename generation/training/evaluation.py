"""The denoising loss of a pipeline on fixed pictures, fixed noise and fixed timesteps, under the trigger prompt.

This is the quantity training lowers, measured without any of training's randomness, so two measurements (the base
model, the same model with a LoRA loaded) compare directly. It works on random-weight models too, where "do the
renders look more like the training pictures" cannot be judged.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from generation.training.dataset import TrainingSet, center_view
from generation.training.settings import ModelFamily, model_family
from generation.training.trainer import step_generator

DEFAULT_TIMESTEPS = (100, 300, 500, 700, 900)


class DenoisingProbe:
    """Latents of `training_set` (centred, unflipped, the VAE's mean) with one fixed noise draw per picture and
    timestep. `loss()` measures the pipeline in whatever adapter state it is in at that moment."""

    def __init__(
        self,
        pipe,
        training_set: TrainingSet,
        *,
        resolution: int,
        seed: int = 0,
        timesteps: tuple[int, ...] = DEFAULT_TIMESTEPS,
        prompt: str | None = None,
    ) -> None:
        from diffusers import DDPMScheduler

        self.pipe = pipe
        self.resolution = resolution
        self.prompt = prompt or training_set.trigger_caption
        self.device = pipe._execution_device
        self._schedule = DDPMScheduler.from_config(pipe.scheduler.config)
        self._timesteps = torch.tensor(timesteps, device=self.device)
        pixels = torch.stack([center_view(e.image, resolution=resolution).pixels for e in training_set.examples])
        latents = self._encode(pixels.to(self.device))
        self._latents = latents
        self._noise = [
            torch.randn((len(timesteps), *latent.shape), generator=step_generator(seed, "probe", index)).to(self.device)
            for index, latent in enumerate(latents)
        ]

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        vae = self.pipe.vae
        if vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
            vae = copy.deepcopy(vae).to(torch.float32)  # SDXL's VAE overflows in fp16
        latents = vae.encode(pixels.to(vae.dtype)).latent_dist.mode().float()
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        return (latents - shift) * vae.config.scaling_factor

    @torch.no_grad()
    def loss(self) -> float:
        pipe, unet = self.pipe, self.pipe.unet
        count = len(self._timesteps)
        extra = {}
        if model_family(pipe) is ModelFamily.SDXL:
            hidden, _, pooled, _ = pipe.encode_prompt(
                prompt=self.prompt, device=self.device, num_images_per_prompt=1, do_classifier_free_guidance=False
            )
            size = self.resolution
            time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=hidden.dtype, device=self.device)
            extra["added_cond_kwargs"] = {"text_embeds": pooled.repeat(count, 1), "time_ids": time_ids.repeat(count, 1)}
        else:
            hidden, _ = pipe.encode_prompt(self.prompt, self.device, 1, False)
        hidden = hidden.repeat(count, 1, 1)
        total = 0.0
        for latent, noise in zip(self._latents, self._noise, strict=True):
            clean = latent.expand(count, *latent.shape)
            noisy = self._schedule.add_noise(clean, noise, self._timesteps)
            if self._schedule.config.prediction_type == "v_prediction":
                target = self._schedule.get_velocity(clean, noise, self._timesteps)
            else:
                target = noise
            prediction = unet(
                noisy.to(unet.dtype), self._timesteps, encoder_hidden_states=hidden, return_dict=False, **extra
            )
            total += float(F.mse_loss(prediction[0].float(), target.float()))
        return total / len(self._latents)
