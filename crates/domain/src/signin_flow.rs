//! A sign-in in progress: identifier-first, then password, then the second factor (or the
//! onboarding wizard). Kept server-side, named by a cookie secret, so no step can be
//! skipped by editing the browser's state.

use crate::UserId;
use crate::secret::SecretHash;
use time::{Duration, OffsetDateTime};

/// A sign-in must finish within this time after the username is entered.
pub const FLOW_LIFETIME: Duration = Duration::minutes(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInFlow {
    pub token_hash: SecretHash,
    /// What was typed; the account, when one has that name. An unknown name walks the
    /// same steps and always fails at the password, so nothing tells that it is unknown.
    pub username: String,
    pub user_id: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub password_at: Option<OffsetDateTime>,
    pub second_factor_at: Option<OffsetDateTime>,
    /// RFC 8176 method references so far (`pwd`, `otp`, …).
    pub amr: Vec<String>,
    /// Where the browser goes when the sign-in completes (a local path).
    pub return_to: String,
    pub version: i64,
}

impl SignInFlow {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }

    /// The account proven by password, once the password step passed.
    pub fn password_user(&self) -> Option<UserId> {
        self.password_at.and(self.user_id)
    }
}
