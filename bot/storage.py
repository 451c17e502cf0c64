"""`BotStore`: the bot's own tables: channel webhooks, command-sync metadata and the persisted selfie job queue.

They live in the same SQLite file as the personas' tables, with their own numbered migrations (`bot/migrations/`),
and on the same connection (`PersonaStore.database`). One connection because a job is settled in the same
transaction as its selfie's message id (`mark_job_done`), and because one lock then orders every write the process
makes: the bot never waits on SQLite's file lock for itself. Whoever opened the database closes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from personas.storage.database import Connection, Database, Repository, fetchall_in
from personas.storage.migrations import MigrationSet
from personas.storage.rows import from_row, insert_sql
from personas.storage.selfies import set_selfie_message_in

# Before schema_versions, PRAGMA user_version 1-4 numbered the whole file: 1 made `meta`, 3 `webhooks`, 4 the jobs.
BOT_MIGRATIONS = MigrationSet(owner="bot", package="bot", legacy_versions={1: 1, 2: 1, 3: 2, 4: 3})

OUTCOME_MAX_CHARS = 500
ENDED_JOBS_KEPT_FOR = timedelta(days=1)  # done/failed rows older than this are pruned


class JobKind(enum.StrEnum):
    """Where a selfie request came from; `source_id` is that message's or interaction's id."""

    CHAT = "chat"  # a chat message
    SLASH = "slash"  # `/selfie` (before migration 0004 also "Another take")
    RETAKE = "retake"  # the "Another take" button


class JobState(enum.StrEnum):
    """queued -> running -> posting -> done | failed; `posting` is set right before the picture is sent."""

    QUEUED = "queued"
    RUNNING = "running"
    POSTING = "posting"
    DONE = "done"
    FAILED = "failed"


OPEN_JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.POSTING)


@dataclass(frozen=True)
class SelfieJob:
    """A selfie request as recorded before it was queued."""

    id: int
    source_kind: JobKind
    source_id: int
    guild_id: int
    channel_id: int
    persona_id: int
    requester_id: int
    request_text: str
    state: JobState
    attempts: int
    selfie_id: int | None
    answer_message_id: int | None
    outcome: str | None
    created_at: datetime
    progress_message_id: int | None = None  # the persona's "getting ready…" note (bot migration 0005)


@dataclass(frozen=True)
class ForgottenRequests:
    """What `forget_requester` blanked: how many request texts, and the (channel, persona) conversations they were in."""

    requests: int
    conversations: frozenset[tuple[int, int]] = field(default_factory=frozenset)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _marks(values: tuple[Any, ...]) -> str:
    return ", ".join("?" for _ in values)


class BotStore(Repository):
    """Open with `await BotStore.on(database)` (its tables are migrated first)."""

    @classmethod
    async def on(cls, database: Database) -> BotStore:
        await database.migrate(BOT_MIGRATIONS)
        return cls(database)

    # -- webhooks ---------------------------------------------------------------------------------------------

    async def get_webhook(self, guild_id: int, channel_id: int) -> tuple[int, str] | None:
        """The channel's webhook as (id, token), or None when the bot has none there yet."""
        row = await self.database.fetchone(
            "SELECT webhook_id, token FROM webhooks WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )
        return (int(row["webhook_id"]), row["token"]) if row else None

    async def save_webhook(self, guild_id: int, channel_id: int, webhook_id: int, token: str) -> None:
        await self.database.execute(
            "INSERT INTO webhooks (guild_id, channel_id, webhook_id, token, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id, channel_id) DO UPDATE SET webhook_id = excluded.webhook_id,"
            " token = excluded.token, updated_at = excluded.updated_at",
            (guild_id, channel_id, webhook_id, token, _now()),
        )

    async def delete_webhook(self, guild_id: int, channel_id: int) -> None:
        await self.database.execute(
            "DELETE FROM webhooks WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )

    # -- metadata (command sync) ------------------------------------------------------------------------------

    async def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = await self.database.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else default

    async def set_meta(self, key: str, value: str) -> None:
        await self.database.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- selfie jobs ------------------------------------------------------------------------------------------
    # The bot's persisted request queue. Every state change is a compare-and-set on the current state, so a job can
    # be claimed once and posted once however often a restart looks at it.

    async def enqueue_job(
        self,
        *,
        source_kind: JobKind,
        source_id: int,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        requester_id: int,
        request_text: str,
        created_at: datetime | None = None,
    ) -> int | None:
        """Record a request before it is queued; None when this source (message, interaction) was recorded before."""
        created = created_at or datetime.now(UTC)
        sql, params = insert_sql(
            "selfie_jobs",
            {
                "source_kind": JobKind(source_kind),
                "source_id": source_id,
                "guild_id": guild_id,
                "channel_id": channel_id,
                "persona_id": persona_id,
                "requester_id": requester_id,
                "request_text": request_text,
                "created_at": created,
                "updated_at": created,
            },
        )

        async def body(conn: Connection) -> int | None:
            cursor = await conn.execute(f"{sql} ON CONFLICT (source_kind, source_id) DO NOTHING", params)
            return int(cursor.lastrowid) if cursor.rowcount == 1 else None

        return await self.database.write(body)

    async def _move_job(self, job_id: int, sets: str, params: tuple[Any, ...], states: tuple[JobState, ...]) -> bool:
        """`UPDATE ... SET sets` when the job is in one of `states`; whether it was."""
        return (
            await self.database.execute(
                f"UPDATE selfie_jobs SET {sets}, updated_at = ? WHERE id = ? AND state IN ({_marks(states)})",
                (*params, _now(), job_id, *states),
            )
            == 1
        )

    async def claim_job(self, job_id: int, attempts: int) -> bool:
        """Take an open (queued or running) job for serving; False if its attempt count moved on or it is settled."""
        return (
            await self.database.execute(
                "UPDATE selfie_jobs SET state = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE id = ? AND attempts = ? AND state IN (?, ?)",
                (JobState.RUNNING, _now(), job_id, attempts, JobState.QUEUED, JobState.RUNNING),
            )
            == 1
        )

    async def mark_job_posting(self, job_id: int, selfie_id: int | None) -> bool:
        """Right before the picture is sent; False means it must not be sent (already posted or settled)."""
        return await self._move_job(
            job_id, "state = ?, selfie_id = ?", (JobState.POSTING, selfie_id), (JobState.QUEUED, JobState.RUNNING)
        )

    async def mark_job_done(self, job_id: int, answer_message_id: int | None) -> bool:
        """The request was answered by `answer_message_id`; the job's selfie gets that message id in the same step."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                f"UPDATE selfie_jobs SET state = ?, answer_message_id = ?, updated_at = ?"
                f" WHERE id = ? AND state IN ({_marks(OPEN_JOB_STATES)})",
                (JobState.DONE, answer_message_id, _now(), job_id, *OPEN_JOB_STATES),
            )
            if cursor.rowcount != 1:
                return False
            (job,) = await fetchall_in(conn, "SELECT guild_id, selfie_id FROM selfie_jobs WHERE id = ?", (job_id,))
            if job["selfie_id"] is not None:
                await set_selfie_message_in(
                    conn, guild_id=job["guild_id"], selfie_id=job["selfie_id"], message_id=answer_message_id
                )
            return True

        return await self.database.write(body)

    async def mark_job_failed(self, job_id: int, outcome: str, answer_message_id: int | None = None) -> bool:
        """The request was answered without a picture (refused, declined, failed, expired); `outcome` says why."""
        return await self._move_job(
            job_id,
            "state = ?, outcome = ?, answer_message_id = ?",
            (JobState.FAILED, outcome[:OUTCOME_MAX_CHARS], answer_message_id),
            OPEN_JOB_STATES,
        )

    async def pending_jobs(self) -> list[SelfieJob]:
        """Jobs not yet answered, oldest first (all guilds: this is the process's own queue)."""
        rows = await self.database.fetchall(
            f"SELECT * FROM selfie_jobs WHERE state IN ({_marks(OPEN_JOB_STATES)}) ORDER BY id", OPEN_JOB_STATES
        )
        return [from_row(SelfieJob, row) for row in rows]

    async def set_job_progress_message(self, job_id: int, message_id: int) -> None:
        """Remember the job's progress note, so a restart can remove it if this process dies first."""
        await self.database.execute("UPDATE selfie_jobs SET progress_message_id = ? WHERE id = ?", (message_id, job_id))

    async def forget_requester(self, guild_id: int, user_id: int) -> ForgottenRequests:
        """Blank what `user_id` typed into their selfie requests in this guild (`/forget`); the rows stay so a replayed
        event is still recognised and an open job is still answered."""

        async def body(conn: Connection) -> ForgottenRequests:
            rows = await fetchall_in(
                conn,
                "SELECT DISTINCT channel_id, persona_id FROM selfie_jobs"
                " WHERE guild_id = ? AND requester_id = ? AND request_text != ''",
                (guild_id, user_id),
            )
            cursor = await conn.execute(
                "UPDATE selfie_jobs SET request_text = '' WHERE guild_id = ? AND requester_id = ? AND request_text != ''",
                (guild_id, user_id),
            )
            conversations = frozenset((int(r["channel_id"]), int(r["persona_id"])) for r in rows)
            return ForgottenRequests(requests=cursor.rowcount, conversations=conversations)

        return await self.database.write(body)

    async def prune_ended_jobs(self, older_than: timedelta = ENDED_JOBS_KEPT_FOR) -> int:
        """Delete done/failed jobs that ended more than `older_than` ago (their request text with them); how many."""
        cutoff = (datetime.now(UTC) - older_than).isoformat()
        ended = (JobState.DONE, JobState.FAILED)
        return await self.database.execute(
            f"DELETE FROM selfie_jobs WHERE state IN ({_marks(ended)}) AND updated_at < ?", (*ended, cutoff)
        )

    async def get_job(self, job_id: int) -> SelfieJob | None:
        row = await self.database.fetchone("SELECT * FROM selfie_jobs WHERE id = ?", (job_id,))
        return from_row(SelfieJob, row) if row else None
