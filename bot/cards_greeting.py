"""A persona's first words in a channel: its greeting (a card's `first_mes`) posted through the webhook the first
time it is activated there, and its scenario's scene cues set as the channel's starting scene.

"First time" is remembered per (server, channel, persona) in the bot's own metadata, so deactivating and
activating again does not greet twice; a greeting that could not be posted is tried again on the next activation.
"""

from __future__ import annotations

import logging

import discord

from bot import safety
from bot.errors import WebhookUnavailable
from bot.services import BotServices
from personas.models import Persona, SceneState, Turn
from personas.scene import OfflineSceneExtractor

log = logging.getLogger(__name__)

GREETING_NOT_ALLOWED = "Its greeting was not posted: it is too explicit for this channel."


def greeted_key(guild_id: int, channel_id: int, persona_id: int) -> str:
    return f"greeted:{guild_id}:{channel_id}:{persona_id}"


def starting_scene(scenario: str) -> SceneState:
    """The scene a scenario sets, read the way the card importer reads it (`ImportedCard.starting_scene`)."""
    return OfflineSceneExtractor().extract_sync([Turn(role="persona", content=scenario)], SceneState())


async def greet_once(services: BotServices, channel: object, persona: Persona) -> str | None:
    """Greet and set the starting scene if this is the persona's first activation in `channel`. Returns a
    sentence for the admin when the greeting was not posted, else None."""
    if not (persona.greeting or persona.scenario) or not isinstance(channel, discord.TextChannel | discord.Thread):
        return None
    key = greeted_key(persona.guild_id, channel.id, persona.id)
    if await services.bot_store.get_meta(key):
        return None
    store = services.store
    if persona.scenario:
        scene = await store.get_scene(persona.guild_id, channel.id, persona.id)
        if scene.is_empty():
            await store.save_scene(persona.guild_id, channel.id, persona.id, starting_scene(persona.scenario))
    note = None
    if persona.greeting and not safety.reply_allowed(persona.greeting, persona, channel):
        note = GREETING_NOT_ALLOWED
    elif persona.greeting:
        try:
            sent = await services.webhooks.send(
                channel, persona, content=persona.greeting[:2000], allowed_mentions=discord.AllowedMentions.none()
            )
        except WebhookUnavailable as error:
            return f"Its greeting was not posted: {error}"  # not remembered: the next activation tries again
        await store.add_turn(
            persona.guild_id, channel.id, persona.id, None, "persona", persona.greeting, message_id=sent.id
        )
        log.info("greeted channel %s as persona %s", channel.id, persona.id)
    await services.bot_store.set_meta(key, "1")
    return note
