"""Content hashes and safe reading of user-supplied files (LoRA weights, reference images)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

from generation.errors import AssetProblem, InvalidAssetError

_HASH_CHUNK = 1 << 20


class ContentHashes:
    """sha256 of files, remembered by (path, size, mtime) so a file is hashed once, not per request."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def of(self, path: Path) -> str:
        stat = os.stat(path)
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        digest = self._known.get(key)
        if digest is None:
            digest = sha256_file(path)
            self._known[key] = digest
        return digest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_safetensors_header(path: Path) -> dict:
    """Read and check the JSON header of a .safetensors file without loading tensors (and never unpickling).

    Raises InvalidAssetError when the file is not a safetensors file, e.g. a pickle renamed `.safetensors`.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise InvalidAssetError(
                f"{path.name} is not a valid .safetensors file (too short for a header)",
                problem=AssetProblem.NOT_SAFETENSORS,
            )
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len <= 1 or header_len > min(size - 8, 100 * 1024 * 1024):
            raise InvalidAssetError(
                f"{path.name} is not a valid .safetensors file (header length {header_len})",
                problem=AssetProblem.NOT_SAFETENSORS,
            )
        raw = handle.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidAssetError(
            f"{path.name} is not a valid .safetensors file (header is not JSON)", problem=AssetProblem.NOT_SAFETENSORS
        ) from None
    if not isinstance(header, dict) or not any(key != "__metadata__" for key in header):
        raise InvalidAssetError(f"{path.name}: no tensors in the file", problem=AssetProblem.EMPTY)
    return header


def load_safetensors(path: Path) -> dict:
    """All tensors of a checked safetensors file, on the CPU."""
    from safetensors.torch import load_file

    check_safetensors_header(path)
    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # safetensors raises its own error types for truncated or corrupt files
        raise InvalidAssetError(
            f"{path.name}: tensors could not be read ({error})", problem=AssetProblem.DAMAGED
        ) from error
