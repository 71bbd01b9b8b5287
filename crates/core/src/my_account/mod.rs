//! "My account": a signed-in person's own profile (names, department), mobile number
//! (changed only with an SMS code sent to the new number), password, signed-in sessions
//! (`sessions`) and second factors (`mfa`). Each change is one transaction holding its
//! audit event and any notice it sends.

pub mod mfa;
pub mod sessions;

pub use sessions::{SessionView, sessions, sign_out_elsewhere, sign_out_session};

use crate::lifecycle::form::mobile_number;
use crate::signin::SignedIn;
use crate::signin::flow::{check_not_locked, count_failure};
use crate::signin::new_password::{PasswordChange, validate};
use crate::sms_code;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::code_challenge::{CodePurpose, RESEND_INTERVAL};
use tessera_domain::lockout::password_subject;
use tessera_domain::outbox::NewMessage;
use tessera_domain::user::{MobileNumber, User, parse_person_name, parse_text};
use tessera_domain::{DomainError, FieldErrors};
use tessera_store::Tx;

fn changed_meanwhile() -> CoreError {
    DomainError::InvalidState(
        "Your account changed meanwhile. Reload the page and try again.".into(),
    )
    .into()
}

fn event(now: time::OffsetDateTime, who: &User, action: &str, outcome: Outcome) -> AuditEvent {
    AuditEvent::new(now, &Actor::User(who.id), action, outcome).target(format!("user:{}", who.id))
}

/// Writes `changed` (compare-and-set on its version) or reports that someone else did first.
async fn save(tx: &mut dyn Tx, changed: &User) -> Result<(), CoreError> {
    if tx.update_user(changed).await? {
        Ok(())
    } else {
        Err(changed_meanwhile())
    }
}

