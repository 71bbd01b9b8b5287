-- OAuth / OpenID Connect: apps (clients) and their secrets, signing keys, authorization
-- codes, refresh-token families, and access-token revocation.

CREATE TABLE oauth_clients (
    id                   BLOB PRIMARY KEY,
    tenant_id            BLOB NOT NULL REFERENCES tenants (id),
    client_id            TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    redirect_uris        TEXT NOT NULL,
    grant_types          TEXT NOT NULL,
    allowed_scopes       TEXT NOT NULL,
    id_token_alg         TEXT NOT NULL,
    access_token_ttl     INTEGER NOT NULL,
    refresh_idle_ttl     INTEGER NOT NULL,
    refresh_absolute_ttl INTEGER NOT NULL,
    created_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

CREATE TABLE client_secrets (
    id          INTEGER PRIMARY KEY,
    client      BLOB NOT NULL REFERENCES oauth_clients (id),
    secret_hmac BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
) STRICT;
CREATE INDEX client_secrets_client ON client_secrets (client);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER,
    expires_at     INTEGER
) STRICT;

CREATE TABLE authorization_codes (
    code_hash      BLOB PRIMARY KEY,
    client         BLOB NOT NULL REFERENCES oauth_clients (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    acr            TEXT NOT NULL,
    sid            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    family_id      BLOB
) STRICT;
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash        BLOB PRIMARY KEY,
    family_id         BLOB NOT NULL,
    client            BLOB NOT NULL REFERENCES oauth_clients (id),
    user_id           BLOB NOT NULL REFERENCES users (id),
    scope             TEXT NOT NULL,
    auth_time         INTEGER NOT NULL,
    amr               TEXT NOT NULL,
    acr               TEXT NOT NULL,
    sid               TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    family_expires_at INTEGER NOT NULL,
    used_at           INTEGER,
    revoked_at        INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE issued_access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  BLOB,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX issued_access_tokens_family ON issued_access_tokens (family_id);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
