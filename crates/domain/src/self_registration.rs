//! An officer's self-registration: agency email → six-digit email code → short form →
//! pending account. The browser holds a secret that names the request; the code proves
//! the mailbox.

use crate::secret::SecretHash;
use crate::user::EmailAddress;
use crate::{SelfRegistrationId, UserId};
use time::{Duration, OffsetDateTime};

/// A code is valid for ten minutes after it is sent.
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Wrong or right, the sixth try is refused: the request must start over.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// A new code may be sent at most once a minute, and five times per request.
pub const RESEND_INTERVAL: Duration = Duration::minutes(1);
pub const MAX_SENDS: u32 = 5;
/// At most this many requests per address per hour (each sends an email).
pub const MAX_REQUESTS_PER_HOUR: i64 = 5;
/// After the code, the form must be sent within this time.
pub const FORM_LIFETIME: Duration = Duration::minutes(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfRegistration {
    pub id: SelfRegistrationId,
    pub email: EmailAddress,
    /// Hash of the secret in the browser's cookie.
    pub token_hash: SecretHash,
    /// HMAC of the current code under a server key (a bare hash of six digits would be
    /// reversed by trying all million).
    pub code_mac: [u8; 32],
    pub code_expires_at: OffsetDateTime,
    pub attempts: u32,
    pub sends: u32,
    pub last_sent_at: OffsetDateTime,
    pub verified_at: Option<OffsetDateTime>,
    /// The account made from it; once set, the request is finished.
    pub completed_user: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub version: i64,
}

/// Why a code is not even compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    TooManyAttempts,
    Expired,
    AlreadyUsed,
}

impl CodeRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::TooManyAttempts => "Too many wrong codes. Start again to get a new code.",
            Self::Expired => "This code has expired. Send a new code.",
            Self::AlreadyUsed => "This request is already complete. Sign in instead.",
        }
    }
}

impl SelfRegistration {
    /// Whether a code may be compared now; the caller counts the attempt either way.
    pub fn may_try_code(&self, now: OffsetDateTime) -> Result<(), CodeRefusal> {
        if self.completed_user.is_some() || self.verified_at.is_some() {
            Err(CodeRefusal::AlreadyUsed)
        } else if self.attempts >= MAX_CODE_ATTEMPTS {
            Err(CodeRefusal::TooManyAttempts)
        } else if now >= self.code_expires_at {
            Err(CodeRefusal::Expired)
        } else {
            Ok(())
        }
    }

    /// When a new code may be sent, or why never.
    pub fn may_resend(&self, now: OffsetDateTime) -> Result<(), String> {
        if self.completed_user.is_some() || self.verified_at.is_some() {
            return Err(CodeRefusal::AlreadyUsed.message().into());
        }
        if self.sends >= MAX_SENDS || self.attempts >= MAX_CODE_ATTEMPTS {
            return Err("No more codes can be sent for this request. Start again.".into());
        }
        let next = self.last_sent_at + RESEND_INTERVAL;
        if now < next {
            let wait = (next - now).whole_seconds().max(1);
            return Err(format!(
                "Wait {wait} seconds before asking for another code."
            ));
        }
        Ok(())
    }

    /// Whether the form may be sent: the code was right, recently, and nothing was made yet.
    pub fn may_complete(&self, now: OffsetDateTime) -> bool {
        self.completed_user.is_none() && self.verified_at.is_some_and(|at| now < at + FORM_LIFETIME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;

    fn sample() -> SelfRegistration {
        SelfRegistration {
            id: SelfRegistrationId::from_uuid(uuid::Uuid::nil()),
            email: EmailAddress::parse("ada@tech.gov.sg").unwrap(),
            token_hash: SecretHash([1; 32]),
            code_mac: [2; 32],
            code_expires_at: from_unix(600),
            attempts: 0,
            sends: 1,
            last_sent_at: from_unix(0),
            verified_at: None,
            completed_user: None,
            created_at: from_unix(0),
            version: 1,
        }
    }

    #[test]
    fn the_sixth_try_is_refused() {
        let mut r = sample();
        r.attempts = 4;
        assert!(r.may_try_code(from_unix(10)).is_ok());
        r.attempts = 5;
        assert_eq!(
            r.may_try_code(from_unix(10)),
            Err(CodeRefusal::TooManyAttempts)
        );
    }

    #[test]
    fn codes_expire_and_resends_are_throttled() {
        let r = sample();
        assert_eq!(r.may_try_code(from_unix(600)), Err(CodeRefusal::Expired));
        assert!(
            r.may_resend(from_unix(30))
                .unwrap_err()
                .contains("30 seconds")
        );
        assert!(r.may_resend(from_unix(60)).is_ok());
        let spent = SelfRegistration {
            sends: 5,
            ..sample()
        };
        assert!(spent.may_resend(from_unix(600)).is_err());
    }

    #[test]
    fn the_form_needs_a_recent_verification() {
        let mut r = sample();
        assert!(!r.may_complete(from_unix(10)));
        r.verified_at = Some(from_unix(100));
        assert!(r.may_complete(from_unix(100 + 29 * 60)));
        assert!(!r.may_complete(from_unix(100 + 31 * 60)));
        r.completed_user = Some(UserId::from_uuid(uuid::Uuid::nil()));
        assert!(!r.may_complete(from_unix(200)));
    }
}
