"""`/persona history|rollback|consistency` and `/persona reference add|remove|list`: a persona's look versions,
its reference pictures and how alike its selfies have looked (a mixin of the `/persona` group).

Every look change is a numbered version the store keeps with its files (`personas.storage.looks`); these commands
list the versions with who changed what and how consistent each was, restore one exactly, and manage the reference
pictures (picture 1 is the IP-Adapter input, all of them are what identity scores compare with). Identity scores
are for admins only: every answer here is ephemeral and needs Manage Server.
"""

from __future__ import annotations

import asyncio
import io
import logging
from functools import partial
from pathlib import Path

import discord
from discord import app_commands
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot import safety
from bot.assets import prepare_assets, saving
from bot.checks import manage_server
from bot.consistency import Figures, draw_chart, figures_of, summary_figures
from bot.errors import UploadError, UserFacingError
from bot.lookup import persona_names, require_persona
from bot.persona_setup import persona_embed
from bot.services import BotServices
from personas.storage.looks import LookVersion
from personas.storage.references import MAX_REFERENCES

log = logging.getLogger(__name__)

HISTORY_SHOWN = 15  # versions listed by /persona history (the message must stay under 2000 characters)
RECENT_SCORED = 100  # scored selfies per version in the consistency report
THUMBNAIL = 128
_TEXT_FIELDS = ("appearance", "style", "negative", "lora_trigger")
_QUIET = discord.AllowedMentions.none()


def _who(user_id: int | None) -> str:
    return f"<@{user_id}>" if user_id else "someone before versions were kept"


def _method_words(method: str) -> str:
    return "CLIP" if method == "clip" else method or "an unknown method"


def _summary_words(figures: Figures | None) -> str:
    if figures is None:
        return "no scored selfies"
    return f"{figures.count} scored ({_method_words(figures.method)}), mean {figures.mean:.2f}"


def _report_line(label: str, figures: Figures | None) -> str:
    if figures is None:
        return f"{label}: no scored selfies yet."
    line = (
        f"{label}: {figures.count} selfie{'s' if figures.count != 1 else ''} scored by {_method_words(figures.method)}:"
        f" mean {figures.mean:.2f}, 10th percentile {figures.p10:.2f}; {figures.misses} missed the minimum."
    )
    if figures.left_out:
        line += f" {figures.left_out} more scored by another method (another scale) are not counted."
    return line


