//! Push approval with number matching: enrolment of an authenticator's device key, the
//! signed device API (list pending challenges, answer one), and the challenges a sign-in
//! creates. All state is in the database, so any node can serve any step.

use crate::{App, CoreError};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::push::{
    CHALLENGE_LIFETIME, CHALLENGE_WINDOW, ChallengeStatus, DeviceKeyAlg, ENROLMENT_LIFETIME,
    MAX_CHALLENGES, MAX_WRONG_NUMBERS, PushChallenge, PushDevice, PushEnrolment, REQUEST_SKEW,
    challenge_number, request_message, response_message,
};
use tessera_domain::secret::{BearerSecret, SecretHash};
use tessera_domain::user::User;
use tessera_domain::{DomainError, PushChallengeId, PushDeviceId, UserId};

/// The app name of the challenge that confirms a newly registered device.
pub const CONFIRMATION_APP: &str = "Tessera: confirm this authenticator";

/// Why the device API refuses a request, mapped to HTTP by the web layer.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Bad signature, unknown device or time skew: 401.
    #[error("the request is not signed by a registered device")]
    Unauthorized,
    /// The enrolment token was used or has expired: 410.
    #[error("this enrolment link was used already or has expired")]
    EnrolmentGone,
    /// The challenge is no longer open (expired, or already answered): 409.
    #[error("this sign-in request is no longer open")]
    NotOpen,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<tessera_store::StoreError> for PushError {
    fn from(e: tessera_store::StoreError) -> Self {
        Self::Core(e.into())
    }
}

/// Starts an enrolment for a signed-in (or signing-in) user: the URI for the QR code. The
/// token names the user in the clear; its hash, which the database keeps, covers the name,
/// so it cannot be edited to enrol someone else.
pub async fn start_enrolment(app: &App, user: &User) -> Result<String, CoreError> {
    let now = app.clock.now();
    let secret = BearerSecret::generate(app.random.as_ref());
    let token = format!("{}.{}", user.id, secret.expose());
    let mut tx = app.db.begin().await?;
    tx.insert_push_enrolment(&PushEnrolment {
        token_hash: SecretHash::of(&token),
        user_id: user.id,
        created_at: now,
        expires_at: now + ENROLMENT_LIFETIME,
        device_id: None,
    })
    .await?;
    tx.commit().await?;
    Ok(enrolment_uri(&app.settings.issuer, &token))
}

fn enrolment_uri(issuer: &str, token: &str) -> String {
    let server: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    format!("tessera-push://enroll?server={server}&token={token}")
}

/// What an authenticator app sends to register.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct DeviceRegistration {
    pub token: String,
    pub name: String,
    pub alg: String,
    pub public_key: String,
}

fn check_key(alg: DeviceKeyAlg, key: &[u8]) -> bool {
    match alg {
        DeviceKeyAlg::Es256 => key.len() == 65 && key[0] == 4,
        DeviceKeyAlg::EdDsa => key.len() == 32,
    }
}

fn verify(device: &PushDevice, message: &[u8], signature_b64: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature_b64.trim()) else {
        return false;
    };
    let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match device.alg {
        DeviceKeyAlg::Es256 => &ECDSA_P256_SHA256_FIXED,
        DeviceKeyAlg::EdDsa => &ED25519,
    };
    UnparsedPublicKey::new(alg, &device.public_key)
        .verify(message, &sig)
        .is_ok()
}

