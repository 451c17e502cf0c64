"""Plain data the rest of the bot passes around: personas, turns, scene state and sent selfies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal

SeedMode = Literal["fixed", "varied"]
Role = Literal["user", "persona", "selfie"]
RequestKind = Literal["selfie", "face", "full_body"]

SEED_MODES: tuple[str, ...] = ("fixed", "varied")
ROLES: tuple[str, ...] = ("user", "persona", "selfie")
REQUEST_KINDS: tuple[str, ...] = ("selfie", "face", "full_body")
MAX_SEED = 2**32 - 1

# Changing any of these changes what a selfie looks like, so it bumps `Persona.version`.
LOOK_FIELDS: frozenset[str] = frozenset(
    {
        "appearance",
        "negative",
        "style",
        "seed",
        "seed_mode",
        "reference_path",
        "reference_hash",
        "lora_path",
        "lora_hash",
        "lora_scale",
        "lora_trigger",
        "ip_scale",
    }
)


@dataclass(frozen=True)
class Persona:
    id: int
    guild_id: int
    name: str
    appearance: str
    personality: str = ""
    negative: str = ""
    style: str = ""
    seed: int = 0
    seed_mode: SeedMode = "fixed"
    reference_path: str | None = None
    reference_hash: str | None = None
    lora_path: str | None = None
    lora_hash: str | None = None
    lora_scale: float = 0.8
    ip_scale: float = 0.6
    avatar_url: str | None = None
    nsfw: bool = False
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    lora_trigger: str = ""


@dataclass(frozen=True)
class Turn:
    """One line of conversation memory. `role` is 'user', 'persona' or 'selfie' (a "sent a selfie: ..." line)."""

    role: Role
    content: str
    author_id: int | None = None
    id: int | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    persona_id: int | None = None
    message_id: int | None = None
    created_at: datetime | None = None


SCENE_TEXT_FIELDS: tuple[str, ...] = ("location", "outfit", "activity", "time_of_day", "weather", "mood", "framing")
FRAMINGS: tuple[str, ...] = ("close-up", "portrait", "full body")


@dataclass(frozen=True)
class SceneState:
    """Where the persona is and how it looks right now. `None` means "no cue"; the prompt then leaves it out."""

    location: str | None = None
    outfit: str | None = None
    activity: str | None = None
    time_of_day: str | None = None
    weather: str | None = None
    mood: str | None = None
    framing: str | None = None
    props: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SceneState:
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["props"] = list(values.get("props") or [])
        return cls(**values)

    def with_overrides(self, overrides: SceneState | None) -> SceneState:
        """This scene with every cue that `overrides` sets replacing ours (props are added, not replaced)."""
        if overrides is None:
            return self
        changes: dict[str, Any] = {
            name: getattr(overrides, name) for name in SCENE_TEXT_FIELDS if getattr(overrides, name)
        }
        if overrides.props:
            changes["props"] = list(dict.fromkeys([*overrides.props, *self.props]))
        return replace(self, **changes)

    def is_empty(self) -> bool:
        return not self.props and all(getattr(self, name) is None for name in SCENE_TEXT_FIELDS)


@dataclass(frozen=True)
class SelfieRecord:
    """A selfie that was sent, with everything needed to draw it again."""

    id: int
    guild_id: int
    channel_id: int
    persona_id: int
    persona_version: int
    requester_id: int | None
    message_id: int | None
    prompt: str
    negative: str
    seed: int
    parameters: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
