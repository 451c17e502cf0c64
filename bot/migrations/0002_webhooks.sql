-- One webhook per channel through which the personas speak: its id and token, not a URL.
CREATE TABLE webhooks (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    webhook_id INTEGER NOT NULL,
    token      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
