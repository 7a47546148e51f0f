-- PostgreSQL twin of schemas/sqlite/0005_outbox_subject.sql (the reasons are written there).

CREATE INDEX outbox_subject ON outbox (subject, id);
