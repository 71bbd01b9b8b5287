//! "Get started": a public officer registers with an agency email, proves the mailbox with
//! a six-digit code, fills a short form and gets a pending account plus a low-assurance
//! session to follow the request. The browser's cookie names the request.

use super::form::{RegistrationForm, username_from_email};
use super::invitations::NO_INBOX_MESSAGE;
use super::provision::{InitialPassword, PendingAccount, create_pending, human_date};
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::lifecycle::AddressVerdict;
use tessera_domain::outbox::NewMessage;
use tessera_domain::secret::{BearerSecret, SecretHash, six_digit_code};
use tessera_domain::self_registration::{
    CODE_LIFETIME, MAX_CODE_ATTEMPTS, MAX_REQUESTS_PER_HOUR, SelfRegistration,
};
use tessera_domain::session::PortalSession;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_domain::{DomainError, SelfRegistrationId, UserId};
use tessera_store::Tx;

pub const NOT_AGENCY_MESSAGE: &str = "Only public officers can register here, with their \
    agency email address (for example name@agency.gov.sg). Vendors are invited by their \
    project manager or reporting officer: ask them for an invitation.";

async fn audit(
    app: &App,
    tx: &mut dyn Tx,
    action: &str,
    outcome: Outcome,
    request: Option<&SelfRegistration>,
    source_ip: Option<String>,
    detail: serde_json::Value,
) -> Result<(), CoreError> {
    let mut event = AuditEvent::new(app.clock.now(), &Actor::Anonymous, action, outcome)
        .source_ip(source_ip)
        .detail(detail);
    if let Some(r) = request {
        event = event.target(format!("self_registration:{}", r.id));
    }
    app.audit(tx, event).await
}

async fn live_account(tx: &mut dyn Tx, email: &EmailAddress) -> Result<Option<User>, CoreError> {
    Ok(tx
        .users_by_email(email)
        .await?
        .into_iter()
        .find(|u| u.state != UserState::Terminated))
}

/// Queues the code, or — when the address already has an account — a note to sign in
/// instead. The browser sees the same page either way, so the form reveals nothing.
async fn queue_code(
    app: &App,
    tx: &mut dyn Tx,
    request: &SelfRegistration,
    code: &str,
) -> Result<(), CoreError> {
    let message = match live_account(tx, &request.email).await? {
        Some(existing) => NewMessage::email(
            request.email.as_str(),
            "You already have a Tessera account",
            format!(
                "Hello {},\n\nSomeone (probably you) asked to register {} with Tessera, but this \
                 address already has an account.\n\nYour username is: {}\nSign in instead: {}\n\n\
                 No new account was made. If this was not you, you can ignore this email.\n",
                existing.given_name,
                request.email,
                existing.username,
                app.settings.link("/signin"),
            ),
        ),
        None => NewMessage::email(
            request.email.as_str(),
            format!("Your Tessera code is {code}"),
            format!(
                "Your code to register with Tessera is:\n\n    {code}\n\nIt expires in {} \
                 minutes. If you did not ask for it, you can ignore this email.\n",
                CODE_LIFETIME.whole_minutes()
            ),
        ),
    };
    app.queue(tx, message).await?;
    Ok(())
}

