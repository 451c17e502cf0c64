"""The `selfies` table: every selfie sent, with everything needed to draw it again (`SelfieRecord`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from personas.models import SelfieRecord
from personas.storage.database import Connection, Repository
from personas.storage.rows import from_row


async def set_selfie_message_in(conn: Connection, *, guild_id: int, selfie_id: int, message_id: int | None) -> None:
    """Record the message a selfie was posted in, inside a transaction another store opened (the bot marks its
    job done and the selfie's message in one step)."""
    await conn.execute(
        "UPDATE selfies SET message_id = ? WHERE guild_id = ? AND id = ?", (message_id, guild_id, selfie_id)
    )


class Selfies(Repository):
    async def record_selfie(
        self,
        *,
        guild_id: int,
        channel_id: int,
        persona_id: int,
        persona_version: int,
        requester_id: int | None,
        prompt: str,
        negative: str,
        seed: int,
        parameters: dict[str, Any],
        message_id: int | None = None,
    ) -> int:
        """Store a sent selfie with every regeneration parameter; returns its id."""
        return await self.database.insert(
            "selfies",
            {
                "guild_id": guild_id,
                "channel_id": channel_id,
                "persona_id": persona_id,
                "persona_version": persona_version,
                "requester_id": requester_id,
                "message_id": message_id,
                "prompt": prompt,
                "negative": negative,
                "seed": seed,
                "parameters": parameters,
                "created_at": datetime.now(UTC),
            },
        )

    async def get_selfie(self, guild_id: int, selfie_id: int) -> SelfieRecord | None:
        row = await self.database.fetchone("SELECT * FROM selfies WHERE guild_id = ? AND id = ?", (guild_id, selfie_id))
        return from_row(SelfieRecord, row) if row else None

    async def selfie_by_message(self, guild_id: int, message_id: int) -> SelfieRecord | None:
        row = await self.database.fetchone(
            "SELECT * FROM selfies WHERE guild_id = ? AND message_id = ? ORDER BY id DESC LIMIT 1",
            (guild_id, message_id),
        )
        return from_row(SelfieRecord, row) if row else None

    async def set_selfie_message(self, guild_id: int, selfie_id: int, message_id: int) -> None:
        async def body(conn: Connection) -> None:
            await set_selfie_message_in(conn, guild_id=guild_id, selfie_id=selfie_id, message_id=message_id)

        await self.database.write(body)

    async def selfie_count(self, guild_id: int, persona_id: int) -> int:
        """How many selfies a persona has sent in this guild: a natural nonce for `varied` seeds."""
        row = await self.database.fetchone(
            "SELECT COUNT(*) AS n FROM selfies WHERE guild_id = ? AND persona_id = ?", (guild_id, persona_id)
        )
        return int(row["n"]) if row else 0
