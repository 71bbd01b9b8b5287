//! Row shapes and error mapping shared by the SQLite and PostgreSQL stores. Both schemas
//! use the same column names and portable types (UUID, BIGINT seconds, TEXT, bytes,
//! boolean), so a row decodes the same way from either and converts to the domain once.

use sqlx::error::ErrorKind;
use tessera_domain::audit::{AuditEvent, AuditRecord, Outcome};
use tessera_domain::clock::from_unix;
use tessera_domain::outbox::{Channel, DeliveryStatus, OutboxMessage};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::{Assurance, PortalSession};
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{
    EmailAddress, MobileNumber, OffshoreDetails, User, UserState, UserType, Username,
};
use tessera_domain::{OutboxMessageId, TenantId, UserId};
use tessera_store::StoreError;
use uuid::Uuid;

mod lifecycle;
mod passkeys;
mod push;
mod signin;
mod tenancy;
pub use lifecycle::{
    InvitationRow, SelfRegistrationRow, agency_patterns, contains_pattern, escape_like,
};
pub use passkeys::{PasskeyCeremonyRow, PasskeyRow};
pub use push::{PushChallengeRow, PushDeviceRow};
pub use signin::{AcceptanceRow, CodeChallengeRow, LockoutRow, PolicyRow, SignInFlowRow, TotpRow};
pub use tenancy::{
    AccessRequestRow, AppSecretRow, GroupRow, IdempotencyRow, access_rules_from_json,
    access_rules_json, idempotency_status, inserted,
};

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

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} has the unknown value {value:?}"))
}

/// A non-negative counter stored as a 64-bit integer.
pub(crate) fn count(what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("{what} is out of range: {value}")))
}

/// The offshore columns of a user, as written: `(offshore, in_odc, officer name, officer
/// email, company address)`.
pub fn offshore_columns(
    user: &User,
) -> (bool, bool, Option<String>, Option<String>, Option<String>) {
    match &user.offshore {
        Some(o) => (
            true,
            o.in_odc,
            o.reporting_officer_name.clone(),
            o.reporting_officer_email
                .as_ref()
                .map(|e| e.as_str().to_owned()),
            o.company_address.clone(),
        ),
        None => (false, false, None, None, None),
    }
}

pub(crate) fn hash32(what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
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
    pub password_is_initial: bool,
    pub sponsor: Option<Uuid>,
    pub offshore: bool,
    pub offshore_in_odc: bool,
    pub reporting_officer_name: Option<String>,
    pub reporting_officer_email: Option<String>,
    pub company_address: Option<String>,
    pub device_onboarding: bool,
    pub activation_deadline: Option<i64>,
    pub reminders_sent: i64,
    pub phone_verified_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
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
            password_is_initial: r.password_is_initial,
            sponsor: r.sponsor.map(UserId::from_uuid),
            offshore: r.offshore.then(|| OffshoreDetails {
                in_odc: r.offshore_in_odc,
                reporting_officer_name: r.reporting_officer_name,
                reporting_officer_email: r.reporting_officer_email.map(EmailAddress::from_trusted),
                company_address: r.company_address,
            }),
            device_onboarding: r.device_onboarding,
            activation_deadline: r.activation_deadline.map(from_unix),
            reminders_sent: count("users.reminders_sent", r.reminders_sent)?,
            phone_verified_at: r.phone_verified_at.map(from_unix),
            created_at: from_unix(r.created_at),
            updated_at: from_unix(r.updated_at),
            version: r.version,
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
    pub assurance: String,
    pub amr: String,
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
            assurance: Assurance::parse(&r.assurance)
                .ok_or_else(|| corrupt("portal_sessions.assurance", &r.assurance))?,
            amr: split(&r.amr),
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
    pub tenant_id: Option<Uuid>,
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
                tenant: r.tenant_id.map(TenantId::from_uuid),
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
        "id, username, given_name, family_name, email, mobile, department, user_type, state, platform_admin, password_hash, password_is_initial, sponsor, offshore, offshore_in_odc, reporting_officer_name, reporting_officer_email, company_address, device_onboarding, activation_deadline, reminders_sent, phone_verified_at, created_at, updated_at, version"
    };
}
#[macro_export]
macro_rules! session_columns {
    () => {
        "token_hash, user_id, created_at, last_seen_at, expires_at, source_ip, assurance, amr"
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
        "seq, at, actor, action, target, outcome, source_ip, detail, prev_hash, hash, tenant_id"
    };
}

