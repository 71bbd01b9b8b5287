-- Pushed authorization requests (RFC 9126), the device grant (RFC 8628), and logout:
-- post-logout redirect URIs, back-channel logout URIs, which apps each session reached,
-- and back-channel logout tokens as a new outbox channel.

ALTER TABLE oauth_clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0 CHECK (require_par IN (0, 1));
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri TEXT;

CREATE TABLE pushed_requests (
    request_hash BLOB PRIMARY KEY,
    client       BLOB NOT NULL REFERENCES oauth_clients (id),
    params       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) STRICT;

CREATE TABLE device_grants (
    device_code_hash BLOB PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client           BLOB NOT NULL REFERENCES oauth_clients (id),
    scope            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id          BLOB REFERENCES users (id),
    auth_time        INTEGER,
    amr              TEXT,
    acr              TEXT,
    sid              TEXT
) STRICT;

CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client     BLOB NOT NULL REFERENCES oauth_clients (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (sid, client)
) STRICT;
CREATE INDEX refresh_tokens_sid ON refresh_tokens (sid);

-- SQLite cannot alter a CHECK constraint: rebuild the outbox with the new channel.
CREATE TABLE outbox_next (
    id              BLOB PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'backchannel_logout')),
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
INSERT INTO outbox_next SELECT id, channel, recipient, subject, body, status, attempts, created_at,
    next_attempt_at, claimed_until, last_error, delivered_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
