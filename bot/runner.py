"""`selfiebot run`: one `async with` owns every resource; SIGINT/SIGTERM shut down in order.

Shutdown: stop taking work, let selfies in flight finish (up to SHUTDOWN_GRACE seconds), close the generation
service (anything still queued is failed with a sentence), close the Discord connection, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator

import discord
import httpx
import yarl

from bot.client import SelfieBot, make_bot
from bot.image_check import ImageCheckUnavailable
from bot.redaction import install_redaction
from bot.settings import DEFAULT_API_BASE, Settings, SettingsError
from bot.storage import BotStore
from generation.backend import BackendKind, GenerationBackend, ModelFacts
from generation.engine import Engine
from generation.errors import GenerationError
from generation.multi_device import device_list, serve_engines
from generation.speed import SPEED_SETTINGS
from generation.speed import load_engine as speed_load_engine
from personas.store import PersonaStore

log = logging.getLogger(__name__)

NO_TOKEN = (
    "DISCORD_TOKEN is not set: put your bot token in the environment or in .env (see .env.example), "
    "or run `selfiebot demo` to try the bot offline."
)


def point_discord_at(settings: Settings) -> None:
    """Send discord.py's REST, webhook and gateway traffic to the configured endpoints."""
    if settings.api_base and settings.api_base != DEFAULT_API_BASE:
        discord.http.Route.BASE = settings.api_base
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


async def load_engine(settings: Settings, device: str | None = None) -> Engine:
    """The image model the settings name on `device` (default: the first DEVICE listed), with the speed options
    applied, loaded off the event loop (it takes seconds to minutes)."""
    return await asyncio.to_thread(
        speed_load_engine,
        model=settings.model,
        device=device or device_list(settings.device)[0],
        data_dir=settings.data_dir,
        options=settings.speed,
        ip_adapter=settings.ip_adapter,
        lora_capacity=settings.lora_cache,
        dtype=settings.dtype,
        max_batch=settings.max_batch,
    )


async def generation_backend(settings: Settings, engine: Engine | None = None) -> tuple[GenerationBackend, ModelFacts]:
    """The backend GENERATION_BACKEND names and the model facts requests are built from. `engine` (tests) is used
    by the local backend instead of loading one; the Ray backend's replicas load their own."""
    if settings.generation_backend == BackendKind.RAY:
        from generation.ray_backend.client import RayGenerationBackend

        log.info("drawing on Ray Serve replicas (RAY_ADDRESS=%s)", settings.ray_address or "local instance")
        backend = await RayGenerationBackend.start(ray_config(settings))
        return backend, backend.engine
    if engine is None:
        log.info("loading model %s on %s", settings.model, settings.device)
        engine = await load_engine(settings)
    # DEVICE=cuda:0,cuda:1: one more engine per further device, requests spread over them.
    more = [await load_engine(settings, device) for device in device_list(settings.device)[1:]]
    return serve_engines([engine, *more], max_batch=settings.max_batch, max_queue=settings.max_queue), engine


def ray_config(settings: Settings):
    """The Ray backend's configuration from the bot's settings (replicas load the model the way `load_engine` does)."""
    from generation.ray_backend.config import RayBackendConfig, ReplicaSettings, ScalingSettings

    low, high = settings.ray_replicas
    return RayBackendConfig(
        address=settings.ray_address,
        max_queue=settings.max_queue,
        replica=ReplicaSettings(
            model=settings.model,
            device="cpu" if settings.device == "cpu" else "auto",  # a replica uses the GPU Ray gives it
            dtype=settings.dtype,
            ip_adapter=str(settings.ip_adapter) if settings.ip_adapter else None,
            data_dir=str(settings.data_dir.resolve()),
            lora_capacity=settings.lora_cache,
            max_batch=settings.max_batch,
            speed={key: settings.extra[key] for key in SPEED_SETTINGS if settings.extra.get(key)},
        ),
        scaling=ScalingSettings(
            min_replicas=low,
            max_replicas=high,
            target_queue=settings.ray_target_queue,
            gpus_per_replica=settings.ray_gpus_per_replica,
        ),
    )


@contextlib.asynccontextmanager
async def bot_resources(settings: Settings, engine: Engine | None = None) -> AsyncIterator[SelfieBot]:
    """The bot with its stores, HTTP client and generation backend; everything is closed on the way out."""
    async with await PersonaStore.open(settings.database_path) as store, httpx.AsyncClient() as http_client:
        bot_store = await BotStore.on(store.database)  # the same file and connection; closed with the store
        service, engine = await generation_backend(settings, engine)
        try:
            bot = make_bot(
                settings=settings,
                store=store,
                bot_store=bot_store,
                service=service,
                engine=engine,
                http_client=http_client,
            )
        except BaseException:
            await service.close()
            raise
        try:
            await bot.services.image_check.warm_up()  # the first selfie should not wait for the classifier
            yield bot
        finally:
            await bot.drain(settings.shutdown_grace_s)
            await service.close()
            if bot.services.identity is not None:
                bot.services.identity.close()
            if not bot.is_closed():
                await bot.close()


async def serve(settings: Settings, stop: asyncio.Event, engine: Engine | None = None) -> None:
    async with bot_resources(settings, engine) as bot:
        runner = asyncio.create_task(bot.start(settings.discord_token), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if runner in done:
            runner.result()  # a login or connection failure surfaces here
            return
        log.info("shutting down")
        await bot.drain(settings.shutdown_grace_s)
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
            await runner


async def _main(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    point_discord_at(settings)
    try:
        await serve(settings, stop)
    except discord.PrivilegedIntentsRequired:
        if not settings.message_content:
            raise
        log.warning(
            "The Message Content intent is not enabled for this bot in the Developer Portal; running without it "
            "(personas answer mentions, replies and slash commands only)."
        )
        from dataclasses import replace

        await serve(replace(settings, message_content=False), stop)
    return 0


def run_main(argv: list[str]) -> int:
    if argv and argv[0] in {"-h", "--help"}:
        print("usage: selfiebot run\n\nReads DISCORD_TOKEN and the other settings from the environment or .env.")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"selfiebot: {error}", file=sys.stderr)
        return 2
    if not settings.discord_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    install_redaction(settings)  # before any Discord or LLM traffic can be logged
    try:
        return asyncio.run(_main(settings))
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal.", file=sys.stderr)
        return 1
    except (GenerationError, ImageCheckUnavailable) as error:
        print(f"selfiebot: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # aiohttp's connection errors are OSErrors: Discord (or DISCORD_API_BASE) unreachable
        print(f"selfiebot: could not reach Discord at {settings.api_base} ({type(error).__name__}).", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
