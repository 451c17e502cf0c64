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
