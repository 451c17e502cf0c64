"""Content hashes and safe reading of user-supplied files (LoRA weights, reference images)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path

from generation.errors import AssetProblem, InvalidAssetError

_HASH_CHUNK = 1 << 20
MAX_HEADER_DEPTH = 8  # a real header nests 3 levels: {name: {"shape": [..]}}; json.loads recurses per level
# A JSON string (escapes included) or one bracket; strings are matched whole so brackets inside them don't count.
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


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


def _json_depth_within(raw: bytes, max_depth: int) -> bool:
    """Nesting depth of JSON bytes, measured with a flat scan that never recurses."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return False
        elif token in (b"]", b"}"):
            depth -= 1
    return True


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
    if not _json_depth_within(raw, MAX_HEADER_DEPTH):
        raise InvalidAssetError(
            f"{path.name} is not a valid .safetensors file (header nests deeper than {MAX_HEADER_DEPTH} levels)",
            problem=AssetProblem.NOT_SAFETENSORS,
        )
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, integers over Python's digit limit, too deep
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
