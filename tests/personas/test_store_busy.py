"""SQLite busy/locked: another process holding the write lock delays the store's writes, never loses them."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from personas.store import PersonaStore

GUILD, CHANNEL = 1, 10


def hold_exclusive_lock(path, seconds: float, locked: threading.Event) -> threading.Thread:
    """A second, raw sqlite3 connection (another process, as far as SQLite knows) holds BEGIN EXCLUSIVE."""

    def hold() -> None:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=5)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            time.sleep(seconds)
            conn.execute("COMMIT")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


# busy_timeout 0: SQLite gives up at once, so the store's own retry with backoff has to carry the writes through.
@pytest.mark.parametrize("busy_timeout_ms", [0, 5000], ids=["store-retry", "sqlite-busy-timeout"])
async def test_writes_wait_out_an_exclusive_lock_and_none_is_lost(tmp_path, busy_timeout_ms):
    path = tmp_path / "busy.sqlite3"
    async with await PersonaStore.open(path, busy_timeout_ms=busy_timeout_ms) as store:
        mira = await store.create_persona(GUILD, name="Mira", appearance="a woman")
        locked = threading.Event()
        holder = hold_exclusive_lock(path, 0.5, locked)
        assert await asyncio.to_thread(locked.wait, 5)
        started = time.monotonic()
        writes = [store.add_turn(GUILD, CHANNEL, mira.id, 7, "user", f"message {i}") for i in range(5)]
        writes += [store.create_persona(GUILD, name=f"Extra {i}", appearance="a man") for i in range(3)]
        await asyncio.gather(*writes)
        waited = time.monotonic() - started
        await asyncio.to_thread(holder.join, 5)

        assert waited >= 0.3, "the writes finished while the lock was held: the test did not test anything"
        turns = await store.recent_turns(GUILD, CHANNEL, mira.id, limit=50)
        assert [t.content for t in turns] == [f"message {i}" for i in range(5)]
        names = {p.name for p in await store.list_personas(GUILD)}
        assert names == {"Mira", "Extra 0", "Extra 1", "Extra 2"}

    # And it is all on disk, not just in the connection that wrote it.
    raw = sqlite3.connect(str(path))
    try:
        assert raw.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 5
        assert raw.execute("SELECT COUNT(*) FROM personas").fetchone()[0] == 4
    finally:
        raw.close()
