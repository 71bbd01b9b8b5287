-- Account lifecycle: sponsors' invitations, officers' self-registrations, pending accounts
-- with activation deadlines, administrator settings, and the assurance of portal sessions.
-- Mirrors the SQLite migration column for column. Users and invitations carry a version for
-- compare-and-set updates (existing rows: 1).

ALTER TABLE users ADD COLUMN password_is_initial BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN sponsor UUID REFERENCES users (id);
-- Offshore details: present when `offshore` is true; the three texts are absent in an ODC.
ALTER TABLE users ADD COLUMN offshore BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN offshore_in_odc BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN reporting_officer_name TEXT;
ALTER TABLE users ADD COLUMN reporting_officer_email TEXT;
ALTER TABLE users ADD COLUMN company_address TEXT;
ALTER TABLE users ADD COLUMN device_onboarding BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN activation_deadline BIGINT;
ALTER TABLE users ADD COLUMN reminders_sent BIGINT NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0);
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_deadline ON users (state, activation_deadline);

ALTER TABLE portal_sessions ADD COLUMN assurance TEXT NOT NULL DEFAULT 'password' CHECK (assurance IN ('email_code', 'password'));

-- The administrator's history of one account (or any other target), newest first.
CREATE INDEX audit_events_target ON audit_events (target, seq);

-- The account an invitation or a self-registration made is checked at commit (deferred),
-- so a registration may claim the invitation by compare-and-set first and create the
-- account after: concurrent losers then stop at the claim without touching `users`.
CREATE TABLE invitations (
    id              UUID PRIMARY KEY,
    email           TEXT NOT NULL,
    sponsor         UUID NOT NULL REFERENCES users (id),
    user_type       TEXT NOT NULL CHECK (user_type IN ('officer', 'vendor')),
    offshore        BOOLEAN NOT NULL,
    odc             BOOLEAN NOT NULL,
    seed            BOOLEAN NOT NULL,
    token_hash      BYTEA NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('sent', 'registered', 'expired', 'revoked')),
    registered_user UUID REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    sends           BIGINT NOT NULL CHECK (sends >= 0),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX invitations_sponsor ON invitations (sponsor, id);
CREATE INDEX invitations_status ON invitations (status, expires_at);

CREATE TABLE self_registrations (
    id              UUID PRIMARY KEY,
    email           TEXT NOT NULL,
    token_hash      BYTEA NOT NULL UNIQUE,
    code_mac        BYTEA NOT NULL,
    code_expires_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL CHECK (attempts >= 0),
    sends           BIGINT NOT NULL CHECK (sends >= 0),
    last_sent_at    BIGINT NOT NULL,
    verified_at     BIGINT,
    completed_user  UUID REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at      BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX self_registrations_email ON self_registrations (lower(email), created_at);

CREATE TABLE settings (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
