//! The sign-in state machine: username → password → second factor, or for a new account
//! the onboarding wizard (TOTP enrolment, phone check, initial-password reset, policies),
//! then a session. Which step comes next is computed from the flow and the account, never
//! taken from the browser, so no step can be skipped by URL.

use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::lockout::{LockoutPolicy, LockoutState, password_subject, source_subject};
use tessera_domain::secret::{BearerSecret, SecretHash};
use tessera_domain::session::PortalSession;
use tessera_domain::signin_flow::{FLOW_LIFETIME, SignInFlow};
use tessera_domain::user::{User, UserState, Username};
use tessera_store::Tx;
use time::OffsetDateTime;

/// Where a sign-in stands: the page the browser must be on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Password,
    /// The one-time code of an enrolled authenticator app.
    SecondFactor,
    /// Wizard 1: set up an authenticator app (also for accounts that never had one).
    EnrolTotp,
    /// Wizard 2: prove the mobile number by SMS (pending accounts).
    VerifyPhone,
    /// Wizard 3: replace the initial password.
    ResetPassword,
    /// Wizard 4 (and after any new version): accept the current policies.
    AcceptPolicies,
    Done,
}

impl Step {
    /// The portal page of each step.
    pub fn path(self) -> &'static str {
        match self {
            Self::Password => "/signin/password",
            Self::SecondFactor => "/signin/code",
            Self::EnrolTotp => "/signin/setup/authenticator",
            Self::VerifyPhone => "/signin/setup/phone",
            Self::ResetPassword => "/signin/setup/password",
            Self::AcceptPolicies => "/signin/setup/policies",
            Self::Done => "/signin/complete",
        }
    }

    /// The wizard's step number (1–4), for "Step 2 of 4".
    pub fn wizard_number(self) -> Option<u8> {
        match self {
            Self::EnrolTotp => Some(1),
            Self::VerifyPhone => Some(2),
            Self::ResetPassword => Some(3),
            Self::AcceptPolicies => Some(4),
            _ => None,
        }
    }
}

/// A live flow and its account (absent for an unknown username before the password).
#[derive(Clone, Debug)]
pub struct Current {
    pub flow: SignInFlow,
    pub user: Option<User>,
}

impl Current {
    /// The account, once the password proved it.
    pub fn proven_user(&self) -> Result<&User, CoreError> {
        match (&self.user, self.flow.password_at) {
            (Some(u), Some(_)) => Ok(u),
            _ => Err(DomainError::Unauthenticated.into()),
        }
    }
}

fn no_flow() -> CoreError {
    DomainError::NoLongerValid("sign-in").into()
}

