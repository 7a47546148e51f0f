-- PostgreSQL twin of schemas/sqlite/0001_core.sql: same tables, columns and meanings. Times are UTC milliseconds.

CREATE TABLE portals (
    member_id         TEXT    PRIMARY KEY,
    domain            TEXT    NOT NULL UNIQUE,
    client_endpoint   TEXT    NOT NULL DEFAULT '',
    server_endpoint   TEXT    NOT NULL DEFAULT '',
    application_token TEXT    NOT NULL DEFAULT '',
    auth_mode         TEXT    NOT NULL CHECK (auth_mode IN ('oauth', 'webhook')),
    status            TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'uninstalled')),
    installed_at      BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);

CREATE TABLE tokens (
    member_id     TEXT    PRIMARY KEY REFERENCES portals (member_id) ON DELETE CASCADE,
    access_token  TEXT    NOT NULL,
    refresh_token TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL,
    scope         TEXT    NOT NULL DEFAULT '',
    updated_at    BIGINT  NOT NULL,
    version       BIGINT  NOT NULL CHECK (version >= 1)
);

-- payload is TEXT, not jsonb: stored byte for byte as received (jsonb would reorder keys); the caller validates it.
CREATE TABLE inbox (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id      TEXT    NOT NULL,
    received_at    BIGINT  NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('event', 'robot', 'install', 'hook')),
    event_name     TEXT    NOT NULL DEFAULT '',
    entity_type_id BIGINT  NOT NULL DEFAULT 0,
    item_id        BIGINT  NOT NULL DEFAULT 0,
    payload        TEXT    NOT NULL DEFAULT '{}',
    dedup_key      TEXT    NOT NULL UNIQUE,
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'dead')),
    attempts       BIGINT  NOT NULL DEFAULT 0,
    available_at   BIGINT  NOT NULL,
    claimed_until  BIGINT,
    last_error     TEXT,
    done_at        BIGINT
);
CREATE INDEX inbox_ready ON inbox (state, available_at);
CREATE INDEX inbox_ticket_open ON inbox (member_id, entity_type_id, item_id, id) WHERE state IN ('pending', 'claimed');
