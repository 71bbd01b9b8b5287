-- Delegated tenant administration: tenant admins, tenant groups and their members, the
-- description and access rules of apps, users' requests to use an app that refused them,
-- API idempotency keys, and the tenant an audit event is filed under.

-- `access_rules` is the JSON of the app's AccessRules; NULL (apps from before) admits
-- every active user, as those apps always did.
ALTER TABLE oauth_clients ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN access_rules TEXT;

-- No foreign key: an audit record must never fail to be written (nor block a change).
ALTER TABLE audit_events ADD COLUMN tenant_id BLOB;
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, seq);

CREATE TABLE tenant_admins (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    user_id   BLOB NOT NULL REFERENCES users (id),
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) STRICT;
CREATE INDEX tenant_admins_user ON tenant_admins (user_id);

-- Names are unique per tenant without regard to (ASCII) case.
CREATE TABLE tenant_groups (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX tenant_groups_name ON tenant_groups (tenant_id, lower(name));

CREATE TABLE group_members (
    group_id BLOB NOT NULL REFERENCES tenant_groups (id) ON DELETE CASCADE,
    user_id  BLOB NOT NULL REFERENCES users (id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX group_members_user ON group_members (user_id);

-- A user has at most one pending request per app; decided ones are kept as history.
-- `decided_by` is the deciding actor as encoded in the audit log.
CREATE TABLE access_requests (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    app_id     BLOB NOT NULL REFERENCES oauth_clients (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    reason     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT
) STRICT;
CREATE UNIQUE INDEX access_requests_pending ON access_requests (app_id, user_id) WHERE status = 'pending';
CREATE INDEX access_requests_tenant ON access_requests (tenant_id, created_at);

-- `status` and `body` are absent while the first request with the key still runs.
CREATE TABLE idempotency_keys (
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER,
    body        TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The groups a tenant admin invited someone into: joined when the invitation registers.
CREATE TABLE invitation_groups (
    invitation_id BLOB NOT NULL REFERENCES invitations (id),
    group_id      BLOB NOT NULL REFERENCES tenant_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
) STRICT;
