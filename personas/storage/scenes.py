"""The `scenes` table: where each persona is and what it wears, per (guild, channel), as `SceneState` JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from personas.models import SceneState
from personas.storage.database import Connection, Repository


async def delete_scenes_in(conn: Connection, guild_id: int, conversations: Iterable[tuple[int, int]]) -> int:
    """Reset the scene of each (channel, persona) conversation, inside a transaction another part opened (`/forget`
    erases turns and the scenes they shaped in one step); returns how many scenes there were."""
    deleted = 0
    for channel_id, persona_id in sorted(set(conversations)):
        cursor = await conn.execute(
            "DELETE FROM scenes WHERE guild_id = ? AND channel_id = ? AND persona_id = ?",
            (guild_id, channel_id, persona_id),
        )
        deleted += cursor.rowcount
    return deleted


class Scenes(Repository):
    async def get_scene(self, guild_id: int, channel_id: int, persona_id: int) -> SceneState:
        """The persona's scene in the channel; an empty `SceneState` when nothing is known yet."""
        row = await self.database.fetchone(
            "SELECT state FROM scenes WHERE guild_id = ? AND channel_id = ? AND persona_id = ?",
            (guild_id, channel_id, persona_id),
        )
        return SceneState.from_dict(json.loads(row["state"])) if row else SceneState()

    async def save_scene(self, guild_id: int, channel_id: int, persona_id: int, scene: SceneState) -> None:
        await self.database.execute(
            "INSERT INTO scenes (guild_id, channel_id, persona_id, state, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id, channel_id, persona_id) DO UPDATE SET"
            " state = excluded.state, updated_at = excluded.updated_at",
            (guild_id, channel_id, persona_id, json.dumps(scene.to_dict()), datetime.now(UTC).isoformat()),
        )
