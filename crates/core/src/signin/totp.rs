//! Authenticator apps (TOTP): enrolment by QR code with the key also shown as text,
//! confirmed by one valid code; the second step of a sign-in; "My account" adds and
//! removes keys. A time step that signed someone in never works again.

use super::flow::{self, Current, Step, advance, check_not_locked, count_failure, require};
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::lockout::{second_factor_subject, source_subject};
use tessera_domain::mfa::{TotpCredential, base32, otpauth_uri, verify_totp};
use tessera_domain::user::User;
use tessera_domain::{CredentialId, DomainError};
use tessera_store::Tx;

/// What the enrolment page shows.
#[derive(Clone, Debug)]
pub struct TotpEnrolment {
    pub credential: CredentialId,
    /// The `otpauth://` URI, for the QR code and for copying.
    pub uri: String,
    /// The key in base32, in groups of four, for typing by hand.
    pub key_text: String,
    /// The QR code as inline SVG.
    pub qr_svg: String,
}

fn context(id: CredentialId) -> Vec<u8> {
    [b"totp:".as_slice(), id.as_uuid().as_bytes()].concat()
}

fn open_secret(app: &App, c: &TotpCredential) -> Result<Vec<u8>, CoreError> {
    app.secrets.open(&c.sealed_secret, &context(c.id))
}

fn qr_svg(uri: &str) -> Result<String, CoreError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| CoreError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build())
}

fn view(app: &App, user: &User, c: &TotpCredential) -> Result<TotpEnrolment, CoreError> {
    let secret = open_secret(app, c)?;
    let issuer = "Tessera";
    let uri = otpauth_uri(issuer, user.username.as_str(), &secret);
    let key = base32(&secret);
    let key_text = key
        .as_bytes()
        .chunks(4)
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(TotpEnrolment {
        credential: c.id,
        qr_svg: qr_svg(&uri)?,
        uri,
        key_text,
    })
}

/// The key being enrolled: the open enrolment if there is one (a reload shows the same
/// QR code), else a new random 160-bit key, sealed at rest.
pub async fn start_enrolment(app: &App, user: &User) -> Result<TotpEnrolment, CoreError> {
    let existing = app.db.read().await?.totp_of_user(user.id).await?;
    if let Some(open) = existing.iter().find(|c| c.confirmed_at.is_none()) {
        return view(app, user, open);
    }
    let now = app.clock.now();
    let id = CredentialId::new_at(now, app.random.as_ref());
    let mut secret = [0u8; 20];
    app.random.fill(&mut secret);
    let credential = TotpCredential {
        id,
        user_id: user.id,
        sealed_secret: app
            .secrets
            .seal(&secret, &context(id), app.random.as_ref())?,
        label: "Authenticator app".into(),
        created_at: now,
        confirmed_at: None,
        last_used_step: 0,
        version: 1,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_totp(&credential).await?;
    tx.commit().await?;
    view(app, user, &credential)
}

/// Confirms the open enrolment with one valid code, inside `tx`. Wrong codes are counted
/// against the account's second-factor lock.
async fn confirm_in(
    app: &App,
    tx: &mut dyn Tx,
    user: &User,
    code: &str,
    label: Option<&str>,
) -> Result<Result<(), String>, CoreError> {
    let now = app.clock.now();
    let open = tx
        .totp_of_user(user.id)
        .await?
        .into_iter()
        .find(|c| c.confirmed_at.is_none())
        .ok_or_else(|| {
            DomainError::InvalidState("Start again: the key to confirm has gone.".into())
        })?;
    let secret = open_secret(app, &open)?;
    let Some(step) = verify_totp(&secret, code, now, open.last_used_step) else {
        return Ok(Err(
            "That code is not right. Check the time on your phone and enter the code shown now."
                .into(),
        ));
    };
    let confirmed = TotpCredential {
        confirmed_at: Some(now),
        last_used_step: step,
        label: label
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.chars().take(60).collect())
            .unwrap_or(open.label.clone()),
        ..open
    };
    if !tx.update_totp(&confirmed).await? {
        return Ok(Err(
            "That code was used already. Enter the next code.".into()
        ));
    }
    Ok(Ok(()))
}

