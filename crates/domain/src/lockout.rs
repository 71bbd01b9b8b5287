//! Brute-force protection: failures counted per subject (an account's password, its second
//! factor, a source address) in the database, so every node sees the same count.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// When failures lock a subject, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl LockoutPolicy {
    /// Per account: 5 wrong passwords (or second factors) lock it for 15 minutes.
    pub const ACCOUNT: Self = Self {
        max_failures: 5,
        lock_for: Duration::minutes(15),
        window: Duration::minutes(15),
    };
    /// Per source address: many more, since offices share addresses.
    pub const SOURCE: Self = Self {
        max_failures: 50,
        lock_for: Duration::minutes(15),
        window: Duration::minutes(15),
    };
}

/// What the store returns after counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutState {
    /// Failures in the current window (reset to 0 when a lock starts).
    pub failures: u32,
    pub locked_until: Option<OffsetDateTime>,
}

impl LockoutState {
    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }
}

/// Subjects, as stored.
pub fn password_subject(user: crate::UserId) -> String {
    format!("password:user:{user}")
}

pub fn second_factor_subject(user: crate::UserId) -> String {
    format!("mfa:user:{user}")
}

pub fn source_subject(kind: &str, ip: &str) -> String {
    format!("{kind}:ip:{ip}")
}
