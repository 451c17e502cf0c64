"""`SelfieBot`: wires the bot's services into discord.py. Nothing else lives here.

Resources come in through the constructor (whoever creates them closes them). The client builds the pieces that
need it (the webhook voice), bundles everything as `BotServices`, and hands each feature what it uses: the selfie
flow, the job queue and the cogs are given their services explicitly. `setup_hook` adds the cogs, registers the
persistent selfie buttons and syncs the command tree only when its payload changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import replace

import discord
import httpx
from discord.ext import commands

from bot.admission import Admission
from bot.assets import FileLocks
from bot.best_of import IdentityJudge
from bot.buttons import SelfieButton
from bot.cogs.chat import Chat
from bot.cogs.persona_admin import PersonaAdmin
from bot.cogs.persona_training import TrainingButton, training_view
from bot.cogs.selfies import Selfies
from bot.error_handler import on_tree_error
from bot.image_check import ImageCheck
from bot.jobs import SelfieJobs
from bot.replies import ReplyWriter
from bot.selfie_flow import SelfieFlow
from bot.services import BotServices, WorkTracker
from bot.settings import Settings
from bot.storage import BotStore
from bot.training_jobs import TrainingJobs
from bot.webhooks import WebhookManager
from generation.engine import Engine
from generation.service import GenerationService
from personas.chat_backend import ChatBackend
from personas.llm import LLMSceneExtractor
from personas.scene import OfflineSceneExtractor, SceneExtractor
from personas.store import PersonaStore

log = logging.getLogger(__name__)

COMMAND_HASH_KEY = "command_tree_hash"


def chat_backend(settings: Settings, http_client: httpx.AsyncClient) -> ChatBackend | None:
    if not settings.llm_base_url:
        return None
    return ChatBackend(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or None,
        model=settings.llm_model or "default",
        timeout=settings.llm_timeout_s,
        client=http_client,
    )


class SelfieBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        store: PersonaStore,
        bot_store: BotStore,
        service: GenerationService,
        engine: Engine,
        http_client: httpx.AsyncClient,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = settings.message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=settings.guild_ready_timeout_s,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
        )
        backend = chat_backend(settings, http_client)
        extractor: SceneExtractor = (
            LLMSceneExtractor(backend, timeout=min(settings.llm_timeout_s, 10.0))
            if backend is not None
            else OfflineSceneExtractor()
        )
        self.services = BotServices(
            settings=settings,
            store=store,
            bot_store=bot_store,
            service=service,
            engine=engine,
            webhooks=WebhookManager(self, bot_store),
            replies=ReplyWriter(backend),
            extractor=extractor,
            admission=Admission(settings.max_pending_per_user),
            work=WorkTracker(),
            http=http_client,
            image_check=ImageCheck(settings.image_check, threshold=settings.image_check_threshold or None),
            identity=IdentityJudge.for_engine(engine),
            file_locks=FileLocks(),
        )
        training = TrainingJobs(services=self.services, find_channel=self.get_channel, make_view=training_view)
        self.services = replace(self.services, training=training)
        s = self.services
        self.flow = SelfieFlow(
            settings=settings,
            store=store,
            queue=bot_store,
            service=service,
            engine=engine,
            webhooks=s.webhooks,
            extractor=extractor,
            admission=s.admission,
            work=s.work,
            image_check=s.image_check,
            identity=s.identity,
        )
        self.jobs = SelfieJobs(
            queue=bot_store,
            store=store,
            admission=s.admission,
            webhooks=s.webhooks,
            replies=s.replies,
            flow=self.flow,
            settings=settings,
            run_in_background=s.work.track,
            find_channel=self.get_channel,
            find_user=self.get_user,
        )
        self.ready_event = asyncio.Event()
        self.synced_commands = False
        self._resumed = False
        self.tree.error(on_tree_error)

    async def setup_hook(self) -> None:
        s = self.services
        await self.add_cog(PersonaAdmin(s, self.flow))
        await self.add_cog(Chat(s, self.flow, self.jobs, bot_user=lambda: self.user))
        await self.add_cog(Selfies(s, self.flow, self.jobs))
        self.add_dynamic_items(SelfieButton, TrainingButton)
        self.synced_commands = await self.sync_commands()

    def command_payload_hash(self) -> str:
        payload = sorted((cmd.to_dict(self.tree) for cmd in self.tree.get_commands()), key=lambda c: c["name"])
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    async def sync_commands(self) -> bool:
        """Sync the global command tree when its payload (or the application) changed since the last sync."""
        digest = f"{self.application_id}:{self.command_payload_hash()}"
        bot_store = self.services.bot_store
        if await bot_store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("slash commands unchanged; not syncing")
            return False
        synced = await self.tree.sync()
        await bot_store.set_meta(COMMAND_HASH_KEY, digest)
        log.info("synced %d slash commands", len(synced))
        return True

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: the chat cog listens for messages."""

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))
        if not self.intents.message_content:
            log.warning(
                "Message Content intent is off: personas answer mentions of the bot, replies to their messages and "
                "slash commands only (enable it in the Developer Portal to let them hear their names)."
            )
        if not self._resumed:  # on_ready fires again after a fresh reconnect; resume only once per process
            self._resumed = True
            self.services.work.track(self.jobs.resume_pending(), name="resume-jobs")
            self.services.work.track(self.services.training.resume_pending(), name="resume-training")
            self.services.work.track(self.jobs.prune_periodically(self.services.work), name="prune-jobs")
        self.ready_event.set()

    async def drain(self, timeout: float) -> None:
        """Stop taking work and give what is in flight up to `timeout` seconds to finish."""
        await self.services.work.drain(timeout)


class ShardedSelfieBot(SelfieBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one process, several gateway connections (SHARD_COUNT)."""


def make_bot(*, settings: Settings, **resources) -> SelfieBot:
    """A SelfieBot on one gateway connection, or a ShardedSelfieBot when SHARD_COUNT is above 1 or auto."""
    if settings.shard_count == 1:
        return SelfieBot(settings=settings, **resources)
    bot = ShardedSelfieBot(settings=settings, **resources)
    bot.shard_count = settings.shard_count  # None: AutoShardedBot asks GET /gateway/bot for Discord's recommendation
    return bot