/// Changes names and department. Every field is checked; the messages name each field.
/// Returns whether anything changed (an unchanged form writes nothing).
pub async fn update_profile(
    app: &App,
    who: &SignedIn,
    given: &str,
    family: &str,
    department: &str,
    source_ip: Option<String>,
) -> Result<bool, CoreError> {
    let mut e = FieldErrors::new();
    let given = e.check("given_name", parse_person_name(given, "first name"));
    let family = e.check("family_name", parse_person_name(family, "last name"));
    let department = e.check("department", parse_text(department, "department", 120));
    let (Some(given), Some(family), Some(department)) = (given, family, department) else {
        return Err(DomainError::Invalid(e).into());
    };
    let user = &who.user;
    let changed: Vec<&str> = [
        ("given_name", user.given_name != given),
        ("family_name", user.family_name != family),
        ("department", user.department != department),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect();
    if changed.is_empty() {
        return Ok(false);
    }
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    save(
        tx.as_mut(),
        &User {
            given_name: given,
            family_name: family,
            department,
            updated_at: now,
            ..user.clone()
        },
    )
    .await?;
    app.audit(
        tx.as_mut(),
        event(now, user, "account.profile_updated", Outcome::Success)
            .source_ip(source_ip)
            .detail(serde_json::json!({ "changed": changed })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The mobile section's state: the number on the account and, while a change waits for
/// its code, the new number the code went to.
#[derive(Clone, Debug)]
pub struct MobileState {
    pub current: Option<MobileNumber>,
    pub verified: bool,
    pub pending: Option<String>,
}

pub async fn mobile_state(app: &App, who: &SignedIn) -> Result<MobileState, CoreError> {
    let mut r = app.db.read().await?;
    let pending = sms_code::pending_target(
        r.as_mut(),
        who.user.id,
        CodePurpose::MobileChange,
        app.clock.now(),
    )
    .await?;
    Ok(MobileState {
        current: who.user.mobile.clone(),
        verified: who.user.phone_verified_at.is_some(),
        pending,
    })
}

/// Sends a six-digit code to the NEW number (country code + number); the account keeps
/// its number until the code comes back. Returns the number the code went to.
pub async fn start_mobile_change(
    app: &App,
    who: &SignedIn,
    country: &str,
    number: &str,
    source_ip: Option<String>,
) -> Result<String, CoreError> {
    let now = app.clock.now();
    let mobile = mobile_number(country, number).map_err(|m| DomainError::field("mobile", m))?;
    let user = &who.user;
    if user.mobile.as_ref() == Some(&mobile) && user.phone_verified_at.is_some() {
        return Err(DomainError::field(
            "mobile",
            "This is already your mobile number. Enter the new number.",
        )
        .into());
    }
    let mut tx = app.db.begin().await?;
    // Switching numbers does not escape the resend interval: at most one code per
    // interval, to whichever number. (`sms_code::send` throttles the same number.)
    if let Some(previous) = tx
        .latest_code_challenge(user.id, CodePurpose::MobileChange)
        .await?
        && previous.verified_at.is_none()
        && previous.target != mobile.as_str()
    {
        let next = previous.last_sent_at + RESEND_INTERVAL;
        if now < next {
            let wait = (next - now).whole_seconds().max(1);
            return Err(DomainError::field(
                "mobile",
                format!("Wait {wait} seconds before asking for another code."),
            )
            .into());
        }
    }
    sms_code::send(
        app,
        tx.as_mut(),
        user.id,
        CodePurpose::MobileChange,
        &mobile,
        "mobile",
    )
    .await?;
    app.audit(
        tx.as_mut(),
        event(now, user, "account.mobile_code_sent", Outcome::Success)
            .source_ip(source_ip)
            .detail(serde_json::json!({ "mobile": mobile.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(mobile.as_str().to_owned())
}

/// Checks the code sent to the new number; when right, the number is the account's,
/// proven now, and the person is told by email. Wrong codes are counted (five tries).
pub async fn confirm_mobile_change(
    app: &App,
    who: &SignedIn,
    code: &str,
    source_ip: Option<String>,
) -> Result<MobileNumber, CoreError> {
    let now = app.clock.now();
    let user = &who.user;
    let mut tx = app.db.begin().await?;
    let number = match sms_code::check(
        app,
        tx.as_mut(),
        user.id,
        CodePurpose::MobileChange,
        code.trim(),
    )
    .await?
    {
        Ok(number) => number,
        Err(message) => {
            app.audit(
                tx.as_mut(),
                event(now, user, "account.mobile_change_failed", Outcome::Failure)
                    .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            return Err(DomainError::field("code", message).into());
        }
    };
    let mobile = MobileNumber::parse(&number)
        .map_err(|e| CoreError::Internal(format!("stored number: {e}")))?;
    save(
        tx.as_mut(),
        &User {
            mobile: Some(mobile.clone()),
            phone_verified_at: Some(now),
            updated_at: now,
            ..user.clone()
        },
    )
    .await?;
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            user.email.as_str(),
            "Your Tessera mobile number was changed",
            format!(
                "Hello {},\n\nThe mobile number of your Tessera account {} is now {}. \
                 Codes and notices by SMS go there from now on.\n\nIf you did not make this \
                 change, contact your administrators at once.\n",
                user.display_name(),
                user.username.as_str(),
                masked(mobile.as_str()),
            ),
        ),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        event(now, user, "account.mobile_changed", Outcome::Success)
            .source_ip(source_ip)
            .detail(serde_json::json!({
                "from": user.mobile.as_ref().map(MobileNumber::as_str),
                "to": mobile.as_str(),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(mobile)
}

/// A number for an email: the last three digits only.
fn masked(number: &str) -> String {
    let keep = 3.min(number.len());
    let (head, tail) = number.split_at(number.len() - keep);
    format!("{}{}", "•".repeat(head.chars().count()), tail)
}

/// Changes the password under the full policy. A wrong current password counts against
/// the account's password lock, as at sign-in. On success every OTHER session of the
/// person ends (this one stays) and they are told by email. Returns how many ended.
pub async fn change_password(
    app: &App,
    who: &SignedIn,
    form: &PasswordChange,
    source_ip: Option<String>,
) -> Result<u64, CoreError> {
    let now = app.clock.now();
    let user = &who.user;
    let subject = password_subject(user.id);
    check_not_locked(app, std::slice::from_ref(&subject), now).await?;
    let hash = match validate(app, user, form).await {
        Ok(hash) => hash,
        Err(CoreError::Domain(DomainError::Invalid(errors)))
            if errors.get("current_password").is_some() =>
        {
            let mut tx = app.db.begin().await?;
            let locked = count_failure(tx.as_mut(), &subject, None, now).await?;
            app.audit(
                tx.as_mut(),
                event(
                    now,
                    user,
                    "account.password_change_failed",
                    Outcome::Failure,
                )
                .source_ip(source_ip)
                .detail(serde_json::json!({ "locked": locked.is_some() })),
            )
            .await?;
            tx.commit().await?;
            return Err(locked.unwrap_or_else(|| DomainError::Invalid(errors).into()));
        }
        Err(other) => return Err(other),
    };
    let mut tx = app.db.begin().await?;
    save(
        tx.as_mut(),
        &User {
            password_hash: Some(hash),
            password_is_initial: false,
            updated_at: now,
            ..user.clone()
        },
    )
    .await?;
    let ended = sessions::end_other_sessions(app, tx.as_mut(), who).await?;
    tx.clear_lockout(&subject).await?;
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            user.email.as_str(),
            "Your Tessera password was changed",
            format!(
                "Hello {},\n\nThe password of your Tessera account {} was changed, and every \
                 other signed-in session was signed out.\n\nIf you did not make this change, \
                 reset your password and contact your administrators at once.\n",
                user.display_name(),
                user.username.as_str(),
            ),
        ),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        event(now, user, "account.password_changed", Outcome::Success)
            .source_ip(source_ip)
            .detail(serde_json::json!({ "sessions_ended": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn masked_numbers_show_the_last_three_digits() {
        assert_eq!(masked("+6591234567"), "••••••••567");
        assert_eq!(masked("12"), "12");
    }
}
