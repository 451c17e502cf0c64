-- The id of a job's "getting ready…" progress note, recorded when the note is posted, so the next start can remove
-- the notes a killed process left behind.
ALTER TABLE selfie_jobs ADD COLUMN progress_message_id INTEGER;
