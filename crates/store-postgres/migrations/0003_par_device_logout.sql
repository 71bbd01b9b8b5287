-- Pushed authorization requests (RFC 9126), the device grant (RFC 8628), and logout:
-- post-logout redirect URIs, back-channel logout URIs, which apps each session reached,
-- and back-channel logout tokens as a new outbox channel.

ALTER TABLE oauth_clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri TEXT;

CREATE TABLE pushed_requests (
    request_hash BYTEA PRIMARY KEY,
    client       UUID NOT NULL REFERENCES oauth_clients (id),
    params       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

CREATE TABLE device_grants (
    device_code_hash BYTEA PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client           UUID NOT NULL REFERENCES oauth_clients (id),
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id          UUID REFERENCES users (id),
    auth_time        BIGINT,
    amr              TEXT,
    acr              TEXT,
    sid              TEXT
);

CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client     UUID NOT NULL REFERENCES oauth_clients (id),
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client)
);
CREATE INDEX refresh_tokens_sid ON refresh_tokens (sid);

ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'sms', 'backchannel_logout'));
