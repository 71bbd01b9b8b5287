//! Portal sessions: a browser's proof that a user signed in. Stored server-side, keyed by
//! the hash of the cookie's secret, so every node sees them and a database leak reveals none.

use crate::UserId;
use crate::secret::SecretHash;
use time::{Duration, OffsetDateTime};

/// How long a portal session lives without use, and at most.
pub const IDLE_LIFETIME: Duration = Duration::hours(8);
pub const ABSOLUTE_LIFETIME: Duration = Duration::hours(24);

/// How the person proved who they are for this session, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assurance {
    /// A code sent to their email (self-registration): enough to follow their own request,
    /// never enough for an app or administration.
    EmailCode,
    /// Their password only: a sign-in still in its second step or the onboarding wizard.
    Password,
    /// Password and a second factor (or a passkey): a complete sign-in.
    Mfa,
}

impl Assurance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailCode => "email_code",
            Self::Password => "password",
            Self::Mfa => "mfa",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_code" => Some(Self::EmailCode),
            "password" => Some(Self::Password),
            "mfa" => Some(Self::Mfa),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PortalSession {
    pub token_hash: SecretHash,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source_ip: Option<String>,
    pub assurance: Assurance,
    /// RFC 8176 methods the sign-in used (`pwd`, `otp`…), for tokens' `amr`.
    pub amr: Vec<String>,
}

impl PortalSession {
    pub fn new(
        token_hash: SecretHash,
        user_id: UserId,
        now: OffsetDateTime,
        source_ip: Option<String>,
    ) -> Self {
        Self {
            token_hash,
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + ABSOLUTE_LIFETIME,
            source_ip,
            assurance: Assurance::Password,
            amr: vec!["pwd".into()],
        }
    }

    /// A complete sign-in: password and second factor.
    pub fn signed_in_with(
        token_hash: SecretHash,
        user_id: UserId,
        now: OffsetDateTime,
        source_ip: Option<String>,
        amr: Vec<String>,
    ) -> Self {
        Self {
            assurance: Assurance::Mfa,
            amr,
            ..Self::new(token_hash, user_id, now, source_ip)
        }
    }

    /// A session opened by an email code, to follow a self-registration request.
    pub fn by_email_code(
        token_hash: SecretHash,
        user_id: UserId,
        now: OffsetDateTime,
        source_ip: Option<String>,
    ) -> Self {
        Self {
            assurance: Assurance::EmailCode,
            amr: Vec::new(),
            ..Self::new(token_hash, user_id, now, source_ip)
        }
    }

    /// Whether the session proves enough for apps and the portal beyond the person's own
    /// request: a password and a second factor.
    pub fn is_signed_in(&self) -> bool {
        self.assurance >= Assurance::Mfa
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at && now < self.last_seen_at + IDLE_LIFETIME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t0 = from_unix(1_000_000);
        let mut s = PortalSession::new(
            SecretHash([0; 32]),
            UserId::from_uuid(uuid::Uuid::nil()),
            t0,
            None,
        );
        assert!(s.is_live(t0 + Duration::hours(7)));
        assert!(!s.is_live(t0 + Duration::hours(9)));
        s.last_seen_at = t0 + Duration::hours(20);
        assert!(s.is_live(t0 + Duration::hours(23)));
        assert!(!s.is_live(t0 + Duration::hours(24)));
    }
}
