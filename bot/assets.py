"""Turning uploaded reference / LoRA attachments (or the same files out of a character card) into stored, checked
persona files, and removing them again.

Files are named by content hash and shared by every persona (any guild) that uploaded the same bytes; a file is
removed only when no persona or look version names it. `FileLocks` keeps that check honest: the lock of a file is
held from "file stored" until "persona saved" (`store_assets` takes it, `saving` releases it), and around "check
in use + unlink" (`discard`), so one guild deleting a persona cannot remove a file another guild is about to save.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot import uploads
from bot.errors import UploadError
from bot.messages import NO_IP_ADAPTER, generation_words
from generation.errors import GenerationError, InvalidAssetError
from generation.request import GenerationRequest

if TYPE_CHECKING:
    from bot.services import BotServices
    from generation.service import GenerationService

log = logging.getLogger(__name__)

_CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")


def file_key(path: Path) -> str:
    """The lock key of a stored file: its content hash (files are named `<sha256>.<ext>`), else the whole path."""
    stem = path.name.split(".", 1)[0]
    return stem if _CONTENT_HASH.match(stem) else str(path)


class FileLocks:
    """One asyncio lock per stored file, keyed by content hash; a key's lock exists only while someone uses it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def busy(self, key: str) -> bool:
        """Whether anyone holds or waits for `key`."""
        return key in self._users

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


@dataclass
class PersonaAssets:
    fields: dict[str, object] = field(default_factory=dict)  # reference_path/hash, lora_path/hash for the store
    new_files: list[Path] = field(default_factory=list)  # written by this upload: removed again if setup fails
    locks: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)  # the stored files' locks
    locked: set[str] = field(default_factory=set)

    async def lock(self, file_locks: FileLocks, key: str) -> None:
        """Hold `key` until `locks` closes (once: the same bytes uploaded twice must not wait on themselves)."""
        if key not in self.locked:
            await self.locks.enter_async_context(file_locks.hold(key))
            self.locked.add(key)


async def discard(services: BotServices, paths: list[Path]) -> None:
    """Remove files no persona uses (files are shared by content hash across personas and guilds). Each file's lock
    is held across the check and the unlink, so a persona being saved with the same file keeps it."""
    for path in paths:
        async with services.file_locks.hold(file_key(path)):
            if not await services.store.persona_files_in_use(str(path)):
                await asyncio.to_thread(path.unlink, True)


@contextlib.asynccontextmanager
async def saving(services: BotServices, assets: PersonaAssets) -> AsyncIterator[None]:
    """Save the persona inside this block: the files' locks are released at its end, and when the block fails the
    files this upload wrote are removed (after the release; `discard` takes the locks itself)."""
    try:
        async with assets.locks:
            yield
    except BaseException:
        await discard(services, assets.new_files)
        raise


async def fetch(services: BotServices, attachment: discord.Attachment, limit: int, what: str) -> bytes:
    """Stream an attachment from Discord's CDN (or the configured API host) with the bot's HTTP client."""
    settings = services.settings
    origins = uploads.download_origins(settings.api_base)
    return await uploads.fetch_attachment(
        services.http, attachment, limit, settings.download_timeout_s, what, allowed_origins=origins
    )


async def prepare_assets(
    services: BotServices, reference: discord.Attachment | None, lora: discord.Attachment | None, lora_scale: float
) -> PersonaAssets:
    """Download, check and store the attachments, and make sure the model can use them. Raises UploadError.
    The stored files stay locked until the caller saved the persona: save it inside `async with saving(...)`."""
    settings = services.settings
    if reference is not None and not services.engine.supports_references:
        raise UploadError(NO_IP_ADAPTER)
    if lora is not None:
        uploads.check_lora_name(lora.filename)
    reference_data = lora_data = None
    if reference is not None:
        reference_data = await fetch(services, reference, settings.max_reference_bytes, "reference image")
    if lora is not None:
        lora_data = await fetch(services, lora, settings.max_lora_bytes, "LoRA file")
    return await store_assets(services, reference=reference_data, lora=lora_data, lora_scale=lora_scale)


async def store_assets(
    services: BotServices, *, reference: bytes | None = None, lora: bytes | None = None, lora_scale: float
) -> PersonaAssets:
    """Check and store a reference picture and/or LoRA given as bytes (downloaded, or out of a character card),
    then make sure the model can use them: the same checks for every source. Raises UploadError. The stored files
    stay locked until the caller saved the persona: save it inside `async with saving(services, assets)`."""
    settings = services.settings
    assets = PersonaAssets()
    try:
        if reference is not None:
            if not services.engine.supports_references:
                raise UploadError(NO_IP_ADAPTER)
            digest = hashlib.sha256(reference).hexdigest()
            await assets.lock(services.file_locks, digest)  # held until the persona is saved (`saving`)
            existed = any(settings.references_dir.glob(f"{digest}.*"))
            path, digest = await asyncio.to_thread(uploads.store_reference, reference, settings.references_dir)
            if not existed:
                assets.new_files.append(path)
            assets.fields.update(reference_path=str(path), reference_hash=digest)
        if lora is not None:
            await assets.lock(services.file_locks, hashlib.sha256(lora).hexdigest())
            path, digest, new = await asyncio.to_thread(uploads.store_lora, lora, settings.loras_dir)
            if new:
                assets.new_files.append(path)
            assets.fields.update(lora_path=str(path), lora_hash=digest)
        if assets.fields:
            await _try_on_model(services.service, assets, lora_scale)
    except BaseException:
        await assets.locks.aclose()
        await discard(services, assets.new_files)
        raise
    return assets


async def _try_on_model(service: GenerationService, assets: PersonaAssets, lora_scale: float) -> None:
    """One tiny picture through the real service: the LoRA must fit the model and the reference must encode."""
    lora = assets.fields.get("lora_path")
    reference = assets.fields.get("reference_path")
    request = GenerationRequest(
        prompt="validation",
        seed=0,
        steps=1,
        guidance=1.0,
        width=64,
        height=64,
        lora_path=Path(str(lora)) if lora else None,
        lora_scale=lora_scale,
        reference_path=Path(str(reference)) if reference else None,
        identity="upload-check",
    )
    try:
        await service.generate(request)
    except InvalidAssetError as error:
        raise UploadError(generation_words(error)) from None
    except GenerationError as error:
        log.warning("upload check failed: %s", error)
        raise UploadError(f"The model could not use that file: {generation_words(error)}") from None
