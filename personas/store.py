"""`PersonaStore`: every persona, look version, activation, conversation turn, scene and sent selfie, in one SQLite
file.

The parts live in `personas/storage/` (one module per table, the shared `Database` plumbing and the migrations);
this class puts them together on one database. Every query names its guild: no method can return or change another
guild's rows. Other packages keep their own tables in the same file (`bot.storage.BotStore`), on the same
`Database` (`store.database`).
"""

from __future__ import annotations

from pathlib import Path

from personas.storage.activations import Activations
from personas.storage.database import Database
from personas.storage.look_scores import LookScores
from personas.storage.looks import Looks
from personas.storage.memory import DEFAULT_TURN_WINDOW, TURNS_KEPT_PER_CONVERSATION, Memory
from personas.storage.migrations import MigrationSet
from personas.storage.personas import Personas
from personas.storage.references import References
from personas.storage.scenes import Scenes
from personas.storage.selfies import Selfies

__all__ = ["DEFAULT_TURN_WINDOW", "PERSONA_MIGRATIONS", "TURNS_KEPT_PER_CONVERSATION", "PersonaStore"]

# Before schema_versions, PRAGMA user_version 1-4 numbered the whole file; 4 only added the bot's job queue.
PERSONA_MIGRATIONS = MigrationSet(owner="personas", package="personas", legacy_versions={1: 1, 2: 2, 3: 3, 4: 3})


class PersonaStore(Personas, Activations, Memory, Scenes, Selfies, Looks, References, LookScores):
    """Open with `await PersonaStore.open(path)` (or `async with await PersonaStore.open(path) as store`); closing
    it closes its database, and with it every other store opened on that database."""

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> PersonaStore:
        database = await Database.open(path, busy_timeout_ms=busy_timeout_ms)
        try:
            return await cls.on(database)
        except BaseException:
            await database.close()
            raise

    @classmethod
    async def on(cls, database: Database) -> PersonaStore:
        """The store on an open database, its tables migrated first."""
        await database.migrate(PERSONA_MIGRATIONS)
        return cls(database)

    async def close(self) -> None:
        await self.database.close()

    async def __aenter__(self) -> PersonaStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
