-- PostgreSQL twin of schemas/sqlite/0002_flows.sql.

CREATE TABLE ticket_snapshots (
    member_id       TEXT    NOT NULL,
    entity_type_id  BIGINT  NOT NULL,
    item_id         BIGINT  NOT NULL,
    stage_id        TEXT    NOT NULL DEFAULT '',
    assigned_by_id  BIGINT  NOT NULL DEFAULT 0,
    fields          TEXT    NOT NULL DEFAULT '{}',
    item_updated_at BIGINT  NOT NULL DEFAULT 0,
    fetched_at      BIGINT  NOT NULL,
    version         BIGINT  NOT NULL DEFAULT 1,
    PRIMARY KEY (member_id, entity_type_id, item_id)
);

CREATE TABLE ledger (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id      TEXT    NOT NULL,
    entity_type_id BIGINT  NOT NULL,
    item_id        BIGINT  NOT NULL,
    seq            BIGINT  NOT NULL,
    at             BIGINT  NOT NULL,
    kind           TEXT    NOT NULL,
    data           TEXT    NOT NULL DEFAULT '{}',
    recorded_at    BIGINT  NOT NULL,
    UNIQUE (member_id, entity_type_id, item_id, seq)
);
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only';
END;
$$;
CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TABLE timers (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    due_at      BIGINT  NOT NULL,
    cycle       BIGINT  NOT NULL DEFAULT 0,
    version     BIGINT  NOT NULL DEFAULT 0,
    payload     TEXT    NOT NULL DEFAULT '{}',
    state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'dead')),
    attempts    BIGINT  NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    UNIQUE (kind, subject)
);
CREATE INDEX timers_due ON timers (state, due_at);

CREATE TABLE outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    method          TEXT    NOT NULL,
    params          TEXT    NOT NULL DEFAULT '{}',
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_try_at     BIGINT  NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    done_at         BIGINT
);
CREATE INDEX outbox_ready ON outbox (state, next_try_at);
