//! What platform administrators do to accounts: find them, read their history, resend
//! onboarding, extend the activation deadline, suspend, reactivate, terminate.

use super::provision::{InitialPassword, queue_onboarding_messages};
use crate::admin::PlatformAdmin;
use crate::{App, CoreError};
use tessera_domain::audit::{AuditEvent, AuditRecord, Outcome};
use tessera_domain::user::{User, UserState, UserType, Username};
use tessera_domain::{DomainError, UserId};
use tessera_store::UserQuery;
use time::Duration;

/// The list's filters as typed into the page or the CLI; empty means "any".
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub text: String,
    pub state: String,
    pub user_type: String,
    pub agency: String,
    pub after: String,
}

pub async fn search(
    app: &App,
    _: &PlatformAdmin,
    filter: &UserFilter,
    limit: u32,
) -> Result<Vec<User>, CoreError> {
    let opt = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    };
    let state = match opt(&filter.state) {
        None => None,
        Some(s) => Some(UserState::parse(&s).ok_or_else(|| {
            DomainError::field("state", "Choose pending, active, suspended or terminated.")
        })?),
    };
    let user_type = match opt(&filter.user_type) {
        None => None,
        Some(s) => Some(
            UserType::parse(&s)
                .ok_or_else(|| DomainError::field("type", "Choose officer or vendor."))?,
        ),
    };
    let after = match opt(&filter.after) {
        None => None,
        Some(s) => Some(Username::parse(&s).map_err(|m| DomainError::field("after", m))?),
    };
    let query = UserQuery {
        text: opt(&filter.text),
        state,
        user_type,
        agency: opt(&filter.agency).map(|a| a.to_ascii_lowercase()),
        after,
        limit: limit.clamp(1, 500),
    };
    Ok(app.db.read().await?.search_users(&query).await?)
}

/// A user and what the audit log says about them, newest first.
pub async fn history(
    app: &App,
    _: &PlatformAdmin,
    user: UserId,
    limit: u32,
) -> Result<Vec<AuditRecord>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .audit_for_target(&format!("user:{user}"), limit.clamp(1, 500))
        .await?)
}

/// An administrator's change to one account: what it does to the user, the audit action,
/// and whether the account's sessions end.
enum Change {
    ResendOnboarding,
    ExtendDeadline {
        days: u32,
    },
    Suspend,
    Reactivate,
    Terminate,
    /// Removes every second factor: the next sign-in enrols one again.
    ResetMfa,
}

/// Applies a change in one transaction (compare-and-set, audit, messages).
async fn apply(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    change: Change,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    let now = app.clock.now();
    // Hashing is slow, so a new initial password is made before the transaction.
    let password = match change {
        Change::ResendOnboarding => Some(InitialPassword::generate(app).await?),
        _ => None,
    };
    let mut tx = app.db.begin().await?;
    let settings = super::settings::load(tx.as_mut()).await?;
    let user = tx
        .user_by_id(id)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    let refuse = |why: &str| -> CoreError {
        DomainError::InvalidState(format!(
            "{} is {}: {why}",
            user.username,
            user.state.as_str()
        ))
        .into()
    };
    let mut new = User {
        updated_at: now,
        ..user.clone()
    };
    let (action, end_sessions, detail) = match &change {
        Change::ResendOnboarding => {
            if user.state != UserState::Pending {
                return Err(refuse("only pending accounts get onboarding messages."));
            }
            new.password_is_initial = true;
            ("user.onboarding_resent", false, serde_json::json!({}))
        }
        Change::ExtendDeadline { days } => {
            if user.state != UserState::Pending {
                return Err(refuse("only pending accounts have an activation deadline."));
            }
            if !(1..=365).contains(days) {
                return Err(DomainError::field("days", "Extend by 1 to 365 days.").into());
            }
            let base = user.activation_deadline.unwrap_or(now).max(now);
            new.activation_deadline = Some(base + Duration::days((*days).into()));
            new.reminders_sent = 0;
            (
                "user.deadline_extended",
                false,
                serde_json::json!({
                    "from": user.activation_deadline.map(|d| d.unix_timestamp()),
                    "to": new.activation_deadline.map(|d| d.unix_timestamp()),
                }),
            )
        }
        Change::Suspend => {
            if user.state != UserState::Active {
                return Err(refuse("only active accounts can be suspended."));
            }
            new.state = UserState::Suspended;
            ("user.suspended", true, serde_json::json!({}))
        }
        Change::Reactivate => {
            if user.state != UserState::Suspended {
                return Err(refuse("only suspended accounts can be reactivated."));
            }
            new.state = UserState::Active;
            ("user.reactivated", false, serde_json::json!({}))
        }
        Change::Terminate => {
            if user.state == UserState::Terminated {
                return Err(refuse("it is terminated already."));
            }
            if user.platform_admin && admin.actor().encode() == format!("user:{}", user.id) {
                return Err(DomainError::InvalidState(
                    "You cannot terminate your own account.".into(),
                )
                .into());
            }
            new.state = UserState::Terminated;
            (
                "user.terminated",
                true,
                serde_json::json!({ "reason": "administrator" }),
            )
        }
        Change::ResetMfa => {
            if user.state == UserState::Terminated {
                return Err(refuse("there is nothing to reset."));
            }
            let mut removed = 0u32;
            for key in tx.totp_of_user(user.id).await? {
                if tx.delete_totp(user.id, key.id).await? {
                    removed += 1;
                }
            }
            for device in tx.push_devices_of_user(user.id).await? {
                if tx.delete_push_device(user.id, device.id).await? {
                    removed += 1;
                }
            }
            for key in tx.passkeys_of_user(user.id).await? {
                if tx.delete_passkey(user.id, key.id).await? {
                    removed += 1;
                }
            }
            (
                "user.mfa_reset",
                true,
                serde_json::json!({ "methods_removed": removed }),
            )
        }
    };
    if let Some(p) = &password {
        new.password_hash = Some(p.hash().to_owned());
    }
    if !tx.update_user(&new).await? {
        return Err(DomainError::InvalidState(
            "This account was changed by someone else just now. Reload and try again.".into(),
        )
        .into());
    }
    if end_sessions {
        tx.delete_sessions_of_user(new.id).await?;
    }
    if let Some(p) = &password {
        let deadline = new
            .activation_deadline
            .unwrap_or(now + settings.activation_window());
        queue_onboarding_messages(app, tx.as_mut(), &new, p.plain(), deadline).await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, admin.actor(), action, Outcome::Success)
            .target(format!("user:{}", new.id))
            .source_ip(source_ip)
            .detail(detail),
    )
    .await?;
    tx.commit().await?;
    Ok(User {
        version: new.version + 1,
        ..new
    })
}

/// A new initial password by SMS and the onboarding email again (pending accounts).
pub async fn resend_onboarding(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::ResendOnboarding, source_ip).await
}

pub async fn extend_deadline(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    days: u32,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::ExtendDeadline { days }, source_ip).await
}

pub async fn suspend(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::Suspend, source_ip).await
}

pub async fn reactivate(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::Reactivate, source_ip).await
}

/// Removes the user's authenticators (lost phone): their next sign-in enrols one again.
/// Their sessions end.
pub async fn reset_mfa(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::ResetMfa, source_ip).await
}

pub async fn terminate(
    app: &App,
    admin: &PlatformAdmin,
    id: UserId,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    apply(app, admin, id, Change::Terminate, source_ip).await
}
