"""`/persona ...`: setting personas up. Every subcommand needs Manage Server (checked at run time), answers are
ephemeral, and slow work (downloads, model checks, previews) is deferred first."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot import safety
from bot.assets import discard, prepare_assets, saving
from bot.cards_greeting import greet_once
from bot.checks import manage_server
from bot.cogs.persona_calibrate import PersonaCalibrateCommands
from bot.cogs.persona_files import PersonaFileCommands
from bot.cogs.persona_looks import PersonaLookCommands
from bot.cogs.persona_training import PersonaTrainingCommands
from bot.errors import UploadError, UserFacingError
from bot.lookup import persona_names, require_persona
from bot.persona_setup import check_text_fields, create_persona, persona_embed
from bot.pictures import PictureRefused, scene_request
from bot.selfie_flow import SelfieFlow
from bot.services import BotServices
from personas.models import SceneState

log = logging.getLogger(__name__)

MAX_PERSONA_FILE = 64 * 1024
PREVIEW_SCENES = (
    SceneState(location="beach", outfit="summer dress", time_of_day="sunset"),
    SceneState(location="cozy cafe", outfit="knit sweater", activity="drinking coffee"),
    SceneState(location="city street", outfit="leather jacket", time_of_day="night"),
    SceneState(location="park", outfit="raincoat", weather="rain"),
)


def grid(images: list[Image.Image]) -> bytes:
    width, height = images[0].size
    sheet = Image.new("RGB", (width * 2, height * 2))
    for index, image in enumerate(images[:4]):
        sheet.paste(image.convert("RGB"), ((index % 2) * width, (index // 2) * height))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


FOLLOW_BOT_STYLE = "default"  # stored as "": the persona follows the bot's PROMPT_STYLE
PROMPT_STYLE_CHOICES = [
    app_commands.Choice(name="natural phrases", value="natural"),
    app_commands.Choice(name="booru-style tags", value="tags"),
    app_commands.Choice(name="the bot's default (PROMPT_STYLE)", value=FOLLOW_BOT_STYLE),
]


@app_commands.guild_only()
class PersonaAdmin(
    PersonaCalibrateCommands,
    PersonaFileCommands,
    PersonaTrainingCommands,
    PersonaLookCommands,
    commands.GroupCog,
    group_name="persona",
    group_description="Set up the server's personas",
):
    """The `/persona` group. Subcommands of one feature live in their own mixin module (files: persona_files.py)."""

    def __init__(self, services: BotServices, flow: SelfieFlow) -> None:
        self.services = services
        self.flow = flow
        super().__init__()

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
        persona = await create_persona(
            self.services,
            interaction.guild_id,
            fields,
            reference=reference,
            lora=lora,
            lora_scale=lora_scale or 0.8,
            changed_by=interaction.user.id,
        )
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
        prompt_style="How its picture prompts are worded (natural phrases, or booru-style tags for anime models)",
    )
    @app_commands.choices(prompt_style=PROMPT_STYLE_CHOICES)
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
        prompt_style: app_commands.Choice[str] | None = None,
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
            ("prompt_style", prompt_style and ("" if prompt_style.value == FOLLOW_BOT_STYLE else prompt_style.value)),
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
        async with saving(self.services, assets):  # the new files stay locked until the persona names them
            persona = await self.services.store.update_persona(
                interaction.guild_id, name, changed_by=interaction.user.id, **changes
            )
        old_files = [Path(p) for p in (current.reference_path, current.lora_path) if p]
        await discard(
            self.services, [p for p in old_files if str(p) not in {persona.reference_path, persona.lora_path}]
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
        files = await self.services.store.persona_file_paths(interaction.guild_id, name)  # of every look version
        persona = await self.services.store.delete_persona(interaction.guild_id, name)
        await interaction.response.send_message(
            f"Deleted **{persona.name}** with its files and everything it remembered.", ephemeral=True
        )
        # After the answer: a file another persona is being saved with stays locked until then (seconds, maybe).
        await discard(self.services, [Path(p) for p in files])

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
        note = await greet_once(self.services, interaction.channel, persona)  # only the first time in this channel
        if note:
            await interaction.followup.send(note, ephemeral=True)

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
        try:
            requests = [
                scene_request(
                    persona,
                    scene,
                    purpose="preview",
                    seed=persona.seed,
                    settings=self.services.settings,
                    engine=self.services.engine,
                )
                for scene in PREVIEW_SCENES
            ]
        except PictureRefused as refusal:
            raise UserFacingError(f"No preview: {refusal}") from None
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
