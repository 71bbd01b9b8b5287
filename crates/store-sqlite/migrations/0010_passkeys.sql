-- Passkeys (WebAuthn): registered credentials, the state of ceremonies in progress (in the
-- database, never in a cookie, so any node can finish a ceremony, once), and the per-app
-- requirement of phishing-resistant MFA.

-- `passkey_json` is webauthn-rs's `Passkey`; its signature counter changes with each use.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id),
    credential_id BLOB NOT NULL UNIQUE,
    passkey_json  TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    version       INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- `user_id` is empty for a passwordless sign-in, where the passkey names the account.
CREATE TABLE passkey_ceremonies (
    token_hash BLOB PRIMARY KEY,
    user_id    BLOB REFERENCES users (id),
    kind       TEXT NOT NULL,
    state_json TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

ALTER TABLE oauth_clients ADD COLUMN require_phishing_resistant INTEGER NOT NULL DEFAULT 0 CHECK (require_phishing_resistant IN (0, 1));