/// Step 1: checks the address and sends a code. Returns the secret for the browser.
pub async fn start(
    app: &App,
    email: &str,
    source_ip: Option<String>,
) -> Result<BearerSecret, CoreError> {
    let email = EmailAddress::parse(email).map_err(|m| DomainError::field("email", m))?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let settings = super::settings::load(tx.as_mut()).await?;
    let refusal = match settings.classify(&email) {
        AddressVerdict::NoInbox => Some(("no_inbox", NO_INBOX_MESSAGE)),
        AddressVerdict::NotAgency => Some(("not_agency", NOT_AGENCY_MESSAGE)),
        AddressVerdict::Agency => None,
    };
    if let Some((reason, message)) = refusal {
        audit(
            app,
            tx.as_mut(),
            "self_registration.refused",
            Outcome::Failure,
            None,
            source_ip,
            serde_json::json!({ "email": email.as_str(), "reason": reason }),
        )
        .await?;
        tx.commit().await?;
        return Err(DomainError::field("email", message).into());
    }
    let recent = tx
        .count_self_registrations_since(&email, now - time::Duration::hours(1))
        .await?;
    if recent >= MAX_REQUESTS_PER_HOUR {
        return Err(DomainError::field(
            "email",
            "Too many requests for this address. Try again in an hour.",
        )
        .into());
    }
    let secret = BearerSecret::generate(app.random.as_ref());
    let id = SelfRegistrationId::new_at(now, app.random.as_ref());
    let code = six_digit_code(app.random.as_ref());
    let request = SelfRegistration {
        id,
        email,
        token_hash: secret.hash(),
        code_mac: app.secrets.code_mac(id.as_uuid().as_bytes(), &code),
        code_expires_at: now + CODE_LIFETIME,
        attempts: 0,
        sends: 1,
        last_sent_at: now,
        verified_at: None,
        completed_user: None,
        created_at: now,
        version: 1,
    };
    tx.insert_self_registration(&request).await?;
    queue_code(app, tx.as_mut(), &request, &code).await?;
    audit(
        app,
        tx.as_mut(),
        "self_registration.code_sent",
        Outcome::Success,
        Some(&request),
        source_ip,
        serde_json::json!({ "email": request.email.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// The request a browser's cookie names, if any.
pub async fn current(app: &App, cookie: &str) -> Result<Option<SelfRegistration>, CoreError> {
    if cookie.is_empty() {
        return Ok(None);
    }
    Ok(app
        .db
        .read()
        .await?
        .self_registration_by_token(&SecretHash::of(cookie))
        .await?)
}

async fn load(tx: &mut dyn Tx, cookie: &str) -> Result<SelfRegistration, CoreError> {
    tx.self_registration_by_token(&SecretHash::of(cookie))
        .await?
        .ok_or_else(|| DomainError::NoLongerValid("registration request").into())
}

fn changed_meanwhile() -> CoreError {
    DomainError::field(
        "code",
        "Another attempt was being checked at the same moment. Try again.",
    )
    .into()
}

/// Sends a fresh code (throttled); the old code stops working.
pub async fn resend(app: &App, cookie: &str, source_ip: Option<String>) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let old = load(tx.as_mut(), cookie).await?;
    old.may_resend(now)
        .map_err(|m| DomainError::field("code", m))?;
    let code = six_digit_code(app.random.as_ref());
    let new = SelfRegistration {
        code_mac: app.secrets.code_mac(old.id.as_uuid().as_bytes(), &code),
        code_expires_at: now + CODE_LIFETIME,
        sends: old.sends + 1,
        last_sent_at: now,
        ..old.clone()
    };
    if !tx.update_self_registration(&new).await? {
        return Err(changed_meanwhile());
    }
    queue_code(app, tx.as_mut(), &new, &code).await?;
    audit(
        app,
        tx.as_mut(),
        "self_registration.code_resent",
        Outcome::Success,
        Some(&new),
        source_ip,
        serde_json::json!({ "sends": new.sends }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Step 2: the code. Every try counts, right or wrong; after five the request is spent
/// and even the right code is refused.
pub async fn verify(
    app: &App,
    cookie: &str,
    code: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let old = load(tx.as_mut(), cookie).await?;
    if let Err(refusal) = old.may_try_code(now) {
        audit(
            app,
            tx.as_mut(),
            "self_registration.code_refused",
            Outcome::Failure,
            Some(&old),
            source_ip,
            serde_json::json!({ "reason": format!("{refusal:?}") }),
        )
        .await?;
        tx.commit().await?;
        return Err(DomainError::field("code", refusal.message()).into());
    }
    let right = app
        .secrets
        .code_matches(old.id.as_uuid().as_bytes(), code, &old.code_mac);
    let new = SelfRegistration {
        attempts: old.attempts + 1,
        verified_at: right.then_some(now),
        ..old.clone()
    };
    if !tx.update_self_registration(&new).await? {
        return Err(changed_meanwhile());
    }
    let (action, outcome) = if right {
        ("self_registration.code_verified", Outcome::Success)
    } else {
        ("self_registration.code_failed", Outcome::Failure)
    };
    audit(
        app,
        tx.as_mut(),
        action,
        outcome,
        Some(&new),
        source_ip,
        serde_json::json!({ "attempt": new.attempts }),
    )
    .await?;
    tx.commit().await?;
    if right {
        Ok(())
    } else {
        let left = MAX_CODE_ATTEMPTS.saturating_sub(new.attempts);
        let message = if left == 0 {
            "That code is not right, and no tries are left. Start again to get a new code.".into()
        } else {
            format!("That code is not right. {left} tries left.")
        };
        Err(DomainError::field("code", message).into())
    }
}

/// A free username from the email's local part: `ada.lim`, else `ada.lim2`, `ada.lim3`…
async fn free_username(tx: &mut dyn Tx, email: &EmailAddress) -> Result<Username, CoreError> {
    let base = username_from_email(email);
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        let Ok(name) = Username::parse(&candidate) else {
            continue;
        };
        if tx.user_by_username(&name).await?.is_none() {
            return Ok(name);
        }
    }
    Err(CoreError::Internal(format!(
        "no free username derived from {base}"
    )))
}

/// What completing the request gives the browser.
#[derive(Debug)]
pub struct Completed {
    pub user: User,
    /// A low-assurance session: it shows the person their request, nothing else.
    pub session: BearerSecret,
}

/// Step 3: the short form. Makes the pending account (officer, no sponsor), queues the
/// onboarding email and SMS, and opens the low-assurance session — one transaction.
pub async fn complete(
    app: &App,
    cookie: &str,
    form: &RegistrationForm,
    source_ip: Option<String>,
) -> Result<Completed, CoreError> {
    let now = app.clock.now();
    let valid = form.validate(false, false).map_err(DomainError::Invalid)?;
    let password = InitialPassword::generate(app).await?;
    let mut tx = app.db.begin().await?;
    let settings = super::settings::load(tx.as_mut()).await?;
    let request = load(tx.as_mut(), cookie).await?;
    if !request.may_complete(now) {
        return Err(DomainError::NoLongerValid("registration request").into());
    }
    if let Some(existing) = live_account(tx.as_mut(), &request.email).await? {
        return Err(DomainError::InvalidState(format!(
            "{} already has an account. Sign in with the username {} instead.",
            request.email, existing.username
        ))
        .into());
    }
    let user_id = UserId::new_at(now, app.random.as_ref());
    let account = PendingAccount {
        id: user_id,
        username: free_username(tx.as_mut(), &request.email).await?,
        given_name: valid.given_name,
        family_name: valid.family_name,
        email: request.email.clone(),
        mobile: valid.mobile,
        department: valid.department,
        user_type: UserType::Officer,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
    };
    let deadline = now + settings.activation_window();
    // Claim the request first; a concurrent completion stops here. The reference to the
    // account is checked at commit.
    let done = SelfRegistration {
        completed_user: Some(user_id),
        ..request.clone()
    };
    if !tx.update_self_registration(&done).await? {
        return Err(DomainError::NoLongerValid("registration request").into());
    }
    let user = create_pending(app, tx.as_mut(), account, &password, deadline).await?;
    let session_secret = BearerSecret::generate(app.random.as_ref());
    tx.insert_session(&PortalSession::by_email_code(
        session_secret.hash(),
        user.id,
        now,
        source_ip.clone(),
    ))
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "self_registration.completed",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({
            "request": format!("self_registration:{}", request.id),
            "username": user.username.as_str(),
            "activation_deadline": deadline.unix_timestamp(),
            "deadline_text": human_date(deadline),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Completed {
        user,
        session: session_secret,
    })
}
