"""`/persona import` and `/persona export`: persona files and character cards in and out (a mixin of `/persona`).

Import takes a persona file (TOML, up to 64 KiB) or a character card (V1/V2/V3 PNG, card JSON, CHARX), told apart
by content, not name; a card PNG or JSON may be up to 16 MiB, a CHARX that much plus the LoRA cap. Export answers
with the TOML file and a V3 card PNG.
"""

from __future__ import annotations

import io
from dataclasses import replace

import discord
from discord import app_commands

from bot.assets import fetch
from bot.cards_export import card_png
from bot.cards_import import (
    CardImport,
    CardPictureChoice,
    UploadKind,
    check_upload_size,
    create_from_card,
    picture_problem,
    read_card_upload,
    upload_cap,
    upload_kind,
)
from bot.checks import manage_server
from bot.errors import UploadError
from bot.lookup import persona_names, require_persona
from bot.persona_setup import create_persona, persona_embed
from bot.services import BotServices
from personas.files import dump_persona_toml, load_persona_file
from personas.models import Persona

_NOTES_SHOWN = 4


def _filename(persona: Persona) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in persona.name) or "persona"


class PersonaFileCommands:
    services: BotServices

    @app_commands.command(name="import", description="Create a persona from a persona file (.toml) or character card")
    @app_commands.describe(
        file="A persona file (.toml) or a character card (PNG, JSON or CHARX; V1, V2 or V3)",
        reference="Its reference picture",
        lora="Its LoRA (.safetensors)",
        nsfw="Allow explicit pictures in age-restricted channels (overrides the file or card)",
    )
    @manage_server()
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        reference: discord.Attachment | None = None,
        lora: discord.Attachment | None = None,
        nsfw: bool | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await fetch(self.services, file, upload_cap(self.services.settings), "persona file or card")
        kind = upload_kind(data)
        check_upload_size(data, kind)
        if kind is UploadKind.CARD:
            upload = await read_card_upload(self.services, data, nsfw=nsfw)
            await self._import_card(interaction, upload, reference=reference, lora=lora)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadError("The persona file must be UTF-8 text (TOML) or a character card.") from None
        if "=" not in text:
            raise UploadError("That is not a persona file: it needs `name = ...` and `appearance = ...` lines.")
        spec = load_persona_file(text)
        fields = spec.settings() | ({"nsfw": nsfw} if nsfw is not None else {})
        persona = await create_persona(
            self.services,
            interaction.guild_id,
            fields,
            reference=reference,
            lora=lora,
            lora_scale=spec.lora_scale,
            changed_by=interaction.user.id,
        )
        note = ""
        if (spec.reference and reference is None) or (spec.lora and lora is None):
            note = " File paths in the persona file are ignored: attach the reference / LoRA to the command instead."
        await interaction.followup.send(
            f"Imported **{persona.name}**.{note}", embed=persona_embed(persona), ephemeral=True
        )

    async def _import_card(
        self,
        interaction: discord.Interaction,
        upload: CardImport,
        *,
        reference: discord.Attachment | None,
        lora: discord.Attachment | None,
    ) -> None:
        imported = upload.imported
        persona = await create_from_card(
            self.services, interaction.guild_id, upload, reference=reference, lora=lora, admin_id=interaction.user.id
        )
        card = imported.card
        lines = [f"Imported **{persona.name}** from a {card.version.name} character card ({card.container.value})."]
        if imported.lora is not None and lora is None:
            lines.append("Its LoRA came with the card.")
        lines += [f"• {note}" for note in imported.notes[:_NOTES_SHOWN]]
        embed = persona_embed(persona)
        picture = imported.picture
        if picture is None or reference is not None:
            await interaction.followup.send("\n".join(lines)[:2000], embed=embed, ephemeral=True)
            return
        # The picture is the avatar candidate and, if the admin says so, the reference.
        lines.append(
            "The card picture can be its avatar: webhooks need a link, so set one with `/persona edit avatar`."
        )
        filename = f"card.{picture.ext}"
        embed.set_thumbnail(url=f"attachment://{filename}")
        image = discord.File(io.BytesIO(picture.data), filename=filename)
        if not self.services.engine.supports_references:  # no IP-Adapter: nothing to offer
            await interaction.followup.send("\n".join(lines)[:2000], embed=embed, file=image, ephemeral=True)
            return
        problem = picture_problem(self.services, picture.data)
        if problem:
            lines.append(problem)
            await interaction.followup.send("\n".join(lines)[:2000], embed=embed, file=image, ephemeral=True)
            return
        lines.append("Use the card picture as its reference too?")
        view = CardPictureChoice(self.services, persona=persona, picture=picture.data, admin_id=interaction.user.id)
        await interaction.followup.send("\n".join(lines)[:2000], embed=embed, file=image, view=view, ephemeral=True)

    @app_commands.command(name="export", description="Download a persona as a persona file and a character card")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def export(self, interaction: discord.Interaction, name: str) -> None:
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        # Server paths mean nothing elsewhere (and should not leak): the file names the assets by hash instead.
        text = dump_persona_toml(replace(persona, reference_path=None, lora_path=None))
        if persona.reference_hash or persona.lora_hash:
            text += f"# reference sha256: {persona.reference_hash or 'none'}\n"
            text += f"# lora sha256: {persona.lora_hash or 'none'}\n"
        toml = text.encode("utf-8")
        card = await card_png(persona)
        files = [discord.File(io.BytesIO(toml), filename=f"{_filename(persona)}.toml")]
        limit = interaction.filesize_limit
        if len(card) + len(toml) <= limit:
            files.append(discord.File(io.BytesIO(card), filename=f"{_filename(persona)}.png"))
            message = f"**{persona.name}** as a persona file and a character card (V3 PNG, for SillyTavern and others)."
        else:
            message = f"**{persona.name}** as a persona file (its card PNG is over this server's upload limit)."
        await interaction.response.send_message(message, files=files, ephemeral=True)
