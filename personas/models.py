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


def _look(*, label: str = "", **options: Any) -> Any:
    """A persona field that changes what a selfie looks like: changing it bumps `Persona.version`. `label`: how
    checks name the field where its name would not read well ("LoRA scale")."""
    return field(metadata={"look": True, "label": label}, **options)


def _kept_by_store(**options: Any) -> Any:
    """A persona field the store sets (id, guild, version, times), never one a user edits."""
    return field(metadata={"kept_by_store": True}, **options)


@dataclass(frozen=True)
class Persona:
    """A persona of one guild. The fields are declared here only: the store's columns, what a user may edit
    (`EDITABLE_PERSONA_FIELDS`) and what bumps the version (`LOOK_FIELDS`) all follow from this list."""

    id: int = _kept_by_store()
    guild_id: int = _kept_by_store()
    name: str
    appearance: str = _look()
    personality: str = ""
    negative: str = _look(default="")
    style: str = _look(default="")
    seed: int = _look(default=0)
    seed_mode: SeedMode = _look(default="fixed")
    reference_path: str | None = _look(default=None)
    reference_hash: str | None = _look(default=None)
    lora_path: str | None = _look(default=None)
    lora_hash: str | None = _look(default=None)
    lora_scale: float = _look(default=0.8, label="LoRA scale")
    ip_scale: float = _look(default=0.6, label="reference (IP-Adapter) scale")
    avatar_url: str | None = None
    nsfw: bool = False
    version: int = _kept_by_store(default=1)
    created_at: datetime | None = _kept_by_store(default=None)
    updated_at: datetime | None = _kept_by_store(default=None)
    lora_trigger: str = _look(default="")
    prompt_style: str = _look(default="")  # "" (the bot's PROMPT_STYLE), "natural" or "tags"
    greeting: str = ""  # said when the persona is first activated in a channel (character cards' first_mes)
    scenario: str = ""  # the card's scenario; its scene cues seed the first conversation
    card_extras: dict[str, Any] = field(default_factory=dict)  # card fields we do not use, kept for a lossless export


# Changing any of these changes what a selfie looks like, so it bumps `Persona.version`.
LOOK_FIELDS: frozenset[str] = frozenset(f.name for f in fields(Persona) if f.metadata.get("look"))
# What `PersonaStore.create_persona` / `update_persona` accept, in declaration order.
EDITABLE_PERSONA_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Persona) if not f.metadata.get("kept_by_store"))


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
