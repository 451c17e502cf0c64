"""The words a Discord user reads when something goes wrong: chosen here, and only here.

The lower packages raise technical errors with context (`personas/errors.py`, `generation/errors.py`); this module
turns each expected one into one sentence that says what to do. It never quotes paths, exception class names or
library text: an unexpected error gets `GENERIC` and is logged with its context by the caller.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.pictures import PictureTooLarge
from generation.errors import (
    AssetProblem,
    DeviceError,
    GenerationError,
    InvalidAssetError,
    ModelLoadError,
    OutOfMemoryError,
    QueueFullError,
    ReferencesUnsupported,
    ServiceClosedError,
)
from personas.cards import CardProblem
from personas.errors import (
    CardError,
    ChatBackendError,
    DuplicatePersonaName,
    InvalidPersonaField,
    PersonaError,
    PersonaFileError,
    PersonaNotFound,
)

GENERIC = "Something went wrong on my side; the bot owner can find the details in the log."
RESTARTING = "I'm restarting right now; ask again in a minute."
NO_IP_ADAPTER = "This bot has no IP-Adapter set up (IP_ADAPTER), so it cannot use reference images."

_ASSET_WORDS = {
    AssetProblem.NOT_SAFETENSORS: "That LoRA file is not a valid .safetensors file; export it as .safetensors.",
    AssetProblem.EMPTY: "That LoRA file holds no tensors.",
    AssetProblem.DAMAGED: "That LoRA file is damaged and could not be read.",
    AssetProblem.DOES_NOT_FIT: "That LoRA does not fit this bot's model; upload one trained for the same base model.",
    AssetProblem.UNREADABLE_IMAGE: "The reference image could not be read; upload a PNG, JPEG or WebP photo.",
}

# One sentence per check that refused a character card (`CardError.problem`); nothing of a refused card is kept.
_CARD_WORDS = {
    CardProblem.TOO_LARGE: "That card is larger than a card can be (a file, text chunk or archive entry over its cap).",
    CardProblem.TOO_DEEP: "That card's data is nested far deeper than any real card; export it again.",
    CardProblem.TOO_MANY_ENTRIES: "That card holds more files or chunks than any real card; export it again.",
    CardProblem.COMPRESSION_BOMB: "That card archive expands far more than a real card does, so I did not unpack it.",
    CardProblem.UNSAFE_PATH: "That card archive has paths that point outside it or repeat, so I did not unpack it.",
    CardProblem.ENCRYPTED: "That card archive is password-protected; export it without a password.",
    CardProblem.BAD_BASE64: "The card data in that PNG is not valid base64; export the card again.",
    CardProblem.BAD_JSON: "The card data in that file is not valid JSON; export the card again.",
    CardProblem.BAD_PNG: "That PNG is damaged (a chunk is cut short or fails its checksum); export the card again.",
    CardProblem.BAD_ZIP: "That CHARX file is not a valid zip archive; export the card again.",
    CardProblem.NOT_A_CARD: "That file holds no character card; attach a card PNG, card JSON, CHARX or TOML file.",
    CardProblem.BAD_FIELD: "A field of that card has the wrong type or a value I cannot use; fix it in your editor.",
}


def persona_not_found(name: str | None) -> str:
    if name:
        return f"There is no persona called “{name}” on this server; `/persona list` shows them."
    return "That persona does not exist on this server any more."


def _persona_words(error: PersonaError) -> str | None:
    if isinstance(error, PersonaNotFound):
        return persona_not_found(error.name)
    if isinstance(error, DuplicatePersonaName):
        return f"This server already has a persona called “{error.existing}”; pick a different name."
    if isinstance(error, CardError):
        return _CARD_WORDS.get(error.problem, _CARD_WORDS[CardProblem.NOT_A_CARD])
    if isinstance(error, InvalidPersonaField | PersonaFileError):
        return error.message  # describes only the data (see personas/errors.py)
    if isinstance(error, ChatBackendError):
        return None  # never shown: replies fall back to templates
    return error.message


def generation_words(error: GenerationError) -> str:
    """The sentence for a generation failure (a selfie, a preview, an upload check)."""
    if isinstance(error, QueueFullError):
        return "The picture queue is full right now; try again in a minute."
    if isinstance(error, ServiceClosedError):
        return "The picture service is shutting down; try again in a moment."
    if isinstance(error, OutOfMemoryError):
        return "The GPU ran out of memory for this picture; try a smaller size or fewer steps."
    if isinstance(error, InvalidAssetError):
        return _ASSET_WORDS.get(error.problem, "That file could not be used.")
    if isinstance(error, ReferencesUnsupported):
        return NO_IP_ADAPTER
    if isinstance(error, PictureTooLarge):
        return "The picture is too large to upload here; the bot owner can lower SELFIE_SIZE."
    if isinstance(error, ModelLoadError | DeviceError):
        return "The image model is not available right now; the bot owner can find the details in the log."
    return "The picture could not be generated this time; the bot owner can find the details in the log."


def camera_trouble(error: GenerationError) -> str:
    """What the persona says in the channel when its selfie failed."""
    return f"Ugh, my camera isn't cooperating: {generation_words(error)}"


def user_message(error: BaseException) -> str | None:
    """The sentence for an expected error, or None when it is unexpected (log it, answer `GENERIC`)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, PersonaError):
        return _persona_words(error)
    if isinstance(error, GenerationError):
        return generation_words(error)
    if isinstance(error, UserFacingError):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little; try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.BotMissingPermissions):
        return f"I am missing permissions here: {', '.join(error.missing_permissions)}."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    if isinstance(error, discord.Forbidden):
        return "Discord did not let me do that here; check my permissions in this channel."
    return None
