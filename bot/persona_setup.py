"""Persona setup shared by the `/persona` subcommands: field checks before any download, creation with its uploads,
and the embed that shows a persona's settings."""

from __future__ import annotations

import discord

from bot import safety
from bot.assets import prepare_assets, saving
from bot.errors import UploadError
from bot.services import BotServices
from personas import validation
from personas.models import Persona

_TEXT_CHECKS = {
    "appearance": validation.validate_appearance,
    "personality": validation.validate_personality,
    "avatar_url": validation.validate_avatar_url,
}


def check_text_fields(fields: dict) -> None:
    """Raise the store's own PersonaError for a bad typed field before any file is downloaded or written."""
    for key, check in _TEXT_CHECKS.items():
        if key in fields:
            check(fields[key])


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "none"


def persona_embed(persona: Persona) -> discord.Embed:
    embed = discord.Embed(title=persona.name, description=persona.appearance, colour=discord.Colour.blurple())
    if persona.personality:
        embed.add_field(name="Personality", value=persona.personality[:1024], inline=False)
    embed.add_field(name="Seed", value=f"{persona.seed} ({persona.seed_mode})")
    embed.add_field(name="NSFW", value="allowed in age-restricted channels" if persona.nsfw else "no")
    embed.add_field(name="Version", value=str(persona.version))
    embed.add_field(name="Reference", value=f"{_short(persona.reference_hash)} (scale {persona.ip_scale:g})")
    embed.add_field(name="LoRA", value=f"{_short(persona.lora_hash)} (scale {persona.lora_scale:g})")
    embed.add_field(name="Style", value=persona.style or "default")
    if persona.negative:
        embed.add_field(name="Negative prompt", value=persona.negative[:1024], inline=False)
    if persona.avatar_url:
        embed.set_author(name=persona.name, icon_url=persona.avatar_url)
    return embed


async def create_persona(
    services: BotServices,
    guild_id: int,
    fields: dict,
    *,
    reference: discord.Attachment | None,
    lora: discord.Attachment | None,
    lora_scale: float,
    changed_by: int | None = None,
) -> Persona:
    """Check, store the uploads, and create; nothing is kept when any step fails. `changed_by`: the admin's user id
    (recorded with look version 1)."""
    refusal = safety.check_persona_settings(
        fields, nsfw=bool(fields.get("nsfw")), has_reference=reference is not None or bool(fields.get("reference"))
    )
    if refusal:
        raise UploadError(refusal)
    # Typed fields first: a bad name should not cost a download and a model check.
    existing = [p.name for p in await services.store.list_personas(guild_id)]
    validation.validate_name(str(fields.get("name", "")), existing)
    check_text_fields(fields)
    assets = await prepare_assets(services, reference, lora, lora_scale)
    async with saving(services, assets):  # the stored files stay locked until the persona names them
        return await services.store.create_persona(guild_id, changed_by=changed_by, **fields, **assets.fields)
