"""Choosing the device and the weight precision."""

from __future__ import annotations

import torch


def resolve_device(setting: str = "auto") -> torch.device:
    """`auto` takes CUDA, then Apple MPS, then the CPU; anything else is passed to torch as given."""
    setting = (setting or "auto").strip().lower()
    if setting != "auto":
        device = torch.device(setting)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"DEVICE={setting} was asked for, but this machine has no usable CUDA GPU.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def default_dtype(device: torch.device) -> torch.dtype:
    """Half precision on GPUs (fp16, the precision SD checkpoints are published in), full precision on the CPU."""
    if device.type in {"cuda", "mps"}:
        return torch.float16
    return torch.float32


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """`auto` or one of float16 / bfloat16 / float32 (bf16 suits cards where fp16 overflows)."""
    setting = (setting or "auto").strip().lower()
    if setting == "auto":
        return default_dtype(device)
    if setting not in DTYPES:
        raise ValueError(f"DTYPE={setting} is not one of auto, float16, bfloat16, float32.")
    return DTYPES[setting]


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