/// Registers a device key with a one-time enrolment token, and opens the challenge that
/// confirms it (its number is shown on the page that showed the QR code).
pub async fn register_device(
    app: &App,
    r: &DeviceRegistration,
) -> Result<(PushDevice, User), PushError> {
    let now = app.clock.now();
    let alg = DeviceKeyAlg::parse(&r.alg)
        .ok_or_else(|| PushError::Invalid("alg must be ES256 or EdDSA".into()))?;
    let public_key = URL_SAFE_NO_PAD
        .decode(r.public_key.trim())
        .ok()
        .filter(|k| check_key(alg, k))
        .ok_or_else(|| {
            PushError::Invalid(
                "public_key must be base64url: a 65-byte uncompressed P-256 point for ES256, \
                 32 bytes for EdDSA"
                    .into(),
            )
        })?;
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(PushError::Invalid(
            "name must be 1 to 60 printable characters".into(),
        ));
    }
    let user_id: UserId = r
        .token
        .split_once('.')
        .and_then(|(u, _)| u.parse().ok())
        .ok_or(PushError::EnrolmentGone)?;
    let device = PushDevice {
        id: PushDeviceId::new_at(now, app.random.as_ref()),
        user_id,
        name: name.to_owned(),
        alg,
        public_key,
        created_at: now,
        confirmed_at: None,
        last_used_at: None,
        version: 1,
    };
    let mut tx = app.db.begin().await?;
    let user = tx
        .user_by_id(user_id)
        .await?
        .ok_or(PushError::EnrolmentGone)?;
    if !tx
        .register_push_device(&SecretHash::of(&r.token), &device, now)
        .await?
    {
        return Err(PushError::EnrolmentGone);
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(user.id), "push.device_registered", Outcome::Success)
            .target(format!("user:{}", user.id))
            .detail(serde_json::json!({ "device": device.id.to_string(), "name": device.name, "alg": alg.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok((device, user))
}

/// Checks a device-signed request (`purpose` plus the time, within the allowed skew).
pub async fn authenticate_device(
    app: &App,
    device_id: &str,
    at_unix: &str,
    signature: &str,
    purpose: &str,
) -> Result<PushDevice, PushError> {
    let now = app.clock.now();
    let id: PushDeviceId = device_id
        .trim()
        .parse()
        .map_err(|_| PushError::Unauthorized)?;
    let at: i64 = at_unix
        .trim()
        .parse()
        .map_err(|_| PushError::Unauthorized)?;
    if (now.unix_timestamp() - at).abs() > REQUEST_SKEW.whole_seconds() {
        return Err(PushError::Unauthorized);
    }
    let device = app
        .db
        .read()
        .await?
        .push_device(id)
        .await?
        .ok_or(PushError::Unauthorized)?;
    if !verify(&device, &request_message(purpose, id, at), signature) {
        return Err(PushError::Unauthorized);
    }
    Ok(device)
}

/// The open challenges of the device's user (the number is never among what is sent).
pub async fn open_challenges(
    app: &App,
    device: &PushDevice,
) -> Result<Vec<PushChallenge>, PushError> {
    Ok(app
        .db
        .read()
        .await?
        .open_push_challenges(device.user_id, app.clock.now())
        .await?)
}

/// What the device sends to answer.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct DeviceResponse {
    pub device_id: String,
    pub number: u8,
    pub decision: String,
    pub signature: String,
}

/// The outcome of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Denied,
    Reported,
    WrongNumber { tries_left: u32 },
}

