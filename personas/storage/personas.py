"""The `personas` table: create, read, edit and delete a guild's personas.

The columns a user may set are `EDITABLE_PERSONA_FIELDS` (declared on `Persona`); each is checked by the
`validation.validate_<field>` of the same name, a float by `validation.validate_scale`, a bool is coerced. Names
are unique per guild after folding case and lookalike characters (`name_key`). Every query names its guild.
"""

from __future__ import annotations

import sqlite3
import typing
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from personas import validation
from personas.errors import DuplicatePersonaName, InvalidPersonaField, PersonaNotFound
from personas.models import EDITABLE_PERSONA_FIELDS, LOOK_FIELDS, Persona
from personas.seeds import default_seed
from personas.storage.database import Connection, Repository, fetchall_in
from personas.storage.looks import describe_changes, record_look_in
from personas.storage.rows import from_row, insert_sql, to_column

_PERSONA_FIELDS = {f.name: f for f in fields(Persona)}
_PERSONA_TYPES = typing.get_type_hints(Persona)
# Tables whose rows belong to one persona; deleting the persona deletes them in the same transaction.
PERSONA_OWNED_TABLES = ("activations", "turns", "scenes", "selfies", "persona_looks", "persona_references")


def _now() -> datetime:
    return datetime.now(UTC)


def _check(name: str, value: Any) -> Any:
    validate = getattr(validation, f"validate_{name}", None)
    if validate is not None:
        return validate(value)
    kind = _PERSONA_TYPES[name]
    if kind is float:
        return validation.validate_scale(value, _PERSONA_FIELDS[name].metadata.get("label") or name)
    if kind is bool:
        return bool(value)
    return value


