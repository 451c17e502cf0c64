"""The plain data the generation service takes and gives back. No Discord, no personas."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines one picture.

    A picture is fully determined by (model, prompt, negative, seed, steps, guidance, scheduler, size, LoRA + scale,
    reference + scale); `scheduler` is a `generation.schedulers.SchedulerName` value ("default": the model's own,
    or the service's `SCHEDULER` setting, which the service writes into the request); `identity` only names the persona's look for cache bookkeeping and logs.
    """

    prompt: str
    seed: int
    negative_prompt: str = ""
    steps: int = 25
    guidance: float = 7.0
    width: int = 512
    height: int = 512
    lora_path: Path | None = None
    lora_scale: float = 1.0
    reference_path: Path | None = None
    ip_scale: float = 0.6
    identity: str = ""
    scheduler: str = "default"

    @property
    def batch_key(self) -> tuple:
        """Requests with the same key can share one batched pipeline call."""
        return (self.width, self.height, self.steps, self.guidance, self.scheduler)

    def parameters(self) -> dict[str, Any]:
        """Every parameter needed to regenerate the picture, JSON-friendly."""
        data = asdict(self)
        data["lora_path"] = str(self.lora_path) if self.lora_path else None
        data["reference_path"] = str(self.reference_path) if self.reference_path else None
        if not self.lora_path:
            data["lora_scale"] = None
        if not self.reference_path:
            data["ip_scale"] = None
        return data


@dataclass
class GenerationResult:
    """One finished picture and how it was made."""

    image: Any  # PIL.Image.Image
    request: GenerationRequest
    model: str
    queue_wait_s: float
    generation_s: float
    batch_size: int
    lora_hash: str | None = None
    reference_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """What the service reports per request: timings, batch size and all regeneration parameters."""
        return {
            "model": self.model,
            **self.request.parameters(),
            "lora_sha256": self.lora_hash,
            "reference_sha256": self.reference_hash,
            "queue_wait_s": round(self.queue_wait_s, 4),
            "generation_s": round(self.generation_s, 4),
            "batch_size": self.batch_size,
        }
