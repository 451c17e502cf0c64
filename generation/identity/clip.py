"""The fallback likeness measure: CLIP image-embedding similarity through the IP-Adapter's own image encoder.

Used when no face is found (or the face model is not installed). The encoder is the one the IP-Adapter already
conditions on, so it costs no extra memory in the bot. CLIP similarity says "looks alike" (colours, clothes, framing
count as much as the face), so it never decides whether two pictures show the same person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from generation.identity.errors import IdentityUnavailable


def similarity_to_score(cosine: float) -> float:
    """Map cosine similarity to [0, 1]: negative similarity (unrelated) is 0, identical embeddings are 1, linear in
    between. Only comparable with other CLIP scores from the same encoder, never with face scores."""
    return float(min(1.0, max(0.0, cosine)))


class ClipSimilarity:
    """CLIP image embeddings (the projection output, L2-normalised) and their cosine similarity."""

    def __init__(self, image_encoder=None, processor=None, *, loader: Callable[[], tuple] | None = None) -> None:
        """Either an encoder and its processor, or a `loader` returning both on first use (a real CLIP-H encoder
        takes seconds to load, and the face method often makes it unnecessary)."""
        self._encoder = image_encoder
        self._processor = processor
        self._loader = loader

    @classmethod
    def from_pipeline(cls, pipe) -> ClipSimilarity | None:
        """The encoder a pipeline loaded with its IP-Adapter, or None when it has none."""
        encoder = getattr(pipe, "image_encoder", None)
        if encoder is None:
            return None
        processor = getattr(pipe, "feature_extractor", None) or _processor_for(encoder)
        return cls(encoder, processor)

    @classmethod
    def from_ip_adapter(
        cls, location: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> ClipSimilarity:
        """The encoder in `image_encoder/` beside the IP-Adapter weights (`location` is the folder or one weights file
        in it), loaded when first needed. Only safetensors weights are read."""
        location = Path(location)
        folder = (location.parent if location.is_file() else location) / "image_encoder"
        if not folder.is_dir():
            raise IdentityUnavailable(f"{folder} does not exist; an IP-Adapter folder holds image_encoder/")

        def load() -> tuple:
            from transformers import CLIPVisionModelWithProjection

            encoder = CLIPVisionModelWithProjection.from_pretrained(str(folder), dtype=dtype, use_safetensors=True)
            encoder.to(device).eval()
            return encoder, _processor_for(encoder)

        return cls(loader=load)

    def embed(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """One unit-length embedding per image, float32 on the CPU, shape (len(images), projection_dim)."""
        if self._encoder is None:
            self._encoder, self._processor = self._loader()
        pixels = self._processor(images=[image.convert("RGB") for image in images], return_tensors="pt").pixel_values
        parameter = next(self._encoder.parameters())
        with torch.inference_mode():
            embeds = self._encoder(pixels.to(device=parameter.device, dtype=parameter.dtype)).image_embeds
        return torch.nn.functional.normalize(embeds.float().cpu(), dim=-1)


def _processor_for(encoder):
    """The preprocessing diffusers' `load_ip_adapter` builds for an encoder: CLIP's, at the encoder's input size."""
    from transformers import CLIPImageProcessor

    size = encoder.config.image_size
    return CLIPImageProcessor(size=size, crop_size=size)