/// Step 1: the username. Returns the secret for the flow cookie. Every name, known or not,
/// gets a flow, so the next page looks the same.
pub async fn begin(app: &App, username: &str, return_to: &str) -> Result<BearerSecret, CoreError> {
    let typed = username.trim().to_lowercase();
    if typed.is_empty() {
        return Err(DomainError::field("username", "Enter your username.").into());
    }
    if typed.contains('@') {
        return Err(DomainError::field(
            "username",
            "Enter your username, not your email address. It is in your onboarding email.",
        )
        .into());
    }
    let now = app.clock.now();
    let user = match Username::parse(&typed) {
        Ok(name) => app.db.read().await?.user_by_username(&name).await?,
        Err(_) => None,
    };
    let secret = BearerSecret::generate(app.random.as_ref());
    let flow = SignInFlow {
        token_hash: secret.hash(),
        username: typed,
        user_id: user.map(|u| u.id),
        created_at: now,
        expires_at: now + FLOW_LIFETIME,
        password_at: None,
        second_factor_at: None,
        amr: Vec::new(),
        return_to: return_to.to_owned(),
        version: 1,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_sign_in_flow(&flow).await?;
    tx.commit().await?;
    Ok(secret)
}

/// The live flow a cookie names, with its account.
pub async fn current(app: &App, cookie: &str) -> Result<Option<Current>, CoreError> {
    if cookie.is_empty() {
        return Ok(None);
    }
    let now = app.clock.now();
    let mut r = app.db.read().await?;
    let Some(flow) = r.sign_in_flow(&SecretHash::of(cookie)).await? else {
        return Ok(None);
    };
    if !flow.is_live(now) {
        return Ok(None);
    }
    let user = match flow.user_id {
        Some(id) => r.user_by_id(id).await?,
        None => None,
    };
    Ok(Some(Current { flow, user }))
}

pub(crate) async fn require(app: &App, cookie: &str) -> Result<Current, CoreError> {
    current(app, cookie).await?.ok_or_else(no_flow)
}

/// The flow, if `step` is the one it needs now. Every step's action calls this first, so a
/// form posted out of order (a later step early, or an earlier one again) changes nothing.
pub(crate) async fn require_step(
    app: &App,
    cookie: &str,
    step: Step,
) -> Result<Current, CoreError> {
    let current = require(app, cookie).await?;
    let now_at = next_step(app, &current).await?;
    if now_at != step {
        return Err(DomainError::InvalidState(format!(
            "This step is not the current one: continue at {}.",
            now_at.path()
        ))
        .into());
    }
    Ok(current)
}

/// What the flow needs next.
pub async fn next_step(app: &App, current: &Current) -> Result<Step, CoreError> {
    let Ok(user) = current.proven_user() else {
        return Ok(Step::Password);
    };
    let mut r = app.db.read().await?;
    let enrolled = r
        .totp_of_user(user.id)
        .await?
        .iter()
        .any(|c| c.confirmed_at.is_some())
        || crate::push::has_confirmed_device(r.as_mut(), user.id).await?
        || crate::passkeys::has_passkey(r.as_mut(), user.id).await?;
    if !enrolled {
        return Ok(Step::EnrolTotp);
    }
    if current.flow.second_factor_at.is_none() {
        return Ok(Step::SecondFactor);
    }
    if user.state == UserState::Pending && user.phone_verified_at.is_none() {
        return Ok(Step::VerifyPhone);
    }
    if user.password_is_initial {
        return Ok(Step::ResetPassword);
    }
    if !crate::policies::pending_for(r.as_mut(), user)
        .await?
        .is_empty()
    {
        return Ok(Step::AcceptPolicies);
    }
    Ok(Step::Done)
}

/// Records a step's success on the flow (compare-and-set).
pub(crate) async fn advance(
    tx: &mut dyn Tx,
    flow: &SignInFlow,
    change: impl FnOnce(&mut SignInFlow),
) -> Result<(), CoreError> {
    let mut next = flow.clone();
    change(&mut next);
    if !tx.update_sign_in_flow(&next).await? {
        return Err(DomainError::InvalidState(
            "This sign-in changed in another tab. Reload the page.".into(),
        )
        .into());
    }
    Ok(())
}

fn locked_message(state: &LockoutState) -> String {
    let until = state
        .locked_until
        .map(|t| {
            let f = time::macros::format_description!("[hour]:[minute] UTC");
            t.format(f).unwrap_or_default()
        })
        .unwrap_or_default();
    format!(
        "Too many failed attempts. For your security, sign-in is locked until {until}. Try \
         again then, or reset your password."
    )
}

/// The lockout policy from the administrators' settings.
pub(crate) async fn account_policy(tx: &mut dyn Tx) -> Result<LockoutPolicy, CoreError> {
    let s = crate::lifecycle::settings::load(tx).await?;
    Ok(LockoutPolicy {
        max_failures: s.lockout_max_failures,
        lock_for: time::Duration::minutes(s.lockout_minutes.into()),
        window: time::Duration::minutes(s.lockout_minutes.into()),
    })
}

/// Refuses early when the account's or the source's counter is locked.
pub(crate) async fn check_not_locked(
    app: &App,
    subjects: &[String],
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    let mut r = app.db.read().await?;
    for s in subjects {
        let state = r.lockout(s).await?;
        if state.is_locked(now) {
            return Err(DomainError::TooManyAttempts(locked_message(&state)).into());
        }
    }
    Ok(())
}

/// Counts a failure against the account (per the settings) and the source; an error
/// names the lock if this failure started one.
pub(crate) async fn count_failure(
    tx: &mut dyn Tx,
    account: &str,
    source: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<CoreError>, CoreError> {
    let policy = account_policy(tx).await?;
    let state = tx.record_failure(account, &policy, now).await?;
    if let Some(s) = source {
        tx.record_failure(s, &LockoutPolicy::SOURCE, now).await?;
    }
    Ok(state
        .is_locked(now)
        .then(|| DomainError::TooManyAttempts(locked_message(&state)).into()))
}

fn password_subjects(flow: &SignInFlow, ip: Option<&str>) -> (String, Option<String>) {
    let account = match flow.user_id {
        Some(id) => password_subject(id),
        // An unknown name is counted like an account, so lockout reveals nothing either.
        None => format!("password:name:{}", flow.username),
    };
    (account, ip.map(|ip| source_subject("password", ip)))
}

/// Step 2: the password. Unknown names, wrong passwords and accounts that may not sign in
/// all get the same `Unauthenticated` after the same work.
pub async fn submit_password(
    app: &App,
    cookie: &str,
    password: &str,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current = require(app, cookie).await?;
    if current.flow.password_at.is_some() {
        return next_step(app, &current).await;
    }
    let (account, source) = password_subjects(&current.flow, source_ip.as_deref());
    let mut subjects = vec![account.clone()];
    subjects.extend(source.clone());
    check_not_locked(app, &subjects, now).await?;
    let user = current.user.as_ref();
    let stored = user.and_then(|u| u.password_hash.as_deref());
    let password_ok = app.passwords.verify(password, stored).await?;
    let mut tx = app.db.begin().await?;
    match user {
        Some(u) if password_ok && u.state.may_sign_in() => {
            tx.clear_lockout(&account).await?;
            advance(tx.as_mut(), &current.flow, |f| {
                f.password_at = Some(now);
                f.amr = vec!["pwd".into()];
            })
            .await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(now, &Actor::User(u.id), "signin.password", Outcome::Success)
                    .target(format!("user:{}", u.id))
                    .source_ip(source_ip),
            )
            .await?;
            tx.commit().await?;
            let refreshed = require(app, cookie).await?;
            next_step(app, &refreshed).await
        }
        other => {
            let locked = count_failure(tx.as_mut(), &account, source.as_deref(), now).await?;
            let mut event =
                AuditEvent::new(now, &Actor::Anonymous, "signin.password", Outcome::Failure)
                    .source_ip(source_ip)
                    .detail(serde_json::json!({ "locked": locked.is_some() }));
            if let Some(u) = other {
                event = event.target(format!("user:{}", u.id));
            }
            app.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Err(locked.unwrap_or_else(|| DomainError::Unauthenticated.into()))
        }
    }
}

/// What finishing the sign-in gives the browser.
#[derive(Debug)]
pub struct Completed {
    pub session: BearerSecret,
    pub user: User,
    pub return_to: String,
}

/// The last step: the flow is used up (once, also under concurrency), a pending account
/// becomes active, and a session opens with the methods used.
pub async fn complete(
    app: &App,
    cookie: &str,
    source_ip: Option<String>,
) -> Result<Completed, CoreError> {
    let now = app.clock.now();
    let current = require(app, cookie).await?;
    let step = next_step(app, &current).await?;
    if step != Step::Done {
        return Err(DomainError::InvalidState(format!(
            "The sign-in is not finished: continue at {}.",
            step.path()
        ))
        .into());
    }
    let user = current.proven_user()?.clone();
    let mut tx = app.db.begin().await?;
    if !tx.delete_sign_in_flow(&current.flow.token_hash).await? {
        return Err(no_flow());
    }
    let user = if user.state == UserState::Pending {
        let active = User {
            state: UserState::Active,
            activation_deadline: None,
            updated_at: now,
            ..user.clone()
        };
        if !tx.update_user(&active).await? {
            return Err(DomainError::InvalidState(
                "Your account changed while you were signing in. Sign in again.".into(),
            )
            .into());
        }
        app.audit(
            tx.as_mut(),
            AuditEvent::new(
                now,
                &Actor::User(user.id),
                "user.activated",
                Outcome::Success,
            )
            .target(format!("user:{}", user.id))
            .source_ip(source_ip.clone()),
        )
        .await?;
        User {
            version: active.version + 1,
            ..active
        }
    } else {
        user
    };
    let secret = BearerSecret::generate(app.random.as_ref());
    let mut amr = current.flow.amr.clone();
    if amr.len() > 1 && !amr.iter().any(|m| m == "mfa") {
        amr.push("mfa".into());
    }
    tx.insert_session(&PortalSession::signed_in_with(
        secret.hash(),
        user.id,
        now,
        source_ip.clone(),
        amr.clone(),
    ))
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "signin.success",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "amr": amr })),
    )
    .await?;
    tx.commit().await?;
    Ok(Completed {
        session: secret,
        user,
        return_to: current.flow.return_to,
    })
}