def check_persona_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate persona fields as users typed them (not `name`); unknown field names are a programming error."""
    unknown = set(values) - set(EDITABLE_PERSONA_FIELDS)
    if unknown:
        raise TypeError(f"unknown persona fields: {sorted(unknown)}")
    return {name: _check(name, value) for name, value in values.items()}


async def _names(conn: Connection, guild_id: int, *, except_id: int | None = None) -> list[str]:
    rows = await fetchall_in(conn, "SELECT id, name FROM personas WHERE guild_id = ?", (guild_id,))
    return [row["name"] for row in rows if row["id"] != except_id]


class Personas(Repository):
    async def create_persona(
        self, guild_id: int, /, *, changed_by: int | None = None, note: str = "created", **values: Any
    ) -> Persona:
        """A new persona from user-typed fields (`name` and `appearance` required); the seed defaults from the name.
        Its look is recorded as look version 1, set by `changed_by` (a Discord user id)."""
        missing = [key for key in ("name", "appearance") if key not in values]
        if missing:
            raise InvalidPersonaField(
                "A persona needs at least a name and an appearance.", field=missing[0], problem="missing"
            )
        raw_name = values.pop("name")
        cleaned = check_persona_fields(values)
        now = _now()

        async def body(conn: Connection) -> int:
            name = validation.validate_name(raw_name, await _names(conn, guild_id))
            row = {"guild_id": guild_id, "seed": default_seed(name), **cleaned, "name": name}
            row |= {"name_key": validation.name_key(name), "version": 1, "created_at": now, "updated_at": now}
            sql, params = insert_sql("personas", row)
            try:
                cursor = await conn.execute(sql, params)
            except sqlite3.IntegrityError:
                raise DuplicatePersonaName(name) from None  # a concurrent create won the race
            persona_id = int(cursor.lastrowid)
            await record_look_in(conn, guild_id=guild_id, persona_id=persona_id, changed_by=changed_by, note=note)
            return persona_id

        persona_id = await self.database.write(body)
        persona = await self.get_persona_by_id(guild_id, persona_id)
        assert persona is not None
        return persona

    async def get_persona(self, guild_id: int, name: str) -> Persona | None:
        row = await self.database.fetchone(
            "SELECT * FROM personas WHERE guild_id = ? AND name_key = ?", (guild_id, validation.name_key(name))
        )
        return from_row(Persona, row) if row else None

    async def get_persona_by_id(self, guild_id: int, persona_id: int) -> Persona | None:
        row = await self.database.fetchone(
            "SELECT * FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona_id)
        )
        return from_row(Persona, row) if row else None

    async def list_personas(self, guild_id: int) -> list[Persona]:
        rows = await self.database.fetchall(
            "SELECT * FROM personas WHERE guild_id = ? ORDER BY name COLLATE NOCASE", (guild_id,)
        )
        return [from_row(Persona, row) for row in rows]

    async def require_persona(self, guild_id: int, name: str) -> Persona:
        """The persona called `name`, or `PersonaNotFound`."""
        persona = await self.get_persona(guild_id, name)
        if persona is None:
            raise PersonaNotFound(name=name)
        return persona

    async def update_persona(
        self, guild_id: int, name: str, /, *, changed_by: int | None = None, note: str | None = None, **changes: Any
    ) -> Persona:
        """Apply `changes` (`name=` renames). When anything that changes the look changes, the version goes up and
        the new look is recorded as that version, set by `changed_by` (a Discord user id), with `note` (default:
        which fields changed)."""
        current = await self.require_persona(guild_id, name)
        new_name = changes.pop("name", None)
        cleaned = check_persona_fields(changes)
        changed_look = {key for key, value in cleaned.items() if key in LOOK_FIELDS and getattr(current, key) != value}
        look_changed = bool(changed_look)

        async def body(conn: Connection) -> None:
            values = dict(cleaned)
            if new_name is not None:
                values["name"] = validation.validate_name(new_name, await _names(conn, guild_id, except_id=current.id))
                values["name_key"] = validation.name_key(values["name"])
            sets = "".join(f"{key} = ?, " for key in values)
            try:
                await conn.execute(
                    f"UPDATE personas SET {sets}version = version + ?, updated_at = ? WHERE guild_id = ? AND id = ?",
                    (*map(to_column, values.values()), int(look_changed), _now().isoformat(), guild_id, current.id),
                )
            except sqlite3.IntegrityError:
                raise DuplicatePersonaName(values.get("name", current.name)) from None  # a concurrent rename won
            if look_changed:
                text = note or describe_changes(changed_look)
                await record_look_in(conn, guild_id=guild_id, persona_id=current.id, changed_by=changed_by, note=text)

        await self.database.write(body)
        updated = await self.get_persona_by_id(guild_id, current.id)
        assert updated is not None
        return updated

    async def delete_persona(self, guild_id: int, name: str) -> Persona:
        """Delete the persona and everything remembered about it; returns it so the caller can remove its files."""
        persona = await self.require_persona(guild_id, name)

        async def body(conn: Connection) -> None:
            for table in PERSONA_OWNED_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE guild_id = ? AND persona_id = ?", (guild_id, persona.id))
            await conn.execute("DELETE FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona.id))

        await self.database.write(body)
        return persona

    async def persona_files_in_use(self, path: str) -> bool:
        """Whether any persona, extra reference or look version in any guild still names this reference or LoRA
        file (files are shared by content hash, and a version can be rolled back to)."""
        row = await self.database.fetchone(
            "SELECT 1 FROM personas WHERE reference_path = ?1 OR lora_path = ?1"
            " UNION ALL SELECT 1 FROM persona_references WHERE path = ?1"
            " UNION ALL SELECT 1 FROM persona_looks WHERE json_extract(look, '$.reference_path') = ?1"
            " OR json_extract(look, '$.lora_path') = ?1"
            " OR EXISTS (SELECT 1 FROM json_each(look, '$.references') WHERE json_extract(value, '$.path') = ?1)"
            " LIMIT 1",
            (path,),
        )
        return row is not None
