//! Self-service password reset: username → a code by SMS to the registered mobile → the
//! authenticator app's code → a new password; then every session of the account ends.
//! An unknown username walks the same pages and never succeeds, so nothing tells whether
//! it exists.

use super::flow::{Current, advance, check_not_locked, current};
use super::totp::code_matches;
use crate::passwords::check_new_password;
use crate::{App, CoreError, sms_code};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::code_challenge::CodePurpose;
use tessera_domain::lockout::{password_subject, second_factor_subject};
use tessera_domain::outbox::NewMessage;
use tessera_domain::secret::BearerSecret;
use tessera_domain::user::User;
use tessera_domain::{DomainError, FieldErrors};

/// Where a reset stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetStep {
    SmsCode,
    Authenticator,
    NewPassword,
}

impl ResetStep {
    pub fn path(self) -> &'static str {
        match self {
            Self::SmsCode => "/signin/forgot/code",
            Self::Authenticator => "/signin/forgot/authenticator",
            Self::NewPassword => "/signin/forgot/password",
        }
    }
}

/// Marks on the flow's methods: a reset never sets `password_at`, so it can never finish
/// as a sign-in.
const SMS_DONE: &str = "reset:sms";
const OTP_DONE: &str = "reset:otp";

pub fn step_of(current: &Current) -> ResetStep {
    let has = |m: &str| current.flow.amr.iter().any(|x| x == m);
    if !has(SMS_DONE) {
        ResetStep::SmsCode
    } else if !has(OTP_DONE) {
        ResetStep::Authenticator
    } else {
        ResetStep::NewPassword
    }
}

fn usable(user: Option<&User>) -> Option<&User> {
    user.filter(|u| u.state.may_sign_in() && u.mobile.is_some())
}

