-- Selfie requests, recorded before they are queued so a restart can finish or answer them; one row per request.
-- source_kind is 'chat' (source_id: the user's message) or 'slash' (source_id: the interaction; 0004 adds
-- 'retake'); the pair is unique, so a replayed event cannot queue the same request twice.
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
