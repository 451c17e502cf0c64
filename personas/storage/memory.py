"""The `turns` table: conversation memory per (guild, channel, persona), bounded, and erasable per user."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from personas.models import ROLES, Turn
from personas.storage.database import Connection, Repository, fetchall_in
from personas.storage.rows import from_row, insert_sql
from personas.storage.scenes import delete_scenes_in

TURNS_KEPT_PER_CONVERSATION = 200
DEFAULT_TURN_WINDOW = 20


@dataclass(frozen=True)
class Erased:
    """What `erase_user` removed: the user's turns, and the scenes of the conversations they had turns in."""

    turns: int
    scenes: int


class Memory(Repository):
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
        sql, params = insert_sql(
            "turns",
            {
                "guild_id": guild_id,
                "channel_id": channel_id,
                "persona_id": persona_id,
                "author_id": author_id,
                "role": role,
                "content": content,
                "message_id": message_id,
                "created_at": datetime.now(UTC),
            },
        )

        async def body(conn: Connection) -> int:
            cursor = await conn.execute(sql, params)
            await conn.execute(
                "DELETE FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? AND id NOT IN"
                " (SELECT id FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? ORDER BY id DESC LIMIT ?)",
                (guild_id, channel_id, persona_id, guild_id, channel_id, persona_id, TURNS_KEPT_PER_CONVERSATION),
            )
            return int(cursor.lastrowid)

        return await self.database.write(body)

    async def recent_turns(
        self, guild_id: int, channel_id: int, persona_id: int, limit: int = DEFAULT_TURN_WINDOW
    ) -> list[Turn]:
        """The last `limit` turns of a conversation, oldest first."""
        rows = await self.database.fetchall(
            "SELECT * FROM turns WHERE guild_id = ? AND channel_id = ? AND persona_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, channel_id, persona_id, limit),
        )
        return [from_row(Turn, row) for row in reversed(rows)]

    async def forget_user(self, guild_id: int, user_id: int, channel_id: int | None = None) -> int:
        """Erase what `user_id` said (in one channel, or the whole guild); returns how many turns went."""
        return (await self.erase_user(guild_id, user_id, channel_id=channel_id)).turns

    async def erase_user(
        self,
        guild_id: int,
        user_id: int,
        *,
        channel_id: int | None = None,
        also_in: Iterable[tuple[int, int]] = (),
    ) -> Erased:
        """Erase what `user_id` said (in one channel, or the whole guild) and reset the scene of every (channel,
        persona) conversation they had turns in, plus those in `also_in` (e.g. where they asked for selfies): a
        scene may carry their words ("at the beach"), and which ones cannot be told apart, so the scene goes and is
        rebuilt from what is left. One transaction."""
        where = "guild_id = ? AND author_id = ? AND role = 'user'"
        params: tuple[Any, ...] = (guild_id, user_id)
        if channel_id is not None:
            where += " AND channel_id = ?"
            params += (channel_id,)

        async def body(conn: Connection) -> Erased:
            rows = await fetchall_in(conn, f"SELECT DISTINCT channel_id, persona_id FROM turns WHERE {where}", params)
            conversations = {(int(r["channel_id"]), int(r["persona_id"])) for r in rows} | set(also_in)
            cursor = await conn.execute(f"DELETE FROM turns WHERE {where}", params)
            return Erased(turns=cursor.rowcount, scenes=await delete_scenes_in(conn, guild_id, conversations))

        return await self.database.write(body)
