-- Key/value settings the bot keeps between runs; `command_tree_hash` says which slash commands were synced last.
-- (Created by personas' first migration before each package had its own; a file from then is adopted as is.)
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
