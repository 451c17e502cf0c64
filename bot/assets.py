"""Turning uploaded reference / LoRA attachments into stored, checked persona files."""

from __future__ import annotations

import asyncio
import hashlib
import logging
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
    from personas.store import PersonaStore

log = logging.getLogger(__name__)


@dataclass
class PersonaAssets:
    fields: dict[str, object] = field(default_factory=dict)  # reference_path/hash, lora_path/hash for the store
    new_files: list[Path] = field(default_factory=list)  # written by this upload: removed again if setup fails


async def discard(store: PersonaStore, paths: list[Path]) -> None:
    """Remove files no persona uses (files are shared by content hash across personas and guilds)."""
    for path in paths:
        if not await store.persona_files_in_use(str(path)):
            await asyncio.to_thread(path.unlink, True)


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
    """Download, check and store the attachments, and make sure the model can use them. Raises UploadError."""
    settings = services.settings
    assets = PersonaAssets()
    try:
        if reference is not None:
            if not services.engine.supports_references:
                raise UploadError(NO_IP_ADAPTER)
            data = await fetch(services, reference, settings.max_reference_bytes, "reference image")
            existed = any(settings.references_dir.glob(f"{hashlib.sha256(data).hexdigest()}.*"))
            path, digest = await asyncio.to_thread(uploads.store_reference, data, settings.references_dir)
            if not existed:
                assets.new_files.append(path)
            assets.fields.update(reference_path=str(path), reference_hash=digest)
        if lora is not None:
            uploads.check_lora_name(lora.filename)
            data = await fetch(services, lora, settings.max_lora_bytes, "LoRA file")
            path, digest, new = await asyncio.to_thread(uploads.store_lora, data, settings.loras_dir)
            if new:
                assets.new_files.append(path)
            assets.fields.update(lora_path=str(path), lora_hash=digest)
        if assets.fields:
            await _try_on_model(services.service, assets, lora_scale)
    except BaseException:
        await discard(services.store, assets.new_files)
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
