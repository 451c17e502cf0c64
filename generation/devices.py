"""Choosing the device and the weight precision."""

from __future__ import annotations

import torch

from generation.errors import DeviceError


def resolve_device(setting: str = "auto") -> torch.device:
    """`auto` takes CUDA, then Apple MPS, then the CPU; `cpu`, `cuda`, `cuda:N` and `mps` are checked against
    this machine. Raises `DeviceError` for a value torch does not know or a device this machine lacks."""
    setting = (setting or "auto").strip().lower()
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(setting)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"DEVICE={setting} is not a device name (auto, cpu, cuda, cuda:N, mps)", setting=setting
        ) from None
    if device.type not in {"cpu", "cuda", "mps"}:
        raise DeviceError(f"DEVICE={setting}: only cpu, cuda and mps devices are supported", setting=setting)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"DEVICE={setting}: this machine has no usable CUDA GPU", setting=setting)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"DEVICE={setting}: this machine has {torch.cuda.device_count()} CUDA GPU(s)", setting=setting
            )
    if device.type == "mps" and not _mps_available():
        raise DeviceError(f"DEVICE={setting}: Apple MPS is not available on this machine", setting=setting)
    return device


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


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
        raise DeviceError(f"DTYPE={setting} is not one of auto, float16, bfloat16, float32", setting=setting)
    return DTYPES[setting]


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
