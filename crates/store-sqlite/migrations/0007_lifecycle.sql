-- Account lifecycle: sponsors' invitations, officers' self-registrations, pending accounts
-- with activation deadlines, administrator settings, and the assurance of portal sessions.
-- Users and invitations carry a version for compare-and-set updates (existing rows: 1).

ALTER TABLE users ADD COLUMN password_is_initial INTEGER NOT NULL DEFAULT 0 CHECK (password_is_initial IN (0, 1));
ALTER TABLE users ADD COLUMN sponsor BLOB REFERENCES users (id);
-- Offshore details: present when `offshore` is 1; the three texts are absent in an ODC.
ALTER TABLE users ADD COLUMN offshore INTEGER NOT NULL DEFAULT 0 CHECK (offshore IN (0, 1));
ALTER TABLE users ADD COLUMN offshore_in_odc INTEGER NOT NULL DEFAULT 0 CHECK (offshore_in_odc IN (0, 1));
ALTER TABLE users ADD COLUMN reporting_officer_name TEXT;
ALTER TABLE users ADD COLUMN reporting_officer_email TEXT;
ALTER TABLE users ADD COLUMN company_address TEXT;
ALTER TABLE users ADD COLUMN device_onboarding INTEGER NOT NULL DEFAULT 0 CHECK (device_onboarding IN (0, 1));
ALTER TABLE users ADD COLUMN activation_deadline INTEGER;
ALTER TABLE users ADD COLUMN reminders_sent INTEGER NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0);
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_deadline ON users (state, activation_deadline);

ALTER TABLE portal_sessions ADD COLUMN assurance TEXT NOT NULL DEFAULT 'password' CHECK (assurance IN ('email_code', 'password'));

-- The administrator's history of one account (or any other target), newest first.
CREATE INDEX audit_events_target ON audit_events (target, seq);

-- The account an invitation or a self-registration made is checked at commit (deferred),
-- so a registration may claim the invitation by compare-and-set first and create the
-- account after: concurrent losers then stop at the claim without touching `users`.
CREATE TABLE invitations (
    id              BLOB PRIMARY KEY,
    email           TEXT NOT NULL,
    sponsor         BLOB NOT NULL REFERENCES users (id),
    user_type       TEXT NOT NULL CHECK (user_type IN ('officer', 'vendor')),
    offshore        INTEGER NOT NULL CHECK (offshore IN (0, 1)),
    odc             INTEGER NOT NULL CHECK (odc IN (0, 1)),
    seed            INTEGER NOT NULL CHECK (seed IN (0, 1)),
    token_hash      BLOB NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('sent', 'registered', 'expired', 'revoked')),
    registered_user BLOB REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    sends           INTEGER NOT NULL CHECK (sends >= 0),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX invitations_sponsor ON invitations (sponsor, id);
CREATE INDEX invitations_status ON invitations (status, expires_at);

CREATE TABLE self_registrations (
    id              BLOB PRIMARY KEY,
    email           TEXT NOT NULL,
    token_hash      BLOB NOT NULL UNIQUE,
    code_mac        BLOB NOT NULL,
    code_expires_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    sends           INTEGER NOT NULL CHECK (sends >= 0),
    last_sent_at    INTEGER NOT NULL,
    verified_at     INTEGER,
    completed_user  BLOB REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX self_registrations_email ON self_registrations (lower(email), created_at);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
