"""Live previews: a small picture of the denoising so far, made cheaply from the latents every few steps.

The default needs no extra model: a fixed linear map from the 4 latent channels to RGB (the factors ComfyUI and
A1111 use for their "latent2rgb" previews; SD 1.x and SDXL latents differ). With `PREVIEW_VAE` pointing at a tiny
VAE (`AutoencoderTiny`, e.g. TAESD for SD 1.5, TAESDXL for SDXL) the preview is decoded by it instead: sharper, a few
milliseconds on a GPU. Either way the preview is a few KiB of PNG, at most `max_side` pixels on its longer side.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image

# Latent channel -> RGB contributions (rows: the 4 latent channels), from ComfyUI's latent_formats.py.
_SD15_FACTORS = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]
_SDXL_FACTORS = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
]
_SDXL_BIAS = [0.1084, -0.0175, -0.0011]


class LatentPreviewer:
    """Turns a batch of latents into one small PNG per sample.

    `every`: a preview every that many steps (0: about every quarter of the run). Never at the last step, because the
    final picture replaces the preview then.
    """

    def __init__(self, pipe, *, every: int = 0, max_side: int = 128, tiny_vae_path: Path | None = None) -> None:
        self.every = every
        self.max_side = max_side
        is_xl = getattr(pipe, "text_encoder_2", None) is not None
        self._factors = torch.tensor(_SDXL_FACTORS if is_xl else _SD15_FACTORS)
        self._bias = torch.tensor(_SDXL_BIAS if is_xl else [0.0, 0.0, 0.0])
        self._tiny_vae = None
        if tiny_vae_path is not None:
            from diffusers import AutoencoderTiny

            device, dtype = pipe.unet.device, pipe.unet.dtype
            self._tiny_vae = AutoencoderTiny.from_pretrained(str(tiny_vae_path), torch_dtype=dtype).to(device)
        self.made = 0

    def due(self, step: int, total: int) -> bool:
        every = self.every or max(1, total // 4)
        return step < total and step % every == 0

    @torch.no_grad()
    def pictures(self, latents: torch.Tensor) -> list[bytes]:
        rgb = self._decode(latents)  # [B, 3, h, w] in [0, 1]
        pictures = []
        for sample in rgb:
            array = (sample.permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy()
            image = Image.fromarray(array)
            if max(image.size) > self.max_side:
                image.thumbnail((self.max_side, self.max_side))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            pictures.append(buffer.getvalue())
        self.made += len(pictures)
        return pictures

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        if self._tiny_vae is not None:
            # A tiny VAE's scaling factor is 1: it takes the pipeline's latents as they are.
            decoded = self._tiny_vae.decode(latents.to(self._tiny_vae.dtype)).sample.float()
            return ((decoded + 1) / 2).clamp(0, 1)
        latents = latents.float().cpu()
        if latents.shape[1] == self._factors.shape[0]:
            rgb = torch.einsum("bchw,cr->brhw", latents, self._factors) + self._bias[None, :, None, None]
            return ((rgb + 1) / 2).clamp(0, 1)
        # Another latent layout: the first three channels, each stretched to its own range.
        rgb = latents[:, :3]
        low = rgb.amin(dim=(2, 3), keepdim=True)
        high = rgb.amax(dim=(2, 3), keepdim=True)
        return (rgb - low) / (high - low).clamp_min(1e-6)
