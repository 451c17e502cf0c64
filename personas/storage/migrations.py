"""Numbered SQL migrations per owner, versions kept in one `schema_versions (owner, version)` table.

Each package that keeps tables in the shared SQLite file ships `<package>/migrations/NNNN_name.sql` and declares a
`MigrationSet`; its version is one row of `schema_versions`. Before owners were tracked apart, personas tracked the
whole file in `PRAGMA user_version` (1-4, with the bot's tables in its migrations). Such a file is adopted in place:
the old number is kept as the `legacy` row and each owner maps it to its own version (`legacy_versions`), so no
table is created twice and no row is lost. The file is then marked with `PRAGMA user_version = TRACKED_MARK`, which
an older selfiebot reports as "newer than this selfiebot" instead of migrating it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

import aiosqlite

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_OWNER_NAME = re.compile(r"^[a-z_]+$")

LEGACY_ROW = "legacy"  # the PRAGMA user_version the file had when schema_versions was created (absent when it was 0)
LAST_LEGACY_USER_VERSION = 4
TRACKED_MARK = 1000


class SchemaTooNew(RuntimeError):
    """The file was written by a newer selfiebot: `owner`'s schema is `found`, this code knows up to `known`."""

    def __init__(self, owner: str, found: int, known: int) -> None:
        super().__init__(f"database schema of {owner!r} is version {found}, newer than this code knows ({known})")
        self.owner = owner
        self.found = found
        self.known = known


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationSet:
    """One owner's migrations: `<package>/migrations/NNNN_*.sql`, tracked as the row `owner` of schema_versions."""

    owner: str
    package: str
    # PRAGMA user_version of a file from before schema_versions -> this owner's version in it.
    legacy_versions: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _OWNER_NAME.match(self.owner) or self.owner == LEGACY_ROW:
            raise ValueError(f"owner must be lower-case letters and underscores, not {self.owner!r}")

    def available(self) -> list[Migration]:
        """Every migration shipped with the package, in order; versions must run 1, 2, 3... without gaps."""
        found = []
        for entry in resources.files(self.package).joinpath("migrations").iterdir():
            match = _FILE_NAME.match(entry.name)
            if match:
                found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
        found.sort(key=lambda m: m.version)
        if [m.version for m in found] != list(range(1, len(found) + 1)):
            names = [m.name for m in found]
            raise RuntimeError(f"{self.package} migrations must be numbered 0001, 0002, ... without gaps: {names}")
        return found


async def _scalar(conn: aiosqlite.Connection, sql: str, params: tuple = ()) -> int | None:
    async with conn.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def adopt_legacy_schema(conn: aiosqlite.Connection) -> None:
    """Create schema_versions once, keeping a pre-owner file's `PRAGMA user_version` as the `legacy` row."""
    exists = await _scalar(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'")
    if exists:
        return
    user_version = await _scalar(conn, "PRAGMA user_version") or 0
    if user_version > LAST_LEGACY_USER_VERSION:
        raise SchemaTooNew("user_version", user_version, LAST_LEGACY_USER_VERSION)
    legacy = f"INSERT OR IGNORE INTO schema_versions VALUES ('{LEGACY_ROW}', {user_version});" if user_version else ""
    await _script(
        conn,
        "CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL);"
        f"{legacy}PRAGMA user_version = {TRACKED_MARK};",
    )


async def schema_version(conn: aiosqlite.Connection, migrations: MigrationSet) -> int:
    """The owner's version: its own row, else what the legacy user_version meant for it, else 0."""
    own = await _scalar(conn, "SELECT version FROM schema_versions WHERE owner = ?", (migrations.owner,))
    if own is not None:
        return own
    legacy = await _scalar(conn, "SELECT version FROM schema_versions WHERE owner = ?", (LEGACY_ROW,))
    if not legacy:
        return 0
    if legacy not in migrations.legacy_versions:
        raise RuntimeError(f"{migrations.owner}: no mapping for legacy schema version {legacy}")
    return migrations.legacy_versions[legacy]


async def apply_migrations(conn: aiosqlite.Connection, migrations: MigrationSet, target: int | None = None) -> int:
    """Bring the owner's tables up to `target` (default: the newest); each migration is one transaction."""
    await adopt_legacy_schema(conn)
    available = migrations.available()
    target = len(available) if target is None else target
    current = await schema_version(conn, migrations)
    if current > len(available):
        raise SchemaTooNew(migrations.owner, current, len(available))
    if current and not await _scalar(conn, "SELECT 1 FROM schema_versions WHERE owner = ?", (migrations.owner,)):
        await _script(conn, _record(migrations.owner, current))  # adopted from the legacy user_version
    for migration in available[current:target]:
        await _script(conn, f"{migration.sql}\n;{_record(migrations.owner, migration.version)}")
    return await schema_version(conn, migrations)


def _record(owner: str, version: int) -> str:
    # Inlined, not bound: executescript takes no parameters; `owner` is checked by MigrationSet, `version` an int.
    return (
        f"INSERT INTO schema_versions (owner, version) VALUES ('{owner}', {int(version)})"
        " ON CONFLICT (owner) DO UPDATE SET version = excluded.version;"
    )


async def _script(conn: aiosqlite.Connection, sql: str) -> None:
    """Run `sql` as one transaction (executescript commits whatever is open first, so BEGIN/COMMIT frame it)."""
    try:
        await conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
    except Exception:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
