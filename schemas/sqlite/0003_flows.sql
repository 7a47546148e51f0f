-- What the flows repositories (src/store/flow_repos.hpp) need beyond 0002, which is already applied on existing
-- databases and is therefore left as it is. The PostgreSQL twin is schemas/postgres/0003_flows.sql.

ALTER TABLE ticket_snapshots ADD COLUMN category_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ticket_snapshots ADD COLUMN last_history_id INTEGER NOT NULL DEFAULT 0;  -- highest crm.stagehistory id
ALTER TABLE ticket_snapshots ADD COLUMN closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));

-- The ticket an action belongs to: the outbox sends one subject's actions in the order they were queued.
ALTER TABLE outbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
-- The claim asks "is there an older unfinished action of this subject?" for every candidate.
CREATE INDEX outbox_subject_open ON outbox (member_id, subject, id) WHERE state IN ('pending', 'leased');

-- Timers are rebuilt (SQLite cannot alter a primary key):
--  - AUTOINCREMENT: a completed timer's row is deleted, and a fencing token (id, attempts) must never match a
--    later row that reused the id;
--  - attempts only grows while the row lives (re-arming does not reset it, or a worker whose lease was taken
--    could match the next claim); armed_attempts remembers its value at the last arm, so failures since the arm
--    are attempts - armed_attempts;
--  - ready_at: when the row can next be claimed: due_at once armed, the retry time after a failure, the lease end
--    while leased. One column answers both the claim and the scheduler's "when next?".
CREATE TABLE timers_0003 (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    due_at         INTEGER NOT NULL,
    cycle          INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 0,
    payload        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    armed_attempts INTEGER NOT NULL DEFAULT 0,
    ready_at       INTEGER NOT NULL,
    lease_owner    TEXT,
    lease_until    INTEGER,
    last_error     TEXT,
    UNIQUE (kind, subject)
) STRICT;
INSERT INTO timers_0003 (id, member_id, kind, subject, due_at, cycle, version, payload, state, attempts,
                         armed_attempts, ready_at, lease_owner, lease_until, last_error)
SELECT id, member_id, kind, subject, due_at, cycle, version, payload, state, attempts, 0,
       CASE WHEN state = 'leased' THEN COALESCE(lease_until, due_at) ELSE due_at END, lease_owner, lease_until,
       last_error
FROM timers;
DROP TABLE timers;
ALTER TABLE timers_0003 RENAME TO timers;
CREATE INDEX timers_ready ON timers (state, ready_at);
CREATE INDEX timers_member ON timers (member_id);

-- Small JSON documents per portal ("layout", "reconcile"). No foreign key to portals: a portal in webhook mode
-- may have no row there.
CREATE TABLE portal_settings (
    member_id  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    json       TEXT    NOT NULL CHECK (json_valid(json)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (member_id, key)
) STRICT;
