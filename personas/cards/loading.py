"""Character cards wherever a persona file is accepted: `load_persona_file` hands cards to `load_card_spec`.

A card is recognised by its file name (.png, .json, .charx) or, for text, by starting with "{" (TOML cannot).
"""

from __future__ import annotations

from pathlib import Path

from personas.cards.limits import DEFAULT_LIMITS, CardLimits, CardProblem, refuse
from personas.cards.mapping import import_card
from personas.errors import PersonaFileError
from personas.files import PersonaSpec

CARD_SUFFIXES = (".png", ".json", ".charx")


def looks_like_card(source: str | Path) -> bool:
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return True
    if isinstance(source, Path) or ("\n" not in source and "=" not in source):
        return Path(source).suffix.lower() in CARD_SUFFIXES
    return False


def load_card_spec(
    source: str | Path, *, user_name: str | None = None, limits: CardLimits = DEFAULT_LIMITS
) -> PersonaSpec:
    """The persona in a card file (path) or card JSON text; a `CardError` or `PersonaFileError` if not usable."""
    if isinstance(source, str) and source.lstrip().startswith("{"):
        data = source.encode("utf-8")
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                raise refuse(CardProblem.TOO_LARGE, f"card file {path} is {size} bytes, over {limits.max_file_bytes}")
            data = path.read_bytes()
        except FileNotFoundError:
            raise PersonaFileError(f"There is no persona file at {path}; check the path.") from None
        except OSError as err:
            raise PersonaFileError(f"The card file {path} could not be read ({err.strerror}).") from None
    return import_card(data, user_name=user_name, limits=limits).spec
