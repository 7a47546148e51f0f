-- Twin of schemas/sqlite/0006_revive.sql: the tries since the last revive are attempts - attempts_base.
ALTER TABLE inbox ADD COLUMN attempts_base BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN attempts_base BIGINT NOT NULL DEFAULT 0;
