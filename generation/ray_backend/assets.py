"""Persona files (LoRAs, reference pictures) moved by content hash between the bot and the replicas.

The bot puts each file's bytes into Ray's object store once (`AssetShipper`, keyed by sha256, least recently used
dropped beyond a byte budget) and sends only the hash and the object reference with a request. A replica keeps its
own copy on local disk, named by hash (`AssetCache`); it fetches the bytes only the first time it meets a hash, and
checks them against the hash before using them. No path of the bot's machine ever reaches a replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path

from generation.assets import ContentHashes
from generation.errors import AssetProblem, InvalidAssetError
from generation.ray_backend.wire import AssetKind, WireAsset

log = logging.getLogger(__name__)

_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,16}$")


def _safe_suffix(kind: AssetKind, path: Path) -> str:
    if kind is AssetKind.LORA:
        return ".safetensors"
    suffix = path.suffix.lower()
    return suffix if _SUFFIX.match(suffix) else ".img"


class AssetShipper:
    """Bot side: file -> `WireAsset`, putting the bytes into the object store once per content hash."""

    def __init__(self, *, budget_bytes: int = 1 << 30) -> None:
        self.budget_bytes = budget_bytes
        self._hashes = ContentHashes()
        self._shipped: OrderedDict[str, WireAsset] = OrderedDict()  # sha256 -> asset, least recently used first
        self._bytes = 0
        self.puts = 0  # how many files went into the object store
        self.reuses = 0  # how many requests found their file there already

    @property
    def resident(self) -> list[str]:
        return list(self._shipped)

    async def ship(self, kind: AssetKind, path: Path) -> WireAsset:
        """The file as a `WireAsset`. Reads and hashes off the event loop; raises what reading raises (OSError)."""
        path = Path(path)
        digest = await asyncio.to_thread(self._hashes.of, path)
        known = self._shipped.get(digest)
        if known is not None:
            self._shipped.move_to_end(digest)
            self.reuses += 1
            return WireAsset(kind, digest, known.size, _safe_suffix(kind, path), known.holder)
        data = await asyncio.to_thread(path.read_bytes)
        if hashlib.sha256(data).hexdigest() != digest:  # changed between hashing and reading: hash what we send
            digest = hashlib.sha256(data).hexdigest()
        reference = await asyncio.to_thread(_put, data)
        asset = WireAsset(kind, digest, len(data), _safe_suffix(kind, path), [reference])
        self._shipped[digest] = asset
        self._bytes += len(data)
        self.puts += 1
        self._trim(keep=digest)
        return asset

    def _trim(self, keep: str) -> None:
        # Dropping our reference frees the bytes once no request in flight holds them; replicas keep their copy.
        while self._bytes > self.budget_bytes and len(self._shipped) > 1:
            oldest = next(iter(self._shipped))
            if oldest == keep:
                break
            self._bytes -= self._shipped.pop(oldest).size

    def clear(self) -> None:
        self._shipped.clear()
        self._bytes = 0


def _put(data: bytes):
    import ray

    return ray.put(data)


class AssetCache:
    """Replica side: content hash -> a local file, fetched from the object store the first time."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # files this replica pulled from the object store
        self.hits = 0  # requests whose file was here already

    def path_for(self, asset: WireAsset) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", asset.sha256):
            raise InvalidAssetError(f"asset hash {asset.sha256!r} is not a sha256", asset=str(asset.kind))
        return self.folder / f"{asset.sha256}{asset.suffix if _SUFFIX.match(asset.suffix) else '.bin'}"

    def holds(self, sha256: str) -> bool:
        return any(self.folder.glob(f"{sha256}.*"))

    async def local_path(self, asset: WireAsset) -> Path:
        """The replica's copy of `asset`, fetching and checking it if this replica has not seen it."""
        target = self.path_for(asset)
        lock = self._locks.setdefault(asset.sha256, asyncio.Lock())
        async with lock:
            if target.exists():
                self.hits += 1
                return target
            if not asset.holder:
                raise InvalidAssetError(
                    f"{asset.kind} {asset.sha256[:12]} is not cached here and came without its bytes",
                    asset=str(asset.kind),
                    problem=AssetProblem.DAMAGED,
                )
            data = await asset.holder[0]  # awaiting an ObjectRef fetches it without blocking the replica's loop
            await asyncio.to_thread(self._store, asset, data, target)
            self.fetches += 1
            log.info("fetched %s %s (%d bytes)", asset.kind, asset.sha256[:12], len(data))
            return target

    def _store(self, asset: WireAsset, data: bytes, target: Path) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != asset.sha256:
            raise InvalidAssetError(
                f"{asset.kind} bytes hash to {digest[:12]}, not {asset.sha256[:12]}",
                asset=str(asset.kind),
                problem=AssetProblem.DAMAGED,
            )
        handle, staging = tempfile.mkstemp(prefix=f".{asset.sha256[:12]}-", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(staging, target)  # another replica on this node may write the same bytes: either wins
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
