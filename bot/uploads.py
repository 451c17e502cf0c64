"""Uploaded reference images and LoRA files: fetch from the attachment's own URL, check, store by content hash.

Nothing is stored until the bytes passed every check; a rejected upload is one sentence back to the admin.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tempfile
from pathlib import Path

import discord
from PIL import Image, UnidentifiedImageError

from bot.errors import UploadError
from generation.assets import check_safetensors_header
from generation.errors import InvalidAssetError

MAX_REFERENCE_PIXELS = 4096 * 4096
_IMAGE_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB"


async def fetch_attachment(attachment: discord.Attachment, limit: int, timeout: float, what: str) -> bytes:
    """The attachment's bytes, read from the URL Discord gave for it (never a user-typed link)."""
    if attachment.size > limit:
        raise UploadError(
            f"The {what} is {_mib(attachment.size)}; the limit is {_mib(limit)}, so upload a smaller file."
        )
    try:
        data = await asyncio.wait_for(attachment.read(), timeout)
    except TimeoutError:
        raise UploadError(f"Downloading the {what} took too long; try again in a moment.") from None
    except discord.HTTPException:
        raise UploadError(f"Discord would not hand me the {what}; upload it again.") from None
    if len(data) > limit:
        raise UploadError(f"The {what} is larger than {_mib(limit)}; upload a smaller file.")
    return data


def check_reference(data: bytes) -> tuple[str, str]:
    """(sha256, extension) of a usable still image; raises UploadError otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_REFERENCE_PIXELS:
                raise UploadError("The reference image is too large; use one under 16 megapixels.")
            if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
                raise UploadError("The reference must be a still picture, not an animation.")
            kind = image.format or ""
            image.load()
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise UploadError("The reference is not an image I can read; upload a PNG, JPEG or WebP picture.") from None
    if kind not in _IMAGE_EXTENSIONS:
        raise UploadError("The reference must be a PNG, JPEG or WebP picture.")
    if min(width, height) < 64:
        raise UploadError("The reference image is too small; use one at least 64 pixels on each side.")
    return hashlib.sha256(data).hexdigest(), _IMAGE_EXTENSIONS[kind]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return  # content-addressed: the same bytes are already there
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_reference(data: bytes, folder: Path) -> tuple[Path, str]:
    digest, extension = check_reference(data)
    path = folder / f"{digest}{extension}"
    _write_atomically(path, data)
    return path, digest


def check_lora_name(filename: str) -> None:
    if not filename.lower().endswith(".safetensors"):
        raise UploadError("LoRA files must be .safetensors (other formats can run code); export it as .safetensors.")


def store_lora(data: bytes, folder: Path) -> tuple[Path, str, bool]:
    """Write a header-checked LoRA under its hash; returns (path, sha256, newly_written)."""
    digest = hashlib.sha256(data).hexdigest()
    path = folder / f"{digest}.safetensors"
    existed = path.exists()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            check_safetensors_header(Path(tmp))
        except InvalidAssetError as error:
            raise UploadError(str(error)) from None
        if not existed:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path, digest, not existed
