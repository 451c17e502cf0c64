"""Look versions: every look a persona has had, numbered, kept with its files, and restorable exactly.

A look is every field of `Persona` that changes what a selfie looks like (`LOOK_FIELDS`: appearance, seed,
reference, LoRA, scales, trigger, style, negative, prompt style) plus the extra reference pictures
(`persona_references`). Every write that changes one of them bumps `Persona.version` and records the new look in
`persona_looks` in the same transaction (`record_look_in`, called by `personas.storage.personas` and by the
reference and rollback writes below), so version N of the table is exactly what selfies with `persona_version = N`
were drawn with. Files named in any version stay on disk (`Personas.persona_files_in_use` reads the looks too).
How consistent each version was comes from the selfie records: `personas.storage.look_scores`.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from personas import validation
from personas.errors import InvalidPersonaField, PersonaNotFound
from personas.models import LOOK_FIELDS, Persona
from personas.storage.database import Connection, Repository, fetchall_in
from personas.storage.references import (
    MAX_REFERENCES,
    ReferencePicture,
    extra_references_in,
    replace_extra_references_in,
)
from personas.storage.rows import from_row, to_column

REFERENCES_KEY = "references"  # the look's extra reference pictures, beside the look fields
_FIELD_DEFAULTS = {f.name: f.default for f in fields(Persona) if f.default is not MISSING}
# How a note names a changed field where its own name would not read well; the rest use the field's label or name.
_CHANGE_NAMES = {
    "reference_path": "reference",
    "reference_hash": "reference",
    "lora_path": "LoRA",
    "lora_hash": "LoRA",
    "lora_trigger": "LoRA trigger",
    "ip_scale": "reference scale",
    REFERENCES_KEY: "references",
}
_LABELS = {f.name: f.metadata.get("label") for f in fields(Persona)}


@dataclass(frozen=True)
class LookVersion:
    """Version `version` of a persona's look: the look fields and references (`look`, JSON-shaped), who set it
    (a Discord user id, None when unknown) and when, and a short note ("changed seed", "rollback to v2")."""

    version: int
    look: dict[str, Any]
    changed_by: int | None
    note: str
    created_at: datetime

    @property
    def references(self) -> list[ReferencePicture]:
        """Every reference picture of this look, the IP-Adapter input first."""
        first = self.look.get("reference_path")
        if not first:
            return []
        extras = [ReferencePicture(item["path"], item["hash"]) for item in self.look.get(REFERENCES_KEY, [])]
        return [ReferencePicture(first, self.look.get("reference_hash") or ""), *extras]

    def files(self) -> list[str]:
        """Every file this look needs (references, LoRA)."""
        found = [reference.path for reference in self.references]
        if self.look.get("lora_path"):
            found.append(self.look["lora_path"])
        return found


def look_of(persona: Persona, extras: list[ReferencePicture]) -> dict[str, Any]:
    """The look of `persona` with its extra references, as stored (JSON-shaped)."""
    look = {name: to_column(getattr(persona, name)) for name in sorted(LOOK_FIELDS)}
    look[REFERENCES_KEY] = [reference.to_dict() for reference in extras]
    return look


def describe_changes(names: list[str] | set[str]) -> str:
    """A short note for a look change: "changed appearance, LoRA scale"."""
    words = dict.fromkeys(_CHANGE_NAMES.get(name) or _LABELS.get(name) or name.replace("_", " ") for name in names)
    return "changed " + ", ".join(sorted(words, key=str.casefold)) if words else "changed the look"


async def persona_in(
    conn: Connection, guild_id: int, *, name: str | None = None, persona_id: int | None = None
) -> Persona:
    """The persona by name or id, read inside an open transaction; `PersonaNotFound` if this guild has none."""
    if name is not None:
        sql, key = "SELECT * FROM personas WHERE guild_id = ? AND name_key = ?", validation.name_key(name)
    else:
        sql, key = "SELECT * FROM personas WHERE guild_id = ? AND id = ?", persona_id
    rows = await fetchall_in(conn, sql, (guild_id, key))
    if not rows:
        raise PersonaNotFound(name=name, persona_id=persona_id)
    return from_row(Persona, rows[0])


async def record_look_in(conn: Connection, *, guild_id: int, persona_id: int, changed_by: int | None, note: str) -> int:
    """Record the persona's look as it now is under its current version, inside the transaction that changed it;
    returns that version."""
    persona = await persona_in(conn, guild_id, persona_id=persona_id)
    look = look_of(persona, await extra_references_in(conn, guild_id, persona_id))
    await conn.execute(
        "INSERT INTO persona_looks (guild_id, persona_id, version, look, changed_by, note, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, persona_id, persona.version, to_column(look), changed_by, note[:200], _now().isoformat()),
    )
    return persona.version


async def _bump_version_in(conn: Connection, guild_id: int, persona_id: int, columns: dict[str, Any]) -> None:
    """Set `columns` (field -> value) and move the persona to its next version."""
    sets = "".join(f"{name} = ?, " for name in columns)
    await conn.execute(
        f"UPDATE personas SET {sets}version = version + 1, updated_at = ? WHERE guild_id = ? AND id = ?",
        (*map(to_column, columns.values()), _now().isoformat(), guild_id, persona_id),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _version_from_row(row: Any) -> LookVersion:
    created = datetime.fromisoformat(row["created_at"])
    return LookVersion(row["version"], json.loads(row["look"]), row["changed_by"], row["note"], created)


class Looks(Repository):
    async def look_history(self, guild_id: int, persona_id: int, *, limit: int | None = None) -> list[LookVersion]:
        """The persona's look versions, newest first."""
        rows = await self.database.fetchall(
            "SELECT * FROM persona_looks WHERE guild_id = ? AND persona_id = ? ORDER BY version DESC LIMIT ?",
            (guild_id, persona_id, -1 if limit is None else limit),
        )
        return [_version_from_row(row) for row in rows]

    async def look_version(self, guild_id: int, persona_id: int, version: int) -> LookVersion | None:
        row = await self.database.fetchone(
            "SELECT * FROM persona_looks WHERE guild_id = ? AND persona_id = ? AND version = ?",
            (guild_id, persona_id, version),
        )
        return _version_from_row(row) if row else None

    async def add_reference(
        self, guild_id: int, name: str, *, path: str, digest: str, main: bool = False, changed_by: int | None = None
    ) -> Persona:
        """Add a reference picture (a new look version). It becomes the IP-Adapter input when `main` or when the
        persona had none; otherwise it goes after the others. A picture it already has is refused."""

        async def body(conn: Connection) -> int:
            persona = await persona_in(conn, guild_id, name=name)
            extras = await extra_references_in(conn, guild_id, persona.id)
            current = (
                [ReferencePicture(persona.reference_path, persona.reference_hash or "")]
                if persona.reference_path
                else []
            )
            if any(reference.hash == digest for reference in current + extras):
                raise InvalidPersonaField(
                    f"{persona.name} already has that reference picture.", field="reference", problem="duplicate"
                )
            if len(current) + len(extras) >= MAX_REFERENCES:
                raise InvalidPersonaField(
                    f"{persona.name} already has {MAX_REFERENCES} reference pictures; remove one first.",
                    field="reference",
                    problem="too_many",
                )
            new = ReferencePicture(path, digest)
            if main or not current:
                ordered = [new, *current, *extras]
            else:
                ordered = [*current, *extras, new]
            await _set_references_in(conn, persona, ordered)
            note = "new main reference picture" if ordered[0] is new and current else "added a reference picture"
            await record_look_in(conn, guild_id=guild_id, persona_id=persona.id, changed_by=changed_by, note=note)
            return persona.id

        return await self._persona_after(guild_id, await self.database.write(body))

    async def remove_reference(
        self, guild_id: int, name: str, number: int, *, changed_by: int | None = None
    ) -> tuple[Persona, ReferencePicture]:
        """Remove reference picture `number` (1 = the IP-Adapter input; the next one then takes its place) as a new
        look version; returns the persona and the removed picture (its file stays while a version names it)."""

        async def body(conn: Connection) -> tuple[int, ReferencePicture]:
            persona = await persona_in(conn, guild_id, name=name)
            extras = await extra_references_in(conn, guild_id, persona.id)
            current = (
                [ReferencePicture(persona.reference_path, persona.reference_hash or "")]
                if persona.reference_path
                else []
            )
            ordered = current + extras
            if not 1 <= number <= len(ordered):
                problem = (
                    f"{persona.name} has no reference pictures."
                    if not ordered
                    else (
                        f"{persona.name} has {len(ordered)} reference picture{'s' if len(ordered) > 1 else ''}; "
                        f"pick a number from 1 to {len(ordered)}."
                    )
                )
                raise InvalidPersonaField(problem, field="number", problem="out_of_range")
            removed = ordered.pop(number - 1)
            await _set_references_in(conn, persona, ordered)
            note = f"removed reference picture {number}"
            await record_look_in(conn, guild_id=guild_id, persona_id=persona.id, changed_by=changed_by, note=note)
            return persona.id, removed

        persona_id, removed = await self.database.write(body)
        return await self._persona_after(guild_id, persona_id), removed

    async def rollback_look(self, guild_id: int, name: str, version: int, *, changed_by: int | None = None) -> Persona:
        """Make look `version` the persona's look again, every field and reference, as a new version equal to it.
        When the persona already looks exactly like that, nothing changes (the version stays)."""

        async def body(conn: Connection) -> int:
            persona = await persona_in(conn, guild_id, name=name)
            rows = await fetchall_in(
                conn,
                "SELECT * FROM persona_looks WHERE guild_id = ? AND persona_id = ? AND version = ?",
                (guild_id, persona.id, version),
            )
            if not rows:
                raise InvalidPersonaField(
                    f"{persona.name} has no look version {version}.", field="version", problem="unknown"
                )
            target = _version_from_row(rows[0]).look
            current = look_of(persona, await extra_references_in(conn, guild_id, persona.id))
            # Fields added after that version was recorded had their default then.
            wanted = {name: target.get(name, _FIELD_DEFAULTS.get(name)) for name in LOOK_FIELDS}
            references = [ReferencePicture(item["path"], item["hash"]) for item in target.get(REFERENCES_KEY, [])]
            if wanted == {name: current[name] for name in LOOK_FIELDS} and current[REFERENCES_KEY] == [
                reference.to_dict() for reference in references
            ]:
                return persona.id
            await _bump_version_in(conn, guild_id, persona.id, wanted)
            await replace_extra_references_in(conn, guild_id, persona.id, references)
            note = f"rollback to v{version}"
            await record_look_in(conn, guild_id=guild_id, persona_id=persona.id, changed_by=changed_by, note=note)
            return persona.id

        return await self._persona_after(guild_id, await self.database.write(body))

    async def persona_file_paths(self, guild_id: int, name: str) -> list[str]:
        """Every file the persona's current look or any of its versions names (to remove when it is deleted)."""
        persona = await self.database.fetchone(
            "SELECT * FROM personas WHERE guild_id = ? AND name_key = ?", (guild_id, validation.name_key(name))
        )
        if persona is None:
            return []
        found = [persona["reference_path"], persona["lora_path"]]
        rows = await self.database.fetchall(
            "SELECT path FROM persona_references WHERE guild_id = ? AND persona_id = ?", (guild_id, persona["id"])
        )
        found += [row["path"] for row in rows]
        for look in await self.look_history(guild_id, persona["id"]):
            found += look.files()
        return [path for path in dict.fromkeys(found) if path]

    async def _persona_after(self, guild_id: int, persona_id: int) -> Persona:
        row = await self.database.fetchone(
            "SELECT * FROM personas WHERE guild_id = ? AND id = ?", (guild_id, persona_id)
        )
        if row is None:
            raise PersonaNotFound(persona_id=persona_id)  # deleted right after the change
        return from_row(Persona, row)


async def _set_references_in(conn: Connection, persona: Persona, ordered: list[ReferencePicture]) -> None:
    """Make `ordered` the persona's reference pictures (the first the IP-Adapter input) and bump its version."""
    first = ordered[0] if ordered else None
    columns = {"reference_path": first.path if first else None, "reference_hash": first.hash if first else None}
    await _bump_version_in(conn, persona.guild_id, persona.id, columns)
    await replace_extra_references_in(conn, persona.guild_id, persona.id, ordered[1:])