// ---- OAuth rows -------------------------------------------------------------------------

use tessera_domain::AppId;
use tessera_domain::oauth::grant::Authentication;
use tessera_domain::oauth::{
    AuthorizationCode, ClientKind, GrantType, OAuthClient, RefreshToken, SigningAlg,
    SigningKeyRecord,
};

/// Lists are stored as space-separated text (their items never contain spaces).
pub fn join(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn split(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(sqlx::FromRow)]
pub struct ClientRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub redirect_uris: String,
    pub grant_types: String,
    pub allowed_scopes: String,
    pub id_token_alg: String,
    pub access_token_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_absolute_ttl: i64,
    pub require_par: bool,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub consent_required: bool,
    pub allowed_resources: String,
    pub created_at: i64,
    pub require_phishing_resistant: bool,
    pub description: String,
    /// `AccessRules` as JSON; absent (rows from before tenancy) reads as the default.
    pub access_rules: Option<String>,
}

impl TryFrom<ClientRow> for OAuthClient {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let grant_types = split(&r.grant_types)
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("oauth_clients.grant_types", g)))
            .collect::<Result<_, _>>()?;
        Ok(OAuthClient {
            id: AppId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            client_id: r.client_id,
            name: r.name,
            kind: ClientKind::parse(&r.kind)
                .ok_or_else(|| corrupt("oauth_clients.kind", &r.kind))?,
            redirect_uris: split(&r.redirect_uris),
            grant_types,
            allowed_scopes: split(&r.allowed_scopes),
            id_token_alg: SigningAlg::parse(&r.id_token_alg)
                .ok_or_else(|| corrupt("oauth_clients.id_token_alg", &r.id_token_alg))?,
            access_token_ttl_secs: r.access_token_ttl,
            refresh_idle_ttl_secs: r.refresh_idle_ttl,
            refresh_absolute_ttl_secs: r.refresh_absolute_ttl,
            require_par: r.require_par,
            post_logout_redirect_uris: split(&r.post_logout_redirect_uris),
            backchannel_logout_uri: r.backchannel_logout_uri,
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            consent_required: r.consent_required,
            allowed_resources: split(&r.allowed_resources),
            created_at: from_unix(r.created_at),
            require_phishing_resistant: r.require_phishing_resistant,
            description: r.description,
            access: access_rules_from_json(r.access_rules.as_deref())?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub sealed_private: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for SigningKeyRecord {
    type Error = StoreError;
    fn try_from(r: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(SigningKeyRecord {
            alg: SigningAlg::parse(&r.alg).ok_or_else(|| corrupt("signing_keys.alg", &r.alg))?,
            kid: r.kid,
            sealed_private: r.sealed_private,
            public_jwk: r.public_jwk,
            created_at: from_unix(r.created_at),
            retired_at: r.retired_at.map(from_unix),
            expires_at: r.expires_at.map(from_unix),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: Vec<u8>,
    pub client: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub sid: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        Ok(AuthorizationCode {
            code_hash: SecretHash(hash32("authorization_codes.code_hash", &r.code_hash)?),
            client: AppId::from_uuid(r.client),
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth: Authentication {
                user_id: UserId::from_uuid(r.user_id),
                auth_time: from_unix(r.auth_time),
                amr: split(&r.amr),
                acr: r.acr,
                sid: r.sid,
            },
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RefreshRow {
    pub token_hash: Vec<u8>,
    pub family_id: Uuid,
    pub client: Uuid,
    pub user_id: Uuid,
    pub scope: String,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub sid: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub family_expires_at: i64,
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshToken {
            token_hash: SecretHash(hash32("refresh_tokens.token_hash", &r.token_hash)?),
            family_id: r.family_id,
            client: AppId::from_uuid(r.client),
            scope: r.scope,
            auth: Authentication {
                user_id: UserId::from_uuid(r.user_id),
                auth_time: from_unix(r.auth_time),
                amr: split(&r.amr),
                acr: r.acr,
                sid: r.sid,
            },
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            family_expires_at: from_unix(r.family_expires_at),
        })
    }
}

#[macro_export]
macro_rules! client_columns {
    () => {
        "id, tenant_id, client_id, name, kind, redirect_uris, grant_types, allowed_scopes, id_token_alg, access_token_ttl, refresh_idle_ttl, refresh_absolute_ttl, require_par, post_logout_redirect_uris, backchannel_logout_uri, jwks, jwks_uri, consent_required, allowed_resources, created_at, require_phishing_resistant, description, access_rules"
    };
}
#[macro_export]
macro_rules! code_columns {
    () => {
        "code_hash, client, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, amr, acr, sid, created_at, expires_at"
    };
}
#[macro_export]
macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, client, user_id, scope, auth_time, amr, acr, sid, created_at, expires_at, family_expires_at"
    };
}
#[macro_export]
macro_rules! key_columns {
    () => {
        "kid, alg, sealed_private, public_jwk, created_at, retired_at, expires_at"
    };
}

#[derive(sqlx::FromRow)]
pub struct PushedRow {
    pub request_hash: Vec<u8>,
    pub client: Uuid,
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl TryFrom<PushedRow> for (tessera_domain::oauth::PushedRequest, bool) {
    type Error = StoreError;
    fn try_from(r: PushedRow) -> Result<Self, StoreError> {
        Ok((
            tessera_domain::oauth::PushedRequest {
                request_hash: SecretHash(hash32("pushed_requests.request_hash", &r.request_hash)?),
                client: AppId::from_uuid(r.client),
                params: r.params,
                created_at: from_unix(r.created_at),
                expires_at: from_unix(r.expires_at),
            },
            r.used_at.is_some(),
        ))
    }
}

#[derive(sqlx::FromRow)]
pub struct DeviceRow {
    pub device_code_hash: Vec<u8>,
    pub user_code: String,
    pub client: Uuid,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
    pub status: String,
    pub user_id: Option<Uuid>,
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
    pub acr: Option<String>,
    pub sid: Option<String>,
}

impl TryFrom<DeviceRow> for tessera_domain::oauth::DeviceGrant {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        let auth = match (r.user_id, r.auth_time, r.amr, r.acr, r.sid) {
            (Some(u), Some(t), Some(amr), Some(acr), Some(sid)) => Some(Authentication {
                user_id: UserId::from_uuid(u),
                auth_time: from_unix(t),
                amr: split(&amr),
                acr,
                sid,
            }),
            _ => None,
        };
        Ok(tessera_domain::oauth::DeviceGrant {
            device_code_hash: SecretHash(hash32(
                "device_grants.device_code_hash",
                &r.device_code_hash,
            )?),
            user_code: r.user_code,
            client: AppId::from_uuid(r.client),
            scope: r.scope,
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            interval_secs: r.interval_secs,
            status: tessera_domain::oauth::DeviceStatus::parse(&r.status)
                .ok_or_else(|| corrupt("device_grants.status", &r.status))?,
            auth,
        })
    }
}

#[macro_export]
macro_rules! device_columns {
    () => {
        "device_code_hash, user_code, client, scope, created_at, expires_at, interval_secs, status, user_id, auth_time, amr, acr, sid"
    };
}
