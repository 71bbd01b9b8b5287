//! Six-digit codes sent by SMS to a signed-in or signing-in user: the phone check of the
//! onboarding wizard, self-service password reset, and a change of mobile number.

use crate::{CodeChallengeId, UserId};
use time::{Duration, OffsetDateTime};

pub const CODE_LIFETIME: Duration = Duration::minutes(10);
pub const MAX_ATTEMPTS: u32 = 5;
pub const RESEND_INTERVAL: Duration = Duration::minutes(1);
pub const MAX_SENDS: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    PhoneVerification,
    PasswordReset,
    MobileChange,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneVerification => "phone_verification",
            Self::PasswordReset => "password_reset",
            Self::MobileChange => "mobile_change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "phone_verification" => Some(Self::PhoneVerification),
            "password_reset" => Some(Self::PasswordReset),
            "mobile_change" => Some(Self::MobileChange),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge {
    pub id: CodeChallengeId,
    pub purpose: CodePurpose,
    pub user_id: UserId,
    /// Where the code went (an E.164 mobile number).
    pub target: String,
    pub code_mac: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub attempts: u32,
    pub sends: u32,
    pub last_sent_at: OffsetDateTime,
    pub verified_at: Option<OffsetDateTime>,
    pub version: i64,
}

impl CodeChallenge {
    /// Why a code may not be compared now, in words for the person.
    pub fn refusal(&self, now: OffsetDateTime) -> Option<&'static str> {
        if self.verified_at.is_some() {
            Some("This code was used already.")
        } else if self.attempts >= MAX_ATTEMPTS {
            Some("Too many wrong codes. Send a new code.")
        } else if now >= self.expires_at {
            Some("This code has expired. Send a new code.")
        } else {
            None
        }
    }

    pub fn may_resend(&self, now: OffsetDateTime) -> Result<(), String> {
        if self.sends >= MAX_SENDS {
            return Err("No more codes can be sent now. Try again later.".into());
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
}
