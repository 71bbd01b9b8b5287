-- OAuth / OpenID Connect: apps (clients) and their secrets, signing keys, authorization
-- codes, refresh-token families, and access-token revocation.
-- Mirrors the SQLite schema column for column, so the shared row types decode from both.
-- Text that is sorted or compared (client names and ids, key ids) uses COLLATE "C", so it
-- orders byte-wise as in SQLite, whatever the database's locale.

CREATE TABLE oauth_clients (
    id                   UUID PRIMARY KEY,
    tenant_id            UUID NOT NULL REFERENCES tenants (id),
    client_id            TEXT COLLATE "C" NOT NULL UNIQUE,
    name                 TEXT COLLATE "C" NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    redirect_uris        TEXT NOT NULL,
    grant_types          TEXT NOT NULL,
    allowed_scopes       TEXT NOT NULL,
    id_token_alg         TEXT NOT NULL,
    access_token_ttl     BIGINT NOT NULL,
    refresh_idle_ttl     BIGINT NOT NULL,
    refresh_absolute_ttl BIGINT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

CREATE TABLE client_secrets (
    id          BIGSERIAL PRIMARY KEY,
    client      UUID NOT NULL REFERENCES oauth_clients (id),
    secret_hmac BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX client_secrets_client ON client_secrets (client);

CREATE TABLE signing_keys (
    kid            TEXT COLLATE "C" PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT,
    expires_at     BIGINT
);

CREATE TABLE authorization_codes (
    code_hash      BYTEA PRIMARY KEY,
    client         UUID NOT NULL REFERENCES oauth_clients (id),
    user_id        UUID NOT NULL REFERENCES users (id),
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    amr            TEXT NOT NULL,
    acr            TEXT NOT NULL,
    sid            TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      UUID
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash        BYTEA PRIMARY KEY,
    family_id         UUID NOT NULL,
    client            UUID NOT NULL REFERENCES oauth_clients (id),
    user_id           UUID NOT NULL REFERENCES users (id),
    scope             TEXT NOT NULL,
    auth_time         BIGINT NOT NULL,
    amr               TEXT NOT NULL,
    acr               TEXT NOT NULL,
    sid               TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    family_expires_at BIGINT NOT NULL,
    used_at           BIGINT,
    revoked_at        BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE issued_access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  UUID,
    expires_at BIGINT NOT NULL
);
CREATE INDEX issued_access_tokens_family ON issued_access_tokens (family_id);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
