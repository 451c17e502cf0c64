"""Bot fixtures: one demo engine per session, and bots started against the Discord stand-in on a given DATA_DIR.

`start_bot(...)` returns a `RunningBot`; stop it (or let the `bots` fixture do it) to close the client, the
generation service and the database exactly as `selfiebot run` does on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bot.client import SelfieBot
from bot.runner import bot_resources
from bot.settings import Settings
from generation.demo_kit import DemoKit, ensure_demo_kit
from generation.engine import Engine
from tests.discord_standin import DiscordStandin, StoredMessage


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bot-engine")


@pytest.fixture(scope="session")
def demo_engine(engine_dir) -> Engine:
    return Engine.load("demo", device="cpu", data_dir=engine_dir)


@pytest.fixture(scope="session")
def kit(engine_dir, demo_engine) -> DemoKit:
    return ensure_demo_kit(engine_dir / "models")


def png_bytes(size: int = 96, colour: tuple[int, int, int] = (200, 120, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_settings(standin: DiscordStandin, data_dir: Path, **overrides) -> Settings:
    values = dict(
        discord_token=standin.token,
        api_base=standin.api_base,
        gateway_url=standin.gateway_url,
        data_dir=data_dir,
        database_path=data_dir / "selfiebot.sqlite3",
        selfie_steps=2,
        selfie_size=64,
        selfie_guidance=5.0,
        progress_interval_s=0.3,
        guild_ready_timeout_s=0.1,
        shutdown_grace_s=10.0,
    )
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test despite the name


class GatedEngine:
    """The real engine behind a gate: `run` waits until the gate is open (closed with `open=False`), records each
    batch, and raises what `fail_when(batch)` returns (inject generation errors, out-of-memory)."""

    def __init__(self, engine: Engine, *, open: bool = True, fail_when: Callable | None = None) -> None:
        self._engine = engine
        self.gate = threading.Event()
        if open:
            self.gate.set()
        self.fail_when = fail_when
        self.batches: list[list[str]] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def open(self) -> None:
        self.gate.set()

    def run(self, batch, **kwargs):
        self.batches.append([item.request.prompt for item in batch])
        self.gate.wait(30)
        error = self.fail_when(batch) if self.fail_when else None
        if error is not None:
            raise error
        return self._engine.run(batch, **kwargs)


@dataclass
class RunningBot:
    bot: SelfieBot
    _stack: contextlib.AsyncExitStack
    _task: asyncio.Task
    stopped: bool = False

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self._stack.aclose()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 5)

    async def kill(self, before_cleanup: Callable[[], None] | None = None) -> None:
        """Like `kill -9`: no drain, nothing more written to the database or sent to Discord. `before_cleanup` runs
        once the bot is dead (open a gate there); then the leftovers (worker thread, sockets) are cleaned up."""
        self.stopped = True
        bot = self.bot
        await bot.services.store.close()  # first: whatever the dying tasks try to record is lost
        await bot.http.close()  # and whatever they try to say never reaches Discord
        work = bot.services.work.in_flight()
        for task in work:
            task.cancel()
        self._task.cancel()
        await asyncio.gather(*work, self._task, return_exceptions=True)
        if before_cleanup is not None:
            before_cleanup()
        with contextlib.suppress(Exception):
            await self._stack.aclose()


async def start_bot(settings: Settings, engine: Engine) -> RunningBot:
    stack = contextlib.AsyncExitStack()
    bot = await stack.enter_async_context(bot_resources(settings, engine))
    task = asyncio.create_task(bot.start(settings.discord_token))
    ready = asyncio.create_task(bot.ready_event.wait())
    await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await stack.aclose()
        if task.done():
            task.result()
        raise AssertionError("the bot did not become ready")
    return RunningBot(bot, stack, task)


@pytest.fixture
async def bots(discord_standin, demo_engine, tmp_path) -> AsyncIterator[Callable]:
    """`await bots(**settings_overrides)` starts a bot on this test's DATA_DIR; all are stopped at the end."""
    running: list[RunningBot] = []

    async def start(data_dir: Path | None = None, engine=None, **overrides) -> RunningBot:
        settings = test_settings(discord_standin, data_dir or tmp_path / "data", **overrides)
        started = await start_bot(settings, engine or demo_engine)
        running.append(started)
        return started

    yield start
    for item in running:
        await item.stop()
    assert discord_standin.unknown_routes == []


@pytest.fixture
async def bot(bots) -> SelfieBot:
    return (await bots()).bot


async def create_persona(standin: DiscordStandin, **options) -> None:
    """`/persona create` as the admin in the default guild; waits for the confirmation."""
    w = standin.default
    attachments = options.pop("attachments", None)
    values = {"name": "Mira", "appearance": "young woman, wavy auburn hair, green eyes, freckles"} | options
    handle = await standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="create", options=values, attachments=attachments
    )
    followup = await handle.wait_for_followup(timeout=20)
    assert followup.content.startswith("Created"), followup.content


async def activate(standin: DiscordStandin, channel, name: str = "Mira") -> None:
    w = standin.default
    handle = await standin.invoke_slash(
        channel.guild, channel, w.admin, "persona", subcommand="activate", options={"name": name}
    )
    response = await handle.wait_for_response()
    assert "now lives" in response.data.get("content", ""), response.data


def is_picture(message: StoredMessage) -> bool:
    return bool(message.source == "webhook" and message.files)


def assert_png(data: bytes, size: int = 64) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (size, size)


def custom_ids(message: StoredMessage) -> list[str]:
    return [c["custom_id"] for row in message.components for c in row.get("components", []) if "custom_id" in c]


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until `predicate()` is true (for effects that follow the message a test waited for)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def pictures_for(standin: DiscordStandin, user) -> list[StoredMessage]:
    return [m for m in standin.messages if is_picture(m) and f"<@{user.id}>" in m.content]


def said_to(standin: DiscordStandin, user_id: int, text: str) -> list[StoredMessage]:
    """Persona messages still up (as last edited) that mention `user_id` and contain `text`."""
    return [
        m
        for m in standin.messages
        if m.source == "webhook" and not m.deleted and f"<@{user_id}>" in m.content and text in m.content
    ]


async def selfie_of(bot: SelfieBot, message: StoredMessage):
    """The stored selfie behind a posted picture, found through its buttons' custom ids."""
    selfie_id = int(custom_ids(message)[0].split(":")[2])
    return await bot.services.store.get_selfie(int(message.payload["guild_id"]), selfie_id)
