-- Portals, their OAuth tokens, and the durable inbox. Times are UTC milliseconds (INTEGER). Every table carries
-- member_id, the Bitrix24 portal (DESIGN.md §6). The PostgreSQL twin is schemas/postgres/0001_core.sql.

CREATE TABLE portals (
    member_id         TEXT    PRIMARY KEY,
    domain            TEXT    NOT NULL UNIQUE,
    client_endpoint   TEXT    NOT NULL DEFAULT '',
    server_endpoint   TEXT    NOT NULL DEFAULT '',
    application_token TEXT    NOT NULL DEFAULT '',
    auth_mode         TEXT    NOT NULL CHECK (auth_mode IN ('oauth', 'webhook')),
    status            TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'uninstalled')),
    installed_at      INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- One row per portal. `version` is the optimistic-concurrency counter: a refresher swaps only if it still holds
-- the version it read, so two refreshers cannot both spend the same single-use refresh token unnoticed.
CREATE TABLE tokens (
    member_id     TEXT    PRIMARY KEY REFERENCES portals (member_id) ON DELETE CASCADE,
    access_token  TEXT    NOT NULL,
    refresh_token TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL,
    scope         TEXT    NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

-- Everything Bitrix24 posts to us, stored before we answer 200. No foreign key to portals: the install callback
-- is itself an inbox row that precedes its portal.
CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY,
    member_id      TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('event', 'robot', 'install', 'hook')),
    event_name     TEXT    NOT NULL DEFAULT '',
    entity_type_id INTEGER NOT NULL DEFAULT 0,
    item_id        INTEGER NOT NULL DEFAULT 0,
    payload        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    dedup_key      TEXT    NOT NULL UNIQUE,
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    available_at   INTEGER NOT NULL,            -- not claimable before this instant (retry backoff)
    claimed_until  INTEGER,                     -- lease end while state = 'claimed'
    last_error     TEXT,
    done_at        INTEGER
) STRICT;
CREATE INDEX inbox_ready ON inbox (state, available_at);
-- The claim asks "is there an older unfinished row of this ticket?" for every candidate.
CREATE INDEX inbox_ticket_open ON inbox (member_id, entity_type_id, item_id, id) WHERE state IN ('pending', 'claimed');
