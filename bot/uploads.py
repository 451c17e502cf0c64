"""Uploaded reference images and LoRA files: fetch from the attachment's own URL, check, store by content hash.

Nothing is stored until the bytes passed every check; a rejected upload is one sentence back to the admin.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import discord
import httpx
from PIL import Image, UnidentifiedImageError

from bot.errors import UploadError
from bot.messages import generation_words
from generation.assets import check_safetensors_header
from generation.errors import InvalidAssetError

log = logging.getLogger(__name__)

# Pixel cap for reference images, checked from the header before any pixel is decoded (decompression bombs).
MAX_REFERENCE_PIXELS = 4096 * 4096
MIN_REFERENCE_SIDE = 64
_IMAGE_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


def _mib(size: int) -> str:
    """A size as people read it: '8 MiB', '300 KiB', '512 bytes'."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MiB"
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} bytes"


# Origins (scheme, host, port) Discord serves attachments from. The configured API base's origin is added at run time,
# so a proxy or a local Discord stand-in works; nothing else is ever fetched (another port on the same host is not
# the same server).
Origin = tuple[str, str, int]
DISCORD_CDN_ORIGINS: frozenset[Origin] = frozenset(
    {("https", "cdn.discordapp.com", 443), ("https", "media.discordapp.net", 443)}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 64 * 1024


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL with the default port filled in; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def download_origins(api_base: str) -> frozenset[Origin]:
    origin = origin_of(api_base)
    return DISCORD_CDN_ORIGINS | ({origin} if origin else set())


def _too_big(what: str, limit: int) -> UploadError:
    return UploadError(f"The {what} is larger than {_mib(limit)}; upload a smaller file.")


async def fetch_attachment(
    http: httpx.AsyncClient,
    attachment: discord.Attachment,
    limit: int,
    timeout: float,
    what: str,
    allowed_origins: frozenset[Origin] = DISCORD_CDN_ORIGINS,
) -> bytes:
    """The attachment's bytes, streamed from the URL Discord gave for it (never a user-typed link).

    Aborts as soon as more than `limit` bytes arrive (Discord's reported size can be wrong, the stream decides) and
    after `timeout` seconds in all, so a slow or endless response cannot pin memory or the command.
    """
    if attachment.size > limit:
        raise UploadError(
            f"The {what} is {_mib(attachment.size)}; the limit is {_mib(limit)}, so upload a smaller file."
        )
    url = attachment.url
    origin = origin_of(url)
    if origin is None or origin not in allowed_origins:
        log.warning("refused to download an attachment from %s", origin)
        raise UploadError(f"That {what} does not come from Discord; attach the file to the command itself.")
    try:
        async with asyncio.timeout(timeout):
            return await _stream(http, url, limit, what)
    except TimeoutError:
        raise UploadError(f"Downloading the {what} took too long; try again in a moment.") from None
    except httpx.HTTPError as error:
        log.warning("attachment download failed: %s", type(error).__name__)
        raise UploadError(f"Discord would not hand me the {what}; upload it again.") from None


async def _stream(http: httpx.AsyncClient, url: str, limit: int, what: str) -> bytes:
    # Ask for identity, but a server may compress anyway: the body is decoded here, never more than the room left
    # under the cap at a time, so a small compressed body cannot expand to gigabytes in memory before the check.
    async with http.stream("GET", url, follow_redirects=False, headers={"Accept-Encoding": "identity"}) as response:
        if response.status_code != 200:
            raise UploadError(f"Discord would not hand me the {what}; upload it again.")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_big(what, limit)
        decode = _bounded_decoder(response.headers.get("Content-Encoding", ""), what)
        buffer = bytearray()
        async for raw in response.aiter_raw(_CHUNK):
            room = limit + 1 - len(buffer)
            piece, overflowed = decode(raw, room)
            buffer += piece
            if overflowed or len(buffer) > limit:
                raise _too_big(what, limit)
        return bytes(buffer)


def _bounded_decoder(encoding: str, what: str) -> Callable[[bytes, int], tuple[bytes, bool]]:
    """`decode(raw, room) -> (decoded bytes, more than room would come out)` for the response's Content-Encoding."""
    encoding = encoding.strip().lower()
    if encoding in {"", "identity"}:
        return lambda raw, room: (raw, len(raw) > room)
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
    if wbits is None:
        log.warning("refused an attachment download with Content-Encoding %r", encoding[:40])
        raise UploadError(f"Discord would not hand me the {what}; upload it again.")
    decompressor = zlib.decompressobj(wbits)

    def decode(raw: bytes, room: int) -> tuple[bytes, bool]:
        try:
            piece = decompressor.decompress(raw, max(room, 1))
        except zlib.error:
            raise UploadError(f"Discord would not hand me the {what}; upload it again.") from None
        return piece, bool(decompressor.unconsumed_tail) or len(piece) > room

    return decode


def check_reference(data: bytes) -> tuple[str, str]:
    """(sha256, extension) of a usable still image; raises UploadError otherwise.

    The size, frame count and format come from the header; pixels are decoded only after those checks passed, so a
    small file that claims billions of pixels (a decompression bomb) costs nothing.
    """
    too_large = UploadError(
        f"The reference image has too many pixels; use one under {MAX_REFERENCE_PIXELS // 1_000_000} megapixels."
    )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_REFERENCE_PIXELS:
                raise too_large
            if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
                raise UploadError("The reference must be a still picture, not an animation; upload a PNG or JPEG.")
            kind = image.format or ""
            if kind not in _IMAGE_EXTENSIONS:
                raise UploadError("The reference must be a PNG, JPEG or WebP picture; convert it and upload again.")
            image.load()
    except UploadError:
        raise
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UploadError("The reference is not an image I can read; upload a PNG, JPEG or WebP picture.") from None
    if min(width, height) < MIN_REFERENCE_SIDE:
        raise UploadError(
            f"The reference image is too small; use one at least {MIN_REFERENCE_SIDE} pixels on each side."
        )
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
    """Only .safetensors: .ckpt/.bin/.pt files are pickles, and unpickling runs code. The bytes are checked too."""
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
            raise UploadError(generation_words(error)) from None
        if not existed:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path, digest, not existed
