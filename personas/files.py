"""Persona files (TOML): read them into a `PersonaSpec`, write personas back out.

The writer is hand-made (the standard library only reads TOML) and only ever emits flat `key = value` lines with
basic strings, so escaping is the one thing to get right.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personas import validation
from personas.errors import PersonaError, PersonaFileError
from personas.models import Persona
from personas.seeds import default_seed

_KNOWN_KEYS = (
    "name",
    "appearance",
    "personality",
    "seed",
    "seed_mode",
    "negative",
    "style",
    "reference",
    "lora",
    "lora_scale",
    "lora_trigger",
    "ip_scale",
    "nsfw",
    "avatar_url",
)


@dataclass(frozen=True)
class PersonaSpec:
    """A persona as a file describes it, before it has a guild, an id or stored files."""

    name: str
    appearance: str
    personality: str = ""
    seed: int | None = None
    seed_mode: str = "fixed"
    negative: str = ""
    style: str = ""
    reference: str | None = None
    lora: str | None = None
    lora_scale: float = 0.8
    lora_trigger: str = ""
    ip_scale: float = 0.6
    nsfw: bool = False
    avatar_url: str | None = None
    # From a character card (personas/cards): not settings, but what the bot stores beside the persona.
    greeting: str = ""
    scenario: str = ""
    card_extras: dict[str, Any] | None = field(default=None, hash=False)  # JSON-able, for a lossless export

    @property
    def effective_seed(self) -> int:
        return self.seed if self.seed is not None else default_seed(self.name)

    def settings(self) -> dict[str, object]:
        """The persona's settings as `PersonaStore.create_persona` takes them. File paths are left out: a server
        stores only files it received and checked itself."""
        return {
            "name": self.name,
            "appearance": self.appearance,
            "personality": self.personality,
            "seed": self.effective_seed,
            "seed_mode": self.seed_mode,
            "negative": self.negative,
            "style": self.style,
            "lora_scale": self.lora_scale,
            "lora_trigger": self.lora_trigger,
            "ip_scale": self.ip_scale,
            "nsfw": self.nsfw,
            "avatar_url": self.avatar_url,
        }

    def to_persona(self, guild_id: int = 0, persona_id: int = 0) -> Persona:
        """An unsaved `Persona` (for the CLI and previews); file paths stay as written."""
        return Persona(
            id=persona_id,
            guild_id=guild_id,
            name=self.name,
            appearance=self.appearance,
            personality=self.personality,
            negative=self.negative,
            style=self.style,
            seed=self.effective_seed,
            seed_mode=self.seed_mode,  # type: ignore[arg-type]
            reference_path=self.reference,
            lora_path=self.lora,
            lora_scale=self.lora_scale,
            lora_trigger=self.lora_trigger,
            ip_scale=self.ip_scale,
            nsfw=self.nsfw,
            avatar_url=self.avatar_url,
        )


def _expect(data: dict[str, Any], key: str, kind: type | tuple[type, ...], label: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise PersonaFileError(f"“{key}” must be {label}, not true/false.")
    if not isinstance(value, kind):
        raise PersonaFileError(f"“{key}” must be {label}.")
    return value


def parse_persona(data: dict[str, Any], base_dir: Path | None = None) -> PersonaSpec:
    """Validate a decoded TOML table; relative `reference`/`lora` paths are resolved against `base_dir`."""
    try:
        return _parse_persona(data, base_dir)
    except PersonaFileError:
        raise
    except PersonaError as err:
        raise PersonaFileError(err.message) from None


def _parse_persona(data: dict[str, Any], base_dir: Path | None) -> PersonaSpec:
    unknown = sorted(set(data) - set(_KNOWN_KEYS))
    if unknown:
        raise PersonaFileError(f"Unknown key “{unknown[0]}” in the persona file; allowed: {', '.join(_KNOWN_KEYS)}.")
    if "name" not in data or "appearance" not in data:
        missing = "name" if "name" not in data else "appearance"
        raise PersonaFileError(f"The persona file needs a “{missing}” line.")

    def text(key: str) -> str:
        return _expect(data, key, str, "text in quotes") or ""

    def path(key: str) -> str | None:
        value = _expect(data, key, str, "a file path in quotes")
        if not value:
            return None
        if base_dir is not None and not Path(value).is_absolute():
            return str((base_dir / value).resolve())
        return value

    def number(key: str, default: float) -> float:
        value = _expect(data, key, (int, float), "a number")
        if value is None:
            return default
        if not math.isfinite(value):
            raise PersonaFileError(f"“{key}” must be a finite number.")
        return validation.validate_scale(value, key.replace("_", " "))

    seed = _expect(data, "seed", int, "a whole number")
    nsfw = _expect(data, "nsfw", bool, "true or false")
    return PersonaSpec(
        name=validation.validate_name(text("name")),
        appearance=validation.validate_appearance(text("appearance")),
        personality=validation.validate_personality(text("personality")),
        seed=None if seed is None else validation.validate_seed(seed),
        seed_mode=validation.validate_seed_mode(data.get("seed_mode", "fixed")),
        negative=validation.validate_negative(text("negative")),
        style=validation.validate_style(text("style")),
        reference=path("reference"),
        lora=path("lora"),
        lora_scale=number("lora_scale", 0.8),
        lora_trigger=validation.validate_lora_trigger(text("lora_trigger")),
        ip_scale=number("ip_scale", 0.6),
        nsfw=bool(nsfw),
        avatar_url=validation.validate_avatar_url(_expect(data, "avatar_url", str, "a link in quotes")),
    )


def load_persona_file(source: str | Path) -> PersonaSpec:
    """Read a persona from a `Path`, a path string, or TOML text (a string containing a newline or '=').
    Character cards (.png, .json, .charx, or JSON text) are read by `personas.cards`."""
    from personas.cards.loading import load_card_spec, looks_like_card  # here: personas.cards imports this module

    if looks_like_card(source):
        return load_card_spec(source)
    base_dir: Path | None = None
    if isinstance(source, Path) or ("\n" not in source and "=" not in source):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PersonaFileError(f"There is no persona file at {path}; check the path.") from None
        except (OSError, UnicodeDecodeError):
            raise PersonaFileError(f"The persona file {path} could not be read as UTF-8 text.") from None
        base_dir = path.parent
    else:
        text = source
    return parse_persona(parse_toml(text), base_dir)


# TOML strings and comments are matched whole, so brackets inside them do not count as nesting.
_TOML_STRING_COMMENT_OR_BRACKET = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]'
)
MAX_TOML_DEPTH = 32  # a persona file needs 2; tomllib recurses per level and fails around 250


def _toml_depth_within(text: str, max_depth: int) -> bool:
    """Nesting depth of arrays and inline tables, measured with a flat scan that never recurses."""
    depth = 0
    for match in _TOML_STRING_COMMENT_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return False
        elif token in ("]", "}"):
            depth -= 1
    return True


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as a dict, or `PersonaFileError` with one sentence (bad syntax, nesting too deep)."""
    too_deep = PersonaFileError(
        f"The persona file nests lists or tables more than {MAX_TOML_DEPTH} levels deep; a persona file needs no nesting."
    )
    if not _toml_depth_within(text, MAX_TOML_DEPTH):
        raise too_deep
    try:
        return tomllib.loads(text)
    except RecursionError:  # belt and braces: the scan above should make this unreachable
        raise too_deep from None
    except tomllib.TOMLDecodeError as err:
        raise PersonaFileError(f"The persona file is not valid TOML ({err}); fix that line and try again.") from None


def toml_string(value: str) -> str:
    """A TOML basic string: backslash, quote and every control character escaped."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return toml_string(str(value))


def dump_persona_toml(persona: Persona | PersonaSpec) -> str:
    """A persona file that `load_persona_file` reads back to the same fields (paths as stored)."""
    if isinstance(persona, Persona):
        values: dict[str, Any] = {
            "name": persona.name,
            "appearance": persona.appearance,
            "personality": persona.personality,
            "seed": persona.seed,
            "seed_mode": persona.seed_mode,
            "negative": persona.negative,
            "style": persona.style,
            "reference": persona.reference_path,
            "lora": persona.lora_path,
            "lora_scale": persona.lora_scale,
            "lora_trigger": persona.lora_trigger,
            "ip_scale": persona.ip_scale,
            "nsfw": persona.nsfw,
            "avatar_url": persona.avatar_url,
        }
    else:
        values = {key: getattr(persona, key) for key in _KNOWN_KEYS}
    lines = [f"# selfiebot persona: {persona.name}".replace("\n", " ")]
    for key in _KNOWN_KEYS:
        value = values.get(key)
        if value is None or value == "":
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
