-- private_key_jwt client authentication (RFC 7523): an app's public keys (inline JWKS or
-- a JWKS URI), and the assertion ids already used, so an assertion works once.

ALTER TABLE oauth_clients ADD COLUMN jwks TEXT;
ALTER TABLE oauth_clients ADD COLUMN jwks_uri TEXT;

CREATE TABLE client_assertion_jtis (
    client     UUID NOT NULL REFERENCES oauth_clients (id),
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client, jti)
);