/// Starts a reset; a code goes to the registered mobile when the account exists. The
/// answer is the same either way.
pub async fn start(
    app: &App,
    username: &str,
    source_ip: Option<String>,
) -> Result<BearerSecret, CoreError> {
    let secret = super::flow::begin(app, username, "").await?;
    let Some(cur) = current(app, secret.expose()).await? else {
        return Err(CoreError::Internal("a new reset flow vanished".into()));
    };
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if let Some(user) = usable(cur.user.as_ref())
        && let Some(mobile) = &user.mobile
    {
        // A throttled resend is not an error the page may show: it would reveal the account.
        match sms_code::send(
            app,
            tx.as_mut(),
            user.id,
            CodePurpose::PasswordReset,
            mobile,
            "code",
        )
        .await
        {
            Ok(()) | Err(CoreError::Domain(DomainError::Invalid(_))) => {}
            Err(other) => return Err(other),
        }
        app.audit(
            tx.as_mut(),
            AuditEvent::new(
                now,
                &Actor::User(user.id),
                "password_reset.requested",
                Outcome::Success,
            )
            .target(format!("user:{}", user.id))
            .source_ip(source_ip),
        )
        .await?;
    } else {
        app.audit(
            tx.as_mut(),
            AuditEvent::new(
                now,
                &Actor::Anonymous,
                "password_reset.requested",
                Outcome::Failure,
            )
            .source_ip(source_ip),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(secret)
}

pub async fn load(app: &App, cookie: &str) -> Result<Current, CoreError> {
    current(app, cookie)
        .await?
        .ok_or_else(|| DomainError::NoLongerValid("password reset").into())
}

const WRONG_CODE: &str =
    "That code is not right, or it has expired. Check the SMS, or start again for a new code.";

/// The SMS code. Wrong codes count against the code's five tries.
pub async fn verify_sms(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<ResetStep, CoreError> {
    let now = app.clock.now();
    let cur = load(app, cookie).await?;
    if step_of(&cur) != ResetStep::SmsCode {
        return Ok(step_of(&cur));
    }
    let Some(user) = usable(cur.user.as_ref()).cloned() else {
        return Err(DomainError::field("code", WRONG_CODE).into());
    };
    let mut tx = app.db.begin().await?;
    match sms_code::check(app, tx.as_mut(), user.id, CodePurpose::PasswordReset, code).await? {
        Ok(_) => {
            advance(tx.as_mut(), &cur.flow, |f| f.amr.push(SMS_DONE.into())).await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::User(user.id),
                    "password_reset.sms_verified",
                    Outcome::Success,
                )
                .target(format!("user:{}", user.id))
                .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            Ok(ResetStep::Authenticator)
        }
        Err(_) => {
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::User(user.id),
                    "password_reset.sms_failed",
                    Outcome::Failure,
                )
                .target(format!("user:{}", user.id))
                .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            Err(DomainError::field("code", WRONG_CODE).into())
        }
    }
}

/// The authenticator app's code, counted against the account's second-factor lock.
pub async fn verify_authenticator(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<ResetStep, CoreError> {
    let now = app.clock.now();
    let cur = load(app, cookie).await?;
    if step_of(&cur) != ResetStep::Authenticator {
        return Ok(step_of(&cur));
    }
    let Some(user) = usable(cur.user.as_ref()).cloned() else {
        return Err(DomainError::NoLongerValid("password reset").into());
    };
    let subject = second_factor_subject(user.id);
    check_not_locked(app, std::slice::from_ref(&subject), now).await?;
    let mut tx = app.db.begin().await?;
    if !code_matches(app, tx.as_mut(), &user, code).await? {
        let enrolled = tx
            .totp_of_user(user.id)
            .await?
            .iter()
            .any(|c| c.confirmed_at.is_some());
        let message = if enrolled {
            "That code is not right, or was used already. Enter the code your app shows now."
        } else {
            "Your account has no authenticator app yet. Ask your sponsor or the platform \
             administrators to send you a new initial password."
        };
        return super::totp::fail(
            app,
            tx,
            &user,
            &subject,
            None,
            "password_reset.totp",
            message.into(),
            source_ip,
        )
        .await
        .map(|_| ResetStep::Authenticator);
    }
    tx.clear_lockout(&subject).await?;
    advance(tx.as_mut(), &cur.flow, |f| f.amr.push(OTP_DONE.into())).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "password_reset.totp",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(ResetStep::NewPassword)
}

/// The new password: every session of the account ends, and the owner is told by email.
pub async fn set_password(
    app: &App,
    cookie: &str,
    new: &str,
    confirm: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let cur = load(app, cookie).await?;
    if step_of(&cur) != ResetStep::NewPassword {
        return Err(DomainError::InvalidState("Finish the earlier steps first.".into()).into());
    }
    let Some(user) = usable(cur.user.as_ref()).cloned() else {
        return Err(DomainError::NoLongerValid("password reset").into());
    };
    let mut errors = FieldErrors::new();
    let others = [
        user.given_name.as_str(),
        user.family_name.as_str(),
        user.email.as_str(),
    ];
    if let Err(m) = check_new_password(new, &user.username, &others) {
        errors.add("new_password", m);
    } else if new != confirm {
        errors.add("confirm_password", "The new passwords do not match.");
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors).into());
    }
    let hash = app.passwords.hash(new, app.random.as_ref()).await?;
    let mut tx = app.db.begin().await?;
    if !tx.delete_sign_in_flow(&cur.flow.token_hash).await? {
        return Err(DomainError::NoLongerValid("password reset").into());
    }
    let changed = User {
        password_hash: Some(hash),
        password_is_initial: false,
        updated_at: now,
        ..user.clone()
    };
    if !tx.update_user(&changed).await? {
        return Err(DomainError::InvalidState(
            "Your account changed meanwhile. Start again.".into(),
        )
        .into());
    }
    let ended = tx.delete_sessions_of_user(user.id).await?;
    tx.clear_lockout(&password_subject(user.id)).await?;
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            user.email.as_str(),
            "Your Tessera password was changed",
            format!(
                "Hello {},\n\nThe password of your Tessera account {} was reset just now, and every \
                 signed-in session was ended.\n\nIf this was not you, contact the platform \
                 administrators at once.\n",
                user.given_name, user.username
            ),
        ),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "password.reset",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "sessions_ended": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
