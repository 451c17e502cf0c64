"""A character card uploaded to `/persona import` becomes a persona: told apart from TOML by its bytes, read with
caps tied to the bot's settings, every text checked by the safety policy, its LoRA checked like an upload, and its
picture offered as the reference (stored only after the admin confirms, through the same checks as an upload).

Nothing is stored from a refused card: the card is read and judged whole before any file is written, and the
LoRA (the only file written before the persona) is removed again when creating the persona fails.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import discord

from bot import safety, uploads
from bot.assets import discard, saving, store_assets
from bot.checks import is_manager
from bot.errors import UploadError, UserFacingError
from bot.messages import GENERIC, persona_not_found, user_message
from bot.persona_setup import check_text_fields, create_persona
from bot.services import BotServices
from bot.settings import Settings
from personas import validation
from personas.cards import DEFAULT_LIMITS, CardLimits, ImportedCard, extract_appearance, import_card
from personas.cards.charx import is_zip
from personas.cards.png import is_png
from personas.cards.reader import TEXT_FIELDS
from personas.models import Persona

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_TOML_BYTES = 64 * 1024
# A card PNG carries its picture, so it is bigger than a text file; 16 MiB covers large portraits with room to
# spare. A CHARX may also carry a LoRA, so it may be that much larger again (MAX_LORA_BYTES).
MAX_CARD_BYTES = 16 * MIB
# Text the policy reads in one card (its character fields, not lorebooks or extension data): real cards hold a few
# KiB, and reading is linear in the text (about 5 s per MiB on one core).
MAX_CARD_TEXT = 256 * 1024
# Alternate greetings are lists of texts the card's front-ends show; they are checked with the other texts.
_TEXT_LIST_FIELDS = ("alternate_greetings", "group_only_greetings")
PICTURE_CHOICE_TIMEOUT_S = 15 * 60
MINOR_CARD_NSFW = (
    "This card describes a minor (or someone who looks like one), so its persona can never allow NSFW; "
    "turn NSFW off or change the card."
)


class UploadKind(StrEnum):
    TOML = "toml"
    CARD = "card"


def upload_cap(settings: Settings) -> int:
    """The most bytes `/persona import` downloads: a CHARX with a LoRA inside."""
    return MAX_CARD_BYTES + settings.max_lora_bytes


def upload_kind(data: bytes) -> UploadKind:
    """A card by its first bytes (PNG signature, zip header, or a JSON object); TOML never starts like these."""
    if is_png(data) or is_zip(data) or data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return UploadKind.CARD
    return UploadKind.TOML


def check_upload_size(data: bytes, kind: UploadKind) -> None:
    """Each kind has its own cap; only a CHARX may use the room the LoRA cap adds."""
    if kind is UploadKind.TOML and len(data) > MAX_TOML_BYTES:
        raise UploadError("A persona file (TOML) can be at most 64 KiB; that one is larger.")
    if kind is UploadKind.CARD and not is_zip(data) and len(data) > MAX_CARD_BYTES:
        raise UploadError("A character card PNG or JSON can be at most 16 MiB; that one is larger.")


def card_limits(settings: Settings) -> CardLimits:
    return replace(
        DEFAULT_LIMITS,
        max_file_bytes=upload_cap(settings),
        max_png_bytes=MAX_CARD_BYTES,
        max_lora_bytes=settings.max_lora_bytes,
    )


def card_texts(imported: ImportedCard) -> dict[str, str]:
    """Every text of the card the policy reads: what the persona holds (`texts()`), and the card's own character
    fields as they came (kept for export), under names the policy reads as descriptions, not picture prompts."""
    texts = dict(imported.texts())
    card = imported.card
    for key in TEXT_FIELDS:
        if card.text(key):
            texts[f"card_{key}"] = card.text(key)
    for key in _TEXT_LIST_FIELDS:
        items = card.fields.get(key)
        if isinstance(items, list):
            texts[f"card_{key}"] = "\n".join(item for item in items if isinstance(item, str))
    return texts


def _judge(imported: ImportedCard, *, nsfw: bool) -> str | None:
    """A sentence refusing the card, or None: the policy over every text, and no NSFW for a card whose
    description reads as a minor (traits from the description even when the card brought its own appearance)."""
    texts = card_texts(imported)
    if sum(len(text) for text in texts.values()) > MAX_CARD_TEXT:
        return "That card holds more than 256 KiB of character text; shorten its fields and try again."
    refusal = safety.check_persona_settings(texts, nsfw=nsfw, has_reference=False)
    if refusal:
        return refusal
    if nsfw:
        card = imported.card
        traits = imported.traits or extract_appearance(f"{card.text('description')}\n{card.text('personality')}")
        if traits.apparent_minor:
            return MINOR_CARD_NSFW
    return None


@dataclass(frozen=True)
class CardImport:
    imported: ImportedCard
    fields: dict[str, Any]  # the persona's settings as the store takes them


async def read_card_upload(services: BotServices, data: bytes, *, nsfw: bool | None) -> CardImport:
    """The card in `data`, judged; a `CardError` (worded in bot/messages.py) or an `UploadError` if refused.
    `nsfw` (the admin's choice) overrides the card's own setting."""
    imported = await asyncio.to_thread(import_card, data, limits=card_limits(services.settings))
    fields = imported.spec.settings()
    if nsfw is not None:
        fields["nsfw"] = nsfw
    refusal = await asyncio.to_thread(_judge, imported, nsfw=bool(fields["nsfw"]))
    if refusal:
        raise UploadError(refusal)
    return CardImport(imported, fields)


async def create_from_card(
    services: BotServices,
    guild_id: int,
    upload: CardImport,
    *,
    reference: discord.Attachment | None,
    lora: discord.Attachment | None,
    admin_id: int,
) -> Persona:
    """Create the persona; a LoRA inside the card is checked and stored like an uploaded one (an attached LoRA
    wins). Cheap checks come first, so a bad name costs no model check."""
    fields = dict(upload.fields)
    existing = [p.name for p in await services.store.list_personas(guild_id)]
    validation.validate_name(str(fields["name"]), existing)
    check_text_fields(fields)
    lora_scale = float(fields["lora_scale"])

    async def create() -> Persona:
        return await create_persona(
            services, guild_id, fields, reference=reference, lora=lora, lora_scale=lora_scale, changed_by=admin_id
        )

    card_lora = upload.imported.lora if lora is None else None
    if card_lora is None:
        return await create()
    uploads.check_lora_name(card_lora.name)
    assets = await store_assets(services, lora=card_lora.data, lora_scale=lora_scale)
    fields.update(assets.fields)
    async with saving(services, assets):  # locked until the persona names it; removed again if creating fails
        return await create()


def _picture_too_big(settings: Settings) -> str:
    return f"The card picture is larger than {settings.max_reference_bytes // MIB} MiB, so it cannot be the reference."


def picture_problem(services: BotServices, picture: bytes) -> str | None:
    """Why the card picture cannot become the reference (one sentence), or None when it can be offered."""
    if len(picture) > services.settings.max_reference_bytes:
        return _picture_too_big(services.settings)
    try:
        uploads.check_reference(picture)
    except UploadError as error:
        return re.sub(r"^The reference( image)?", "The card picture", str(error))
    return None


async def use_card_picture(
    services: BotServices, guild_id: int, persona_id: int, picture: bytes, *, admin_id: int
) -> Persona:
    """Make the card picture the persona's reference: the policy for reference personas, then the upload checks."""
    store = services.store
    persona = await store.get_persona_by_id(guild_id, persona_id)
    if persona is None:
        raise UserFacingError(persona_not_found(None))
    texts = safety.persona_fields(persona) | {"greeting": persona.greeting, "scenario": persona.scenario}
    refusal = safety.check_persona_settings(texts, nsfw=persona.nsfw, has_reference=True)
    if refusal:
        raise UploadError(refusal)
    if len(picture) > services.settings.max_reference_bytes:
        raise UploadError(_picture_too_big(services.settings))
    assets = await store_assets(services, reference=picture, lora_scale=persona.lora_scale)
    async with saving(services, assets):
        updated = await store.update_persona(
            guild_id, persona.name, changed_by=admin_id, note="card picture as the reference", **assets.fields
        )
    if persona.reference_path and persona.reference_path != updated.reference_path:
        await discard(services, [Path(persona.reference_path)])  # kept while a look version still names it
    return updated


class CardPictureChoice(discord.ui.View):
    """The two buttons under an imported card's picture. Only the admin who imported it may choose; the picture
    waits in memory for the answer (never on disk before the admin says yes)."""

    def __init__(self, services: BotServices, *, persona: Persona, picture: bytes, admin_id: int) -> None:
        super().__init__(timeout=PICTURE_CHOICE_TIMEOUT_S)
        self._services = services
        self._guild_id = persona.guild_id
        self._persona_id = persona.id
        self._name = persona.name
        self._picture = picture
        self._admin_id = admin_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self._admin_id and is_manager(interaction):
            return True
        await interaction.response.send_message("Only the admin who imported this card can choose.", ephemeral=True)
        return False

    @discord.ui.button(label="Use the card picture as the reference", style=discord.ButtonStyle.primary)
    async def use(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.defer()
        try:
            persona = await use_card_picture(
                self._services, self._guild_id, self._persona_id, self._picture, admin_id=self._admin_id
            )
            text = f"**{persona.name}** now uses the card picture as its reference (version {persona.version})."
        except Exception as error:  # every outcome ends the choice with one sentence
            text = user_message(error)
            if text is None:
                log.error("card picture as reference failed (persona %s)", self._persona_id, exc_info=error)
                text = GENERIC
        await interaction.edit_original_response(content=text, view=None)

    @discord.ui.button(label="No", style=discord.ButtonStyle.secondary)
    async def decline(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content=f"Kept **{self._name}** without a reference.", view=None)