/// Answers a challenge. The signature covers (challenge, number, decision, device), and the
/// challenge changes state at most once (compare-and-set), so a captured message replayed
/// is refused: the challenge is no longer open.
pub async fn respond(
    app: &App,
    challenge_id: &str,
    r: &DeviceResponse,
) -> Result<Answer, PushError> {
    let now = app.clock.now();
    let cid: PushChallengeId = challenge_id.parse().map_err(|_| PushError::NotOpen)?;
    let did: PushDeviceId = r.device_id.parse().map_err(|_| PushError::Unauthorized)?;
    let decision = r.decision.as_str();
    if !matches!(decision, "approve" | "deny" | "report") {
        return Err(PushError::Invalid(
            "decision must be approve, deny or report".into(),
        ));
    }
    let mut tx = app.db.begin().await?;
    let device = tx.push_device(did).await?.ok_or(PushError::Unauthorized)?;
    if !verify(
        &device,
        &response_message(cid, r.number, decision, did),
        &r.signature,
    ) {
        return Err(PushError::Unauthorized);
    }
    let challenge = tx
        .push_challenge(cid)
        .await?
        .filter(|c| c.user_id == device.user_id)
        .ok_or(PushError::NotOpen)?;
    if !challenge.is_open(now) {
        return Err(PushError::NotOpen);
    }
    let mut next = PushChallenge {
        decided_at: Some(now),
        decided_by: Some(did),
        ..challenge.clone()
    };
    let (answer, action, outcome) = match decision {
        "approve" if r.number == challenge.number => {
            next.status = ChallengeStatus::Approved;
            (Answer::Approved, "push.approved", Outcome::Success)
        }
        "approve" => {
            next.wrong_numbers += 1;
            let left = MAX_WRONG_NUMBERS.saturating_sub(next.wrong_numbers);
            if left == 0 {
                next.status = ChallengeStatus::Denied;
                (
                    Answer::WrongNumber { tries_left: 0 },
                    "push.wrong_numbers",
                    Outcome::Failure,
                )
            } else {
                next.decided_at = None;
                next.decided_by = None;
                (
                    Answer::WrongNumber { tries_left: left },
                    "push.wrong_number",
                    Outcome::Failure,
                )
            }
        }
        "deny" => {
            next.status = ChallengeStatus::Denied;
            (Answer::Denied, "push.denied", Outcome::Failure)
        }
        _ => {
            next.status = ChallengeStatus::Reported;
            (Answer::Reported, "push.reported", Outcome::Failure)
        }
    };
    if !tx.update_push_challenge(&next).await? {
        return Err(PushError::NotOpen);
    }
    if answer == Answer::Approved {
        let confirmed = PushDevice {
            confirmed_at: device.confirmed_at.or(Some(now)),
            last_used_at: Some(now),
            ..device.clone()
        };
        if !tx.update_push_device(&confirmed).await? {
            return Err(PushError::NotOpen);
        }
    }
    let security_event = matches!(action, "push.wrong_numbers" | "push.reported");
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(device.user_id), action, outcome)
            .target(format!("user:{}", device.user_id))
            .source_ip(challenge.source_ip.clone())
            .detail(serde_json::json!({
                "challenge": cid.to_string(),
                "device": did.to_string(),
                "app": challenge.app_name,
                "security_event": security_event,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(answer)
}

/// Opens a challenge for a user (rate-limited per account), bound to a sign-in flow.
pub async fn create_challenge(
    app: &App,
    user: &User,
    app_name: &str,
    flow_token_hash: Option<SecretHash>,
    source_ip: Option<String>,
) -> Result<PushChallenge, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let recent = tx
        .count_push_challenges_since(user.id, now - CHALLENGE_WINDOW)
        .await?;
    if recent >= MAX_CHALLENGES {
        return Err(DomainError::TooManyAttempts(
            "Too many approval requests in a short time. Wait a few minutes, or use another \
             method."
                .into(),
        )
        .into());
    }
    let challenge = PushChallenge {
        id: PushChallengeId::new_at(now, app.random.as_ref()),
        user_id: user.id,
        number: challenge_number(app.random.as_ref()),
        app_name: app_name.to_owned(),
        source_ip: source_ip.clone(),
        created_at: now,
        expires_at: now + CHALLENGE_LIFETIME,
        status: ChallengeStatus::Pending,
        wrong_numbers: 0,
        decided_at: None,
        decided_by: None,
        flow_token_hash,
        version: 1,
    };
    tx.insert_push_challenge(&challenge).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "push.challenge_created",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "challenge": challenge.id.to_string(), "app": app_name })),
    )
    .await?;
    tx.commit().await?;
    Ok(challenge)
}

/// A challenge, if it belongs to `user`.
pub async fn challenge_of(
    app: &App,
    user: UserId,
    id: &str,
) -> Result<Option<PushChallenge>, CoreError> {
    let Ok(id) = id.parse::<PushChallengeId>() else {
        return Ok(None);
    };
    Ok(app
        .db
        .read()
        .await?
        .push_challenge(id)
        .await?
        .filter(|c| c.user_id == user))
}

/// The user's devices; `confirmed` only those proven by a first approval.
pub async fn devices_of(app: &App, user: UserId) -> Result<Vec<PushDevice>, CoreError> {
    Ok(app.db.read().await?.push_devices_of_user(user).await?)
}

pub async fn has_confirmed_device(
    tx: &mut dyn tessera_store::Tx,
    user: UserId,
) -> Result<bool, CoreError> {
    Ok(tx
        .push_devices_of_user(user)
        .await?
        .iter()
        .any(|d| d.confirmed_at.is_some()))
}
