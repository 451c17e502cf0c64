"""Writing a trained LoRA as a .safetensors file that diffusers' `load_lora_weights`, our `AdapterCache` and the
common web UIs load.

The default layout is diffusers' own (the one the demo kit's LoRAs use): `unet.<module path>.lora_A.weight` /
`lora_B.weight`, `text_encoder.` / `text_encoder_2.` for text-encoder layers. Training keeps lora_alpha equal to the
rank, so no alpha entries are needed and every loader applies the file at strength 1. `LoraFormat.KOHYA` writes the
kohya-ss layout (`lora_unet_..._to_q.lora_down.weight` plus `.alpha`) used by AUTOMATIC1111 and ComfyUI; diffusers
converts it back when loading.
"""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path

import torch


class LoraFormat(StrEnum):
    DIFFUSERS = "diffusers"
    KOHYA = "kohya"


def save_lora(
    path: Path,
    weights: dict[str, torch.Tensor],
    *,
    metadata: dict[str, str] | None = None,
    lora_format: LoraFormat = LoraFormat.DIFFUSERS,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write `weights` (diffusers layout) to `path` atomically; half precision by default, as LoRAs are shared."""
    from safetensors.torch import save_file

    tensors = {key: value.detach().to("cpu", dtype).contiguous() for key, value in weights.items()}
    if lora_format is LoraFormat.KOHYA:
        from diffusers.utils import convert_state_dict_to_kohya

        tensors = {key: value.contiguous() for key, value in convert_state_dict_to_kohya(tensors).items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata={"format": "pt", **(metadata or {})})
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path
