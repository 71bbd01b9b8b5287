//! Portal sessions: a browser's proof that a user signed in. Stored server-side, keyed by
//! the hash of the cookie's secret, so every node sees them and a database leak reveals none.

use crate::UserId;
use crate::secret::SecretHash;
use time::{Duration, OffsetDateTime};

/// How long a portal session lives without use, and at most.
pub const IDLE_LIFETIME: Duration = Duration::hours(8);
pub const ABSOLUTE_LIFETIME: Duration = Duration::hours(24);

#[derive(Clone, Debug)]
pub struct PortalSession {
    pub token_hash: SecretHash,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source_ip: Option<String>,
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
        }
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
