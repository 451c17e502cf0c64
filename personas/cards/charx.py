"""CHARX archives (a zip with `card.json` and assets), opened with every declared size checked first.

The zip's own directory is read before `zipfile` parses it, so an archive that claims a million entries is refused
without building a million objects. Each entry is checked for a safe path, no encryption, a declared size under
its cap and a plausible compression ratio; only `card.json`, the card picture and the LoRA are ever decompressed,
and each read stops at the declared size.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from personas.cards.limits import CardLimits, CardProblem, refuse

ZIP_MAGIC = b"PK\x03\x04"
_EOCD_MAGIC = b"PK\x05\x06"
_EOCD_MIN = 22
_EOCD_SEARCH = _EOCD_MIN + 0xFFFF  # the record plus the longest possible archive comment


@dataclass(frozen=True)
class ArchiveEntry:
    path: str
    size: int


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def _declared_entry_count(data: bytes, limits: CardLimits) -> int:
    start = data.rfind(_EOCD_MAGIC, max(0, len(data) - _EOCD_SEARCH))
    if start < 0 or start + _EOCD_MIN > len(data):
        raise refuse(CardProblem.BAD_ZIP, "CHARX is not a valid zip archive (end of central directory missing)")
    entries_here, entries_total, directory_size = struct.unpack_from("<HHI", data, start + 8)
    if entries_total == 0xFFFF or directory_size == 0xFFFFFFFF:
        raise refuse(CardProblem.BAD_ZIP, "CHARX uses ZIP64 records, which a character card never needs")
    if max(entries_here, entries_total) > limits.max_zip_entries:
        raise refuse(
            CardProblem.TOO_MANY_ENTRIES,
            f"CHARX declares {entries_total} entries, over the cap of {limits.max_zip_entries}",
        )
    return entries_total


def _check_path(name: str) -> None:
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or any(part == ".." for part in path.parts)
    ):
        raise refuse(CardProblem.UNSAFE_PATH, f"CHARX entry path {name!r} escapes the archive")


class CharxArchive:
    """An opened, checked CHARX; `read(path, cap)` returns one entry's bytes."""

    def __init__(self, data: bytes, limits: CardLimits) -> None:
        self._limits = limits
        _declared_entry_count(data, limits)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,
            ValueError,
            EOFError,
            struct.error,
        ) as err:
            raise refuse(CardProblem.BAD_ZIP, f"CHARX is not a valid zip archive ({err})") from None
        if len(infos) > limits.max_zip_entries:
            raise refuse(CardProblem.TOO_MANY_ENTRIES, f"CHARX has {len(infos)} entries, over {limits.max_zip_entries}")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            _check_path(info.filename)
            if info.filename in self._infos:
                raise refuse(CardProblem.UNSAFE_PATH, f"CHARX holds {info.filename!r} twice")
            if info.flag_bits & 0x1:
                raise refuse(CardProblem.ENCRYPTED, f"CHARX entry {info.filename!r} is encrypted")
            cap = max(
                limits.max_lora_bytes, limits.max_image_bytes, limits.max_json_bytes, limits.max_other_entry_bytes
            )
            if info.file_size > cap:
                raise refuse(
                    CardProblem.TOO_LARGE, f"CHARX entry {info.filename!r} declares {info.file_size} bytes, over {cap}"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_compression_ratio:
                raise refuse(
                    CardProblem.COMPRESSION_BOMB,
                    f"CHARX entry {info.filename!r} expands {ratio:.0f}x "
                    f"({info.compress_size} -> {info.file_size} bytes), over the {limits.max_compression_ratio:.0f}x cap",
                )
            total += info.file_size
            if total > limits.max_zip_total_bytes:
                raise refuse(
                    CardProblem.COMPRESSION_BOMB,
                    f"CHARX entries declare more than {limits.max_zip_total_bytes} bytes in total",
                )
            self._infos[info.filename] = info

    def files(self) -> list[ArchiveEntry]:
        return [ArchiveEntry(name, info.file_size) for name, info in self._infos.items() if not info.is_dir()]

    def has(self, path: str) -> bool:
        return path in self._infos and not self._infos[path].is_dir()

    def read(self, path: str, cap: int) -> bytes:
        """The entry's bytes, refused if it declares or yields more than `cap`."""
        info = self._infos.get(path)
        if info is None or info.is_dir():
            raise refuse(CardProblem.NOT_A_CARD, f"CHARX has no file {path!r}")
        if info.file_size > cap:
            raise refuse(
                CardProblem.TOO_LARGE, f"CHARX entry {path!r} is {info.file_size} bytes, over the {cap}-byte cap"
            )
        try:
            with self._zip.open(info) as handle:
                data = handle.read(cap + 1)
        except (
            zipfile.BadZipFile,
            NotImplementedError,
            ValueError,
            EOFError,
            OSError,
            zlib.error,
            lzma.LZMAError,
        ) as err:
            raise refuse(CardProblem.BAD_ZIP, f"CHARX entry {path!r} cannot be read ({err})") from None
        except RuntimeError as err:  # zipfile's "password required" for entries that hide their encryption flag
            raise refuse(CardProblem.ENCRYPTED, f"CHARX entry {path!r} cannot be read ({err})") from None
        if len(data) > cap:
            raise refuse(CardProblem.COMPRESSION_BOMB, f"CHARX entry {path!r} expands past its declared size")
        return data
