"""`Settings`: the bot's configuration, read once from the environment and an optional `.env` file.

Real environment variables win over `.env`. Every field has a default except the token, which only `run` needs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from generation.speed import SpeedOptions

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; the message names it and says what is expected."""


def parse_dotenv(text: str) -> dict[str, str]:
    """`KEY=value` lines; `#` comments, blank lines, `export ` prefixes and matching quotes are handled."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            values[key] = value
    return values


def _int(env: Mapping[str, str], key: str, default: int, low: int = 1) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, not {raw!r}.") from None
    if value < low:
        raise SettingsError(f"{key} must be at least {low}.")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, not {raw!r}.") from None


def _bounded_float(env: Mapping[str, str], key: str, default: float, low: float, high: float | None = None) -> float:
    value = _float(env, key, default)
    if not (low <= value and (high is None or value <= high)) or value != value:
        limit = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise SettingsError(f"{key} must be a number {limit}, not {value:g}.")
    return value


def _url(env: Mapping[str, str], key: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = (env.get(key) or "").strip() or default
    if not raw:
        return ""
    parsed = urlsplit(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise SettingsError(f"{key} must be a {' or '.join(s + '://' for s in schemes)} address, not {raw!r}.")
    return raw


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)(,(cpu|mps|cuda(:\d+)?))*$")  # several: one engine each
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _device(env: Mapping[str, str]) -> str:
    raw = (env.get("DEVICE") or "auto").strip().lower()
    if not _DEVICE.match(raw):
        raise SettingsError(f"DEVICE must be auto, cpu, cuda, cuda:N, mps or a list like cuda:0,cuda:1, not {raw!r}.")
    return raw.replace(" ", "")


def _speed(env: Mapping[str, str]) -> SpeedOptions:
    try:
        return SpeedOptions.from_env(env)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _model(env: Mapping[str, str]) -> str:
    raw = (env.get("MODEL") or "demo").strip()
    if raw == "demo" or Path(raw).expanduser().exists() or _HUB_ID.match(raw):
        return raw
    raise SettingsError(
        f"MODEL must be demo, a diffusers folder, a .safetensors checkpoint or a hub id; {raw!r} is none of these."
    )


_HUB_PATH = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w.-]+)*$")  # org/name, then a folder or file in it


def _ip_adapter(env: Mapping[str, str]) -> Path | str | None:
    """A local IP-Adapter folder or weights file, or a hub id (`org/name[/subfolder][/weights.safetensors]`) that
    the engine reads from the Hugging Face cache the way it reads MODEL."""
    raw = (env.get("IP_ADAPTER") or "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if path.exists():
        return path
    if _HUB_PATH.match(raw) and not raw.startswith((".", "~")) and ".." not in raw.split("/"):
        return raw
    raise SettingsError(
        f"IP_ADAPTER points at {raw!r}, which is neither an existing folder nor a hub id "
        "(org/name, optionally followed by a subfolder or a .safetensors file)."
    )


def _choice(env: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    raw = env.get(key, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{key} must be one of {', '.join(choices)}, not {raw!r}.")
    return raw


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{key} must be true or false, not {raw!r}.")


MAX_IDENTITY_CANDIDATES = 8


def _candidates(env: Mapping[str, str]) -> int | None:
    value = _int(env, "IDENTITY_CANDIDATES", 0, low=0)
    if value > MAX_IDENTITY_CANDIDATES:
        raise SettingsError(f"IDENTITY_CANDIDATES must be from 1 to {MAX_IDENTITY_CANDIDATES}, not {value}.")
    return value or None


_RAY_ADDRESS = re.compile(r"^(auto|ray://[\w.-]+(:\d+)?|[\w.-]+:\d+)$")


def _ray_address(env: Mapping[str, str]) -> str:
    raw = (env.get("RAY_ADDRESS") or "").strip()
    if raw and not _RAY_ADDRESS.match(raw):
        raise SettingsError(f"RAY_ADDRESS must be empty, auto, ray://host:port or host:port, not {raw!r}.")
    return raw


def _replica_range(env: Mapping[str, str]) -> tuple[int, int]:
    """RAY_REPLICAS: `N` replicas, or `MIN-MAX` for autoscaling between them."""
    raw = (env.get("RAY_REPLICAS") or "").strip() or "1"
    match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", raw)
    low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (-1, -1)
    if low < 0 or high < max(low, 1):
        raise SettingsError(f"RAY_REPLICAS must be a count (2) or a range (1-8), not {raw!r}.")
    return low, high


def _auto_or_number(env: Mapping[str, str], key: str) -> float | None:
    raw = (env.get(key) or "").strip().lower()
    if raw in {"", "auto"}:
        return None
    return _bounded_float(env, key, 0.0, 0.0)


def _shard_count(env: Mapping[str, str]) -> int | None:
    """SHARD_COUNT: 1 (one gateway connection), N shards, or auto (Discord's recommendation; None)."""
    if (env.get("SHARD_COUNT") or "").strip().lower() == "auto":
        return None
    return _int(env, "SHARD_COUNT", 1)


@dataclass(frozen=True)
class Settings:
    discord_token: str = ""
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY
    data_dir: Path = Path("data")
    database_path: Path = Path("data/selfiebot.sqlite3")
    model: str = "demo"
    ip_adapter: Path | str | None = None  # a local path, or a hub id read from the Hugging Face cache
    device: str = "auto"
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout_s: float = 20.0
    selfie_steps: int = 25
    selfie_size: int | None = None  # None: the model's native size
    selfie_guidance: float = 7.0
    progress_interval_s: float = 1.5
    max_reference_bytes: int = 8 * 1024 * 1024
    max_lora_bytes: int = 256 * 1024 * 1024
    download_timeout_s: float = 60.0
    message_content: bool = True
    shutdown_grace_s: float = 60.0
    guild_ready_timeout_s: float = 2.0
    max_pending_per_user: int = 2  # selfies one user may have on the way at once (servers share fairly, no cap)
    max_queue: int = 100  # pictures waiting for the GPU, all servers together
    max_batch: int | None = None  # pictures per pipeline call (None: 1 on the CPU, 4 on CUDA)
    lora_cache: int = 8  # persona LoRAs kept loaded at once (least recently used evicted)
    dtype: str = "auto"  # weight precision: auto (fp16 on GPUs, fp32 on CPU), float16, bfloat16, float32
    image_check: str = "auto"  # auto (when the [nudity] extra is installed), on (required), off
    image_check_threshold: float = 0.0  # 0: the detector's default
    resume_max_age_s: float = 600.0  # chat requests younger than this are served again after a restart
    chat_rate_limit: int = 5  # lines one member gets answered per window (0: no limit); the rest are ignored
    chat_rate_window_s: float = 30.0
    prompt_style: str = "natural"  # natural (sentences) or tags (booru-style, for anime checkpoints); per persona too
    identity_candidates: int | None = None  # pictures per selfie with a reference (None: 1 on the CPU, 3 on GPUs)
    identity_min_score: float = 0.5  # best of N: below it one more round (0.5 is the face model's same-person line)
    speed: SpeedOptions = field(default_factory=SpeedOptions)  # SCHEDULER, SPEED_LORA, COMPILE, OFFLOAD, PREVIEW...
    generation_backend: str = "local"  # local (in this process) or ray (replicas of a Ray Serve application)
    ray_address: str = ""  # with ray: "" starts a local Ray instance in this process; auto / ray://head:10001 connect
    ray_replicas: tuple[int, int] = (1, 1)  # min and max replicas (equal: a fixed count; else Serve autoscales)
    ray_target_queue: float = 4.0  # requests in flight per replica that autoscaling aims at
    ray_gpus_per_replica: float | None = None  # None: one GPU per replica when the cluster has GPUs, else none
    shard_count: int | None = 1  # gateway shards: 1 (a plain connection), N, or None (Discord's recommendation)
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        merged: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            merged.update(parse_dotenv(dotenv.read_text(encoding="utf-8")))
        merged.update({k: v for k, v in (os.environ if env is None else env).items()})
        data_dir = Path(merged.get("DATA_DIR") or "data").expanduser()
        database = merged.get("DATABASE_PATH") or str(data_dir / "selfiebot.sqlite3")
        size = _int(merged, "SELFIE_SIZE", 0, low=0)
        if size and size % 8:
            raise SettingsError("SELFIE_SIZE must be a multiple of 8 (e.g. 512).")
        return cls(
            discord_token=merged.get("DISCORD_TOKEN", "").strip(),
            api_base=_url(merged, "DISCORD_API_BASE", DEFAULT_API_BASE, ("https", "http")).rstrip("/"),
            gateway_url=_url(merged, "DISCORD_GATEWAY_URL", DEFAULT_GATEWAY, ("wss", "ws")),
            data_dir=data_dir,
            database_path=Path(database).expanduser(),
            model=_model(merged),
            ip_adapter=_ip_adapter(merged),
            device=_device(merged),
            llm_base_url=_url(merged, "LLM_BASE_URL", "", ("https", "http")).rstrip("/"),
            llm_api_key=merged.get("LLM_API_KEY", ""),
            llm_model=merged.get("LLM_MODEL", ""),
            llm_timeout_s=_bounded_float(merged, "LLM_TIMEOUT", 20.0, 0.5, 600.0),
            selfie_steps=_int(merged, "SELFIE_STEPS", _speed(merged).default_steps or 25),
            selfie_size=size or None,
            selfie_guidance=_bounded_float(
                merged, "SELFIE_GUIDANCE", _speed(merged).default_guidance or 7.0, 0.0, 30.0
            ),
            speed=_speed(merged),
            progress_interval_s=_bounded_float(merged, "PROGRESS_INTERVAL", 1.5, 0.05),
            message_content=_bool(merged, "MESSAGE_CONTENT_INTENT", True),
            shutdown_grace_s=_bounded_float(merged, "SHUTDOWN_GRACE", 60.0, 0.0),
            max_pending_per_user=_int(merged, "MAX_PENDING_PER_USER", 2),
            max_queue=_int(merged, "MAX_QUEUE", 100),
            max_batch=_int(merged, "MAX_BATCH", 0, low=0) or None,
            lora_cache=_int(merged, "LORA_CACHE", 8),
            dtype=_choice(merged, "DTYPE", ("auto", "float16", "bfloat16", "float32")),
            resume_max_age_s=_bounded_float(merged, "RESUME_MAX_AGE", 600.0, 0.0),
            chat_rate_limit=_int(merged, "CHAT_RATE_LIMIT", 5, low=0),
            chat_rate_window_s=_bounded_float(merged, "CHAT_RATE_WINDOW", 30.0, 0.1, 3600.0),
            prompt_style=_choice(merged, "PROMPT_STYLE", ("natural", "tags")),
            identity_candidates=_candidates(merged),
            identity_min_score=_bounded_float(merged, "IDENTITY_MIN_SCORE", 0.5, 0.0, 1.0),
            image_check=_choice(merged, "IMAGE_CHECK", ("auto", "on", "off")),
            image_check_threshold=_bounded_float(merged, "IMAGE_CHECK_THRESHOLD", 0.0, 0.0, 1.0),
            generation_backend=_choice(merged, "GENERATION_BACKEND", ("local", "ray")),
            ray_address=_ray_address(merged),
            ray_replicas=_replica_range(merged),
            ray_target_queue=_bounded_float(merged, "RAY_TARGET_QUEUE", 4.0, 0.1),
            ray_gpus_per_replica=_auto_or_number(merged, "RAY_GPUS_PER_REPLICA"),
            shard_count=_shard_count(merged),
            extra=merged,
        )

    @property
    def references_dir(self) -> Path:
        return self.data_dir / "references"

    @property
    def loras_dir(self) -> Path:
        return self.data_dir / "loras"
