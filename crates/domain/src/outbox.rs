//! Messages to people (email, SMS), written in the same transaction as the change that
//! causes them and delivered afterwards with retries.

use crate::OutboxMessageId;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// A back-channel logout notice to an app: recipient is its URI, body the claims.
    BackchannelLogout,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::BackchannelLogout => "backchannel_logout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "backchannel_logout" => Some(Self::BackchannelLogout),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for delivery (or held, when no transport is configured for its channel).
    Pending,
    Delivered,
    /// Gave up after [`MAX_ATTEMPTS`].
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A message to queue. `subject` is empty for SMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

impl NewMessage {
    pub fn email(
        to: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            channel: Channel::Email,
            recipient: to.into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    pub fn sms(to: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            channel: Channel::Sms,
            recipient: to.into(),
            subject: String::new(),
            body: body.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub id: OutboxMessageId,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

/// After this many failed attempts a message is marked failed (about a day of retries).
pub const MAX_ATTEMPTS: i32 = 12;

/// How long a worker may hold claimed messages before another worker may take them over
/// (the default of the `outbox_lease_seconds` setting). A batch of [`CLAIM_BATCH`] at the
/// transports' 10-second timeout always finishes inside it.
pub const CLAIM_LEASE: Duration = Duration::seconds(90);

/// Messages a worker claims at once.
pub const CLAIM_BATCH: u32 = 8;

/// Wait before the next try after `attempts` failures: 10 s doubling, at most 4 hours.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    let secs = 10i64.saturating_mul(1i64 << exp);
    Duration::seconds(secs.min(4 * 3600))
}

/// What a failed attempt leads to.
pub fn after_failure(attempts: i32, now: OffsetDateTime) -> (DeliveryStatus, OffsetDateTime) {
    if attempts >= MAX_ATTEMPTS {
        (DeliveryStatus::Failed, now)
    } else {
        (DeliveryStatus::Pending, now + backoff(attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(5), Duration::seconds(160));
        assert_eq!(backoff(30), Duration::hours(4));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let now = crate::clock::from_unix(0);
        assert_eq!(after_failure(1, now).0, DeliveryStatus::Pending);
        assert_eq!(after_failure(MAX_ATTEMPTS, now).0, DeliveryStatus::Failed);
    }
}
