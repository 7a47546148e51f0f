-- PostgreSQL twin of schemas/sqlite/0003_flows.sql (the reasons are written there). Identity columns never reuse
-- a value, so timers keep their table here.

ALTER TABLE ticket_snapshots
    ADD COLUMN category_id     BIGINT   NOT NULL DEFAULT 0,
    ADD COLUMN last_history_id BIGINT   NOT NULL DEFAULT 0,
    ADD COLUMN closed          SMALLINT NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));

ALTER TABLE outbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_subject_open ON outbox (member_id, subject, id) WHERE state IN ('pending', 'leased');

ALTER TABLE timers
    ADD COLUMN armed_attempts BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN ready_at       BIGINT;
UPDATE timers SET ready_at = CASE WHEN state = 'leased' THEN COALESCE(lease_until, due_at) ELSE due_at END;
ALTER TABLE timers ALTER COLUMN ready_at SET NOT NULL;
DROP INDEX timers_due;
CREATE INDEX timers_ready ON timers (state, ready_at);
CREATE INDEX timers_member ON timers (member_id);

CREATE TABLE portal_settings (
    member_id  TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    json       TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, key)
);
