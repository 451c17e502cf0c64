"""The one interface the bot draws pictures through, whichever backend draws them.

`GenerationBackend` is exactly what the bot uses of the in-process `GenerationService`: `generate` with progress
events (queue position, batch start, denoising steps) and fairness by owner, cancellation by cancelling the awaiting
task, `close()`, and the errors of `generation.errors`. `ModelFacts` is what the bot asks about the model while it
builds a request (picture size, whether references work, prompt token counts, the device type); an `Engine` has it, and a remote
backend answers it from a description its replicas send once.

Two backends satisfy it: `GenerationService` (in this process, one worker thread per engine; the default) and
`generation.ray_backend.client.RayGenerationBackend` (replicas on a Ray Serve cluster). Nothing in `bot/` knows which
one it holds.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from generation.request import GenerationRequest, GenerationResult
from generation.service import ProgressCallback, ProgressEvent

__all__ = ["BackendKind", "GenerationBackend", "ModelFacts", "ProgressCallback", "ProgressEvent"]


class BackendKind(StrEnum):
    """Where pictures are drawn (`GENERATION_BACKEND`)."""

    LOCAL = "local"  # in the bot's process, on its own device(s)
    RAY = "ray"  # on the replicas of a Ray Serve application


@runtime_checkable
class ModelFacts(Protocol):
    """What the bot may ask about the image model without drawing anything."""

    @property
    def model_label(self) -> str:
        """What "Details" show as the model."""

    @property
    def device(self) -> Any:
        """The `torch.device` pictures are drawn on (its `.type` sets defaults such as best-of-N candidates)."""

    @property
    def native_size(self) -> int:
        """The picture size (pixels) the model was trained at: 512 for SD 1.5, 1024 for SDXL."""

    @property
    def supports_references(self) -> bool:
        """Whether requests may carry a reference image (an IP-Adapter is loaded)."""

    def count_tokens(self, text: str) -> int:
        """Tokens the text encoder sees for `text`, without BOS/EOS. Called on the event loop."""


@runtime_checkable
class GenerationBackend(Protocol):
    """Draws `GenerationRequest`s. Every error raised is a `generation.errors.GenerationError` (or cancellation)."""

    @property
    def engine(self) -> ModelFacts:
        """Facts about the model the pictures come from."""

    async def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback | None = None,
        owner: Hashable = None,
        solo: bool = False,
    ) -> GenerationResult:
        """Queue `request` and wait for its picture.

        `solo`: draw it in a pipeline call of its own, never batched with others, so the picture is exactly the one
        its seed draws alone (a batched picture may differ by a level or so; see best of N's re-render).

        `on_progress` hears `ProgressEvent`s on the event loop: "queued" (1-based position), "started" (batch size),
        "step" (step / total). Requests are served round-robin between owners; an owner `(group, member)` is served
        round-robin between groups first. Cancelling the awaiting task withdraws a queued request and stops a
        running one once nobody else waits on its batch. Raises `QueueFullError` when no more work is taken,
        `ServiceClosedError` after `close()`, `InvalidAssetError` / `ReferencesUnsupported` for a request's assets,
        `OutOfMemoryError`, or `GenerationFailed`.
        """

    async def close(self) -> None:
        """Stop taking work, fail what has not started with `ServiceClosedError`, release what the backend holds."""
