"""The `persona_references` table: a persona's reference pictures after the first.

A persona may have several reference pictures of its face. The first is the IP-Adapter input and stays where it
always was (`Persona.reference_path` / `reference_hash`); the others are rows here, numbered from 1 in the order
admins added them. The identity scorer compares each picture with all of them (`reference_paths`). Changing the
references changes the look, so the writes live with the look versions (`personas.storage.looks`); this module
only reads and rewrites the rows inside a transaction it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from personas.storage.database import Connection, Repository, fetchall_in

MAX_REFERENCES = 8  # per persona, the IP-Adapter input included


@dataclass(frozen=True)
class ReferencePicture:
    """One stored reference picture: its file under DATA_DIR (named by content hash) and that hash."""

    path: str
    hash: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "hash": self.hash}


async def extra_references_in(conn: Connection, guild_id: int, persona_id: int) -> list[ReferencePicture]:
    """The reference pictures after the first, in order, read inside an open transaction."""
    rows = await fetchall_in(
        conn,
        "SELECT path, hash FROM persona_references WHERE guild_id = ? AND persona_id = ? ORDER BY position",
        (guild_id, persona_id),
    )
    return [ReferencePicture(row["path"], row["hash"]) for row in rows]


async def replace_extra_references_in(
    conn: Connection, guild_id: int, persona_id: int, references: list[ReferencePicture]
) -> None:
    """Make `references` the persona's pictures after the first (rewritten whole: the list is short)."""
    await conn.execute("DELETE FROM persona_references WHERE guild_id = ? AND persona_id = ?", (guild_id, persona_id))
    await conn.executemany(
        "INSERT INTO persona_references (guild_id, persona_id, position, path, hash) VALUES (?, ?, ?, ?, ?)",
        [(guild_id, persona_id, index, ref.path, ref.hash) for index, ref in enumerate(references, start=1)],
    )


class References(Repository):
    async def reference_pictures(self, guild_id: int, persona_id: int) -> list[ReferencePicture]:
        """Every reference picture of the persona, the IP-Adapter input first; empty when it has none."""
        # One statement, so a concurrent change cannot pair one version's first picture with another's rest.
        rows = await self.database.fetchall(
            "SELECT 0 AS position, reference_path AS path, reference_hash AS hash FROM personas"
            " WHERE guild_id = ? AND id = ? AND reference_path IS NOT NULL"
            " UNION ALL SELECT position, path, hash FROM persona_references WHERE guild_id = ? AND persona_id = ?"
            " ORDER BY position",
            (guild_id, persona_id, guild_id, persona_id),
        )
        return [ReferencePicture(row["path"], row["hash"] or "") for row in rows]

    async def reference_paths(self, guild_id: int, persona_id: int) -> list[str]:
        """The files of every reference picture, the IP-Adapter input first (what the identity scorer compares)."""
        return [reference.path for reference in await self.reference_pictures(guild_id, persona_id)]
