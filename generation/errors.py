"""Errors the generation package raises on purpose.

Messages are technical (what failed, with which file or setting) and the context is kept on attributes; the words a
Discord user reads are chosen in `bot/messages.py`, and the command-line tools print these messages as they are.

GenerationError                 base of everything below
 ├── ModelLoadError             the model or IP-Adapter could not be loaded (`source`)
 ├── DeviceError                a DEVICE / DTYPE value this machine cannot serve (`setting`)
 ├── InvalidAssetError          a LoRA or reference file is unusable (`asset`: "lora" | "reference", `problem`)
 ├── ReferencesUnsupported      a request names a reference but no IP-Adapter is loaded
 ├── OutOfMemoryError           the accelerator ran out of memory for this request
 ├── GenerationFailed           the pipeline raised something unexpected (the cause is chained)
 ├── QueueFullError             the service is not taking more work right now (`limit`)
 └── ServiceClosedError         the service is shutting down (`started`: whether the picture had begun)
"""

from __future__ import annotations

from enum import StrEnum


class GenerationError(Exception):
    """Base class; `str(error)` is a technical description."""


class ModelLoadError(GenerationError):
    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class DeviceError(GenerationError):
    def __init__(self, message: str, *, setting: str = "") -> None:
        super().__init__(message)
        self.setting = setting


class AssetProblem(StrEnum):
    NOT_SAFETENSORS = "not_safetensors"
    EMPTY = "empty"
    DAMAGED = "damaged"
    DOES_NOT_FIT = "does_not_fit"
    UNREADABLE_IMAGE = "unreadable_image"


class InvalidAssetError(GenerationError):
    def __init__(self, message: str, *, asset: str = "lora", problem: AssetProblem = AssetProblem.DAMAGED) -> None:
        super().__init__(message)
        self.asset = asset
        self.problem = problem


class ReferencesUnsupported(GenerationError):
    pass


class OutOfMemoryError(GenerationError):
    pass


class GenerationFailed(GenerationError):
    pass


class QueueFullError(GenerationError):
    def __init__(self, message: str, *, limit: int = 0) -> None:
        super().__init__(message)
        self.limit = limit


class ServiceClosedError(GenerationError):
    def __init__(self, message: str, *, started: bool = False) -> None:
        super().__init__(message)
        self.started = started
