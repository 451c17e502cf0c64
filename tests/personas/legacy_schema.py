"""The schema as selfiebot wrote it before each package had its own migrations: one numbering for the whole
file in `PRAGMA user_version` (1-4), with the bot's tables among the personas'. Frozen copies of those migration
files, so tests can build a database from any of those versions and check that it is adopted in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

LEGACY_MIGRATIONS: tuple[str, ...] = (
    # 0001_personas.sql
    """
-- Personas, one namespace per guild. name_key is the case/lookalike-folded name that must be unique.
CREATE TABLE personas (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id       INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    name_key       TEXT    NOT NULL,
    appearance     TEXT    NOT NULL,
    personality    TEXT    NOT NULL DEFAULT '',
    negative       TEXT    NOT NULL DEFAULT '',
    style          TEXT    NOT NULL DEFAULT '',
    seed           INTEGER NOT NULL,
    seed_mode      TEXT    NOT NULL DEFAULT 'fixed' CHECK (seed_mode IN ('fixed', 'varied')),
    reference_path TEXT,
    reference_hash TEXT,
    lora_path      TEXT,
    lora_hash      TEXT,
    lora_scale     REAL    NOT NULL DEFAULT 0.8,
    ip_scale       REAL    NOT NULL DEFAULT 0.6,
    avatar_url     TEXT,
    nsfw           INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (guild_id, name_key)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""",
    # 0002_conversations.sql
    """
-- Which personas listen in a channel, what was said, and where each persona currently is.
CREATE TABLE activations (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    persona_id INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, channel_id, persona_id)
);

CREATE TABLE turns (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    persona_id INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    author_id  INTEGER,
    role       TEXT    NOT NULL CHECK (role IN ('user', 'persona', 'selfie')),
    content    TEXT    NOT NULL,
    message_id INTEGER,
    created_at TEXT    NOT NULL
);
CREATE INDEX turns_by_conversation ON turns (guild_id, channel_id, persona_id, id);
CREATE INDEX turns_by_author ON turns (guild_id, author_id);

CREATE TABLE scenes (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    persona_id INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, channel_id, persona_id)
);
""",
    # 0003_selfies_webhooks.sql
    """
-- Selfies sent (with everything needed to draw them again), per-channel webhooks, LoRA trigger words.
CREATE TABLE selfies (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    persona_id      INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    persona_version INTEGER NOT NULL,
    requester_id    INTEGER,
    message_id      INTEGER,
    prompt          TEXT    NOT NULL,
    negative        TEXT    NOT NULL,
    seed            INTEGER NOT NULL,
    parameters      TEXT    NOT NULL,
    created_at      TEXT    NOT NULL
);
CREATE INDEX selfies_by_message ON selfies (guild_id, message_id);

CREATE TABLE webhooks (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    webhook_id INTEGER NOT NULL,
    token      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

ALTER TABLE personas ADD COLUMN lora_trigger TEXT NOT NULL DEFAULT '';
""",
    # 0004_selfie_jobs.sql
    """
-- Selfie requests, recorded before they are queued so a restart can finish or answer them; one row per request.
-- source_kind is 'chat' (source_id: the user's message) or 'slash' (source_id: the interaction); the pair is unique,
-- so a replayed event cannot queue the same request twice.
-- state: queued -> running -> posting -> done | failed. 'posting' is set right before the picture is sent.
CREATE TABLE selfie_jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    source_kind       TEXT    NOT NULL CHECK (source_kind IN ('chat', 'slash')),
    source_id         INTEGER NOT NULL,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,
    persona_id        INTEGER NOT NULL,
    requester_id      INTEGER NOT NULL,
    request_text      TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'posting', 'done', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    selfie_id         INTEGER,
    answer_message_id INTEGER,
    outcome           TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    UNIQUE (source_kind, source_id)
);
CREATE INDEX selfie_jobs_open ON selfie_jobs (state) WHERE state NOT IN ('done', 'failed');
""",
)


def build_legacy_database(path: Path, user_version: int) -> sqlite3.Connection:
    """A database at legacy `user_version` (1-4), as the old migration runner left it; the caller closes it."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    for version, sql in enumerate(LEGACY_MIGRATIONS[:user_version], start=1):
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    return conn
