-- One ticket's actions in every state, for GET /api/v1/portals/{member_id}/tickets/{id}/sla: outbox_subject_open
-- (0003) holds only pending and leased rows, and the API shows done and dead ones too, so without this index the
-- request read the portal's whole outbox. A subject begins with its member_id, so (subject, id) alone finds one
-- ticket's rows in order; leaving member_id out also keeps the claim on outbox_subject_open, which matches its
-- (member_id, subject, id) one column further and skips finished rows (tests/unit/store/schema_test.cpp checks
-- both plans). The retention job (flows runtime) deletes done rows through outbox_ready and inbox_ready and needs
-- nothing new. The PostgreSQL twin is schemas/postgres/0005_outbox_subject.sql.

CREATE INDEX outbox_subject ON outbox (subject, id);
