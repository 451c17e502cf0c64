"""Errors the personas package raises on purpose.

Hierarchy:
    PersonaError            -- anything a user can fix; `str(err)` is one sentence to show them.
      PersonaNotFound       -- a name or id that is not a persona of this guild.
      PersonaFileError      -- a persona TOML file that cannot be used.
"""

from __future__ import annotations


class PersonaError(Exception):
    """A user-facing problem; the message is one clear sentence that says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PersonaNotFound(PersonaError):
    pass


class PersonaFileError(PersonaError):
    pass
