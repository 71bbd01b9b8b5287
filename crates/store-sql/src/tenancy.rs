//! Row shapes for delegated tenant administration: tenant groups, app secrets as their
//! owners see them, access requests and API idempotency keys, plus the JSON of an app's
//! access rules.

use crate::corrupt;
use tessera_domain::clock::from_unix;
use tessera_domain::tenancy::{
    AccessRequest, AccessRequestStatus, AccessRules, AppSecret, TenantGroup,
};
use tessera_domain::{AccessRequestId, AppId, GroupId, TenantId, UserId};
use tessera_store::{IdempotencyRecord, StoreError};
use uuid::Uuid;

/// The columns of `tenant_groups`, in the order of [`GroupRow`].
#[macro_export]
macro_rules! group_columns {
    () => {
        "id, tenant_id, name, description, created_at"
    };
}

/// The columns of `access_requests`, in the order of [`AccessRequestRow`].
#[macro_export]
macro_rules! access_request_columns {
    () => {
        "id, tenant_id, app_id, user_id, reason, status, created_at, decided_at, decided_by"
    };
}

/// The columns of `idempotency_keys`, in the order of [`IdempotencyRow`].
#[macro_export]
macro_rules! idempotency_columns {
    () => {
        "principal, key, fingerprint, status, body, created_at"
    };
}

/// An app's access rules as stored in `oauth_clients.access_rules`.
pub fn access_rules_json(rules: &AccessRules) -> Result<String, StoreError> {
    serde_json::to_string(rules)
        .map_err(|e| StoreError::Backend(format!("cannot encode access rules: {e}")))
}

/// Reads `oauth_clients.access_rules`; a row without rules (written before tenancy)
/// admits everyone, as such apps always did.
pub fn access_rules_from_json(text: Option<&str>) -> Result<AccessRules, StoreError> {
    match text {
        None => Ok(AccessRules::default()),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            StoreError::Corrupt(format!("oauth_clients.access_rules does not decode: {e}"))
        }),
    }
}

/// The outcome of an `INSERT … ON CONFLICT DO NOTHING`: no row written means a uniqueness
/// rule refused it. Refusing without an error keeps a PostgreSQL transaction usable (to
/// read what is already there, say), where a failed insert would abort it.
pub fn inserted(rows: u64, unique_field: &'static str) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::Duplicate {
            field: unique_field,
        })
    } else {
        Ok(())
    }
}

/// An HTTP status as stored in `idempotency_keys.status`.
pub fn idempotency_status(status: u16) -> i32 {
    i32::from(status)
}

#[derive(sqlx::FromRow)]
pub struct GroupRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

impl From<GroupRow> for TenantGroup {
    fn from(r: GroupRow) -> Self {
        TenantGroup {
            id: GroupId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            name: r.name,
            description: r.description,
            created_at: from_unix(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AppSecretRow {
    pub id: i64,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl From<AppSecretRow> for AppSecret {
    fn from(r: AppSecretRow) -> Self {
        AppSecret {
            id: r.id,
            created_at: from_unix(r.created_at),
            expires_at: r.expires_at.map(from_unix),
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AccessRequestRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

impl TryFrom<AccessRequestRow> for AccessRequest {
    type Error = StoreError;
    fn try_from(r: AccessRequestRow) -> Result<Self, StoreError> {
        Ok(AccessRequest {
            id: AccessRequestId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            app_id: AppId::from_uuid(r.app_id),
            user_id: UserId::from_uuid(r.user_id),
            reason: r.reason,
            status: AccessRequestStatus::parse(&r.status)
                .ok_or_else(|| corrupt("access_requests.status", &r.status))?,
            created_at: from_unix(r.created_at),
            decided_at: r.decided_at.map(from_unix),
            decided_by: r.decided_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct IdempotencyRow {
    pub principal: String,
    pub key: String,
    pub fingerprint: String,
    pub status: Option<i32>,
    pub body: Option<String>,
    pub created_at: i64,
}

impl TryFrom<IdempotencyRow> for IdempotencyRecord {
    type Error = StoreError;
    fn try_from(r: IdempotencyRow) -> Result<Self, StoreError> {
        let status = r
            .status
            .map(|s| {
                u16::try_from(s).map_err(|_| {
                    StoreError::Corrupt(format!("idempotency_keys.status is out of range: {s}"))
                })
            })
            .transpose()?;
        Ok(IdempotencyRecord {
            principal: r.principal,
            key: r.key,
            fingerprint: r.fingerprint,
            status,
            body: r.body,
            created_at: from_unix(r.created_at),
        })
    }
}
