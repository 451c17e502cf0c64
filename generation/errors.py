"""Errors the generation service raises. Each message is one sentence a user or admin can act on.

GenerationError
 ├── ModelLoadError        the model (or IP-Adapter) could not be loaded
 ├── InvalidAssetError     a LoRA or reference file is unusable (not safetensors, wrong keys, not an image, ...)
 ├── OutOfMemoryError      the GPU ran out of memory for this request
 ├── QueueFullError        the service is not taking more work right now
 └── ServiceClosedError    the service is shutting down
"""


class GenerationError(Exception):
    """Base class; `str(error)` is a user-facing sentence."""


class ModelLoadError(GenerationError):
    pass


class InvalidAssetError(GenerationError):
    pass


class OutOfMemoryError(GenerationError):
    pass


class QueueFullError(GenerationError):
    pass


class ServiceClosedError(GenerationError):
    pass
