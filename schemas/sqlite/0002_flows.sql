-- Tables for the flows (inbox worker, timers, outbox). Drafted with the store so the schema is reviewed as one;
-- their repositories come with the flows work. The PostgreSQL twin is schemas/postgres/0002_flows.sql.

-- The last state of a ticket we fetched from Bitrix24, diffed against the next fetch.
CREATE TABLE ticket_snapshots (
    member_id      TEXT    NOT NULL,
    entity_type_id INTEGER NOT NULL,
    item_id        INTEGER NOT NULL,
    stage_id       TEXT    NOT NULL DEFAULT '',
    assigned_by_id INTEGER NOT NULL DEFAULT 0,
    fields         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
    item_updated_at INTEGER NOT NULL DEFAULT 0,  -- Bitrix24 updatedTime
    fetched_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (member_id, entity_type_id, item_id)
) STRICT;

-- What happened to a ticket, in order (created, stage moved, assigned, paused, returned...). Append-only: the
-- triggers below refuse UPDATE and DELETE, so the SLA fold always sees the history it saw before.
CREATE TABLE ledger (
    id             INTEGER PRIMARY KEY,
    member_id      TEXT    NOT NULL,
    entity_type_id INTEGER NOT NULL,
    item_id        INTEGER NOT NULL,
    seq            INTEGER NOT NULL,            -- 1, 2, ... per ticket
    at             INTEGER NOT NULL,            -- the Bitrix24 event time
    kind           TEXT    NOT NULL,
    data           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
    recorded_at    INTEGER NOT NULL,
    UNIQUE (member_id, entity_type_id, item_id, seq)
) STRICT;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;

-- Durable timers (STYLE.md E5). `subject` names the ticket and starts with the member_id, so (kind, subject) is
-- unique across portals; re-arming replaces the row. `cycle` is the resolution cycle the timer belongs to and
-- `version` the ticket ledger length when it was armed, so a stale timer can recognise itself.
CREATE TABLE timers (
    id          INTEGER PRIMARY KEY,
    member_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    cycle       INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 0,
    payload     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    UNIQUE (kind, subject)
) STRICT;
CREATE INDEX timers_due ON timers (state, due_at);

-- Actions to perform in Bitrix24. The idempotency key makes queuing the same decision twice a no-op.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    member_id       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    method          TEXT    NOT NULL,
    params          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_try_at     INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
) STRICT;
CREATE INDEX outbox_ready ON outbox (state, next_try_at);
