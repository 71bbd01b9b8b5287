//! Wizard step 3: replace the initial password (current, new, confirm), under the full
//! password policy. The same checks serve "My account" password changes.

use super::flow::{self, Step, advance, require};
use crate::passwords::check_new_password;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::user::User;
use tessera_domain::{DomainError, FieldErrors};

/// The three fields of the form.
#[derive(Clone, Debug, Default)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
    pub confirm: String,
}

/// Checks the form against `user`; on success returns the new hash.
pub(crate) async fn validate(
    app: &App,
    user: &User,
    form: &PasswordChange,
) -> Result<String, CoreError> {
    let mut errors = FieldErrors::new();
    let current_ok = app
        .passwords
        .verify(&form.current, user.password_hash.as_deref())
        .await?;
    if !current_ok {
        errors.add("current_password", "This is not your current password.");
    }
    let others = [
        user.given_name.as_str(),
        user.family_name.as_str(),
        user.email.as_str(),
    ];
    if let Err(m) = check_new_password(&form.new, &user.username, &others) {
        errors.add("new_password", m);
    } else if form.new == form.current {
        errors.add(
            "new_password",
            "Choose a password different from the current one.",
        );
    } else if form.new != form.confirm {
        errors.add("confirm_password", "The new passwords do not match.");
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors).into());
    }
    app.passwords.hash(&form.new, app.random.as_ref()).await
}

pub async fn reset_initial(
    app: &App,
    cookie: &str,
    form: &PasswordChange,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current = flow::require_step(app, cookie, Step::ResetPassword).await?;
    let user = current.proven_user()?.clone();
    let hash = validate(app, &user, form).await?;
    let mut tx = app.db.begin().await?;
    let changed = User {
        password_hash: Some(hash),
        password_is_initial: false,
        updated_at: now,
        ..user.clone()
    };
    if !tx.update_user(&changed).await? {
        return Err(
            DomainError::InvalidState("Your account changed meanwhile. Try again.".into()).into(),
        );
    }
    advance(tx.as_mut(), &current.flow, |_| {}).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "password.initial_replaced",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    flow::next_step(app, &require(app, cookie).await?).await
}
