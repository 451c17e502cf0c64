"""Checks on what users type into persona fields; each failure is an `InvalidPersonaField` describing the value
(or `DuplicatePersonaName`). The descriptions name only the data, so the bot may show them as they are."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlparse

from personas.errors import DuplicatePersonaName, InvalidPersonaField
from personas.models import MAX_SEED, SEED_MODES

NAME_MAX = 32
APPEARANCE_MAX = 400
PERSONALITY_MAX = 2000
STYLE_MAX = 200
NEGATIVE_MAX = 400
LORA_TRIGGER_MAX = 60
GREETING_MAX = 2000
SCENARIO_MAX = 2000
CARD_EXTRAS_MAX = 256 * 1024  # bytes of JSON
PROMPT_STYLES = ("", "natural", "tags")

# Zero-width, bidi controls and other characters that render as nothing but make two names differ.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)

# Lookalikes that NFKC leaves distinct: Cyrillic and Greek letters that pass for Latin ones, plus digit tricks.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k",
        "м": "m", "н": "h", "о": "o", "р": "p", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q",
        "ԝ": "w", "ɡ": "g", "ı": "i", "ℓ": "l",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ϲ": "c", "ϳ": "j", "μ": "m", "ζ": "z", "δ": "d",
        "0": "o", "1": "l", "|": "l", "5": "s",
    }
)  # fmt: skip


def clean_text(text: str) -> str:
    """NFKC-normalise, drop invisible characters and control characters, collapse runs of whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def name_key(name: str) -> str:
    """The form two names share when they would look the same to a reader (case and lookalikes folded)."""
    folded = clean_text(name).casefold()
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
    folded = folded.translate(_CONFUSABLES)
    # "rn" reads as "m" in most Discord fonts.
    return re.sub(r"\s+", " ", folded.replace("rn", "m")).strip()


def validate_name(name: str, existing_names: Iterable[str] = ()) -> str:
    """The cleaned name, or a `PersonaError` if it is empty, too long, or looks like an existing one."""
    cleaned = clean_text(name or "")
    if not cleaned:
        raise InvalidPersonaField(
            "Give the persona a name with at least one visible character.", field="name", problem="empty"
        )
    if len(cleaned) > NAME_MAX:
        raise InvalidPersonaField(
            f"Persona names can be at most {NAME_MAX} characters; pick a shorter name.",
            field="name",
            problem="too_long",
        )
    key = name_key(cleaned)
    for other in existing_names:
        if name_key(other) == key:
            raise DuplicatePersonaName(cleaned, existing=other)
    return cleaned


def _bounded_text(text: str | None, limit: int, label: str, *, field: str, required: bool = False) -> str:
    cleaned = clean_text(text or "")
    if required and not cleaned:
        raise InvalidPersonaField(
            f"The {label} cannot be empty; describe it in a few words.", field=field, problem="empty"
        )
    if len(cleaned) > limit:
        raise InvalidPersonaField(
            f"The {label} can be at most {limit} characters; shorten it a little.", field=field, problem="too_long"
        )
    return cleaned


def validate_appearance(text: str | None) -> str:
    return _bounded_text(text, APPEARANCE_MAX, "appearance", field="appearance", required=True)


def validate_personality(text: str | None) -> str:
    return _bounded_text(text, PERSONALITY_MAX, "personality", field="personality")


def validate_style(text: str | None) -> str:
    return _bounded_text(text, STYLE_MAX, "style", field="style")


def validate_negative(text: str | None) -> str:
    return _bounded_text(text, NEGATIVE_MAX, "negative prompt", field="negative")


def validate_lora_trigger(text: str | None) -> str:
    return _bounded_text(text, LORA_TRIGGER_MAX, "LoRA trigger words", field="lora_trigger")


def validate_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidPersonaField(
            f"The seed must be a whole number from 0 to {MAX_SEED}.", field="seed", problem="range"
        )
    return seed


def validate_seed_mode(mode: object) -> str:
    if mode not in SEED_MODES:
        raise InvalidPersonaField(
            "The seed mode must be “fixed” (same seed every selfie) or “varied” (a new one each time).",
            field="seed_mode",
            problem="choice",
        )
    return str(mode)


def validate_scale(value: object, label: str, low: float = 0.0, high: float = 2.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise InvalidPersonaField(
            f"The {label} must be a number from {low:g} to {high:g}.", field=label, problem="range"
        )
    return float(value)


def validate_avatar_url(url: str | None) -> str | None:
    if url is None or not str(url).strip():
        return None
    url = str(url).strip()
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc or len(url) > 2000:
        raise InvalidPersonaField("The avatar must be an http(s) link to an image.", field="avatar_url", problem="url")
    return url


def validate_greeting(text: str | None) -> str:
    return _bounded_text(text, GREETING_MAX, "greeting", field="greeting")


def validate_scenario(text: str | None) -> str:
    return _bounded_text(text, SCENARIO_MAX, "scenario", field="scenario")


def validate_prompt_style(style: object) -> str:
    value = str(style or "").strip().lower()
    if value not in PROMPT_STYLES:
        raise InvalidPersonaField(
            "The prompt style must be “natural” or “tags”.", field="prompt_style", problem="choice"
        )
    return value


def validate_card_extras(extras: object) -> dict:
    if not isinstance(extras, dict):
        raise InvalidPersonaField("Card extras must be a JSON object.", field="card_extras", problem="type")
    try:
        size = len(json.dumps(extras))
    except (TypeError, ValueError):
        raise InvalidPersonaField("Card extras must be plain JSON.", field="card_extras", problem="type") from None
    if size > CARD_EXTRAS_MAX:
        raise InvalidPersonaField(
            "The card's extra data is too large to keep.", field="card_extras", problem="too_long"
        )
    return extras
