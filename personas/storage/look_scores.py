"""How consistent each look version was: the identity scores the bot recorded on the selfies drawn with it.

The selfie flow stores each posted selfie's identity score in the record's `parameters` (`identity_score` in
[0, 1], `identity_method` "face" or "clip", `identity_miss` when it stayed below IDENTITY_MIN_SCORE). Selfies
record the persona version they were drawn with, so the figures are per look version. Face and CLIP scores are
not comparable, so every figure keeps its method. Selfies without a score (made before scoring, or with no
reference to compare with) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from personas.storage.database import Repository

_SCORED = (
    "json_extract(parameters, '$.identity_score') AS score, json_extract(parameters, '$.identity_method') AS method,"
    " coalesce(json_extract(parameters, '$.identity_miss'), 0) AS miss"
)


@dataclass(frozen=True)
class ScoredSelfie:
    """One posted selfie's identity score."""

    selfie_id: int
    version: int
    score: float
    method: str
    miss: bool
    created_at: datetime


@dataclass(frozen=True)
class MethodScores:
    """The scored selfies of one look version measured with one method: how many, their mean, how many missed."""

    version: int
    method: str
    count: int
    mean: float
    misses: int


class LookScores(Repository):
    async def identity_scores(
        self, guild_id: int, persona_id: int, version: int, *, limit: int = 100
    ) -> list[ScoredSelfie]:
        """The `limit` most recent scored selfies of one look version, oldest first."""
        rows = await self.database.fetchall(
            f"SELECT id, persona_version, created_at, {_SCORED} FROM selfies"
            " WHERE guild_id = ? AND persona_id = ? AND persona_version = ?"
            " AND json_extract(parameters, '$.identity_score') IS NOT NULL ORDER BY id DESC LIMIT ?",
            (guild_id, persona_id, version, limit),
        )
        return [
            ScoredSelfie(
                selfie_id=row["id"],
                version=row["persona_version"],
                score=float(row["score"]),
                method=str(row["method"] or ""),
                miss=bool(row["miss"]),
                created_at=datetime.fromisoformat(row["created_at"]),
            )
            for row in reversed(rows)
        ]

    async def identity_summary(self, guild_id: int, persona_id: int) -> list[MethodScores]:
        """Per look version and method: count, mean score and misses over every scored selfie of the persona."""
        rows = await self.database.fetchall(
            f"SELECT persona_version AS version, method, COUNT(*) AS n, AVG(score) AS mean, SUM(miss != 0) AS misses"
            f" FROM (SELECT persona_version, {_SCORED} FROM selfies WHERE guild_id = ? AND persona_id = ?)"
            " WHERE score IS NOT NULL GROUP BY version, method ORDER BY version DESC, n DESC",
            (guild_id, persona_id),
        )
        return [
            MethodScores(row["version"], str(row["method"] or ""), row["n"], float(row["mean"]), int(row["misses"]))
            for row in rows
        ]
