"""`Database`: the one SQLite connection that every store in the process shares, and how it is used safely.

Each package keeps its own tables and migrations (personas here, the bot's in `bot/storage.py`), but they live in
one file behind one aiosqlite connection. One asyncio lock keeps one coroutine's transaction from interleaving with
another's; writes run as `BEGIN IMMEDIATE` transactions and are retried with backoff while another process holds
the file's write lock (SQLite's own `busy_timeout` waits first).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from personas.storage.migrations import MigrationSet, apply_migrations
from personas.storage.rows import insert_sql

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_RETRIES = 6
FIRST_RETRY_DELAY_S = 0.05

Row = aiosqlite.Row
Connection = aiosqlite.Connection


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (worth retrying), not a real error."""
    text = str(error).lower()
    return "locked" in text or "busy" in text


class Database:
    """Open with `await Database.open(path)`; stores take it in their constructor, its opener closes it."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so a transaction spans exactly what we mean.
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def migrate(self, migrations: MigrationSet) -> int:
        """Bring one owner's tables up to date; returns that owner's schema version."""
        async with self._lock:
            return await apply_migrations(self._conn, migrations)

    async def close(self) -> None:
        """Close the connection (a second call does nothing): every store on it stops with it."""
        if self._closed:
            return
        self._closed = True
        await self._conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, retrying with backoff while another process holds the database lock."""
        delay = FIRST_RETRY_DELAY_S
        for attempt in range(BUSY_RETRIES):
            try:
                return await operation()
            except sqlite3.OperationalError as err:
                if not is_busy(err) or attempt == BUSY_RETRIES - 1:
                    raise
                log.warning("database busy (%s); retrying in %.2fs", err, delay)
                await asyncio.sleep(delay * (1 + random.random()))
                delay *= 2
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise
        await self._conn.execute("COMMIT")

    async def write(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `body(conn)` as one write transaction: all of it is stored, or (on any exception) none of it."""

        async def attempt() -> T:
            async with self._transaction() as conn:
                return await body(conn)

        async with self._lock:
            return await self._retry(attempt)

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write statement in its own transaction; returns how many rows it changed."""

        async def body(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

        return await self.write(body)

    async def insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row (values converted by `rows.to_column`) in its own transaction; returns its rowid."""
        sql, params = insert_sql(table, values)

        async def body(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(sql, params)
            return int(cursor.lastrowid)

        return await self.write(body)

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async def attempt() -> list[aiosqlite.Row]:
            async with self._conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

        async with self._lock:
            return await self._retry(attempt)

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


class Repository:
    """Base of the stores' parts: each works on a `Database` it is given (and does not close)."""

    def __init__(self, database: Database) -> None:
        self.database = database


async def fetchall_in(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
    """Read inside a transaction that `Database.write` opened (its body gets `conn`)."""
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())
