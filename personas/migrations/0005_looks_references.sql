-- Look versions: every version of a persona's look, kept so it can be listed, compared and restored exactly.
-- `look` is JSON: every look field of `Persona` (personas.models.LOOK_FIELDS) plus "references", the extra
-- reference pictures ([{"path", "hash"}], in order). `version` is the persona's `version` when that look was set.
CREATE TABLE persona_looks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    persona_id INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    look       TEXT    NOT NULL,
    changed_by INTEGER,
    note       TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    UNIQUE (guild_id, persona_id, version)
);

-- Reference pictures after the first: the first (the IP-Adapter input) stays in personas.reference_path.
CREATE TABLE persona_references (
    guild_id   INTEGER NOT NULL,
    persona_id INTEGER NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    path       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (guild_id, persona_id, position)
);
CREATE INDEX persona_references_by_path ON persona_references (path);

-- Every existing persona's current look becomes its current version (who set it is not known).
INSERT INTO persona_looks (guild_id, persona_id, version, look, changed_by, note, created_at)
SELECT guild_id, id, version,
       json_object(
           'appearance', appearance, 'negative', negative, 'style', style, 'seed', seed, 'seed_mode', seed_mode,
           'reference_path', reference_path, 'reference_hash', reference_hash,
           'lora_path', lora_path, 'lora_hash', lora_hash, 'lora_scale', lora_scale, 'ip_scale', ip_scale,
           'lora_trigger', lora_trigger, 'prompt_style', prompt_style, 'references', json_array()
       ),
       NULL, 'look before versions were kept', updated_at
FROM personas;
