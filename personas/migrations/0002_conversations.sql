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
