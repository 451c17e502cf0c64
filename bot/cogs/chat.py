"""The chat listener: personas answer messages addressed to them, in character, and send selfies when asked.

A message is addressed to a persona active in the channel (a thread follows its parent) when it says the
persona's name, replies to one of its messages, or mentions the bot. Without the Message Content intent only the
last two arrive with text, which is enough.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot import safety
from bot.admission import Refused
from bot.checks import in_guild
from bot.errors import WebhookUnavailable
from bot.jobs import Intake, SelfieJobs
from bot.lookup import personas_for
from bot.rate_limit import ChatRateLimit
from bot.selfie_flow import SelfieFlow
from bot.selfie_request import SelfieContext
from bot.services import BotServices
from bot.storage import JobKind
from bot.webhooks import display_name
from personas.intent import detect_selfie_request, persona_says_sending
from personas.models import Persona

log = logging.getLogger(__name__)


def says_name(text: str, persona: Persona) -> bool:
    return re.search(rf"(?<!\w){re.escape(persona.name.casefold())}(?!\w)", text.casefold()) is not None


def without_name(text: str, persona: Persona) -> str:
    """The message with the persona's name taken out, so "Mira selfie pls" reads as "selfie pls"."""
    stripped = re.sub(rf"(?<!\w){re.escape(persona.name)}(?!\w)[,:!]?", " ", text, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", stripped).strip()


class Chat(commands.Cog):
    def __init__(
        self,
        services: BotServices,
        flow: SelfieFlow,
        jobs: SelfieJobs,
        *,
        bot_user: Callable[[], discord.ClientUser | None],
    ) -> None:
        self.services = services
        self.flow = flow
        self.jobs = jobs
        self._bot_user = bot_user  # known only once connected
        settings = services.settings
        self.rate_limit = ChatRateLimit(settings.chat_rate_limit, settings.chat_rate_window_s)

    def _clean(self, message: discord.Message) -> str:
        text = message.content
        me = self._bot_user()
        if me is not None:
            text = re.sub(rf"<@!?{me.id}>", "", text)
        return text.strip()

    async def _replied_persona(self, message: discord.Message, personas: list[Persona]) -> Persona | None:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        replied = reference.resolved if isinstance(reference.resolved, discord.Message) else None
        if replied is None:
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                return None
        if not replied.webhook_id:
            return None
        return next((p for p in personas if display_name(p) == replied.author.name), None)

    async def addressed(self, message: discord.Message, personas: list[Persona]) -> Persona | None:
        text = self._clean(message)
        named = [p for p in personas if says_name(text, p)]
        if named:
            return named[0]
        replied = await self._replied_persona(message, personas)
        if replied is not None:
            return replied
        me = self._bot_user()
        if me is not None and me in message.mentions:
            return personas[0]
        return None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id or message.guild is None or not self.services.work.accepting:
            return
        if not isinstance(message.channel, discord.TextChannel | discord.Thread):
            return
        personas = await personas_for(self.services.store, message.channel)
        if not personas:
            return
        persona = await self.addressed(message, personas)
        if persona is None:
            return
        if not self.rate_limit.allow((message.guild.id, message.author.id)):
            log.info("chat rate limit: ignored a line from %s in guild %s", message.author.id, message.guild.id)
            return
        self.services.work.track(self.converse(message, persona), name=f"chat-{message.id}")

    async def _say(self, message: discord.Message, persona: Persona, text: str, *, mention: bool = False) -> None:
        content = f"{message.author.mention} {text}" if mention else text
        sent = await self.services.webhooks.send(
            message.channel,
            persona,
            content=content[:2000],
            allowed_mentions=discord.AllowedMentions(
                users=[message.author] if mention else False, roles=False, everyone=False
            ),
        )
        await self.services.store.add_turn(
            message.guild.id, message.channel.id, persona.id, None, "persona", text, message_id=sent.id
        )

    async def converse(self, message: discord.Message, persona: Persona) -> None:
        try:
            await self._converse(message, persona)
        except WebhookUnavailable as error:
            try:
                await message.channel.send(str(error))
            except discord.HTTPException:
                log.warning("cannot speak in channel %s: %s", message.channel.id, error)

    async def _take(self, message: discord.Message, persona: Persona, text: str) -> Intake | str | None:
        """Record and admit a selfie request: the intake, a refusal sentence, or None for a replayed message."""
        try:
            return await self.jobs.take(
                kind=JobKind.CHAT,
                source_id=message.id,
                persona=persona,
                channel=message.channel,
                requester_id=message.author.id,
                text=text,
            )
        except Refused as refusal:
            return str(refusal)

    async def _converse(self, message: discord.Message, persona: Persona) -> None:
        store, channel = self.services.store, message.channel
        text = self._clean(message)
        intake: Intake | str | None = None
        recent = [t.content for t in await store.recent_turns(message.guild.id, channel.id, persona.id, limit=3)]
        if safety.chat_turn_refused(text, context=recent):
            # Sexual wording about a minor (alone or with the last turns): refused in words, nothing is drawn.
            await store.add_turn(
                message.guild.id, channel.id, persona.id, message.author.id, "user", text, message_id=message.id
            )
            await self._say(message, persona, safety.MINOR_REFUSAL, mention=True)
            return
        if detect_selfie_request(without_name(text, persona)) is not None:
            decision = safety.check_picture(persona, channel, request=text)
            if not decision.allowed:
                # Declined before admission: a refused request must not use up one of the user's slots.
                await store.add_turn(
                    message.guild.id, channel.id, persona.id, message.author.id, "user", text, message_id=message.id
                )
                await self._say(message, persona, decision.decline, mention=True)
                return
            # Recorded first: the message id de-duplicates a replayed event before anything is said or remembered.
            intake = await self._take(message, persona, text)
            if intake is None:
                return
        await store.add_turn(
            message.guild.id, channel.id, persona.id, message.author.id, "user", text, message_id=message.id
        )
        if isinstance(intake, str):
            await self._say(message, persona, intake, mention=True)
            return
        try:
            await self._answer(message, persona, text, intake)
        except Exception:  # not cancellation: a job cut off by shutdown stays open for the restart
            await self.jobs.abandon(intake, "the chat answer failed")  # no-op once the flow settled it
            raise
        finally:
            if intake is not None:
                intake.ticket.release()

    async def _answer(self, message: discord.Message, persona: Persona, text: str, intake: Intake | None) -> None:
        services, store, channel = self.services, self.services.store, message.channel
        guild_id = message.guild.id
        turns = await store.recent_turns(guild_id, channel.id, persona.id)
        async with channel.typing():
            reply = await services.replies.reply(persona, turns, selfie=intake is not None, channel=channel)
        if intake is None and not persona_says_sending(reply):
            await self._say(message, persona, reply)
            return
        if intake is None:  # the persona decided to send one on its own
            taken = await self._take(message, persona, text)
            if taken is None:
                return
            if isinstance(taken, str):
                await self._say(message, persona, reply)  # the words stay; the picture waits for a free slot
                return
            intake = taken
        context = SelfieContext(
            persona=persona,
            channel=channel,
            requester=message.author,
            request_text=text,
            caption=reply,
            job_id=intake.job_id,
            ticket=intake.ticket,
            resumable=True,
        )
        try:
            await store.add_turn(guild_id, channel.id, persona.id, None, "persona", reply)
            status = self.jobs.progress_status(channel, persona, intake.job_id)
            outcome = await self.flow.run(context, status)
        finally:
            intake.ticket.release()
        if outcome.requester_must_hear:
            await self._say(message, persona, outcome.text, mention=True)

    @app_commands.command(name="forget", description="Make the personas forget what you told them on this server")
    @in_guild()
    async def forget(self, interaction: discord.Interaction) -> None:
        """Erase the user's turns, the texts of their selfie requests, and the scene of every conversation their words
        could have shaped (the scene is rebuilt from what is left)."""
        guild_id, user_id = interaction.guild_id, interaction.user.id
        requests = await self.services.bot_store.forget_requester(guild_id, user_id)
        erased = await self.services.store.erase_user(guild_id, user_id, also_in=requests.conversations)
        await interaction.response.send_message(
            f"Done: the personas forgot {_count(erased.turns, 'message')}, {_count(requests.requests, 'selfie request')}"
            f" and the scene of {_count(erased.scenes, 'conversation')} of yours.",
            ephemeral=True,
        )


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
