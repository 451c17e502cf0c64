"""`TrainingRecords`: the bot's table of LoRA trainings (`/persona train`), on the bot's database.

A row is written before a training starts, so a restart finds what was running and resumes it from the checkpoint
folder; the Apply / Discard buttons read the trained file's place from it. State moves by compare-and-set, so a
button pressed twice (or after a restart) acts once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from personas.storage.database import Connection, Repository
from personas.storage.rows import from_row, insert_sql

OUTCOME_MAX_CHARS = 500


class TrainingState(enum.StrEnum):
    """running -> finished (waiting for Apply / Discard) -> applied | discarded; or running -> cancelled | failed."""

    RUNNING = "running"
    FINISHED = "finished"
    APPLIED = "applied"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class TrainingRecord:
    id: int
    guild_id: int
    channel_id: int
    persona_id: int
    persona_version: int
    requester_id: int
    steps: int
    trigger_word: str
    class_word: str
    folder: str
    bootstrap: bool
    state: TrainingState
    message_id: int | None
    result_message_id: int | None
    outcome: str | None
    created_at: datetime


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TrainingRecords(Repository):
    """Works on the bot's database (`BotStore.database`); its table comes with the bot's migrations."""

    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        persona_version: int,
        requester_id: int,
        steps: int,
        trigger_word: str,
        class_word: str,
        folder: str,
        bootstrap: bool,
    ) -> int | None:
        """Record a training; None when one is already running (one at a time per process: one GPU worker)."""
        now = _now()
        sql, params = insert_sql(
            "training_runs",
            {
                "guild_id": guild_id,
                "channel_id": channel_id,
                "persona_id": persona_id,
                "persona_version": persona_version,
                "requester_id": requester_id,
                "steps": steps,
                "trigger_word": trigger_word,
                "class_word": class_word,
                "folder": folder,
                "bootstrap": bootstrap,
                "created_at": now,
                "updated_at": now,
            },
        )

        async def body(conn: Connection) -> int | None:
            async with conn.execute("SELECT 1 FROM training_runs WHERE state = 'running' LIMIT 1") as cursor:
                if await cursor.fetchone() is not None:
                    return None
            cursor = await conn.execute(sql, params)
            return int(cursor.lastrowid)

        return await self.database.write(body)

    async def get(self, run_id: int) -> TrainingRecord | None:
        row = await self.database.fetchone("SELECT * FROM training_runs WHERE id = ?", (run_id,))
        return from_row(TrainingRecord, row) if row else None

    async def running(self) -> list[TrainingRecord]:
        rows = await self.database.fetchall("SELECT * FROM training_runs WHERE state = 'running' ORDER BY id")
        return [from_row(TrainingRecord, row) for row in rows]

    async def set_message(self, run_id: int, *, message_id: int | None = None, result_message_id: int | None = None):
        if message_id is not None:
            await self.database.execute(
                "UPDATE training_runs SET message_id = ?, updated_at = ? WHERE id = ?", (message_id, _now(), run_id)
            )
        if result_message_id is not None:
            await self.database.execute(
                "UPDATE training_runs SET result_message_id = ?, updated_at = ? WHERE id = ?",
                (result_message_id, _now(), run_id),
            )

    async def move(self, run_id: int, to: TrainingState, *, source: TrainingState, outcome: str | None = None) -> bool:
        """Set the state to `to` when it is `source`; whether it was."""
        changed = await self.database.execute(
            "UPDATE training_runs SET state = ?, outcome = COALESCE(?, outcome), updated_at = ?"
            " WHERE id = ? AND state = ?",
            (to.value, outcome[:OUTCOME_MAX_CHARS] if outcome else None, _now(), run_id, source.value),
        )
        return changed == 1
