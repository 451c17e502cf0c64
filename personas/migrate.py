"""Numbered SQL migrations in `personas/migrations/NNNN_name.sql`, tracked with `PRAGMA user_version`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import aiosqlite

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with the package, in order; versions must run 1, 2, 3... without gaps."""
    found = []
    for entry in resources.files("personas").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001, 0002, ... without gaps: {[m.name for m in found]}")
    return found


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0])


async def apply_migrations(conn: aiosqlite.Connection, target: int | None = None) -> int:
    """Bring the database up to `target` (default: the newest); each migration is one transaction."""
    migrations = available_migrations()
    target = len(migrations) if target is None else target
    current = await schema_version(conn)
    if current > len(migrations):
        raise RuntimeError(f"database schema {current} is newer than this selfiebot ({len(migrations)}); upgrade it")
    for migration in migrations[current:target]:
        # executescript commits whatever is open first, so the BEGIN/COMMIT here frame exactly one migration.
        try:
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return await schema_version(conn)
