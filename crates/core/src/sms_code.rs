//! Six-digit codes by SMS to one of a user's numbers: sending (throttled) and checking
//! (five tries, ten minutes, single use). Used by the phone check, password reset and
//! mobile change.

use crate::{App, CoreError};
use tessera_domain::code_challenge::{CODE_LIFETIME, CodeChallenge, CodePurpose, MAX_ATTEMPTS};
use tessera_domain::outbox::NewMessage;
use tessera_domain::secret::six_digit_code;
use tessera_domain::user::MobileNumber;
use tessera_domain::{CodeChallengeId, DomainError, UserId};
use tessera_store::Tx;

/// Sends a new code to `to`, unless the last one was sent too recently. A new code
/// replaces the previous one. `field` names the form field for a throttling message.
pub(crate) async fn send(
    app: &App,
    tx: &mut dyn Tx,
    user: UserId,
    purpose: CodePurpose,
    to: &MobileNumber,
    field: &str,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let previous = tx.latest_code_challenge(user, purpose).await?;
    let sends = match &previous {
        // A new number starts a new series; the same number is throttled.
        Some(p) if p.target == to.as_str() && p.verified_at.is_none() => {
            p.may_resend(now)
                .map_err(|m| DomainError::field(field, m))?;
            p.sends + 1
        }
        _ => 1,
    };
    let id = CodeChallengeId::new_at(now, app.random.as_ref());
    let code = six_digit_code(app.random.as_ref());
    tx.insert_code_challenge(&CodeChallenge {
        id,
        purpose,
        user_id: user,
        target: to.as_str().to_owned(),
        code_mac: app.secrets.code_mac(id.as_uuid().as_bytes(), &code),
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        attempts: 0,
        sends,
        last_sent_at: now,
        verified_at: None,
        version: 1,
    })
    .await?;
    app.queue(
        tx,
        NewMessage::sms(
            to.as_str(),
            format!(
                "Tessera: your verification code is {code} . It expires in {} minutes. Never \
                 share it.",
                CODE_LIFETIME.whole_minutes()
            ),
        ),
    )
    .await?;
    Ok(())
}

/// Checks a code against the newest challenge. `Ok(Ok(number))` when right (the challenge
/// is then used up); `Ok(Err(message))` when wrong or no longer usable — the attempt is
/// counted in `tx`, which the caller commits.
pub(crate) async fn check(
    app: &App,
    tx: &mut dyn Tx,
    user: UserId,
    purpose: CodePurpose,
    code: &str,
) -> Result<Result<String, String>, CoreError> {
    let now = app.clock.now();
    let Some(challenge) = tx.latest_code_challenge(user, purpose).await? else {
        return Ok(Err("Send a code first.".into()));
    };
    if let Some(refusal) = challenge.refusal(now) {
        return Ok(Err(refusal.into()));
    }
    let right =
        app.secrets
            .code_matches(challenge.id.as_uuid().as_bytes(), code, &challenge.code_mac);
    let next = CodeChallenge {
        attempts: challenge.attempts + 1,
        verified_at: right.then_some(now),
        ..challenge.clone()
    };
    if !tx.update_code_challenge(&next).await? {
        return Ok(Err(
            "Another attempt was checked at the same moment. Try again.".into(),
        ));
    }
    if right {
        return Ok(Ok(challenge.target));
    }
    let left = MAX_ATTEMPTS.saturating_sub(next.attempts);
    Ok(Err(if left == 0 {
        "That code is not right, and no tries are left. Send a new code.".into()
    } else {
        format!("That code is not right. {left} tries left.")
    }))
}

/// The number the newest code went to, and whether one is waiting to be typed.
pub(crate) async fn pending_target(
    tx: &mut dyn Tx,
    user: UserId,
    purpose: CodePurpose,
    now: time::OffsetDateTime,
) -> Result<Option<String>, CoreError> {
    Ok(tx
        .latest_code_challenge(user, purpose)
        .await?
        .filter(|c| c.verified_at.is_none() && c.refusal(now).is_none())
        .map(|c| c.target))
}
