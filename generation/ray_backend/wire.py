"""The messages between the bot and a replica: plain dataclasses that Ray serialises.

A request carries its persona files as `WireAsset`s (content hash plus an object-store reference), never as local
paths. A replica answers with a stream: `Progress` events, then exactly one `Finished` or `Failed`. Errors travel as
data (`Failed`) and are rebuilt as the same `generation.errors` class on the bot's side, so the bot words a remote
failure exactly like a local one. Nothing here imports Ray.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from generation import errors
from generation.request import GenerationRequest
from generation.service import ProgressEvent

_PATH_FIELDS = ("lora_path", "reference_path")


class AssetKind(StrEnum):
    LORA = "lora"
    REFERENCE = "reference"


@dataclass(frozen=True)
class WireAsset:
    """A persona file by content: its sha256, size and an object-store reference to its bytes.

    The reference sits inside a list so Ray hands it over as a reference (top-level references would be fetched
    eagerly, even by a replica that has the file cached already)."""

    kind: AssetKind
    sha256: str
    size: int
    suffix: str
    holder: list[Any] = field(default_factory=list, compare=False, repr=False)  # [ray.ObjectRef]


@dataclass(frozen=True)
class WireRequest:
    """A `GenerationRequest` without its paths: the parameters plus the persona files by content."""

    parameters: dict[str, Any]
    lora: WireAsset | None = None
    reference: WireAsset | None = None
    owner: Hashable = None
    solo: bool = False  # drawn in a pipeline call of its own on the replica

    @classmethod
    def of(
        cls,
        request: GenerationRequest,
        *,
        lora: WireAsset | None,
        reference: WireAsset | None,
        owner: Hashable = None,
        solo: bool = False,
    ) -> WireRequest:
        parameters = {key: value for key, value in asdict(request).items() if key not in _PATH_FIELDS}
        return cls(parameters=parameters, lora=lora, reference=reference, owner=owner, solo=solo)

    @property
    def look_id(self) -> str:
        """The look's content key: what Serve multiplexes on, so one look stays on replicas that hold it warm.

        Only file contents count: two personas (or two versions of one) with the same LoRA and reference share a
        look; scales and prompts do not matter to what a replica keeps resident. Empty when there is nothing to
        keep warm."""
        return look_id(self.lora.sha256 if self.lora else None, self.reference.sha256 if self.reference else None)

    def to_request(self, *, lora_path=None, reference_path=None) -> GenerationRequest:
        """The request as the replica's service takes it, with the replica's own copies of the files."""
        return GenerationRequest(**self.parameters, lora_path=lora_path, reference_path=reference_path)


def look_id(lora_sha256: str | None, reference_sha256: str | None) -> str:
    if not lora_sha256 and not reference_sha256:
        return ""
    key = f"lora={lora_sha256 or '-'};reference={reference_sha256 or '-'}"
    return "look-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Progress:
    event: ProgressEvent


@dataclass(frozen=True)
class Finished:
    """A picture and how it was made; `replica` names the Serve replica actor that drew it."""

    image: Any  # PIL.Image.Image
    model: str
    queue_wait_s: float
    generation_s: float
    batch_size: int
    lora_hash: str | None
    reference_hash: str | None
    replica: str
    look_id: str
    look_was_resident: bool  # the replica held this look before the request (a warm-routing hit)


@dataclass(frozen=True)
class Failed:
    """A `GenerationError` as data: its class name, message and keyword attributes."""

    error_type: str
    message: str
    attributes: dict[str, Any] = field(default_factory=dict)
    replica: str = ""


# Errors a replica may send; anything else arrives as GenerationFailed.
_REBUILDABLE: dict[str, type[errors.GenerationError]] = {
    cls.__name__: cls
    for cls in (
        errors.ModelLoadError,
        errors.DeviceError,
        errors.InvalidAssetError,
        errors.ReferencesUnsupported,
        errors.OutOfMemoryError,
        errors.GenerationFailed,
        errors.QueueFullError,
        errors.ServiceClosedError,
    )
}
_ATTRIBUTES = {"source", "setting", "asset", "problem", "limit", "started"}


def failure_of(error: errors.GenerationError, *, replica: str = "") -> Failed:
    attributes = {key: value for key, value in vars(error).items() if key in _ATTRIBUTES}
    if "problem" in attributes:
        attributes["problem"] = str(attributes["problem"])
    return Failed(type(error).__name__, str(error), attributes, replica)


def error_from(failed: Failed) -> errors.GenerationError:
    cls = _REBUILDABLE.get(failed.error_type)
    if cls is None:
        return errors.GenerationFailed(f"replica {failed.replica}: {failed.error_type}: {failed.message}")
    attributes = dict(failed.attributes)
    if "problem" in attributes:
        attributes["problem"] = errors.AssetProblem(attributes["problem"])
    try:
        return cls(failed.message, **attributes)
    except TypeError:  # a class that takes no keywords (ReferencesUnsupported, OutOfMemoryError, ...)
        return cls(failed.message)
