-- Consent: apps may require the user's consent; a decision is remembered per user and app
-- (with the scopes granted) until the user revokes it.

ALTER TABLE oauth_clients ADD COLUMN consent_required BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE consents (
    user_id    UUID NOT NULL REFERENCES users (id),
    client     UUID NOT NULL REFERENCES oauth_clients (id),
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client)
);
