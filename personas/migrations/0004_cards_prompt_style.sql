-- Character cards: the greeting posted on first activation, the card's scenario, everything else the card carried
-- (JSON, so an export loses nothing), and the persona's own prompt style ('' = the bot's PROMPT_STYLE).
ALTER TABLE personas ADD COLUMN greeting TEXT NOT NULL DEFAULT '';
ALTER TABLE personas ADD COLUMN scenario TEXT NOT NULL DEFAULT '';
ALTER TABLE personas ADD COLUMN card_extras TEXT NOT NULL DEFAULT '{}';
ALTER TABLE personas ADD COLUMN prompt_style TEXT NOT NULL DEFAULT '';
