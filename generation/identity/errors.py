"""Errors the identity scorer raises on purpose (technical messages; `bot/` chooses the words users read).

GenerationError (generation.errors)
 └── IdentityError                  base of the identity scorer's errors
      ├── IdentityUnavailable       neither the face model nor a CLIP image encoder is there to score with
      └── UnreadableIdentityImage   a reference or picture could not be read as an image (`path`)
"""

from __future__ import annotations

from generation.errors import GenerationError


class IdentityError(GenerationError):
    """Base class of the identity scorer's errors."""


class IdentityUnavailable(IdentityError):
    pass


class UnreadableIdentityImage(IdentityError):
    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path