def reference_sheet(paths: list[str]) -> bytes:
    """The reference pictures side by side, numbered as the commands number them."""
    font = ImageFont.load_default(size=14)
    sheet = Image.new("RGB", (THUMBNAIL * len(paths), THUMBNAIL), (40, 40, 40))
    for index, path in enumerate(paths):
        try:
            with Image.open(path) as picture:
                tile = ImageOps.fit(picture.convert("RGB"), (THUMBNAIL, THUMBNAIL))
        except OSError:
            tile = Image.new("RGB", (THUMBNAIL, THUMBNAIL), (128, 128, 128))  # file gone: a grey tile
        sheet.paste(tile, (index * THUMBNAIL, 0))
        draw = ImageDraw.Draw(sheet)
        draw.rectangle((index * THUMBNAIL, 0, index * THUMBNAIL + 22, 20), fill=(0, 0, 0))
        draw.text((index * THUMBNAIL + 6, 2), str(index + 1), fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def _missing_files(look: LookVersion) -> list[str]:
    return [path for path in look.files() if not Path(path).is_file()]


class PersonaLookCommands:
    services: BotServices

    reference = app_commands.Group(name="reference", description="A persona's reference pictures of its face")

    @app_commands.command(name="history", description="A persona's look versions: when, who, how consistent")
    @app_commands.describe(name="The persona")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def history(self, interaction: discord.Interaction, name: str) -> None:
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        versions = await store.look_history(interaction.guild_id, persona.id, limit=HISTORY_SHOWN)
        figures = summary_figures(await store.identity_summary(interaction.guild_id, persona.id))
        lines = [f"**{persona.name}**: look versions, newest first (identity: mean score, 0-1, higher = more alike)"]
        for look in versions:
            current = " (current)" if look.version == persona.version else ""
            when = f"<t:{int(look.created_at.timestamp())}:f>"
            note = f" · {look.note}" if look.note else ""
            lines.append(
                f"**v{look.version}**{current} · {when} · {_who(look.changed_by)}{note}"
                f" · {_summary_words(figures.get(look.version))}"
            )
        if len(versions) == HISTORY_SHOWN:
            lines.append(f"Only the newest {HISTORY_SHOWN} are listed.")
        lines.append(f"`/persona rollback name:{persona.name} version:N` restores one.")
        text = "\n".join(lines)
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=_QUIET)

    @app_commands.command(name="rollback", description="Restore an earlier look of a persona exactly")
    @app_commands.describe(name="The persona", version="The look version to restore (see /persona history)")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def rollback(
        self, interaction: discord.Interaction, name: str, version: app_commands.Range[int, 1, None]
    ) -> None:
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        look = await store.look_version(interaction.guild_id, persona.id, version)
        if look is None:
            raise UserFacingError(f"**{persona.name}** has no look version {version}; `/persona history` lists them.")
        missing = await asyncio.to_thread(_missing_files, look)
        if missing:
            log.warning("look v%s of persona %s names missing files: %s", version, persona.id, missing)
            raise UserFacingError(
                f"Some files of version {version} are gone from the server, so it cannot be restored exactly."
            )
        # The policy may have changed since (or the persona became NSFW): the old look is checked like a new one.
        texts = safety.persona_fields(persona) | {key: str(look.look.get(key) or "") for key in _TEXT_FIELDS}
        refusal = safety.check_persona_settings(texts, nsfw=persona.nsfw, has_reference=bool(look.references))
        if refusal:
            raise UploadError(refusal)
        restored = await store.rollback_look(
            interaction.guild_id, persona.name, version, changed_by=interaction.user.id
        )
        if restored.version == persona.version:
            text = f"**{persona.name}** already looks exactly like version {version}; nothing changed."
        else:
            text = f"**{persona.name}** looks like version {version} again (as version {restored.version})."
        await interaction.response.send_message(text, embed=persona_embed(restored), ephemeral=True)

    @app_commands.command(name="consistency", description="How alike a persona's recent selfies looked, with a chart")
    @app_commands.describe(name="The persona")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def consistency(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        earlier = [v.version for v in await store.look_history(interaction.guild_id, persona.id, limit=2)]
        versions = [persona.version, *[v for v in earlier if v < persona.version][:1]]
        series = []
        lines = [
            f"**{persona.name}**: identity scores of the last {RECENT_SCORED} scored selfies per look version"
            " (0-1, higher = more alike; a face score above 0.5 is the same person by the face model's measure;"
            f" the minimum, IDENTITY_MIN_SCORE, is {self.services.settings.identity_min_score:g})."
        ]
        for version in versions:
            scores = await store.identity_scores(interaction.guild_id, persona.id, version, limit=RECENT_SCORED)
            series.insert(0, (version, scores))
            label = f"**v{version}** (current)" if version == persona.version else f"**v{version}** (the one before)"
            lines.append(_report_line(label, figures_of(scores)))
        if not any(scores for _, scores in series):
            await interaction.followup.send("\n".join(lines), ephemeral=True)
            return
        threshold = self.services.settings.identity_min_score
        chart = await asyncio.to_thread(partial(draw_chart, series, threshold=threshold))
        await interaction.followup.send(
            "\n".join(lines)[:2000],
            file=discord.File(io.BytesIO(chart), filename="consistency.png"),
            ephemeral=True,
        )

    @reference.command(name="add", description="Add a reference picture of a persona's face")
    @app_commands.describe(
        name="The persona",
        picture="A picture of its face (PNG/JPEG/WebP)",
        main="Make it the picture the IP-Adapter copies (picture 1); otherwise it goes last",
    )
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def reference_add(
        self, interaction: discord.Interaction, name: str, picture: discord.Attachment, main: bool = False
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        refusal = safety.check_persona_settings(safety.persona_fields(persona), nsfw=persona.nsfw, has_reference=True)
        if refusal:
            raise UploadError(refusal)
        if len(await store.reference_paths(interaction.guild_id, persona.id)) >= MAX_REFERENCES:
            raise UploadError(f"**{persona.name}** already has {MAX_REFERENCES} reference pictures; remove one first.")
        assets = await prepare_assets(self.services, picture, None, persona.lora_scale)
        async with saving(self.services, assets):  # the file stays locked until the persona names it
            updated = await store.add_reference(
                interaction.guild_id,
                persona.name,
                path=str(assets.fields["reference_path"]),
                digest=str(assets.fields["reference_hash"]),
                main=main,
                changed_by=interaction.user.id,
            )
        count = len(await store.reference_paths(interaction.guild_id, updated.id))
        await interaction.followup.send(
            f"**{updated.name}** has {count} reference picture{'s' if count != 1 else ''} now (look version"
            f" {updated.version}); picture 1 is the one the IP-Adapter copies.",
            ephemeral=True,
        )

    @reference.command(name="remove", description="Remove one of a persona's reference pictures")
    @app_commands.describe(name="The persona", number="Which picture (1 is the IP-Adapter input; see reference list)")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def reference_remove(
        self, interaction: discord.Interaction, name: str, number: app_commands.Range[int, 1, MAX_REFERENCES]
    ) -> None:
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        updated, _ = await store.remove_reference(
            interaction.guild_id, persona.name, number, changed_by=interaction.user.id
        )
        # The file stays: the version before still names it, so a rollback can bring it back.
        count = len(await store.reference_paths(interaction.guild_id, updated.id))
        left = f"{count} left" if count else "none left"
        await interaction.response.send_message(
            f"Removed reference picture {number} of **{updated.name}** ({left}; look version {updated.version}).",
            ephemeral=True,
        )

    @reference.command(name="list", description="Show a persona's reference pictures, numbered")
    @app_commands.describe(name="The persona")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def reference_list(self, interaction: discord.Interaction, name: str) -> None:
        store = self.services.store
        persona = await require_persona(store, interaction.guild_id, name)
        paths = await store.reference_paths(interaction.guild_id, persona.id)
        if not paths:
            await interaction.response.send_message(
                f"**{persona.name}** has no reference pictures; `/persona reference add` adds one.", ephemeral=True
            )
            return
        sheet = await asyncio.to_thread(reference_sheet, paths)
        await interaction.response.send_message(
            f"**{persona.name}**: {len(paths)} reference picture{'s' if len(paths) != 1 else ''}; picture 1 is the"
            " one the IP-Adapter copies, all of them are what selfies are compared with.",
            file=discord.File(io.BytesIO(sheet), filename="references.png"),
            ephemeral=True,
        )
