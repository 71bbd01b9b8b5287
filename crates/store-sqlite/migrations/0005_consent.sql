-- Consent: apps may require the user's consent; a decision is remembered per user and app
-- (with the scopes granted) until the user revokes it.

ALTER TABLE oauth_clients ADD COLUMN consent_required INTEGER NOT NULL DEFAULT 0 CHECK (consent_required IN (0, 1));

CREATE TABLE consents (
    user_id    BLOB NOT NULL REFERENCES users (id),
    client     BLOB NOT NULL REFERENCES oauth_clients (id),
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client)
) STRICT;
