"""`/persona ...`: setting personas up. Every subcommand needs Manage Server (checked at run time), answers are
ephemeral, and slow work (downloads, model checks, previews) is deferred first."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import replace
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot import safety
from bot.assets import discard, fetch, prepare_assets
from bot.checks import manage_server
from bot.errors import UploadError, UserFacingError
from bot.lookup import persona_names, require_persona
from bot.pictures import request_for
from bot.selfie_flow import SelfieFlow
from bot.services import BotServices
from personas import validation
from personas.files import dump_persona_toml, load_persona_file
from personas.models import Persona, SceneState
from personas.prompting import build_prompt

log = logging.getLogger(__name__)

MAX_PERSONA_FILE = 64 * 1024
PREVIEW_SCENES = (
    SceneState(location="beach", outfit="summer dress", time_of_day="sunset"),
    SceneState(location="cozy cafe", outfit="knit sweater", activity="drinking coffee"),
    SceneState(location="city street", outfit="leather jacket", time_of_day="night"),
    SceneState(location="park", outfit="raincoat", weather="rain"),
)


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


def grid(images: list[Image.Image]) -> bytes:
    width, height = images[0].size
    sheet = Image.new("RGB", (width * 2, height * 2))
    for index, image in enumerate(images[:4]):
        sheet.paste(image.convert("RGB"), ((index % 2) * width, (index // 2) * height))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


@app_commands.guild_only()
class PersonaAdmin(commands.GroupCog, group_name="persona", group_description="Set up the server's personas"):
    def __init__(self, services: BotServices, flow: SelfieFlow) -> None:
        self.services = services
        self.flow = flow
        super().__init__()

    async def _create(
        self, interaction: discord.Interaction, fields: dict, reference, lora, lora_scale: float
    ) -> Persona:
        refusal = safety.check_persona_settings(
            fields, nsfw=bool(fields.get("nsfw")), has_reference=reference is not None or bool(fields.get("reference"))
        )
        if refusal:
            raise UploadError(refusal)
        # Typed fields first: a bad name should not cost a download and a model check.
        existing = [p.name for p in await self.services.store.list_personas(interaction.guild_id)]
        validation.validate_name(str(fields.get("name", "")), existing)
        check_text_fields(fields)
        assets = await prepare_assets(self.services, reference, lora, lora_scale)
        try:
            return await self.services.store.create_persona(interaction.guild_id, **fields, **assets.fields)
        except BaseException:
            await discard(self.services.store, assets.new_files)
            raise

    @app_commands.command(name="create", description="Create a persona")
    @app_commands.describe(
        name="What the persona is called (people address it by this name)",
        appearance="How it looks: a few words, used in every picture",
        personality="How it talks and what it likes",
        seed="Fixed seed for its look (default: derived from the name)",
        reference="A reference picture of its face (PNG/JPEG/WebP)",
        lora="A LoRA trained on it (.safetensors)",
        lora_scale="How strongly the LoRA applies (0-2, default 0.8)",
        nsfw="Allow explicit pictures in age-restricted channels",
        avatar="Link to its avatar picture (must be safe for work)",
    )
    @manage_server()
    async def create(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        appearance: app_commands.Range[str, 1, 400],
        personality: str | None = None,
        seed: app_commands.Range[int, 0, 4294967295] | None = None,
        reference: discord.Attachment | None = None,
        lora: discord.Attachment | None = None,
        lora_scale: app_commands.Range[float, 0.0, 2.0] | None = None,
        nsfw: bool = False,
        avatar: str | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        fields: dict = {"name": name, "appearance": appearance, "nsfw": nsfw}
        for key, value in (
            ("personality", personality),
            ("seed", seed),
            ("lora_scale", lora_scale),
            ("avatar_url", avatar),
        ):
            if value is not None:
                fields[key] = value
        persona = await self._create(interaction, fields, reference, lora, lora_scale or 0.8)
        await interaction.followup.send(
            f"Created **{persona.name}**. Use `/persona activate name:{persona.name}` in a channel where it should live.",
            embed=persona_embed(persona),
            ephemeral=True,
        )

    @app_commands.command(name="edit", description="Change a persona's settings")
    @app_commands.describe(
        name="The persona to change",
        appearance="New appearance",
        personality="New personality",
        seed="New seed",
        reference="New reference picture",
        lora="New LoRA (.safetensors)",
        lora_scale="New LoRA scale (0-2)",
        nsfw="Allow explicit pictures in age-restricted channels",
        avatar="New avatar link (empty text removes it)",
    )
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def edit(
        self,
        interaction: discord.Interaction,
        name: str,
        appearance: app_commands.Range[str, 1, 400] | None = None,
        personality: str | None = None,
        seed: app_commands.Range[int, 0, 4294967295] | None = None,
        reference: discord.Attachment | None = None,
        lora: discord.Attachment | None = None,
        lora_scale: app_commands.Range[float, 0.0, 2.0] | None = None,
        nsfw: bool | None = None,
        avatar: str | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        current = await require_persona(self.services.store, interaction.guild_id, name)
        changes: dict = {}
        for key, value in (
            ("appearance", appearance),
            ("personality", personality),
            ("seed", seed),
            ("lora_scale", lora_scale),
            ("nsfw", nsfw),
            ("avatar_url", avatar),
        ):
            if value is not None:
                changes[key] = value
        merged = safety.persona_fields(current) | {k: v for k, v in changes.items() if isinstance(v, str)}
        refusal = safety.check_persona_settings(
            merged,
            nsfw=bool(changes.get("nsfw", current.nsfw)),
            has_reference=reference is not None or bool(current.reference_path),
        )
        if refusal:
            raise UploadError(refusal)
        check_text_fields(changes)
        assets = await prepare_assets(
            self.services, reference, lora, float(changes.get("lora_scale", current.lora_scale))
        )
        changes.update(assets.fields)
        if not changes:
            raise UploadError("Nothing to change: give at least one new setting.")
        try:
            persona = await self.services.store.update_persona(interaction.guild_id, name, **changes)
        except BaseException:
            await discard(self.services.store, assets.new_files)
            raise
        old_files = [Path(p) for p in (current.reference_path, current.lora_path) if p]
        await discard(
            self.services.store, [p for p in old_files if str(p) not in {persona.reference_path, persona.lora_path}]
        )
        await interaction.followup.send(f"Updated **{persona.name}**.", embed=persona_embed(persona), ephemeral=True)

    @app_commands.command(name="show", description="Show every setting of a persona")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def show(self, interaction: discord.Interaction, name: str) -> None:
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        embed = persona_embed(persona)
        files = []
        if persona.reference_path and Path(persona.reference_path).is_file():
            filename = "reference" + Path(persona.reference_path).suffix
            files.append(discord.File(persona.reference_path, filename=filename))
            embed.set_thumbnail(url=f"attachment://{filename}")
        await interaction.response.send_message(embed=embed, files=files, ephemeral=True)

    @app_commands.command(name="list", description="List this server's personas")
    @manage_server()
    async def list_(self, interaction: discord.Interaction) -> None:
        personas = await self.services.store.list_personas(interaction.guild_id)
        if not personas:
            await interaction.response.send_message(
                "No personas yet; create one with `/persona create`.", ephemeral=True
            )
            return
        active = await self.services.store.active_personas(interaction.guild_id, interaction.channel_id)
        here = {p.id for p in active}
        lines = [
            f"• **{p.name}** (v{p.version}{', NSFW' if p.nsfw else ''}{', active here' if p.id in here else ''})"
            for p in personas
        ]
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)

    @app_commands.command(name="delete", description="Delete a persona with its files and memory")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def delete(self, interaction: discord.Interaction, name: str) -> None:
        persona = await self.services.store.delete_persona(interaction.guild_id, name)
        await discard(self.services.store, [Path(p) for p in (persona.reference_path, persona.lora_path) if p])
        await interaction.response.send_message(
            f"Deleted **{persona.name}** with its files and everything it remembered.", ephemeral=True
        )

    @app_commands.command(name="activate", description="Let a persona live in this channel")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def activate(self, interaction: discord.Interaction, name: str) -> None:
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        await self.services.store.activate(interaction.guild_id, interaction.channel_id, persona.id)
        await interaction.response.send_message(
            f"**{persona.name}** now lives in this channel: say its name, reply to it or mention me to talk.",
            ephemeral=True,
        )

    @app_commands.command(name="deactivate", description="Stop a persona answering in this channel")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def deactivate(self, interaction: discord.Interaction, name: str) -> None:
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        stopped = await self.services.store.deactivate(interaction.guild_id, interaction.channel_id, persona.id)
        text = f"**{persona.name}** left this channel." if stopped else f"**{persona.name}** was not active here."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="preview", description="Four scenes of a persona side by side, to judge consistency")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def preview(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        requests = []
        for scene in PREVIEW_SCENES:
            built = build_prompt(persona, scene, "selfie", count_tokens=self.services.engine.count_tokens)
            # The same picture policy as every selfie; a preview is always judged as safe for work.
            decision = safety.check_picture(
                persona, None, request="preview", prompt=built.prompt, negative=built.negative_prompt
            )
            if not decision.allowed:
                raise UserFacingError(f"No preview: {decision.decline}")
            prompt, negative = decision.harden(built.prompt, built.negative_prompt)
            requests.append(
                request_for(
                    persona,
                    prompt=prompt,
                    negative=negative,
                    seed=persona.seed,
                    settings=self.services.settings,
                    engine=self.services.engine,
                )
            )
        results = await asyncio.gather(*(self.services.service.generate(r) for r in requests))
        images = [r.image for r in results]
        for index, image in enumerate(images):
            if await self.services.image_check.withhold(image, must_stay_clothed=True):
                images[index] = Image.new("RGB", image.size, (128, 128, 128))  # withheld: a grey tile instead
        data = await asyncio.to_thread(grid, images)
        await interaction.followup.send(
            f"**{persona.name}** at the beach, in a café, in the city at night and in the rain (seed {persona.seed}).",
            file=discord.File(io.BytesIO(data), filename="preview.png"),
            ephemeral=True,
        )

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
        persona = await self._create(interaction, fields, reference, lora, spec.lora_scale)
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
