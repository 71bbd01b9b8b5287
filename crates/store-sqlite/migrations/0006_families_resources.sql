-- Refresh-token families carry their revocation as one flag that every rotation reads, so
-- a family revoked while one of its tokens is being rotated stays revoked. Apps list the
-- resources (RFC 8707) their client_credentials tokens may be issued for.

CREATE TABLE refresh_families (
    family_id  BLOB PRIMARY KEY,
    revoked_at INTEGER
) STRICT;
INSERT INTO refresh_families (family_id, revoked_at)
    SELECT family_id, MAX(revoked_at) FROM refresh_tokens GROUP BY family_id;

ALTER TABLE oauth_clients ADD COLUMN allowed_resources TEXT NOT NULL DEFAULT '';
