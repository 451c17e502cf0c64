"""`PersonaStore`: every persona, activation, conversation turn, scene and sent selfie, in one SQLite file.

Every query names its guild: no method can return or change another guild's rows. One connection is shared by the
whole bot, so an asyncio lock keeps one coroutine's transaction from interleaving with another's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from personas import validation
from personas.errors import PersonaError, PersonaNotFound
from personas.migrate import apply_migrations
from personas.models import LOOK_FIELDS, ROLES, Persona, SceneState, SelfieRecord, Turn
from personas.seeds import default_seed

log = logging.getLogger(__name__)
T = TypeVar("T")

TURNS_KEPT_PER_CONVERSATION = 200
DEFAULT_TURN_WINDOW = 20
_RETRIES = 6

_PERSONA_COLUMNS = (
    "name",
    "appearance",
    "personality",
    "negative",
    "style",
    "seed",
    "seed_mode",
    "reference_path",
    "reference_hash",
    "lora_path",
    "lora_hash",
    "lora_scale",
    "lora_trigger",
    "ip_scale",
    "avatar_url",
    "nsfw",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate persona fields as users typed them; unknown field names are a programming error."""
    unknown = set(fields) - set(_PERSONA_COLUMNS)
    if unknown:
        raise TypeError(f"unknown persona fields: {sorted(unknown)}")
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "appearance":
            value = validation.validate_appearance(value)
        elif key == "personality":
            value = validation.validate_personality(value)
        elif key == "style":
            value = validation.validate_style(value)
        elif key == "negative":
            value = validation.validate_negative(value)
        elif key == "lora_trigger":
            value = validation.validate_lora_trigger(value)
        elif key == "seed":
            value = validation.validate_seed(value)
        elif key == "seed_mode":
            value = validation.validate_seed_mode(value)
        elif key == "lora_scale":
            value = validation.validate_scale(value, "LoRA scale")
        elif key == "ip_scale":
            value = validation.validate_scale(value, "reference (IP-Adapter) scale")
        elif key == "avatar_url":
            value = validation.validate_avatar_url(value)
        elif key == "nsfw":
            value = bool(value)
        cleaned[key] = value
    return cleaned


