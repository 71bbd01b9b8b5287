//! Passkeys inside a sign-in: passwordless sign-in with a discoverable credential (the
//! passkey names the account, and with user verification counts as password and second
//! factor in one), a passkey as the second factor after the password, and registering one
//! as the wizard's enrolment step. The rest of the flow (phone check, policies…) follows
//! as for any sign-in.

use super::flow::{self, Step, advance, require};
use crate::passkeys::{
    self, KIND_DISCOVER, Started, audit_failure, internal, record_use, refused, relying_party,
    store_ceremony, take_ceremony,
};
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::lockout::second_factor_subject;
use tessera_domain::secret::BearerSecret;
use tessera_domain::signin_flow::{FLOW_LIFETIME, SignInFlow};
use tessera_domain::{UserId, user::User};
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

/// Starts a passwordless sign-in: no account is named; the browser offers its passkeys
/// (conditional UI on the username field, or a button).
pub async fn start_passwordless(app: &App) -> Result<Started, CoreError> {
    let (rcr, state) = relying_party(app)?
        .start_discoverable_authentication()
        .map_err(internal("discoverable authentication"))?;
    let options = serde_json::to_value(&rcr)
        .map_err(|e| CoreError::Internal(format!("passkey options: {e}")))?;
    store_ceremony(app, None, KIND_DISCOVER, &state, options).await
}

/// What a finished passwordless sign-in gives the browser: the flow cookie and its next
/// step (usually the end, or a wizard step such as new policies).
#[derive(Debug)]
pub struct PasswordlessDone {
    pub flow: BearerSecret,
    pub step: Step,
}

/// Verifies the assertion, finds the account by the passkey, and opens a flow that has
/// both the password and the second factor done (`hwk`, `user`).
pub async fn finish_passwordless(
    app: &App,
    token: &str,
    credential: &serde_json::Value,
    return_to: &str,
    source_ip: Option<String>,
) -> Result<PasswordlessDone, CoreError> {
    let now = app.clock.now();
    let rp = relying_party(app)?;
    let assertion: PublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| refused())?;
    let mut tx = app.db.begin().await?;
    let state: DiscoverableAuthentication =
        take_ceremony(app, tx.as_mut(), token, KIND_DISCOVER, None).await?;
    let (user_uuid, cred_id) = rp
        .identify_discoverable_authentication(&assertion)
        .map_err(|_| refused())?;
    let record = tx
        .passkey_by_credential_id(cred_id)
        .await?
        .filter(|r| r.user_id.as_uuid().as_bytes() == user_uuid.as_bytes())
        .ok_or_else(refused)?;
    let user = tx.user_by_id(record.user_id).await?.ok_or_else(refused)?;
    let subject = second_factor_subject(user.id);
    if tx.lockout(&subject).await?.is_locked(now) || !user.state.may_sign_in() {
        drop(tx);
        audit_failure(app, user.id, "signin.passkey", token, source_ip).await?;
        return Err(DomainError::Unauthenticated.into());
    }
    let verified = rp
        .finish_discoverable_authentication_v2(
            &assertion,
            state,
            &passkeys::parse_passkey(&record)?,
        )
        .map_err(|_| refused());
    let used = match verified {
        Ok(result) => record_use(app, tx.as_mut(), Some(user.id), &result).await,
        Err(e) => Err(e),
    };
    if let Err(e) = used {
        drop(tx);
        audit_failure(app, user.id, "signin.passkey", token, source_ip).await?;
        return Err(e);
    }
    let secret = BearerSecret::generate(app.random.as_ref());
    let flow = SignInFlow {
        token_hash: secret.hash(),
        username: user.username.as_str().to_owned(),
        user_id: Some(user.id),
        created_at: now,
        expires_at: now + FLOW_LIFETIME,
        password_at: Some(now),
        second_factor_at: Some(now),
        amr: vec!["hwk".into(), "user".into()],
        return_to: return_to.to_owned(),
        version: 1,
    };
    tx.insert_sign_in_flow(&flow).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "signin.passkey",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "passwordless": true })),
    )
    .await?;
    tx.commit().await?;
    let step = flow::next_step(app, &require(app, secret.expose()).await?).await?;
    Ok(PasswordlessDone { flow: secret, step })
}

/// The flow's account while it is at `step`.
async fn flow_user(app: &App, cookie: &str, step: Step) -> Result<(SignInFlow, User), CoreError> {
    let current = flow::require_step(app, cookie, step).await?;
    let user = current.proven_user()?.clone();
    Ok((current.flow, user))
}

/// Whether the flow's account has a passkey (the second-factor page then offers it).
pub async fn offers_passkey(app: &App, user: UserId) -> Result<bool, CoreError> {
    Ok(!passkeys::passkeys_of(app, user).await?.is_empty())
}

/// Starts a passkey assertion as the second factor of the flow's account.
pub async fn start_second_factor(app: &App, cookie: &str) -> Result<Started, CoreError> {
    let (_, user) = flow_user(app, cookie, Step::SecondFactor).await?;
    passkeys::start_authentication(app, user.id).await
}

/// Verifies the assertion and records it as the flow's second factor.
pub async fn finish_second_factor(
    app: &App,
    cookie: &str,
    token: &str,
    credential: &serde_json::Value,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let (flow_row, user) = flow_user(app, cookie, Step::SecondFactor).await?;
    let subject = second_factor_subject(user.id);
    flow::check_not_locked(app, std::slice::from_ref(&subject), now).await?;
    let mut tx = app.db.begin().await?;
    let record = match passkeys::finish_authentication_in(
        app,
        tx.as_mut(),
        user.id,
        token,
        credential,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            drop(tx);
            audit_failure(app, user.id, "signin.passkey", token, source_ip).await?;
            return Err(e);
        }
    };
    tx.clear_lockout(&subject).await?;
    advance(tx.as_mut(), &flow_row, |f| {
        f.second_factor_at = Some(now);
        f.amr.extend(["hwk".to_owned(), "user".to_owned()]);
    })
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "signin.passkey",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "passkey": record.id.to_string() })),
    )
    .await?;
    tx.commit().await?;
    flow::next_step(app, &require(app, cookie).await?).await
}

/// Wizard step 1, passkey variant: starts registering the account's first passkey.
pub async fn start_enrolment(app: &App, cookie: &str) -> Result<Started, CoreError> {
    let (_, user) = flow_user(app, cookie, Step::EnrolTotp).await?;
    passkeys::start_registration(app, &user).await
}

/// Stores the new passkey; made with user verification, it counts as the second factor.
pub async fn finish_enrolment(
    app: &App,
    cookie: &str,
    token: &str,
    credential: &serde_json::Value,
    name: &str,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let (flow_row, user) = flow_user(app, cookie, Step::EnrolTotp).await?;
    let mut tx = app.db.begin().await?;
    let record =
        match passkeys::finish_registration_in(app, tx.as_mut(), &user, token, credential, name)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                drop(tx);
                audit_failure(app, user.id, "passkey.registered", token, source_ip).await?;
                return Err(e);
            }
        };
    advance(tx.as_mut(), &flow_row, |f| {
        f.second_factor_at = Some(now);
        f.amr.extend(["hwk".to_owned(), "user".to_owned()]);
    })
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "passkey.registered",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "passkey": record.id.to_string(), "wizard": true })),
    )
    .await?;
    tx.commit().await?;
    flow::next_step(app, &require(app, cookie).await?).await
}
