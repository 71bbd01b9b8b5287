-- Foundation schema: users, tenants, portal sessions, setup links, audit chain, outbox.
-- Times are Unix seconds (UTC). Ids are UUID v7 stored as 16-byte blobs.

CREATE TABLE users (
    id             BLOB PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    email          TEXT NOT NULL,
    mobile         TEXT,
    department     TEXT NOT NULL,
    user_type      TEXT NOT NULL CHECK (user_type IN ('officer', 'vendor')),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'suspended', 'terminated')),
    platform_admin INTEGER NOT NULL DEFAULT 0 CHECK (platform_admin IN (0, 1)),
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX users_email ON users (email);

CREATE TABLE tenants (
    id           BLOB PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE portal_sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    source_ip    TEXT
) STRICT;
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

CREATE TABLE setup_links (
    token_hash BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL,
    source_ip TEXT,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;

CREATE TABLE outbox (
    id              BLOB PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
