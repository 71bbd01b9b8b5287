//! Wizard step 2: the phone check. The registered mobile is prefilled (editable); a
//! six-digit SMS code proves it, and the proven number becomes the account's.

use super::flow::{self, Step, advance, require};
use crate::lifecycle::form::mobile_number;
use crate::sms_code;
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::code_challenge::CodePurpose;
use tessera_domain::user::User;

/// What the step's page shows: the number to prefill and whether a code was sent to it.
#[derive(Clone, Debug)]
pub struct PhoneStep {
    pub mobile: String,
    pub code_sent_to: Option<String>,
}

pub async fn state(app: &App, cookie: &str) -> Result<PhoneStep, CoreError> {
    let current = require(app, cookie).await?;
    let user = current.proven_user()?;
    let mut r = app.db.read().await?;
    let sent = sms_code::pending_target(
        r.as_mut(),
        user.id,
        CodePurpose::PhoneVerification,
        app.clock.now(),
    )
    .await?;
    Ok(PhoneStep {
        mobile: user
            .mobile
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        code_sent_to: sent,
    })
}

/// Sends the code to the number typed (country code + number).
pub async fn send_code(
    app: &App,
    cookie: &str,
    country: &str,
    number: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let current = flow::require_step(app, cookie, Step::VerifyPhone).await?;
    let user = current.proven_user()?.clone();
    let mobile = mobile_number(country, number).map_err(|m| DomainError::field("mobile", m))?;
    let mut tx = app.db.begin().await?;
    sms_code::send(
        app,
        tx.as_mut(),
        user.id,
        CodePurpose::PhoneVerification,
        &mobile,
        "mobile",
    )
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "phone.code_sent",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "mobile": mobile.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the code; on success the number is the account's, proven now.
pub async fn verify_code(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current = flow::require_step(app, cookie, Step::VerifyPhone).await?;
    let user = current.proven_user()?.clone();
    let mut tx = app.db.begin().await?;
    match sms_code::check(
        app,
        tx.as_mut(),
        user.id,
        CodePurpose::PhoneVerification,
        code,
    )
    .await?
    {
        Ok(number) => {
            let mobile = tessera_domain::user::MobileNumber::parse(&number)
                .map_err(|e| CoreError::Internal(format!("stored number: {e}")))?;
            let proven = User {
                mobile: Some(mobile),
                phone_verified_at: Some(now),
                updated_at: now,
                ..user.clone()
            };
            if !tx.update_user(&proven).await? {
                return Err(DomainError::InvalidState(
                    "Your account changed meanwhile. Try again.".into(),
                )
                .into());
            }
            // Nothing else to note on the flow: the account now says the phone is proven.
            advance(tx.as_mut(), &current.flow, |_| {}).await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::User(user.id),
                    "phone.verified",
                    Outcome::Success,
                )
                .target(format!("user:{}", user.id))
                .source_ip(source_ip)
                .detail(serde_json::json!({ "mobile": number })),
            )
            .await?;
            tx.commit().await?;
            flow::next_step(app, &require(app, cookie).await?).await
        }
        Err(message) => {
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::User(user.id),
                    "phone.code_failed",
                    Outcome::Failure,
                )
                .target(format!("user:{}", user.id))
                .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            Err(DomainError::field("code", message).into())
        }
    }
}
