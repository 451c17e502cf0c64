"""`/persona import` and `/persona export`: persona files in and out (a mixin of the `/persona` group)."""

from __future__ import annotations

import io
from dataclasses import replace

import discord
from discord import app_commands

from bot.assets import fetch
from bot.checks import manage_server
from bot.errors import UploadError
from bot.lookup import persona_names, require_persona
from bot.persona_setup import create_persona, persona_embed
from bot.services import BotServices
from personas.files import dump_persona_toml, load_persona_file

MAX_PERSONA_FILE = 64 * 1024


class PersonaFileCommands:
    services: BotServices

    @app_commands.command(name="import", description="Create a persona from a persona file (.toml)")
    @app_commands.describe(file="The persona file", reference="Its reference picture", lora="Its LoRA (.safetensors)")
    @manage_server()
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        reference: discord.Attachment | None = None,
        lora: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await fetch(self.services, file, MAX_PERSONA_FILE, "persona file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadError("The persona file must be UTF-8 text (TOML).") from None
        if "=" not in text:
            raise UploadError("That is not a persona file: it needs `name = ...` and `appearance = ...` lines.")
        spec = load_persona_file(text)
        fields = spec.settings()
        persona = await create_persona(
            self.services, interaction.guild_id, fields, reference=reference, lora=lora, lora_scale=spec.lora_scale
        )
        note = ""
        if (spec.reference and reference is None) or (spec.lora and lora is None):
            note = " File paths in the persona file are ignored: attach the reference / LoRA to the command instead."
        await interaction.followup.send(
            f"Imported **{persona.name}**.{note}", embed=persona_embed(persona), ephemeral=True
        )

    @app_commands.command(name="export", description="Download a persona as a persona file (.toml)")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def export(self, interaction: discord.Interaction, name: str) -> None:
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        # Server paths mean nothing elsewhere (and should not leak): the file names the assets by hash instead.
        text = dump_persona_toml(replace(persona, reference_path=None, lora_path=None))
        if persona.reference_hash or persona.lora_hash:
            text += f"# reference sha256: {persona.reference_hash or 'none'}\n# lora sha256: {persona.lora_hash or 'none'}\n"
        filename = "".join(ch if ch.isalnum() else "_" for ch in persona.name) or "persona"
        await interaction.response.send_message(
            f"**{persona.name}** as a persona file.",
            file=discord.File(io.BytesIO(text.encode("utf-8")), filename=f"{filename}.toml"),
            ephemeral=True,
        )
