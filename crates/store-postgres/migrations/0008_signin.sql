-- Sign-in and onboarding: authenticator-app keys, sign-ins in progress, failure counters
-- for lockout, SMS code challenges, versioned policy documents and their acceptances, the
-- time a mobile number was proven, and the methods a portal session's sign-in used.
-- Mirrors the SQLite migration column for column.

ALTER TABLE users ADD COLUMN phone_verified_at BIGINT;

-- Sessions gain `amr` (space-separated RFC 8176 methods; sessions from before used a
-- password, email-code sessions none) and the 'mfa' assurance.
ALTER TABLE portal_sessions DROP CONSTRAINT portal_sessions_assurance_check;
ALTER TABLE portal_sessions ADD CONSTRAINT portal_sessions_assurance_check
    CHECK (assurance IN ('email_code', 'password', 'mfa'));
ALTER TABLE portal_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
UPDATE portal_sessions SET amr = '' WHERE assurance = 'email_code';
DROP INDEX portal_sessions_user;
CREATE INDEX portal_sessions_user ON portal_sessions (user_id, created_at);

-- The key is sealed (AES-GCM) by the core; the store never sees it in the clear.
CREATE TABLE totp_credentials (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id),
    sealed_secret  BYTEA NOT NULL,
    label          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    confirmed_at   BIGINT,
    last_used_step BIGINT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX totp_credentials_user ON totp_credentials (user_id, created_at);

-- `user_id` is absent when the typed username names no account.
CREATE TABLE sign_in_flows (
    token_hash       BYTEA PRIMARY KEY,
    username         TEXT NOT NULL,
    user_id          UUID REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    password_at      BIGINT,
    second_factor_at BIGINT,
    amr              TEXT NOT NULL,
    return_to        TEXT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX sign_in_flows_expiry ON sign_in_flows (expires_at);

-- One row per subject (`password:user:<id>`, `password:ip:<addr>`…), shared by every node.
CREATE TABLE lockouts (
    subject           TEXT COLLATE "C" PRIMARY KEY,
    failures          BIGINT NOT NULL CHECK (failures >= 0),
    window_started_at BIGINT NOT NULL,
    locked_until      BIGINT,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE code_challenges (
    id           UUID PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('phone_verification', 'password_reset', 'mobile_change')),
    user_id      UUID NOT NULL REFERENCES users (id),
    target       TEXT NOT NULL,
    code_mac     BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    attempts     BIGINT NOT NULL CHECK (attempts >= 0),
    sends        BIGINT NOT NULL CHECK (sends >= 0),
    last_sent_at BIGINT NOT NULL,
    verified_at  BIGINT,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX code_challenges_user ON code_challenges (user_id, purpose, created_at);

-- Published versions are never changed; a new version is a new row.
CREATE TABLE policy_documents (
    kind         TEXT NOT NULL CHECK (kind IN ('privacy', 'terms', 'mdm_aup')),
    version      INTEGER NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (kind, version)
);

-- Only a published version can be accepted.
CREATE TABLE policy_acceptances (
    user_id     UUID NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, version),
    FOREIGN KEY (kind, version) REFERENCES policy_documents (kind, version)
);
