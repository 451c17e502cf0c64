"""PNG chunks, read and written by hand: cards live in `tEXt` chunks, and reading them must not decode the image.

Every chunk length is checked against what is left of the file and text chunks against their own cap before any
byte of them is used. The writer copies the picture's chunks as they are and puts the card's text chunks right
before `IEND`, replacing older card chunks so a card exported twice does not carry two.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from personas.cards.limits import CardLimits, CardProblem, refuse

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNK_TYPES = (b"tEXt", b"zTXt", b"iTXt")
CARD_KEYWORDS = ("chara", "ccv3")


@dataclass(frozen=True)
class Chunk:
    kind: bytes
    data: bytes

    def encode(self) -> bytes:
        crc = zlib.crc32(self.kind + self.data) & 0xFFFFFFFF
        return struct.pack(">I", len(self.data)) + self.kind + self.data + struct.pack(">I", crc)


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_SIGNATURE)


def read_chunks(data: bytes, limits: CardLimits) -> list[Chunk]:
    """All chunks up to `IEND`, or a `CardError` for a truncated, oversized or corrupt card chunk."""
    if not is_png(data):
        raise refuse(CardProblem.BAD_PNG, "not a PNG file (signature missing)")
    if len(data) > limits.max_png_bytes:
        raise refuse(CardProblem.TOO_LARGE, f"PNG card is {len(data)} bytes, over the {limits.max_png_bytes}-byte cap")
    chunks: list[Chunk] = []
    offset = len(PNG_SIGNATURE)
    while True:
        if offset + 12 > len(data):
            raise refuse(CardProblem.BAD_PNG, f"PNG truncated at byte {offset} (no IEND chunk)")
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4 : offset + 8]
        if not kind.isalpha():
            raise refuse(CardProblem.BAD_PNG, f"PNG chunk at byte {offset} has an invalid type {kind!r}")
        if kind in TEXT_CHUNK_TYPES and length > limits.max_text_chunk_bytes:
            raise refuse(
                CardProblem.TOO_LARGE,
                f"PNG {kind.decode()} chunk at byte {offset} declares {length} bytes, "
                f"over the {limits.max_text_chunk_bytes}-byte cap",
            )
        end = offset + 8 + length
        if end + 4 > len(data):
            raise refuse(CardProblem.BAD_PNG, f"PNG {kind.decode()} chunk at byte {offset} runs past the end of file")
        chunk = Chunk(kind, data[offset + 8 : end])
        if kind in TEXT_CHUNK_TYPES:
            (crc,) = struct.unpack_from(">I", data, end)
            if crc != zlib.crc32(kind + chunk.data) & 0xFFFFFFFF:
                raise refuse(CardProblem.BAD_PNG, f"PNG {kind.decode()} chunk at byte {offset} fails its CRC check")
        chunks.append(chunk)
        if len(chunks) > limits.max_png_chunks:
            raise refuse(CardProblem.TOO_MANY_ENTRIES, f"PNG has more than {limits.max_png_chunks} chunks")
        offset = end + 4
        if kind == b"IEND":
            return chunks


def text_keyword(chunk: Chunk) -> str | None:
    """The keyword of a `tEXt` chunk (Latin-1, 1-79 bytes before a NUL), else None."""
    if chunk.kind != b"tEXt":
        return None
    keyword, sep, _ = chunk.data.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        return None
    return keyword.decode("latin-1")


def card_text_chunks(chunks: list[Chunk]) -> dict[str, bytes]:
    """The first `chara` and `ccv3` payloads (keyword matched without case, as SillyTavern does)."""
    found: dict[str, bytes] = {}
    for chunk in chunks:
        keyword = text_keyword(chunk)
        if keyword is not None and keyword.lower() in CARD_KEYWORDS:
            found.setdefault(keyword.lower(), chunk.data.partition(b"\x00")[2])
    return found


def without_text_chunks(chunks: list[Chunk]) -> bytes:
    """The picture alone: the same image with every text chunk (the card, comments, prompts) left out."""
    kept = [chunk for chunk in chunks if chunk.kind not in TEXT_CHUNK_TYPES]
    return PNG_SIGNATURE + b"".join(chunk.encode() for chunk in kept)


def with_card_chunks(png: bytes, texts: dict[str, bytes], limits: CardLimits) -> bytes:
    """`png` with one `tEXt` chunk per keyword in `texts` (values already base64), older card chunks removed."""
    chunks = read_chunks(png, limits)
    kept = [c for c in chunks if c.kind != b"IEND" and (text_keyword(c) or "").lower() not in CARD_KEYWORDS]
    added = [Chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + value) for keyword, value in texts.items()]
    return PNG_SIGNATURE + b"".join(c.encode() for c in [*kept, *added, chunks[-1]])
