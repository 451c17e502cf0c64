"""Errors the personas package raises on purpose.

Messages are technical and carry their context as attributes; the words a Discord user reads are chosen in
`bot/messages.py`. A message may still be shown as it is where it only describes the data ("the appearance can be
at most 500 characters"), never where it would name a command, a setting or a server.

PersonaError                    base of everything below
 ├── InvalidPersonaField        a typed or imported value that cannot be used (`field`, `problem`)
 ├── PersonaNotFound            a name or id that is not a persona of this guild (`name`)
 ├── DuplicatePersonaName       the guild already has a persona with that name, or one that looks like it (`name`)
 ├── PersonaFileError           a persona file (TOML) that cannot be used
 │    └── CardError              a character card refused (size, nesting, malformed, hostile; `problem`)
 └── ChatBackendError           the OpenAI-compatible chat backend failed (`backend`: a redacted URL)
"""

from __future__ import annotations


class PersonaError(Exception):
    """Base class; `message` is the technical description (also `str(error)`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPersonaField(PersonaError):
    def __init__(self, message: str, *, field: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem


class PersonaNotFound(PersonaError):
    def __init__(self, message: str = "", *, name: str | None = None, persona_id: int | None = None) -> None:
        super().__init__(message or f"no persona named {name!r} (id {persona_id}) in this guild")
        self.name = name
        self.persona_id = persona_id


class DuplicatePersonaName(PersonaError):
    def __init__(self, name: str, *, existing: str | None = None) -> None:
        super().__init__(f"the guild already has a persona named {existing or name!r} (asked for {name!r})")
        self.name = name
        self.existing = existing or name


class PersonaFileError(PersonaError):
    pass


class ChatBackendError(PersonaError):
    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend


class CardError(PersonaFileError):
    """A character card that cannot be used; the message is technical, `problem` (a `CardProblem` value from
    `personas.cards`) names the failed check so `bot/` can choose the words."""

    def __init__(self, message: str, problem: str = "malformed") -> None:
        super().__init__(message)
        self.problem = problem
