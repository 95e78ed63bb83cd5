-- Why the last `trueup dlq replay` of a dead letter failed, kept apart from error_message: the
-- original reason (with its file, line and field) is what a data team needs to fix the record,
-- and a failed replay must not overwrite it.
ALTER TABLE control.dead_letters ADD COLUMN last_replay_error text;
