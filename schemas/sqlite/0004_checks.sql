-- The inbox, outbox and timers are rebuilt so their CHECKs list allowed values with OR instead of IN. SQLite
-- (3.40) evaluates a CHECK's IN list of three or more constants by building a temporary b-tree on every INSERT
-- and UPDATE of the row; for the inbox that was a third of the cost of an acknowledged event. The allowed values
-- are unchanged. SQLite cannot alter a CHECK, hence the copies; ids and the timers' AUTOINCREMENT sequence are
-- kept, so fencing tokens issued before the migration stay unique. tests/unit/store/schema_test.cpp checks that
-- no statement on these tables builds a temporary b-tree again.

CREATE TABLE inbox_0004 (
    id             INTEGER PRIMARY KEY,
    member_id      TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind = 'event' OR kind = 'robot' OR kind = 'install' OR kind = 'hook'),
    event_name     TEXT    NOT NULL DEFAULT '',
    entity_type_id INTEGER NOT NULL DEFAULT 0,
    item_id        INTEGER NOT NULL DEFAULT 0,
    payload        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    dedup_key      TEXT    NOT NULL UNIQUE,
    state          TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (state = 'pending' OR state = 'claimed' OR state = 'done' OR state = 'dead'),
    attempts       INTEGER NOT NULL DEFAULT 0,
    available_at   INTEGER NOT NULL,            -- not claimable before this instant (retry backoff)
    claimed_until  INTEGER,                     -- lease end while state = 'claimed'
    last_error     TEXT,
    done_at        INTEGER
) STRICT;
INSERT INTO inbox_0004 (id, member_id, received_at, kind, event_name, entity_type_id, item_id, payload, dedup_key,
                        state, attempts, available_at, claimed_until, last_error, done_at)
SELECT id, member_id, received_at, kind, event_name, entity_type_id, item_id, payload, dedup_key, state, attempts,
       available_at, claimed_until, last_error, done_at
FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_0004 RENAME TO inbox;
CREATE INDEX inbox_ready ON inbox (state, available_at);
-- The claim asks "is there an older unfinished row of this ticket?" for every candidate. (Two values: SQLite
-- compares them in place.)
CREATE INDEX inbox_ticket_open ON inbox (member_id, entity_type_id, item_id, id) WHERE state IN ('pending', 'claimed');

CREATE TABLE outbox_0004 (
    id              INTEGER PRIMARY KEY,
    member_id       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    method          TEXT    NOT NULL,
    params          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state = 'pending' OR state = 'leased' OR state = 'done' OR state = 'dead'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_try_at     INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    subject         TEXT    NOT NULL DEFAULT ''  -- the ticket an action belongs to (0003)
) STRICT;
INSERT INTO outbox_0004 (id, member_id, idempotency_key, method, params, state, attempts, next_try_at, lease_until,
                         last_error, created_at, done_at, subject)
SELECT id, member_id, idempotency_key, method, params, state, attempts, next_try_at, lease_until, last_error,
       created_at, done_at, subject
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_0004 RENAME TO outbox;
CREATE INDEX outbox_ready ON outbox (state, next_try_at);
CREATE INDEX outbox_subject_open ON outbox (member_id, subject, id) WHERE state IN ('pending', 'leased');

CREATE TABLE timers_0004 (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    due_at         INTEGER NOT NULL,
    cycle          INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 0,
    payload        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state          TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (state = 'pending' OR state = 'leased' OR state = 'done' OR state = 'dead'),
    attempts       INTEGER NOT NULL DEFAULT 0,
    armed_attempts INTEGER NOT NULL DEFAULT 0,
    ready_at       INTEGER NOT NULL,
    lease_owner    TEXT,
    lease_until    INTEGER,
    last_error     TEXT,
    UNIQUE (kind, subject)
) STRICT;
INSERT INTO timers_0004 (id, member_id, kind, subject, due_at, cycle, version, payload, state, attempts,
                         armed_attempts, ready_at, lease_owner, lease_until, last_error)
SELECT id, member_id, kind, subject, due_at, cycle, version, payload, state, attempts, armed_attempts, ready_at,
       lease_owner, lease_until, last_error
FROM timers;
-- A deleted timer may have held the highest id: the sequence carries over, not just max(id).
DELETE FROM sqlite_sequence WHERE name = 'timers_0004';
INSERT INTO sqlite_sequence (name, seq) SELECT 'timers_0004', seq FROM sqlite_sequence WHERE name = 'timers';
DROP TABLE timers;
ALTER TABLE timers_0004 RENAME TO timers;
CREATE INDEX timers_ready ON timers (state, ready_at);
CREATE INDEX timers_member ON timers (member_id);
