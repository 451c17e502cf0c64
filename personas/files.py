"""Persona files (TOML): read them into a `PersonaSpec`, write personas back out.

The writer is hand-made (the standard library only reads TOML) and only ever emits flat `key = value` lines with
basic strings, so escaping is the one thing to get right.
"""

from __future__ import annotations

import math
import re
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from personas.errors import PersonaError, PersonaFileError
from personas.models import EDITABLE_PERSONA_FIELDS, Persona
from personas.seeds import default_seed
from personas.storage.personas import check_persona_fields

# The persona's fields are declared once, on `Persona`; a file holds the editable ones, with two exceptions:
# paths are named after what they point at (a server never trusts them: it stores only files it received itself),
# and hashes and card extras are never written by hand (the server computes the one, cards bring the other).
_FILE_KEY_FOR = {"reference_path": "reference", "lora_path": "lora"}
_NOT_IN_FILES = frozenset({"reference_hash", "lora_hash", "card_extras"})
_FILE_FIELDS = tuple(name for name in EDITABLE_PERSONA_FIELDS if name not in _NOT_IN_FILES)  # Persona's names
_KEY_OF_FIELD = {name: _FILE_KEY_FOR.get(name, name) for name in _FILE_FIELDS}
FILE_KEYS = tuple(_KEY_OF_FIELD.values())  # as a file names them, in file order
REQUIRED_KEYS = ("name", "appearance")
_PERSONA_DEFAULTS = {f.name: f.default for f in fields(Persona)}
_PERSONA_TYPES = typing.get_type_hints(Persona)


def _default(name: str) -> Any:
    return _PERSONA_DEFAULTS[name]


@dataclass(frozen=True)
class PersonaSpec:
    """A persona as a file describes it, before it has a guild, an id or stored files.

    Kept on purpose beside `Persona` (its seed may be unset, its paths are the file's): the field names are
    `FILE_KEYS` plus `card_extras`, checked at import below, and the defaults are `Persona`'s own."""

    name: str
    appearance: str
    personality: str = _default("personality")
    seed: int | None = None  # None: derived from the name
    seed_mode: str = _default("seed_mode")
    negative: str = _default("negative")
    style: str = _default("style")
    reference: str | None = None
    lora: str | None = None
    lora_scale: float = _default("lora_scale")
    lora_trigger: str = _default("lora_trigger")
    ip_scale: float = _default("ip_scale")
    nsfw: bool = _default("nsfw")
    avatar_url: str | None = _default("avatar_url")
    prompt_style: str = _default("prompt_style")
    # From a character card (personas/cards) or a file: what the bot says and where the first scene is set.
    greeting: str = _default("greeting")
    scenario: str = _default("scenario")
    card_extras: dict[str, Any] | None = field(default=None, hash=False)  # JSON-able, for a lossless export

    @property
    def effective_seed(self) -> int:
        return self.seed if self.seed is not None else default_seed(self.name)

    def _persona_values(self) -> dict[str, Any]:
        """Every editable `Persona` field this spec sets, under `Persona`'s names."""
        values = {name: getattr(self, _FILE_KEY_FOR.get(name, name)) for name in _FILE_FIELDS}
        return values | {"seed": self.effective_seed, "card_extras": dict(self.card_extras or {})}

    def settings(self) -> dict[str, object]:
        """The persona's settings as `PersonaStore.create_persona` takes them. File paths are left out: a server
        stores only files it received and checked itself."""
        return {name: value for name, value in self._persona_values().items() if name not in _FILE_KEY_FOR}

    def to_persona(self, guild_id: int = 0, persona_id: int = 0) -> Persona:
        """An unsaved `Persona` (for the CLI and previews); file paths stay as written."""
        return Persona(id=persona_id, guild_id=guild_id, **self._persona_values())


if {f.name for f in fields(PersonaSpec)} != {*FILE_KEYS, "card_extras"}:  # the one restatement, checked
    raise TypeError("PersonaSpec must have exactly the persona file keys (FILE_KEYS) plus card_extras")


def _file_kind(name: str) -> type:
    """What TOML type a field's value must have: bool, int, float, or text for everything else."""
    kind = _PERSONA_TYPES[name]
    return kind if kind in (bool, int, float) else str


_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes"}


def _read_value(data: dict[str, Any], key: str, name: str, base_dir: Path | None) -> Any:
    """The value of `key` with its TOML type checked (one sentence naming the key if it is wrong)."""
    value = data[key]
    kind = _file_kind(name)
    words = "a file path in quotes" if name in _FILE_KEY_FOR else _KIND_WORDS[kind]
    if isinstance(value, bool) and kind is not bool:
        raise PersonaFileError(f"“{key}” must be {words}, not true/false.")
    if not isinstance(value, (int, float) if kind is float else kind):
        raise PersonaFileError(f"“{key}” must be {words}.")
    if kind is float and not math.isfinite(value):
        raise PersonaFileError(f"“{key}” must be a finite number.")
    if name in _FILE_KEY_FOR:
        if not value:
            return None
        if base_dir is not None and not Path(value).is_absolute():
            return str((base_dir / value).resolve())
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
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise PersonaFileError(f"Unknown key “{unknown[0]}” in the persona file; allowed: {', '.join(FILE_KEYS)}.")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise PersonaFileError(f"The persona file needs a “{key}” line.")
    values = {name: _read_value(data, key, name, base_dir) for name, key in _KEY_OF_FIELD.items() if key in data}
    paths = {_FILE_KEY_FOR[name]: values.pop(name) for name in _FILE_KEY_FOR if name in values}
    # The same checks the store applies to typed values (one `validate_<field>` per field).
    checked = check_persona_fields(values)
    return PersonaSpec(**checked, **paths)


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
        values = {key: getattr(persona, name) for name, key in _KEY_OF_FIELD.items()}
    else:
        values = {key: getattr(persona, key) for key in FILE_KEYS}
    lines = [f"# selfiebot persona: {persona.name}".replace("\n", " ")]
    for key in FILE_KEYS:
        value = values.get(key)
        if value is None or value == "":
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
