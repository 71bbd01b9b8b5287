-- Passkeys (WebAuthn): registered credentials, the state of ceremonies in progress (in the
-- database, never in a cookie, so any node can finish a ceremony, once), and the per-app
-- requirement of phishing-resistant MFA. Mirrors the SQLite migration column for column.

-- `passkey_json` is webauthn-rs's `Passkey`; its signature counter changes with each use.
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id),
    credential_id BYTEA NOT NULL UNIQUE,
    passkey_json  TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- `user_id` is empty for a passwordless sign-in, where the passkey names the account.
CREATE TABLE passkey_ceremonies (
    token_hash BYTEA PRIMARY KEY,
    user_id    UUID REFERENCES users (id),
    kind       TEXT NOT NULL,
    state_json TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

ALTER TABLE oauth_clients ADD COLUMN require_phishing_resistant BOOLEAN NOT NULL DEFAULT false;
