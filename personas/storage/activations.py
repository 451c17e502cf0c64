"""The `activations` table: which personas listen in which channel of a guild."""

from __future__ import annotations

from datetime import UTC, datetime

from personas.errors import PersonaNotFound
from personas.models import Persona
from personas.storage.database import Repository
from personas.storage.rows import from_row


class Activations(Repository):
    async def activate(self, guild_id: int, channel_id: int, persona_id: int) -> None:
        """Let the persona listen in the channel (activating twice is the same as once)."""
        if await self.database.fetchone("SELECT 1 FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona_id)):
            await self.database.execute(
                "INSERT OR IGNORE INTO activations (guild_id, channel_id, persona_id, created_at) VALUES (?, ?, ?, ?)",
                (guild_id, channel_id, persona_id, datetime.now(UTC).isoformat()),
            )
            return
        raise PersonaNotFound(persona_id=persona_id)

    async def deactivate(self, guild_id: int, channel_id: int, persona_id: int | None = None) -> int:
        """Stop one persona (or, with no id, every persona) listening in a channel; returns how many stopped."""
        if persona_id is None:
            return await self.database.execute(
                "DELETE FROM activations WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
            )
        return await self.database.execute(
            "DELETE FROM activations WHERE guild_id = ? AND channel_id = ? AND persona_id = ?",
            (guild_id, channel_id, persona_id),
        )

    async def active_personas(self, guild_id: int, channel_id: int) -> list[Persona]:
        """The personas listening in the channel, in the order they were activated."""
        rows = await self.database.fetchall(
            "SELECT p.* FROM personas p JOIN activations a ON a.persona_id = p.id AND a.guild_id = p.guild_id"
            " WHERE a.guild_id = ? AND a.channel_id = ? ORDER BY a.created_at, p.id",
            (guild_id, channel_id),
        )
        return [from_row(Persona, row) for row in rows]
