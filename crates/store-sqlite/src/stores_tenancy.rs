//! The tenancy store on SQLite: tenant admins, groups and members, editable apps and their
//! secrets, access requests, idempotency keys and the filtered audit query. Every write
//! holds SQLite's single write lock, so each conditional update has exactly one winner.

use crate::SqliteTx;
use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite};
use tessera_domain::audit::AuditRecord;
use tessera_domain::clock::to_unix;
use tessera_domain::oauth::OAuthClient;
use tessera_domain::tenancy::{AccessRequest, AccessRequestStatus, AppSecret, TenantGroup};
use tessera_domain::tenant::Tenant;
use tessera_domain::user::User;
use tessera_domain::{AccessRequestId, AppId, GroupId, InvitationId, TenantId, UserId};
use tessera_store::{AuditQuery, IdempotencyRecord, StoreError, TenancyStore};
use tessera_store_sql::{
    AccessRequestRow, AppSecretRow, AuditRow, ClientRow, GroupRow, IdempotencyRow, TenantRow,
    UserRow, access_request_columns, access_rules_json, audit_columns, client_columns, convert_all,
    db_err, group_columns, idempotency_columns, idempotency_status, inserted, join, user_columns,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Tables whose rows name an app in their `client` column: removed with the app.
const CLIENT_DEPENDENTS: [&str; 8] = [
    "DELETE FROM client_secrets WHERE client = ?",
    "DELETE FROM authorization_codes WHERE client = ?",
    "DELETE FROM refresh_tokens WHERE client = ?",
    "DELETE FROM pushed_requests WHERE client = ?",
    "DELETE FROM device_grants WHERE client = ?",
    "DELETE FROM session_clients WHERE client = ?",
    "DELETE FROM client_assertion_jtis WHERE client = ?",
    "DELETE FROM consents WHERE client = ?",
];

#[async_trait]
impl TenancyStore for SqliteTx {
    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, slug, display_name, created_at FROM tenants WHERE id = ?",
        )
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(Tenant::from))
    }

    async fn add_tenant_admin(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenant_admins (tenant_id, user_id, added_at) VALUES (?, ?, ?) \
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .bind(to_unix(at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn remove_tenant_admin(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tenant_admins WHERE tenant_id = ? AND user_id = ?")
            .bind(tenant.as_uuid())
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenant_admins(&mut self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id IN (SELECT user_id FROM tenant_admins WHERE tenant_id = ?)",
            " ORDER BY username"
        ))
        .bind(tenant.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn is_tenant_admin(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM tenant_admins WHERE tenant_id = ? AND user_id = ?")
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn tenants_administered_by(&mut self, user: UserId) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query_as::<_, TenantRow>(
            "SELECT id, slug, display_name, created_at FROM tenants \
             WHERE id IN (SELECT tenant_id FROM tenant_admins WHERE user_id = ?) ORDER BY slug",
        )
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn insert_group(&mut self, g: &TenantGroup) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO tenant_groups (",
            group_columns!(),
            ") VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        ))
        .bind(g.id.as_uuid())
        .bind(g.tenant_id.as_uuid())
        .bind(g.name.clone())
        .bind(g.description.clone())
        .bind(to_unix(g.created_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        inserted(done.rows_affected(), "name")
    }

    async fn group_in_tenant(
        &mut self,
        tenant: TenantId,
        id: GroupId,
    ) -> Result<Option<TenantGroup>, StoreError> {
        Ok(sqlx::query_as::<_, GroupRow>(concat!(
            "SELECT ",
            group_columns!(),
            " FROM tenant_groups WHERE id = ? AND tenant_id = ?"
        ))
        .bind(id.as_uuid())
        .bind(tenant.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(TenantGroup::from))
    }

    async fn groups_of_tenant(&mut self, tenant: TenantId) -> Result<Vec<TenantGroup>, StoreError> {
        let rows = sqlx::query_as::<_, GroupRow>(concat!(
            "SELECT ",
            group_columns!(),
            " FROM tenant_groups WHERE tenant_id = ? ORDER BY lower(name), id"
        ))
        .bind(tenant.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(TenantGroup::from).collect())
    }

    async fn delete_group(&mut self, tenant: TenantId, id: GroupId) -> Result<bool, StoreError> {
        // The foreign key cascades too; deleting the memberships here does not rely on it.
        sqlx::query(
            "DELETE FROM group_members WHERE group_id IN \
             (SELECT id FROM tenant_groups WHERE id = ? AND tenant_id = ?)",
        )
        .bind(id.as_uuid())
        .bind(tenant.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        sqlx::query(
            "DELETE FROM invitation_groups WHERE group_id IN \
             (SELECT id FROM tenant_groups WHERE id = ? AND tenant_id = ?)",
        )
        .bind(id.as_uuid())
        .bind(tenant.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM tenant_groups WHERE id = ? AND tenant_id = ?")
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group.as_uuid())
        .bind(user.as_uuid())
        .bind(to_unix(at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_invitation_group(
        &mut self,
        invitation: InvitationId,
        group: GroupId,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO invitation_groups (invitation_id, group_id) VALUES (?, ?) \
             ON CONFLICT (invitation_id, group_id) DO NOTHING",
        )
        .bind(invitation.as_uuid())
        .bind(group.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn invitation_groups(
        &mut self,
        invitation: InvitationId,
    ) -> Result<Vec<GroupId>, StoreError> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT group_id FROM invitation_groups WHERE invitation_id = ? ORDER BY group_id",
        )
        .bind(invitation.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|(g,)| GroupId::from_uuid(g)).collect())
    }

    async fn remove_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group.as_uuid())
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn group_members(&mut self, group: GroupId) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id IN (SELECT user_id FROM group_members WHERE group_id = ?)",
            " ORDER BY username"
        ))
        .bind(group.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn groups_of_user_in_tenant(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT g.id FROM tenant_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE g.tenant_id = ? AND m.user_id = ? ORDER BY lower(g.name), g.id",
        )
        .bind(tenant.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(GroupId::from_uuid).collect())
    }

    async fn client_in_tenant(
        &mut self,
        tenant: TenantId,
        id: AppId,
    ) -> Result<Option<OAuthClient>, StoreError> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE id = ? AND tenant_id = ?"
        ))
        .bind(id.as_uuid())
        .bind(tenant.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(OAuthClient::try_from)
        .transpose()
    }

    async fn update_client(&mut self, c: &OAuthClient) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_clients SET name = ?, redirect_uris = ?, grant_types = ?, \
             allowed_scopes = ?, id_token_alg = ?, access_token_ttl = ?, refresh_idle_ttl = ?, \
             refresh_absolute_ttl = ?, require_par = ?, post_logout_redirect_uris = ?, \
             backchannel_logout_uri = ?, jwks = ?, jwks_uri = ?, consent_required = ?, \
             allowed_resources = ?, require_phishing_resistant = ?, description = ?, \
             access_rules = ? WHERE id = ? AND tenant_id = ?",
        )
        .bind(c.name.clone())
        .bind(join(&c.redirect_uris))
        .bind(join(c.grant_types.iter().map(|g| g.as_str())))
        .bind(join(&c.allowed_scopes))
        .bind(c.id_token_alg.as_str())
        .bind(c.access_token_ttl_secs)
        .bind(c.refresh_idle_ttl_secs)
        .bind(c.refresh_absolute_ttl_secs)
        .bind(c.require_par)
        .bind(join(&c.post_logout_redirect_uris))
        .bind(c.backchannel_logout_uri.clone())
        .bind(c.jwks.clone())
        .bind(c.jwks_uri.clone())
        .bind(c.consent_required)
        .bind(join(&c.allowed_resources))
        .bind(c.require_phishing_resistant)
        .bind(c.description.clone())
        .bind(access_rules_json(&c.access)?)
        .bind(c.id.as_uuid())
        .bind(c.tenant_id.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_client(&mut self, tenant: TenantId, id: AppId) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM oauth_clients WHERE id = ? AND tenant_id = ?")
                .bind(id.as_uuid())
                .bind(tenant.as_uuid())
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        if found.is_none() {
            return Ok(false);
        }
        // Access tokens already issued to the app's users cannot be recalled: revoke them
        // before the refresh families that name them lose their tokens.
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) \
             SELECT jti, expires_at FROM issued_access_tokens WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE client = ?1 \
              UNION SELECT family_id FROM authorization_codes WHERE client = ?1 AND family_id IS NOT NULL) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(id.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        for statement in CLIENT_DEPENDENTS {
            sqlx::query(statement)
                .bind(id.as_uuid())
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM access_requests WHERE app_id = ?")
            .bind(id.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM oauth_clients WHERE id = ? AND tenant_id = ?")
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_client_secret(
        &mut self,
        client: AppId,
        secret_hmac: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO client_secrets (client, secret_hmac, created_at, expires_at) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(client.as_uuid())
        .bind(secret_hmac.to_vec())
        .bind(to_unix(created_at))
        .bind(expires_at.map(to_unix))
        .fetch_one(self.handle.conn())
        .await
        .map_err(db_err)
    }

    async fn client_secrets(&mut self, client: AppId) -> Result<Vec<AppSecret>, StoreError> {
        let rows = sqlx::query_as::<_, AppSecretRow>(
            "SELECT id, created_at, expires_at FROM client_secrets WHERE client = ? \
             ORDER BY created_at, id",
        )
        .bind(client.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(AppSecret::from).collect())
    }

    async fn expire_client_secrets(
        &mut self,
        client: AppId,
        at: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE client_secrets SET expires_at = ?1 WHERE client = ?2 \
             AND (expires_at IS NULL OR (expires_at > ?3 AND expires_at > ?1))",
        )
        .bind(to_unix(until))
        .bind(client.as_uuid())
        .bind(to_unix(at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn delete_client_secret(&mut self, client: AppId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM client_secrets WHERE id = ? AND client = ?")
            .bind(id)
            .bind(client.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_access_request(&mut self, r: &AccessRequest) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO access_requests (",
            access_request_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        ))
        .bind(r.id.as_uuid())
        .bind(r.tenant_id.as_uuid())
        .bind(r.app_id.as_uuid())
        .bind(r.user_id.as_uuid())
        .bind(r.reason.clone())
        .bind(r.status.as_str())
        .bind(to_unix(r.created_at))
        .bind(r.decided_at.map(to_unix))
        .bind(r.decided_by.clone())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        inserted(done.rows_affected(), "app")
    }

    async fn access_request_in_tenant(
        &mut self,
        tenant: TenantId,
        id: AccessRequestId,
    ) -> Result<Option<AccessRequest>, StoreError> {
        sqlx::query_as::<_, AccessRequestRow>(concat!(
            "SELECT ",
            access_request_columns!(),
            " FROM access_requests WHERE id = ? AND tenant_id = ?"
        ))
        .bind(id.as_uuid())
        .bind(tenant.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(AccessRequest::try_from)
        .transpose()
    }

    async fn access_requests_of_tenant(
        &mut self,
        tenant: TenantId,
        status: Option<AccessRequestStatus>,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let rows = sqlx::query_as::<_, AccessRequestRow>(concat!(
            "SELECT ",
            access_request_columns!(),
            " FROM access_requests WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2)",
            " ORDER BY created_at DESC, id DESC"
        ))
        .bind(tenant.as_uuid())
        .bind(status.map(AccessRequestStatus::as_str))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn pending_access_request(
        &mut self,
        app: AppId,
        user: UserId,
    ) -> Result<Option<AccessRequest>, StoreError> {
        sqlx::query_as::<_, AccessRequestRow>(concat!(
            "SELECT ",
            access_request_columns!(),
            " FROM access_requests WHERE app_id = ? AND user_id = ? AND status = 'pending'"
        ))
        .bind(app.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(AccessRequest::try_from)
        .transpose()
    }

    async fn decide_access_request(
        &mut self,
        id: AccessRequestId,
        status: AccessRequestStatus,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // "Deciding" to leave it pending decides nothing.
        if status == AccessRequestStatus::Pending {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ? \
             WHERE id = ? AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(to_unix(at))
        .bind(by.to_owned())
        .bind(id.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_idempotency_key(&mut self, r: &IdempotencyRecord) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO idempotency_keys (",
            idempotency_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        ))
        .bind(r.principal.clone())
        .bind(r.key.clone())
        .bind(r.fingerprint.clone())
        .bind(r.status.map(idempotency_status))
        .bind(r.body.clone())
        .bind(to_unix(r.created_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        inserted(done.rows_affected(), "idempotency_key")
    }

    async fn idempotency_record(
        &mut self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        sqlx::query_as::<_, IdempotencyRow>(concat!(
            "SELECT ",
            idempotency_columns!(),
            " FROM idempotency_keys WHERE principal = ? AND key = ?"
        ))
        .bind(principal.to_owned())
        .bind(key.to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(IdempotencyRecord::try_from)
        .transpose()
    }

    async fn complete_idempotency_key(
        &mut self,
        principal: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = ?, body = ? WHERE principal = ? AND key = ?",
        )
        .bind(idempotency_status(status))
        .bind(body.to_owned())
        .bind(principal.to_owned())
        .bind(key.to_owned())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn release_idempotency_key(
        &mut self,
        principal: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE principal = ? AND key = ?")
            .bind(principal.to_owned())
            .bind(key.to_owned())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn audit_query(&mut self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE 1 = 1"
        ));
        if let Some(tenant) = q.tenant {
            sql.push(" AND tenant_id = ").push_bind(tenant.as_uuid());
        }
        if let Some(actor) = &q.actor {
            sql.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(target) = &q.target {
            sql.push(" AND target = ").push_bind(target.clone());
        }
        match q.action.as_deref() {
            // A prefix compared as text, so `_` and `%` in it are no wildcards and case
            // counts (SQLite's LIKE would ignore it).
            Some(prefix) if prefix.ends_with('.') => {
                let chars = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
                sql.push(" AND substr(action, 1, ")
                    .push_bind(chars)
                    .push(") = ")
                    .push_bind(prefix.to_owned());
            }
            Some(action) => {
                sql.push(" AND action = ").push_bind(action.to_owned());
            }
            None => {}
        }
        if let Some(since) = q.since {
            sql.push(" AND at >= ").push_bind(to_unix(since));
        }
        if let Some(until) = q.until {
            sql.push(" AND at < ").push_bind(to_unix(until));
        }
        if let Some(before) = q.before {
            sql.push(" AND seq < ").push_bind(before);
        }
        sql.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let rows = sql
            .build_query_as::<AuditRow>()
            .fetch_all(self.handle.conn())
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }
}
