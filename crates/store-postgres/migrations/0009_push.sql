-- Push approval with number matching: one-time enrolment tokens, the device keys that
-- authenticator apps register with them, and the sign-in challenges those devices answer.
-- Mirrors the SQLite migration column for column.

-- `device_id` is set, once, by the registration that used the token. It is no foreign
-- key: the device row is inserted after it, and a removed device leaves its token used.
CREATE TABLE push_enrolments (
    token_hash BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    device_id  UUID
);

-- `public_key` is an uncompressed SEC1 point (ES256) or 32 raw bytes (EdDSA).
CREATE TABLE push_devices (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    alg          TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA')),
    public_key   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_at BIGINT,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX push_devices_user ON push_devices (user_id, created_at);

-- `decided_by` names the device that answered; no foreign key, so removing a device keeps
-- the record of what it decided. `flow_token_hash` is the waiting sign-in's cookie hash.
CREATE TABLE push_challenges (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id),
    number          INTEGER NOT NULL CHECK (number BETWEEN 10 AND 99),
    app_name        TEXT NOT NULL,
    source_ip       TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'reported')),
    wrong_numbers   BIGINT NOT NULL CHECK (wrong_numbers >= 0),
    decided_at      BIGINT,
    decided_by      UUID,
    flow_token_hash BYTEA,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX push_challenges_open ON push_challenges (user_id, status, expires_at);
CREATE INDEX push_challenges_user ON push_challenges (user_id, created_at);
