"""`SelfieBot`: wires the store, the generation service and the HTTP client into discord.py. Nothing else lives here.

Resources come in through the constructor (whoever creates them closes them); `setup_hook` loads the cogs,
registers the persistent selfie buttons and syncs the command tree only when its payload changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

import discord
import httpx
from discord.ext import commands

from bot import jobs
from bot.admission import Admission
from bot.error_handler import on_tree_error
from bot.replies import ReplyWriter
from bot.selfie_flow import SelfieFlow
from bot.settings import Settings
from bot.storage import BotStore
from bot.views import SelfieButton
from bot.webhooks import WebhookManager
from generation.engine import Engine
from generation.service import GenerationService
from personas.chat_backend import ChatBackend
from personas.llm import LLMSceneExtractor
from personas.scene import OfflineSceneExtractor, SceneExtractor
from personas.store import PersonaStore

log = logging.getLogger(__name__)

COGS = ("bot.cogs.persona_admin", "bot.cogs.chat", "bot.cogs.selfies")
COMMAND_HASH_KEY = "command_tree_hash"


class SelfieBot(commands.Bot):
    def __init__(
        self,
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
        self.settings = settings
        self.store = store
        self.bot_store = bot_store
        self.service = service
        self.engine = engine
        self.http_client = http_client
        self.webhooks = WebhookManager(self, bot_store)
        backend = (
            ChatBackend(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key or None,
                model=settings.llm_model or "default",
                timeout=settings.llm_timeout_s,
                client=http_client,
            )
            if settings.llm_base_url
            else None
        )
        self.replies = ReplyWriter(backend)
        self.extractor: SceneExtractor = (
            LLMSceneExtractor(backend, timeout=min(settings.llm_timeout_s, 10.0))
            if backend is not None
            else OfflineSceneExtractor()
        )
        self.admission = Admission(settings.max_pending_per_user, settings.max_pending_per_guild)
        self.flow = SelfieFlow(self)
        self.accepting = True
        self.ready_event = asyncio.Event()
        self.synced_commands = False
        self._resumed = False
        self._work: set[asyncio.Task] = set()
        self.tree.error(on_tree_error)

    async def setup_hook(self) -> None:
        for extension in COGS:
            await self.load_extension(extension)
        self.add_dynamic_items(SelfieButton)
        self.synced_commands = await self.sync_commands()

    def command_payload_hash(self) -> str:
        payload = sorted((cmd.to_dict(self.tree) for cmd in self.tree.get_commands()), key=lambda c: c["name"])
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    async def sync_commands(self) -> bool:
        """Sync the global command tree when its payload (or the application) changed since the last sync."""
        digest = f"{self.application_id}:{self.command_payload_hash()}"
        if await self.bot_store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("slash commands unchanged; not syncing")
            return False
        synced = await self.tree.sync()
        await self.bot_store.set_meta(COMMAND_HASH_KEY, digest)
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
            self.track(jobs.resume_pending(self), name="resume-jobs")
        self.ready_event.set()

    def track(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task | None:
        """Run `work` in the background unless shutting down; shutdown waits for tracked work."""
        if not self.accepting:
            work.close()
            return None
        task = asyncio.create_task(work, name=name)
        self._work.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float) -> None:
        """Stop taking work and give what is in flight up to `timeout` seconds to finish."""
        self.accepting = False
        pending = set(self._work)
        if not pending:
            return
        log.info("waiting for %d selfie(s) in flight (up to %.0f s)", len(pending), timeout)
        done, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=5)
