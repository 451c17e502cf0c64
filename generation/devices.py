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


def default_dtype(device: torch.device) -> torch.dtype:
    """Half precision on GPUs (bf16 where the card supports it well), full precision on the CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if _prefers_bf16(device) else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def _prefers_bf16(device: torch.device) -> bool:
    # fp16 is the precision SD checkpoints are published and tested in; bf16 only when fp16 is unavailable.
    return False


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
