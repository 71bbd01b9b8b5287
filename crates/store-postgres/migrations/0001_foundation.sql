-- Foundation schema: users, tenants, portal sessions, setup links, audit chain, outbox.
-- Mirrors the SQLite schema column for column, so the shared row types decode from both.
-- Times are Unix seconds (UTC) as BIGINT. Ids are UUID v7. Usernames and slugs sort and
-- compare byte-wise (COLLATE "C"), as in SQLite, whatever the database's locale.

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    username       TEXT COLLATE "C" NOT NULL UNIQUE,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    email          TEXT NOT NULL,
    mobile         TEXT,
    department     TEXT NOT NULL,
    user_type      TEXT NOT NULL CHECK (user_type IN ('officer', 'vendor')),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'suspended', 'terminated')),
    platform_admin BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX users_email ON users (email);

CREATE TABLE tenants (
    id           UUID PRIMARY KEY,
    slug         TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE portal_sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    source_ip    TEXT
);
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

CREATE TABLE setup_links (
    token_hash BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL,
    source_ip TEXT,
    detail    TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);

CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
