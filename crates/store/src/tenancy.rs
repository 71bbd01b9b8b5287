//! The tenancy store: tenant admins, groups and members, editable app registrations and
//! their secrets, access requests, API idempotency keys and the filtered audit query.
//! Every lookup that a tenant admin can reach takes the tenant id, so a record of another
//! tenant is simply not found.

use crate::StoreError;
use async_trait::async_trait;
use tessera_domain::audit::AuditRecord;
use tessera_domain::oauth::OAuthClient;
use tessera_domain::tenancy::{AccessRequest, AccessRequestStatus, AppSecret, TenantGroup};
use tessera_domain::tenant::Tenant;
use tessera_domain::user::User;
use tessera_domain::{AccessRequestId, AppId, GroupId, InvitationId, TenantId, UserId};
use time::OffsetDateTime;

/// A filter over the audit log, newest first. Every field narrows; `None` does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events filed under this tenant.
    pub tenant: Option<TenantId>,
    /// Exact actor, as encoded in events (`user:<id>`, `cli`, `client:<client_id>`).
    pub actor: Option<String>,
    /// Exact target (`user:<id>`, `app:<id>`, …).
    pub target: Option<String>,
    /// An action, or a prefix of one ending in `.` (`app.` matches `app.create`).
    pub action: Option<String>,
    /// Events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Events before this time.
    pub until: Option<OffsetDateTime>,
    /// Cursor: only events with `seq < before`.
    pub before: Option<i64>,
    pub limit: u32,
}

/// A POST's stored outcome under its `Idempotency-Key`, per caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Who sent it (`user:<id>` or `client:<client_id>`): keys of different callers never meet.
    pub principal: String,
    pub key: String,
    /// A hash of method, path and body: the same key with another request is refused.
    pub fingerprint: String,
    /// Absent while the first request is still running.
    pub status: Option<u16>,
    pub body: Option<String>,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait TenancyStore: Send {
    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Adding an admin twice is not an error (nothing changes).
    async fn add_tenant_admin(
        &mut self,
        tenant: TenantId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// False when the user was not an admin of the tenant.
    async fn remove_tenant_admin(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<bool, StoreError>;
    /// The tenant's admins, by username.
    async fn tenant_admins(&mut self, tenant: TenantId) -> Result<Vec<User>, StoreError>;
    async fn is_tenant_admin(&mut self, tenant: TenantId, user: UserId)
    -> Result<bool, StoreError>;
    /// Tenants this user administers, by slug.
    async fn tenants_administered_by(&mut self, user: UserId) -> Result<Vec<Tenant>, StoreError>;

    /// Fails with `Duplicate { field: "name" }` when the tenant has a group of that name
    /// (any case).
    async fn insert_group(&mut self, group: &TenantGroup) -> Result<(), StoreError>;
    async fn group_in_tenant(
        &mut self,
        tenant: TenantId,
        id: GroupId,
    ) -> Result<Option<TenantGroup>, StoreError>;
    /// By name (case-insensitive order).
    async fn groups_of_tenant(&mut self, tenant: TenantId) -> Result<Vec<TenantGroup>, StoreError>;
    /// Removes the group and its memberships; false when the tenant has no such group.
    async fn delete_group(&mut self, tenant: TenantId, id: GroupId) -> Result<bool, StoreError>;
    /// False when the user was a member already.
    async fn add_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn remove_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> Result<bool, StoreError>;
    /// Members, by username.
    async fn group_members(&mut self, group: GroupId) -> Result<Vec<User>, StoreError>;
    /// The user's groups in one tenant.
    async fn groups_of_user_in_tenant(
        &mut self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<GroupId>, StoreError>;

    /// Records that registering `invitation` joins `group` (a tenant admin's invitation).
    async fn add_invitation_group(
        &mut self,
        invitation: InvitationId,
        group: GroupId,
    ) -> Result<(), StoreError>;
    /// The groups registering `invitation` joins (groups deleted since are gone).
    async fn invitation_groups(
        &mut self,
        invitation: InvitationId,
    ) -> Result<Vec<GroupId>, StoreError>;

    async fn client_in_tenant(
        &mut self,
        tenant: TenantId,
        id: AppId,
    ) -> Result<Option<OAuthClient>, StoreError>;
    /// Replaces every editable field of the registration (all but id, tenant, client_id,
    /// kind and created_at), including `description` and `access`. False when there is
    /// no such app in `client.tenant_id`.
    async fn update_client(&mut self, client: &OAuthClient) -> Result<bool, StoreError>;
    /// Removes the app, its secrets and everything issued to it. False when absent.
    async fn delete_client(&mut self, tenant: TenantId, id: AppId) -> Result<bool, StoreError>;

    /// Like `insert_client_secret`, returning the new secret's id.
    async fn add_client_secret(
        &mut self,
        client: AppId,
        secret_hmac: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<i64, StoreError>;
    /// Every secret of the app, expired ones included, oldest first.
    async fn client_secrets(&mut self, client: AppId) -> Result<Vec<AppSecret>, StoreError>;
    /// Sets the expiry of every secret of the app that is valid at `at` and would
    /// outlive `until` to `until` (a rotation's overlap). Returns how many changed.
    async fn expire_client_secrets(
        &mut self,
        client: AppId,
        at: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Deletes one secret (revocation). False when the app has no such secret.
    async fn delete_client_secret(&mut self, client: AppId, id: i64) -> Result<bool, StoreError>;

    /// Fails with `Duplicate { field: "app" }` when the user has a pending request for
    /// the app already.
    async fn insert_access_request(&mut self, request: &AccessRequest) -> Result<(), StoreError>;
    async fn access_request_in_tenant(
        &mut self,
        tenant: TenantId,
        id: AccessRequestId,
    ) -> Result<Option<AccessRequest>, StoreError>;
    /// Newest first, optionally only those with `status`.
    async fn access_requests_of_tenant(
        &mut self,
        tenant: TenantId,
        status: Option<AccessRequestStatus>,
    ) -> Result<Vec<AccessRequest>, StoreError>;
    async fn pending_access_request(
        &mut self,
        app: AppId,
        user: UserId,
    ) -> Result<Option<AccessRequest>, StoreError>;
    /// Pending → `status`, in one conditional update: false when it was decided already
    /// (two admins deciding at once: one wins).
    async fn decide_access_request(
        &mut self,
        id: AccessRequestId,
        status: AccessRequestStatus,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Claims a key for a request that has not run yet. Fails with
    /// `Duplicate { field: "idempotency_key" }` when the principal used the key before.
    async fn reserve_idempotency_key(
        &mut self,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError>;
    async fn idempotency_record(
        &mut self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Stores the response of the request that holds the key.
    async fn complete_idempotency_key(
        &mut self,
        principal: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError>;
    /// Frees a key whose request failed, so that a retry runs it again.
    async fn release_idempotency_key(
        &mut self,
        principal: &str,
        key: &str,
    ) -> Result<(), StoreError>;

    /// Audit records matching the query, newest first.
    async fn audit_query(&mut self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}
