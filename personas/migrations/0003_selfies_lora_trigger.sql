-- Selfies sent (with everything needed to draw them again) and LoRA trigger words.
-- (The bot's webhooks table was created here too before each package had its own migrations.)
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

ALTER TABLE personas ADD COLUMN lora_trigger TEXT NOT NULL DEFAULT '';
