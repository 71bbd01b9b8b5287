-- Sign-in and onboarding: authenticator-app keys, sign-ins in progress, failure counters
-- for lockout, SMS code challenges, versioned policy documents and their acceptances, the
-- time a mobile number was proven, and the methods a portal session's sign-in used.

ALTER TABLE users ADD COLUMN phone_verified_at INTEGER;

-- Sessions gain `amr` (space-separated RFC 8176 methods; sessions from before used a
-- password, email-code sessions none) and the 'mfa' assurance. SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt; no other table references it.
CREATE TABLE portal_sessions_v8 (
    token_hash   BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    source_ip    TEXT,
    assurance    TEXT NOT NULL DEFAULT 'password' CHECK (assurance IN ('email_code', 'password', 'mfa')),
    amr          TEXT NOT NULL DEFAULT 'pwd'
) STRICT;
INSERT INTO portal_sessions_v8 (token_hash, user_id, created_at, last_seen_at, expires_at, source_ip, assurance, amr)
    SELECT token_hash, user_id, created_at, last_seen_at, expires_at, source_ip, assurance,
           CASE assurance WHEN 'email_code' THEN '' ELSE 'pwd' END
    FROM portal_sessions;
DROP TABLE portal_sessions;
ALTER TABLE portal_sessions_v8 RENAME TO portal_sessions;
CREATE INDEX portal_sessions_user ON portal_sessions (user_id, created_at);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- The key is sealed (AES-GCM) by the core; the store never sees it in the clear.
CREATE TABLE totp_credentials (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL REFERENCES users (id),
    sealed_secret  BLOB NOT NULL,
    label          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    confirmed_at   INTEGER,
    last_used_step INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX totp_credentials_user ON totp_credentials (user_id, created_at);

-- `user_id` is absent when the typed username names no account.
CREATE TABLE sign_in_flows (
    token_hash       BLOB PRIMARY KEY,
    username         TEXT NOT NULL,
    user_id          BLOB REFERENCES users (id),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    password_at      INTEGER,
    second_factor_at INTEGER,
    amr              TEXT NOT NULL,
    return_to        TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX sign_in_flows_expiry ON sign_in_flows (expires_at);

-- One row per subject (`password:user:<id>`, `password:ip:<addr>`…), shared by every node.
CREATE TABLE lockouts (
    subject           TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL CHECK (failures >= 0),
    window_started_at INTEGER NOT NULL,
    locked_until      INTEGER,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE code_challenges (
    id           BLOB PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('phone_verification', 'password_reset', 'mobile_change')),
    user_id      BLOB NOT NULL REFERENCES users (id),
    target       TEXT NOT NULL,
    code_mac     BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    sends        INTEGER NOT NULL CHECK (sends >= 0),
    last_sent_at INTEGER NOT NULL,
    verified_at  INTEGER,
    version      INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX code_challenges_user ON code_challenges (user_id, purpose, created_at);

-- Published versions are never changed; a new version is a new row.
CREATE TABLE policy_documents (
    kind         TEXT NOT NULL CHECK (kind IN ('privacy', 'terms', 'mdm_aup')),
    version      INTEGER NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (kind, version)
) STRICT;

-- Only a published version can be accepted.
CREATE TABLE policy_acceptances (
    user_id     BLOB NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, version),
    FOREIGN KEY (kind, version) REFERENCES policy_documents (kind, version)
) STRICT;
