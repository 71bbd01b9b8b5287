//! What a user's authorisation leaves behind: one-time codes and rotating refresh tokens.

use crate::secret::SecretHash;
use crate::{AppId, UserId};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An authorization code lives one minute (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// How the user authenticated, carried from the session into every token of the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authentication {
    pub user_id: UserId,
    pub auth_time: OffsetDateTime,
    /// RFC 8176 method references, e.g. `pwd`, `otp`, `hwk`.
    pub amr: Vec<String>,
    pub acr: String,
    /// The OIDC session id (`sid`): derived from the portal session, not its secret.
    pub sid: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: SecretHash,
    pub client: AppId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth: Authentication,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The outcome of presenting a code: it works once. (Short-lived; not worth boxing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CodeRedemption {
    Redeemed(AuthorizationCode),
    /// Seen before: whatever it issued must be revoked (RFC 6749 §4.1.2).
    Replayed {
        family: Option<Uuid>,
    },
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: SecretHash,
    /// All tokens rotated from one authorisation share a family; reuse revokes it.
    pub family_id: Uuid,
    pub client: AppId,
    pub scope: String,
    pub auth: Authentication,
    pub created_at: OffsetDateTime,
    /// Idle expiry: this token is unusable after it.
    pub expires_at: OffsetDateTime,
    /// Absolute expiry of the whole family.
    pub family_expires_at: OffsetDateTime,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RefreshUse {
    Fresh(RefreshToken),
    /// Already rotated or revoked: a sign of theft, so the family is revoked.
    Reused {
        family: Uuid,
    },
    Unknown,
}

/// A pushed authorization request (RFC 9126): the parameters, kept server-side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    pub request_hash: SecretHash,
    pub client: AppId,
    /// The authorization request's parameters as JSON.
    pub params: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Long enough to survive a sign-in in between (RFC 9126 suggests short lifetimes).
pub const PUSHED_REQUEST_LIFETIME: Duration = Duration::seconds(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Redeemed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Redeemed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A device authorization (RFC 8628): the device polls with the device code while the
/// user enters the user code in a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceGrant {
    pub device_code_hash: SecretHash,
    pub user_code: String,
    pub client: AppId,
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub interval_secs: i64,
    pub status: DeviceStatus,
    pub auth: Option<Authentication>,
}

pub const DEVICE_CODE_LIFETIME: Duration = Duration::minutes(10);
pub const DEVICE_POLL_INTERVAL_SECS: i64 = 5;

/// What a device learns when it polls.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum DevicePoll {
    /// Approved, and now spent: issue tokens.
    Approved(DeviceGrant),
    Pending {
        too_fast: bool,
    },
    Denied,
    Expired,
    Unknown,
}
