//! Push approval with number matching: a device key pair registered by an authenticator
//! app, and sign-in challenges the user approves by typing the number the browser shows.
//! The wire format the device signs is defined here, so server and reference client agree.

use crate::secret::SecretHash;
use crate::{PushChallengeId, PushDeviceId, UserId};
use time::{Duration, OffsetDateTime};

/// An enrolment token in the QR code is valid this long.
pub const ENROLMENT_LIFETIME: Duration = Duration::minutes(10);
/// A sign-in challenge expires after a minute.
pub const CHALLENGE_LIFETIME: Duration = Duration::seconds(60);
/// Three wrong numbers end the challenge.
pub const MAX_WRONG_NUMBERS: u32 = 3;
/// At most this many challenges per account in [`CHALLENGE_WINDOW`].
pub const MAX_CHALLENGES: i64 = 5;
pub const CHALLENGE_WINDOW: Duration = Duration::minutes(5);
/// Signed requests older or newer than this are refused.
pub const REQUEST_SKEW: Duration = Duration::seconds(120);

/// The device key's algorithm: ECDSA P-256 (fixed-size r‖s signature) or Ed25519.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKeyAlg {
    Es256,
    EdDsa,
}

impl DeviceKeyAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushDevice {
    pub id: PushDeviceId,
    pub user_id: UserId,
    pub name: String,
    pub alg: DeviceKeyAlg,
    /// Uncompressed SEC1 point (P-256) or 32 raw bytes (Ed25519).
    pub public_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Set by the first signed approval; unconfirmed devices get no sign-in challenges.
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub version: i64,
}

/// A one-time token that lets an app register a device key for one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushEnrolment {
    pub token_hash: SecretHash,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The device registered with it (the token then works no more).
    pub device_id: Option<PushDeviceId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeStatus {
    Pending,
    Approved,
    /// Denied by the user, or ended by three wrong numbers.
    Denied,
    /// "Deny and report": the user did not start this sign-in.
    Reported,
}

impl ChallengeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Reported => "reported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "reported" => Some(Self::Reported),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushChallenge {
    pub id: PushChallengeId,
    pub user_id: UserId,
    /// Two digits, 10–99, shown only in the browser.
    pub number: u8,
    /// What the user is signing in to ("Tessera portal", an app's name).
    pub app_name: String,
    pub source_ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub status: ChallengeStatus,
    pub wrong_numbers: u32,
    pub decided_at: Option<OffsetDateTime>,
    /// The device that decided it.
    pub decided_by: Option<PushDeviceId>,
    /// The sign-in flow waiting for it (hash of its cookie secret).
    pub flow_token_hash: Option<SecretHash>,
    pub version: i64,
}

impl PushChallenge {
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        self.status == ChallengeStatus::Pending && now < self.expires_at
    }
}

/// A device's answer, as signed: the bytes are
/// `tessera-push-v1\nrespond\n<challenge id>\n<number>\n<decision>\n<device id>`.
pub fn response_message(
    challenge: PushChallengeId,
    number: u8,
    decision: &str,
    device: PushDeviceId,
) -> Vec<u8> {
    format!("tessera-push-v1\nrespond\n{challenge}\n{number}\n{decision}\n{device}").into_bytes()
}

/// A signed request to list pending challenges or confirm enrolment:
/// `tessera-push-v1\n<purpose>\n<device id>\n<unix seconds>`.
pub fn request_message(purpose: &str, device: PushDeviceId, at_unix: i64) -> Vec<u8> {
    format!("tessera-push-v1\n{purpose}\n{device}\n{at_unix}").into_bytes()
}

/// A uniform two-digit number, 10–99.
pub fn challenge_number(random: &dyn crate::Random) -> u8 {
    loop {
        let mut b = [0u8; 1];
        random.fill(&mut b);
        // 180 = 2 × 90: reject above it so every number is equally likely.
        if b[0] < 180 {
            return 10 + b[0] % 90;
        }
    }
}
