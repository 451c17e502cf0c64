"""Caps for reading untrusted character cards, and the names of the checks that refuse one.

A card arrives from the internet: every size is checked before the bytes behind it are decoded, so a hostile file
costs at most a bounded amount of memory and time, and is refused with a `CardError` naming the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from personas.errors import CardError

MIB = 1024 * 1024


class CardProblem(StrEnum):
    """Which check refused a card; `CardError.problem` holds one of these."""

    TOO_LARGE = "too_large"  # the file, a chunk, an entry or the whole archive is over its cap
    TOO_DEEP = "too_deep"  # JSON nested deeper than the cap
    TOO_MANY_ENTRIES = "too_many_entries"  # archive entries or PNG chunks
    COMPRESSION_BOMB = "compression_bomb"  # an archive entry that expands far more than real files do
    UNSAFE_PATH = "unsafe_path"  # an archive path that is absolute, climbs out with "..", or repeats
    ENCRYPTED = "encrypted"
    BAD_BASE64 = "bad_base64"
    BAD_JSON = "bad_json"
    BAD_PNG = "bad_png"
    BAD_ZIP = "bad_zip"
    NOT_A_CARD = "not_a_card"  # valid container without card data, or an unknown format
    BAD_FIELD = "bad_field"  # a card field of the wrong type or an unusable value


@dataclass(frozen=True)
class CardLimits:
    """Every cap in one place; callers pass their own (the bot ties `max_lora_bytes` to its upload setting)."""

    max_file_bytes: int = 300 * MIB  # a CHARX may carry a LoRA
    max_png_bytes: int = 32 * MIB
    max_json_bytes: int = 8 * MIB  # card JSON, whether plain, in a PNG chunk (decoded) or in card.json
    max_text_chunk_bytes: int = 12 * MIB  # one PNG text chunk, base64 included
    max_png_chunks: int = 65_536
    max_json_depth: int = 64
    max_zip_entries: int = 512
    max_zip_total_bytes: int = 600 * MIB  # all entries uncompressed, as declared
    max_image_bytes: int = 16 * MIB
    max_lora_bytes: int = 256 * MIB
    max_other_entry_bytes: int = 64 * MIB  # assets we do not read still may not declare more
    max_compression_ratio: float = 100.0  # real cards compress text ~10x; bombs compress 1000x and more
    ratio_floor_bytes: int = MIB  # below this a high ratio is harmless (a small padded JSON)


DEFAULT_LIMITS = CardLimits()


def refuse(problem: CardProblem, message: str) -> CardError:
    """The error to raise; a helper so every refusal names its check."""
    return CardError(message, problem=problem.value)
