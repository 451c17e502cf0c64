-- LoRA trainings started with `/persona train`: one row per training, so a restart resumes a running one from its
-- checkpoint folder and the Apply / Discard buttons find the trained file after a restart.
CREATE TABLE training_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    persona_id      INTEGER NOT NULL,
    persona_version INTEGER NOT NULL,
    requester_id    INTEGER NOT NULL,
    steps           INTEGER NOT NULL,
    trigger_word    TEXT    NOT NULL,
    class_word      TEXT    NOT NULL,
    folder          TEXT    NOT NULL,
    bootstrap       INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL DEFAULT 'running'
                    CHECK (state IN ('running', 'finished', 'applied', 'discarded', 'cancelled', 'failed')),
    message_id      INTEGER,
    result_message_id INTEGER,
    outcome         TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX training_runs_running ON training_runs (state) WHERE state = 'running';