def _persona(row: aiosqlite.Row) -> Persona:
    return Persona(
        id=row["id"],
        guild_id=row["guild_id"],
        name=row["name"],
        appearance=row["appearance"],
        personality=row["personality"],
        negative=row["negative"],
        style=row["style"],
        seed=row["seed"],
        seed_mode=row["seed_mode"],
        reference_path=row["reference_path"],
        reference_hash=row["reference_hash"],
        lora_path=row["lora_path"],
        lora_hash=row["lora_hash"],
        lora_scale=row["lora_scale"],
        lora_trigger=row["lora_trigger"],
        ip_scale=row["ip_scale"],
        avatar_url=row["avatar_url"],
        nsfw=bool(row["nsfw"]),
        version=row["version"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _turn(row: aiosqlite.Row) -> Turn:
    return Turn(
        role=row["role"],
        content=row["content"],
        author_id=row["author_id"],
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        persona_id=row["persona_id"],
        message_id=row["message_id"],
        created_at=_time(row["created_at"]),
    )


def _selfie(row: aiosqlite.Row) -> SelfieRecord:
    return SelfieRecord(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        persona_id=row["persona_id"],
        persona_version=row["persona_version"],
        requester_id=row["requester_id"],
        message_id=row["message_id"],
        prompt=row["prompt"],
        negative=row["negative"],
        seed=row["seed"],
        parameters=json.loads(row["parameters"]),
        created_at=_time(row["created_at"]),
    )


JOB_KINDS = ("chat", "slash")
OPEN_JOB_STATES = ("queued", "running", "posting")


@dataclass(frozen=True)
class SelfieJob:
    """A selfie request as recorded before it was queued (see migration 0004 for the states)."""

    id: int
    source_kind: str
    source_id: int
    guild_id: int
    channel_id: int
    persona_id: int
    requester_id: int
    request_text: str
    state: str
    attempts: int
    selfie_id: int | None
    answer_message_id: int | None
    outcome: str | None
    created_at: datetime


def _job(row: aiosqlite.Row) -> SelfieJob:
    return SelfieJob(
        id=row["id"],
        source_kind=row["source_kind"],
        source_id=row["source_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        persona_id=row["persona_id"],
        requester_id=row["requester_id"],
        request_text=row["request_text"],
        state=row["state"],
        attempts=row["attempts"],
        selfie_id=row["selfie_id"],
        answer_message_id=row["answer_message_id"],
        outcome=row["outcome"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class PersonaStore:
    """Open with `await PersonaStore.open(path)` (or `async with await PersonaStore.open(path) as store`)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> PersonaStore:
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
            await apply_migrations(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> PersonaStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, retrying with backoff while another process holds the database lock."""
        delay = 0.05
        for attempt in range(_RETRIES):
            try:
                return await operation()
            except sqlite3.OperationalError as err:
                if not _is_busy(err) or attempt == _RETRIES - 1:
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

    async def _write(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async def attempt() -> T:
            async with self._transaction() as conn:
                return await body(conn)

        async with self._lock:
            return await self._retry(attempt)

    async def _fetchall(self, sql: str, params: tuple[Any, ...]) -> list[aiosqlite.Row]:
        async def attempt() -> list[aiosqlite.Row]:
            async with self._conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

        async with self._lock:
            return await self._retry(attempt)

    async def _fetchone(self, sql: str, params: tuple[Any, ...]) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    # -- personas ---------------------------------------------------------------------------------------------

    async def create_persona(self, guild_id: int, /, **fields: Any) -> Persona:
        if "name" not in fields or "appearance" not in fields:
            raise PersonaError("A persona needs at least a name and an appearance.")
        raw_name = fields.pop("name")
        cleaned = _clean_fields(fields)
        now = _now().isoformat()

        async def body(conn: aiosqlite.Connection) -> int:
            async with conn.execute("SELECT name FROM personas WHERE guild_id = ?", (guild_id,)) as cursor:
                existing = [row["name"] for row in await cursor.fetchall()]
            name = validation.validate_name(raw_name, existing)
            values = {"seed": default_seed(name), **cleaned, "name": name}
            values["name_key"] = validation.name_key(name)
            columns = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            try:
                cursor = await conn.execute(
                    f"INSERT INTO personas (guild_id, {columns}, version, created_at, updated_at)"
                    f" VALUES (?, {marks}, 1, ?, ?)",
                    (guild_id, *values.values(), now, now),
                )
            except sqlite3.IntegrityError:
                raise PersonaError(f"This server already has a persona called “{name}”; pick another.") from None
            return int(cursor.lastrowid)

        persona_id = await self._write(body)
        persona = await self.get_persona_by_id(guild_id, persona_id)
        assert persona is not None
        return persona

    async def get_persona(self, guild_id: int, name: str) -> Persona | None:
        row = await self._fetchone(
            "SELECT * FROM personas WHERE guild_id = ? AND name_key = ?", (guild_id, validation.name_key(name))
        )
        return _persona(row) if row else None

    async def get_persona_by_id(self, guild_id: int, persona_id: int) -> Persona | None:
        row = await self._fetchone("SELECT * FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona_id))
        return _persona(row) if row else None

    async def list_personas(self, guild_id: int) -> list[Persona]:
        rows = await self._fetchall(
            "SELECT * FROM personas WHERE guild_id = ? ORDER BY name COLLATE NOCASE", (guild_id,)
        )
        return [_persona(row) for row in rows]

    async def _require(self, guild_id: int, name: str) -> Persona:
        persona = await self.get_persona(guild_id, name)
        if persona is None:
            raise PersonaNotFound(f"There is no persona called “{name}” on this server; `/persona list` shows them.")
        return persona

    async def update_persona(self, guild_id: int, name: str, /, **changes: Any) -> Persona:
        """Apply `changes` (`name=` renames); the version goes up when anything that changes the look changes."""
        current = await self._require(guild_id, name)
        new_name = changes.pop("name", None)
        cleaned = _clean_fields(changes)
        look_changed = any(getattr(current, key) != value for key, value in cleaned.items() if key in LOOK_FIELDS)

        async def body(conn: aiosqlite.Connection) -> None:
            values = dict(cleaned)
            if new_name is not None:
                async with conn.execute(
                    "SELECT name FROM personas WHERE guild_id = ? AND id != ?", (guild_id, current.id)
                ) as cursor:
                    others = [row["name"] for row in await cursor.fetchall()]
                values["name"] = validation.validate_name(new_name, others)
                values["name_key"] = validation.name_key(values["name"])
            sets = "".join(f"{key} = ?, " for key in values)
            try:
                await conn.execute(
                    f"UPDATE personas SET {sets}version = version + ?, updated_at = ? WHERE guild_id = ? AND id = ?",
                    (*values.values(), int(look_changed), _now().isoformat(), guild_id, current.id),
                )
            except sqlite3.IntegrityError:
                raise PersonaError("This server already has a persona with that name; pick another.") from None

        await self._write(body)
        updated = await self.get_persona_by_id(guild_id, current.id)
        assert updated is not None
        return updated

    async def delete_persona(self, guild_id: int, name: str) -> Persona:
        """Delete the persona and everything remembered about it; returns it so the caller can remove its files."""
        persona = await self._require(guild_id, name)

        async def body(conn: aiosqlite.Connection) -> None:
            for table in ("activations", "turns", "scenes", "selfies"):
                await conn.execute(f"DELETE FROM {table} WHERE guild_id = ? AND persona_id = ?", (guild_id, persona.id))
            await conn.execute("DELETE FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona.id))

        await self._write(body)
        return persona

    async def persona_files_in_use(self, path: str) -> bool:
        """Whether any persona in any guild still uses this reference or LoRA file (files are shared by hash)."""
        row = await self._fetchone(
            "SELECT 1 FROM personas WHERE reference_path = ? OR lora_path = ? LIMIT 1", (path, path)
        )
        return row is not None

    # -- channel activations ----------------------------------------------------------------------------------

    async def activate(self, guild_id: int, channel_id: int, persona_id: int) -> None:
        if await self.get_persona_by_id(guild_id, persona_id) is None:
            raise PersonaNotFound("That persona does not exist on this server any more.")

        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT OR IGNORE INTO activations (guild_id, channel_id, persona_id, created_at) VALUES (?, ?, ?, ?)",
                (guild_id, channel_id, persona_id, _now().isoformat()),
            )

        await self._write(body)

    async def deactivate(self, guild_id: int, channel_id: int, persona_id: int | None = None) -> int:
        """Stop one persona (or, with no id, every persona) listening in a channel; returns how many stopped."""

        async def body(conn: aiosqlite.Connection) -> int:
            if persona_id is None:
                sql, params = "DELETE FROM activations WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
            else:
                sql = "DELETE FROM activations WHERE guild_id = ? AND channel_id = ? AND persona_id = ?"
                params = (guild_id, channel_id, persona_id)
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

        return await self._write(body)

    async def active_personas(self, guild_id: int, channel_id: int) -> list[Persona]:
        rows = await self._fetchall(
            "SELECT p.* FROM personas p JOIN activations a ON a.persona_id = p.id AND a.guild_id = p.guild_id"
            " WHERE a.guild_id = ? AND a.channel_id = ? ORDER BY a.created_at, p.id",
            (guild_id, channel_id),
        )
        return [_persona(row) for row in rows]

    # -- conversation memory ----------------------------------------------------------------------------------

    async def add_turn(
        self,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        author_id: int | None,
        role: str,
        content: str,
        message_id: int | None = None,
    ) -> int:
        """Remember one turn; the oldest turns beyond a fixed window per conversation are dropped."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")

        async def body(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "INSERT INTO turns (guild_id, channel_id, persona_id, author_id, role, content, message_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, persona_id, author_id, role, content, message_id, _now().isoformat()),
            )
            await conn.execute(
                "DELETE FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? AND id NOT IN"
                " (SELECT id FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? ORDER BY id DESC LIMIT ?)",
                (guild_id, channel_id, persona_id, guild_id, channel_id, persona_id, TURNS_KEPT_PER_CONVERSATION),
            )
            return int(cursor.lastrowid)

        return await self._write(body)

    async def recent_turns(
        self, guild_id: int, channel_id: int, persona_id: int, limit: int = DEFAULT_TURN_WINDOW
    ) -> list[Turn]:
        """The last `limit` turns of a conversation, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, channel_id, persona_id, limit),
        )
        return [_turn(row) for row in reversed(rows)]

    async def forget_user(self, guild_id: int, user_id: int, channel_id: int | None = None) -> int:
        """Erase what `user_id` said (in one channel, or the whole guild); returns how many turns went."""

        async def body(conn: aiosqlite.Connection) -> int:
            sql = "DELETE FROM turns WHERE guild_id = ? AND author_id = ? AND role = 'user'"
            params: tuple[Any, ...] = (guild_id, user_id)
            if channel_id is not None:
                sql += " AND channel_id = ?"
                params += (channel_id,)
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

        return await self._write(body)

    # -- scene state ------------------------------------------------------------------------------------------

    async def get_scene(self, guild_id: int, channel_id: int, persona_id: int) -> SceneState:
        row = await self._fetchone(
            "SELECT state FROM scenes WHERE guild_id = ? AND channel_id = ? AND persona_id = ?",
            (guild_id, channel_id, persona_id),
        )
        return SceneState.from_dict(json.loads(row["state"])) if row else SceneState()

    async def save_scene(self, guild_id: int, channel_id: int, persona_id: int, scene: SceneState) -> None:
        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO scenes (guild_id, channel_id, persona_id, state, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, channel_id, persona_id) DO UPDATE SET"
                " state = excluded.state, updated_at = excluded.updated_at",
                (guild_id, channel_id, persona_id, json.dumps(scene.to_dict()), _now().isoformat()),
            )

        await self._write(body)

    # -- selfies ----------------------------------------------------------------------------------------------

    async def record_selfie(
        self,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        persona_version: int,
        requester_id: int | None,
        message_id: int | None,
        prompt: str,
        negative: str,
        seed: int,
        parameters: dict[str, Any],
    ) -> int:
        """Store a sent selfie with every regeneration parameter; returns its id."""
        encoded = json.dumps(parameters, sort_keys=True)

        async def body(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                "INSERT INTO selfies (guild_id, channel_id, persona_id, persona_version, requester_id, message_id,"
                " prompt, negative, seed, parameters, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    persona_id,
                    persona_version,
                    requester_id,
                    message_id,
                    prompt,
                    negative,
                    seed,
                    encoded,
                    _now().isoformat(),
                ),
            )
            return int(cursor.lastrowid)

        return await self._write(body)

    async def get_selfie(self, guild_id: int, selfie_id: int) -> SelfieRecord | None:
        row = await self._fetchone("SELECT * FROM selfies WHERE guild_id = ? AND id = ?", (guild_id, selfie_id))
        return _selfie(row) if row else None

    async def selfie_by_message(self, guild_id: int, message_id: int) -> SelfieRecord | None:
        row = await self._fetchone(
            "SELECT * FROM selfies WHERE guild_id = ? AND message_id = ? ORDER BY id DESC LIMIT 1",
            (guild_id, message_id),
        )
        return _selfie(row) if row else None

    async def set_selfie_message(self, guild_id: int, selfie_id: int, message_id: int) -> None:
        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE selfies SET message_id = ? WHERE guild_id = ? AND id = ?", (message_id, guild_id, selfie_id)
            )

        await self._write(body)

    async def selfie_count(self, guild_id: int, persona_id: int) -> int:
        """How many selfies a persona has sent in this guild: a natural nonce for `varied` seeds."""
        row = await self._fetchone(
            "SELECT COUNT(*) AS n FROM selfies WHERE guild_id = ? AND persona_id = ?", (guild_id, persona_id)
        )
        return int(row["n"]) if row else 0

    # -- webhooks and meta ------------------------------------------------------------------------------------

    async def get_webhook(self, guild_id: int, channel_id: int) -> tuple[int, str] | None:
        row = await self._fetchone(
            "SELECT webhook_id, token FROM webhooks WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )
        return (int(row["webhook_id"]), row["token"]) if row else None

    async def save_webhook(self, guild_id: int, channel_id: int, webhook_id: int, token: str) -> None:
        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO webhooks (guild_id, channel_id, webhook_id, token, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, channel_id) DO UPDATE SET webhook_id = excluded.webhook_id,"
                " token = excluded.token, updated_at = excluded.updated_at",
                (guild_id, channel_id, webhook_id, token, _now().isoformat()),
            )

        await self._write(body)

    async def delete_webhook(self, guild_id: int, channel_id: int) -> None:
        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM webhooks WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id))

        await self._write(body)

    async def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else default

    async def set_meta(self, key: str, value: str) -> None:
        async def body(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

        await self._write(body)

    # -- selfie jobs ------------------------------------------------------------------------------------------
    # The bot's persisted request queue. Every state change is a compare-and-set on the current state, so a job can
    # be claimed once and posted once however often a restart looks at it.

    async def enqueue_job(
        self,
        source_kind: str,
        source_id: int,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        requester_id: int,
        request_text: str,
        *,
        created_at: datetime | None = None,
    ) -> int | None:
        """Record a request before it is queued; None when this source (message, interaction) was recorded before."""
        if source_kind not in JOB_KINDS:
            raise ValueError(f"source_kind must be one of {JOB_KINDS}, not {source_kind!r}")
        created = (created_at or _now()).isoformat()

        async def body(conn: aiosqlite.Connection) -> int | None:
            cursor = await conn.execute(
                "INSERT INTO selfie_jobs (source_kind, source_id, guild_id, channel_id, persona_id, requester_id,"
                " request_text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source_kind, source_id) DO NOTHING",
                (
                    source_kind,
                    source_id,
                    guild_id,
                    channel_id,
                    persona_id,
                    requester_id,
                    request_text,
                    created,
                    created,
                ),
            )
            return int(cursor.lastrowid) if cursor.rowcount == 1 else None

        return await self._write(body)

    async def _move_job(self, job_id: int, sets: str, params: tuple[Any, ...], states: tuple[str, ...]) -> bool:
        marks = ", ".join("?" for _ in states)

        async def body(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                f"UPDATE selfie_jobs SET {sets}, updated_at = ? WHERE id = ? AND state IN ({marks})",
                (*params, _now().isoformat(), job_id, *states),
            )
            return cursor.rowcount == 1

        return await self._write(body)

    async def claim_job(self, job_id: int, attempts: int) -> bool:
        """Take an open (queued or running) job for serving; False if its attempt count moved on or it is settled."""

        async def body(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE selfie_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?"
                " WHERE id = ? AND attempts = ? AND state IN ('queued', 'running')",
                (_now().isoformat(), job_id, attempts),
            )
            return cursor.rowcount == 1

        return await self._write(body)

    async def mark_job_posting(self, job_id: int, selfie_id: int | None) -> bool:
        """Right before the picture is sent; False means it must not be sent (already posted or settled)."""
        return await self._move_job(job_id, "state = 'posting', selfie_id = ?", (selfie_id,), ("queued", "running"))

    async def mark_job_done(self, job_id: int, answer_message_id: int | None) -> bool:
        """The request was answered by `answer_message_id`; the job's selfie gets that message id in the same step."""

        async def body(conn: aiosqlite.Connection) -> bool:
            now = _now().isoformat()
            cursor = await conn.execute(
                "UPDATE selfie_jobs SET state = 'done', answer_message_id = ?, updated_at = ?"
                " WHERE id = ? AND state IN ('queued', 'running', 'posting')",
                (answer_message_id, now, job_id),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE selfies SET message_id = ? WHERE id = (SELECT selfie_id FROM selfie_jobs WHERE id = ?)"
                " AND guild_id = (SELECT guild_id FROM selfie_jobs WHERE id = ?)",
                (answer_message_id, job_id, job_id),
            )
            return True

        return await self._write(body)

    async def mark_job_failed(self, job_id: int, outcome: str, answer_message_id: int | None = None) -> bool:
        """The request was answered without a picture (refused, declined, failed, expired); `outcome` says why."""
        return await self._move_job(
            job_id,
            "state = 'failed', outcome = ?, answer_message_id = ?",
            (outcome[:500], answer_message_id),
            OPEN_JOB_STATES,
        )

    async def pending_jobs(self) -> list[SelfieJob]:
        """Jobs not yet answered, oldest first (all guilds: this is the process's own queue)."""
        rows = await self._fetchall(
            "SELECT * FROM selfie_jobs WHERE state IN ('queued', 'running', 'posting') ORDER BY id", ()
        )
        return [_job(row) for row in rows]

    async def get_job(self, job_id: int) -> SelfieJob | None:
        row = await self._fetchone("SELECT * FROM selfie_jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None
