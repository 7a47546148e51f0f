-- Operators can give dead inbox rows and outbox actions another round of attempts (InboxRepo::Revive,
-- OutboxRepo::Revive). `attempts` keeps counting, since it is the fencing token of every claim and must never
-- repeat; the retry policy counts the tries since the last revive, attempts - attempts_base.
ALTER TABLE inbox ADD COLUMN attempts_base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN attempts_base INTEGER NOT NULL DEFAULT 0;
