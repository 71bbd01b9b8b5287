//! Push approval inside a sign-in: enrolment as the wizard's first step (scan, then approve
//! the number shown to confirm the device), and the second factor of later sign-ins (the
//! browser shows a number; the user types it into the authenticator).

use super::flow::{self, Current, Step, advance, require};
use crate::push::{self, CONFIRMATION_APP};
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::push::{ChallengeStatus, PushChallenge};

/// The URI for the enrolment QR code, while the flow is at the enrolment step.
pub async fn enrolment_uri(app: &App, cookie: &str) -> Result<String, CoreError> {
    let current = flow::require_step(app, cookie, Step::EnrolTotp).await?;
    push::start_enrolment(app, current.proven_user()?).await
}

/// After scanning: the challenge that confirms the newest unconfirmed device, opened once
/// per flow. `None` while no device has registered yet.
pub async fn confirmation_challenge(
    app: &App,
    cookie: &str,
    source_ip: Option<String>,
) -> Result<Option<PushChallenge>, CoreError> {
    let current = flow::require_step(app, cookie, Step::EnrolTotp).await?;
    let user = current.proven_user()?.clone();
    let devices = push::devices_of(app, user.id).await?;
    if !devices.iter().any(|d| d.confirmed_at.is_none()) {
        return Ok(None);
    }
    let now = app.clock.now();
    let open = app
        .db
        .read()
        .await?
        .open_push_challenges(user.id, now)
        .await?
        .into_iter()
        .find(|c| {
            c.app_name == CONFIRMATION_APP
                && c.flow_token_hash.as_ref() == Some(&current.flow.token_hash)
        });
    match open {
        Some(c) => Ok(Some(c)),
        None => Ok(Some(
            push::create_challenge(
                app,
                &user,
                CONFIRMATION_APP,
                Some(current.flow.token_hash.clone()),
                source_ip,
            )
            .await?,
        )),
    }
}

/// A sign-in's push challenge, opened for the flow's second-factor step.
pub async fn sign_in_challenge(
    app: &App,
    cookie: &str,
    app_name: &str,
    source_ip: Option<String>,
) -> Result<PushChallenge, CoreError> {
    let current = flow::require_step(app, cookie, Step::SecondFactor).await?;
    let user = current.proven_user()?.clone();
    let mut r = app.db.read().await?;
    if !push::has_confirmed_device(r.as_mut(), user.id).await? {
        return Err(DomainError::InvalidState("No push authenticator is enrolled.".into()).into());
    }
    drop(r);
    push::create_challenge(
        app,
        &user,
        app_name,
        Some(current.flow.token_hash.clone()),
        source_ip,
    )
    .await
}

/// Where a flow's challenge stands, for the waiting page.
#[derive(Clone, Debug)]
pub enum Waiting {
    /// Still open: show this number.
    Open(PushChallenge),
    /// Approved, and recorded as the flow's second factor: go on to this step.
    Done(Step),
    Expired,
    Denied,
}

/// Looks at the flow's challenge `id`; once approved, records the second factor (once).
pub async fn wait(
    app: &App,
    cookie: &str,
    id: &str,
    source_ip: Option<String>,
) -> Result<Waiting, CoreError> {
    let now = app.clock.now();
    let current: Current = require(app, cookie).await?;
    let user = current.proven_user()?.clone();
    let challenge = push::challenge_of(app, user.id, id)
        .await?
        .filter(|c| c.flow_token_hash.as_ref() == Some(&current.flow.token_hash))
        .ok_or(DomainError::NotFound("approval request"))?;
    match challenge.status {
        ChallengeStatus::Pending if challenge.is_open(now) => Ok(Waiting::Open(challenge)),
        ChallengeStatus::Pending => Ok(Waiting::Expired),
        ChallengeStatus::Denied | ChallengeStatus::Reported => Ok(Waiting::Denied),
        ChallengeStatus::Approved => {
            if current.flow.second_factor_at.is_none() {
                let mut tx = app.db.begin().await?;
                advance(tx.as_mut(), &current.flow, |f| {
                    f.second_factor_at = Some(now);
                    f.amr.extend(["swk".to_owned(), "user".to_owned()]);
                })
                .await?;
                app.audit(
                    tx.as_mut(),
                    AuditEvent::new(now, &Actor::User(user.id), "signin.push", Outcome::Success)
                        .target(format!("user:{}", user.id))
                        .source_ip(source_ip)
                        .detail(serde_json::json!({ "challenge": challenge.id.to_string() })),
                )
                .await?;
                tx.commit().await?;
            }
            Ok(Waiting::Done(
                flow::next_step(app, &require(app, cookie).await?).await?,
            ))
        }
    }
}

/// Whether the account has a confirmed push authenticator (the preferred method).
pub async fn prefers_push(app: &App, current: &Current) -> Result<bool, CoreError> {
    let Ok(user) = current.proven_user() else {
        return Ok(false);
    };
    push::has_confirmed_device(app.db.read().await?.as_mut(), user.id).await
}