/// Wizard step 1: the first valid code confirms the key and counts as the second factor.
pub async fn confirm_in_flow(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current = flow::require_step(app, cookie, Step::EnrolTotp).await?;
    let user = current.proven_user()?.clone();
    let subject = second_factor_subject(user.id);
    check_not_locked(app, std::slice::from_ref(&subject), now).await?;
    let mut tx = app.db.begin().await?;
    match confirm_in(app, tx.as_mut(), &user, code, None).await? {
        Ok(()) => {
            tx.clear_lockout(&subject).await?;
            advance(tx.as_mut(), &current.flow, |f| {
                f.second_factor_at = Some(now);
                f.amr.push("otp".into());
            })
            .await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::User(user.id),
                    "mfa.totp_enrolled",
                    Outcome::Success,
                )
                .target(format!("user:{}", user.id))
                .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            flow::next_step(app, &require(app, cookie).await?).await
        }
        Err(message) => {
            fail(
                app,
                tx,
                &user,
                &subject,
                None,
                "mfa.totp_enrol",
                message,
                source_ip,
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn fail(
    app: &App,
    mut tx: Box<dyn Tx>,
    user: &User,
    subject: &str,
    source: Option<&str>,
    action: &str,
    message: String,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let locked = count_failure(tx.as_mut(), subject, source, now).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(user.id), action, Outcome::Failure)
            .target(format!("user:{}", user.id))
            .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Err(locked.unwrap_or_else(|| DomainError::field("code", message).into()))
}

/// The second step of a sign-in: a code from an enrolled authenticator app.
pub async fn verify_in_flow(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current: Current = flow::require_step(app, cookie, Step::SecondFactor).await?;
    let user = current.proven_user()?.clone();
    let subject = second_factor_subject(user.id);
    let source = source_ip.as_deref().map(|ip| source_subject("mfa", ip));
    let mut subjects = vec![subject.clone()];
    subjects.extend(source.clone());
    check_not_locked(app, &subjects, now).await?;
    let mut tx = app.db.begin().await?;
    if !code_matches(app, tx.as_mut(), &user, code).await? {
        return fail(
            app,
            tx,
            &user,
            &subject,
            source.as_deref(),
            "signin.totp",
            "That code is not right, or was used already. Enter the code your app shows now."
                .into(),
            source_ip,
        )
        .await;
    }
    tx.clear_lockout(&subject).await?;
    advance(tx.as_mut(), &current.flow, |f| {
        f.second_factor_at = Some(now);
        f.amr.push("otp".into());
    })
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(user.id), "signin.totp", Outcome::Success)
            .target(format!("user:{}", user.id))
            .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    flow::next_step(app, &require(app, cookie).await?).await
}

/// Whether `code` is valid now for one of the user's confirmed keys; marks its time step
/// used in `tx`. The compare-and-set makes a code single-use across requests and nodes.
pub(crate) async fn code_matches(
    app: &App,
    tx: &mut dyn Tx,
    user: &User,
    code: &str,
) -> Result<bool, CoreError> {
    let now = app.clock.now();
    let keys = tx.totp_of_user(user.id).await?;
    for key in keys.into_iter().filter(|c| c.confirmed_at.is_some()) {
        let secret = open_secret(app, &key)?;
        if let Some(step) = verify_totp(&secret, code, now, key.last_used_step) {
            return Ok(tx
                .update_totp(&TotpCredential {
                    last_used_step: step,
                    ..key
                })
                .await?);
        }
    }
    Ok(false)
}

/// "My account": confirms an added key (the user is already signed in).
pub async fn confirm_added(
    app: &App,
    user: &User,
    code: &str,
    label: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if let Err(message) = confirm_in(app, tx.as_mut(), user, code, Some(label)).await? {
        return Err(DomainError::field("code", message).into());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "mfa.totp_enrolled",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A user's confirmed keys, for "My account".
pub async fn keys_of(app: &App, user: &User) -> Result<Vec<TotpCredential>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .totp_of_user(user.id)
        .await?
        .into_iter()
        .filter(|c| c.confirmed_at.is_some())
        .collect())
}

/// Removes a key; the last second factor cannot be removed.
pub async fn remove(
    app: &App,
    user: &User,
    id: CredentialId,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let keys = tx.totp_of_user(user.id).await?;
    let confirmed = keys.iter().filter(|c| c.confirmed_at.is_some()).count();
    let target = keys
        .iter()
        .find(|c| c.id == id)
        .ok_or(DomainError::NotFound("authenticator"))?;
    // Any other second factor (a push device or a passkey) lets the last app go.
    let others = crate::push::has_confirmed_device(tx.as_mut(), user.id).await?
        || crate::passkeys::has_passkey(tx.as_mut(), user.id).await?;
    if target.confirmed_at.is_some() && confirmed <= 1 && !others {
        return Err(DomainError::InvalidState(
            "This is your only second factor, so it cannot be removed. Add another first.".into(),
        )
        .into());
    }
    if !tx.delete_totp(user.id, id).await? {
        return Err(DomainError::NotFound("authenticator").into());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "mfa.totp_removed",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
