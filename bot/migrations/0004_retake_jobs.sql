-- "Another take" gets its own job kind, 'retake' (it was recorded as 'slash'; those rows stay as they are).
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows (no foreign keys point
-- at it or from it).
CREATE TABLE selfie_jobs_rebuilt (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    source_kind       TEXT    NOT NULL CHECK (source_kind IN ('chat', 'slash', 'retake')),
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
INSERT INTO selfie_jobs_rebuilt (id, source_kind, source_id, guild_id, channel_id, persona_id, requester_id,
                                 request_text, state, attempts, selfie_id, answer_message_id, outcome, created_at,
                                 updated_at)
SELECT id, source_kind, source_id, guild_id, channel_id, persona_id, requester_id, request_text, state, attempts,
       selfie_id, answer_message_id, outcome, created_at, updated_at
FROM selfie_jobs;
DROP TABLE selfie_jobs;
ALTER TABLE selfie_jobs_rebuilt RENAME TO selfie_jobs;
CREATE INDEX selfie_jobs_open ON selfie_jobs (state) WHERE state NOT IN ('done', 'failed');
