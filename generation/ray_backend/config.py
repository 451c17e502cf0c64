"""Configuration of the Ray Serve backend: what every replica loads, how many replicas run, where the cluster is.

`ReplicaSettings` are the arguments of the Serve application (the `args:` of `serve_config.yaml`, or what the bot
passes when it deploys the application itself); `ScalingSettings` become the deployment's options (replica count or
autoscaling, GPUs per replica, requests per replica). Nothing here imports Ray.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from generation.errors import GenerationError

APP_NAME = "selfiebot-generation"
DEPLOYMENT_NAME = "SelfieGeneration"
ATTEMPTS = 2  # a request whose replica dies is tried once more on another replica, never more


class RayUnavailable(GenerationError):
    """Ray is not installed, the cluster cannot be reached, or the application did not start (`reason`)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ReplicaSettings:
    """What each replica loads. Paths are as the replica's machine sees them (MODEL and IP_ADAPTER must exist on
    every node: a shared mount or the same folder layout); persona assets never travel by path."""

    model: str = "demo"
    device: str = "auto"  # "cpu", or "auto": the GPU Ray gave the replica (CUDA_VISIBLE_DEVICES), else the CPU
    dtype: str = "auto"
    ip_adapter: str | None = None
    data_dir: str = "data"  # the replica's own caches: demo kit, reference embeddings, assets by hash
    lora_capacity: int = 8  # persona LoRAs resident per replica; also the looks Serve multiplexes per replica
    max_batch: int | None = None  # pictures per pipeline call (None: 1 on the CPU, 4 on CUDA)
    max_queue: int = 256  # requests one replica holds (the bot bounds the total with MAX_QUEUE)
    # Speed options as their settings spell them (SCHEDULER, SPEED_LORA, COMPILE, OFFLOAD, VAE_TILING, PREVIEW, ...):
    # a replica's engine is loaded the way the local one is (generation/speed.py), so pictures stay the same.
    speed: dict[str, str] = field(default_factory=dict)

    def to_args(self) -> dict[str, Any]:
        """The application builder's arguments (JSON/YAML-friendly)."""
        return {key: value for key, value in asdict(self).items() if value not in (None, {})}

    @classmethod
    def from_args(cls, args: dict[str, Any] | None) -> ReplicaSettings:
        args = dict(args or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise ValueError(f"unknown replica settings {unknown}; expected some of {sorted(known)}")
        for name in ("lora_capacity", "max_batch", "max_queue"):
            if args.get(name) is not None:
                args[name] = int(args[name])
        args["speed"] = {str(key): str(value) for key, value in (args.get("speed") or {}).items()}
        return cls(**args)


@dataclass(frozen=True)
class ScalingSettings:
    """How many replicas run and what each one asks of the cluster.

    `min_replicas == max_replicas` is a fixed count; otherwise Serve autoscales between them, aiming at
    `target_queue` requests in flight per replica (queued plus being drawn). `gpus_per_replica=None` asks for one
    GPU per replica when the cluster has GPUs and none otherwise; fractions pack several replicas on one card.
    """

    min_replicas: int = 1
    max_replicas: int = 1
    target_queue: float = 4.0
    gpus_per_replica: float | None = None
    cpus_per_replica: float = 1.0
    max_ongoing_requests: int = 32  # Serve sends a replica at most this many requests; the rest wait in the router
    upscale_delay_s: float = 10.0
    downscale_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.min_replicas < 0 or self.max_replicas < max(self.min_replicas, 1):
            raise ValueError(
                f"replicas must satisfy 0 <= min <= max and max >= 1, not {self.min_replicas}-{self.max_replicas}"
            )

    @property
    def autoscaling(self) -> bool:
        return self.min_replicas != self.max_replicas

    def deployment_options(self, *, cluster_gpus: float) -> dict[str, Any]:
        """Options for `Deployment.options(...)`."""
        gpus = self.gpus_per_replica if self.gpus_per_replica is not None else (1.0 if cluster_gpus > 0 else 0.0)
        options: dict[str, Any] = {
            "ray_actor_options": {"num_cpus": self.cpus_per_replica, "num_gpus": gpus},
            "max_ongoing_requests": self.max_ongoing_requests,
            # A replica that cannot load the model will not load it on the next try either: fail start-up quickly.
            "max_constructor_retry_count": 1,
        }
        if self.autoscaling:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "initial_replicas": max(self.min_replicas, 1),
                "target_ongoing_requests": self.target_queue,
                "upscale_delay_s": self.upscale_delay_s,
                "downscale_delay_s": self.downscale_delay_s,
            }
        else:
            options["num_replicas"] = self.min_replicas
        return options


@dataclass(frozen=True)
class RayBackendConfig:
    """Everything the bot needs to reach (or start) the cluster and the application."""

    address: str = ""  # "": start a local Ray instance in this process; "auto" or "ray://head:10001": connect
    app_name: str = APP_NAME
    replica: ReplicaSettings = field(default_factory=ReplicaSettings)
    scaling: ScalingSettings = field(default_factory=ScalingSettings)
    max_queue: int = 100  # requests this bot has in flight on the cluster at once (MAX_QUEUE)
    asset_cache_bytes: int = 1 << 30  # persona files the bot keeps in the object store (least recently used go)
    init_options: dict[str, Any] = field(default_factory=dict)  # extra `ray.init` arguments for a local instance
