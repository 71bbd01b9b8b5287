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
    /// Their password (issue 5 adds the second factor).
    Password,
}

impl Assurance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailCode => "email_code",
            Self::Password => "password",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_code" => Some(Self::EmailCode),
            "password" => Some(Self::Password),
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
            ..Self::new(token_hash, user_id, now, source_ip)
        }
    }

    /// Whether the session proves enough for apps and the portal beyond the person's own
    /// request.
    pub fn is_signed_in(&self) -> bool {
        self.assurance >= Assurance::Password
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
