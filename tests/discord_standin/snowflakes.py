"""Time-based snowflakes and timestamps, shaped like Discord's.

discord.py derives ``Interaction.created_at`` (and so ``is_expired()``) from the id, so ids must encode "now".
"""

from __future__ import annotations

import datetime
import time

DISCORD_EPOCH_MS = 1420070400000


class SnowflakeFactory:
    """Monotonic, time-based snowflake generator (one per stand-in, no module state)."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._increment = 0
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (self._worker << 17) | (self._increment & 0xFFF)
        self._increment += 1
        # Keep ids strictly increasing even when many are made within one millisecond.
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()
