//! Row shapes and error mapping shared by the SQLite and PostgreSQL stores. Both schemas
//! use the same column names and portable types (UUID, BIGINT seconds, TEXT, bytes,
//! boolean), so a row decodes the same way from either and converts to the domain once.

use sqlx::error::ErrorKind;
use tessera_domain::audit::{AuditEvent, AuditRecord, Outcome};
use tessera_domain::clock::from_unix;
use tessera_domain::outbox::{Channel, DeliveryStatus, OutboxMessage};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::PortalSession;
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{EmailAddress, MobileNumber, User, UserState, UserType, Username};
use tessera_domain::{OutboxMessageId, TenantId, UserId};
use tessera_store::StoreError;
use uuid::Uuid;

/// Maps a driver error; a unique violation becomes `Duplicate { field }`.
pub fn map_err(err: sqlx::Error, unique_field: Option<&'static str>) -> StoreError {
    match &err {
        // PostgreSQL: connection exceptions (class 08) and an administrator or crash
        // shutting the server down (57P01–57P03) mean "try again later", not a bug.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
            }) =>
        {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Duplicate {
                field: unique_field.unwrap_or("id"),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Tls(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Migrate(m) => StoreError::Schema(m.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}

/// `map_err` for calls that have no uniqueness rule of their own.
pub fn db_err(err: sqlx::Error) -> StoreError {
    map_err(err, None)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} has the unknown value {value:?}"))
}

fn hash32(what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub department: String,
    pub user_type: String,
    pub state: String,
    pub platform_admin: bool,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::from_uuid(r.id),
            username: Username::from_trusted(r.username),
            given_name: r.given_name,
            family_name: r.family_name,
            email: EmailAddress::from_trusted(r.email),
            mobile: r.mobile.map(MobileNumber::from_trusted),
            department: r.department,
            user_type: UserType::parse(&r.user_type)
                .ok_or_else(|| corrupt("users.user_type", &r.user_type))?,
            state: UserState::parse(&r.state).ok_or_else(|| corrupt("users.state", &r.state))?,
            platform_admin: r.platform_admin,
            password_hash: r.password_hash,
            created_at: from_unix(r.created_at),
            updated_at: from_unix(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub created_at: i64,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            id: TenantId::from_uuid(r.id),
            slug: r.slug,
            display_name: r.display_name,
            created_at: from_unix(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub source_ip: Option<String>,
}

impl TryFrom<SessionRow> for PortalSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(PortalSession {
            token_hash: SecretHash(hash32("portal_sessions.token_hash", &r.token_hash)?),
            user_id: UserId::from_uuid(r.user_id),
            created_at: from_unix(r.created_at),
            last_seen_at: from_unix(r.last_seen_at),
            expires_at: from_unix(r.expires_at),
            source_ip: r.source_ip,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub source_ip: Option<String>,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            seq: r.seq,
            event: AuditEvent {
                at: from_unix(r.at),
                actor: r.actor,
                action: r.action,
                target: r.target,
                outcome: Outcome::parse(&r.outcome)
                    .ok_or_else(|| corrupt("audit_events.outcome", &r.outcome))?,
                source_ip: r.source_ip,
                detail: r.detail,
            },
            prev_hash: hash32("audit_events.prev_hash", &r.prev_hash)?,
            hash: hash32("audit_events.hash", &r.hash)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

impl TryFrom<OutboxRow> for OutboxMessage {
    type Error = StoreError;
    fn try_from(r: OutboxRow) -> Result<Self, StoreError> {
        Ok(OutboxMessage {
            id: OutboxMessageId::from_uuid(r.id),
            channel: Channel::parse(&r.channel)
                .ok_or_else(|| corrupt("outbox.channel", &r.channel))?,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            status: DeliveryStatus::parse(&r.status)
                .ok_or_else(|| corrupt("outbox.status", &r.status))?,
            attempts: r.attempts,
            created_at: from_unix(r.created_at),
            next_attempt_at: from_unix(r.next_attempt_at),
            last_error: r.last_error,
            delivered_at: r.delivered_at.map(from_unix),
        })
    }
}

/// Converts a list of rows, failing on the first that does not decode.
pub fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// Column lists, kept next to the row types that decode them. Macros, so that `concat!`
/// can build `&'static str` queries from them (sqlx refuses runtime-built SQL).
#[macro_export]
macro_rules! user_columns {
    () => {
        "id, username, given_name, family_name, email, mobile, department, user_type, state, platform_admin, password_hash, created_at, updated_at"
    };
}
#[macro_export]
macro_rules! outbox_columns {
    () => {
        "id, channel, recipient, subject, body, status, attempts, created_at, next_attempt_at, last_error, delivered_at"
    };
}
#[macro_export]
macro_rules! audit_columns {
    () => {
        "seq, at, actor, action, target, outcome, source_ip, detail, prev_hash, hash"
    };
}
