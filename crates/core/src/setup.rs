//! First run: the one-time setup link, and the page behind it that creates the first
//! platform administrator. `tessera admin bootstrap` does the same without a link.

use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::outbox::NewMessage;
use tessera_domain::secret::{BearerSecret, SecretHash};
use tessera_domain::setup::SETUP_LINK_LIFETIME;
use tessera_domain::user::{
    EmailAddress, MobileNumber, User, UserState, UserType, Username, check_new_password,
    parse_person_name,
};
use tessera_domain::{DomainError, FieldErrors, UserId};

/// What the setup page (or the CLI) submits.
#[derive(Clone, Debug, Default)]
pub struct AdminForm {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    /// Empty means none (allowed from the CLI only).
    pub mobile: String,
    pub password: String,
    pub password_confirm: String,
}

/// On a database without a platform administrator, mints a setup link valid for one hour.
/// Returns `None` once an administrator exists.
pub async fn issue_setup_link(app: &App) -> Result<Option<String>, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if tx.platform_admin_exists().await? {
        return Ok(None);
    }
    let secret = BearerSecret::generate(app.random.as_ref());
    tx.insert_setup_link(&secret.hash(), now, now + SETUP_LINK_LIFETIME)
        .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::System, "setup.link_issued", Outcome::Success),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(
        app.settings
            .link(&format!("/setup?token={}", secret.expose())),
    ))
}

/// Whether a presented setup token may still be used.
pub async fn setup_link_is_valid(app: &App, token: &str) -> Result<bool, CoreError> {
    if token.is_empty() {
        return Ok(false);
    }
    let mut r = app.db.read().await?;
    Ok(
        r.setup_link_is_valid(&SecretHash::of(token), app.clock.now())
            .await?,
    )
}

struct ValidAdmin {
    username: Username,
    given_name: String,
    family_name: String,
    email: EmailAddress,
    mobile: Option<MobileNumber>,
}

fn validate(form: &AdminForm, mobile_required: bool) -> Result<ValidAdmin, DomainError> {
    let mut errors = FieldErrors::new();
    let username = errors.check("username", Username::parse(&form.username));
    let given_name = errors.check(
        "given_name",
        parse_person_name(&form.given_name, "first name"),
    );
    let family_name = errors.check(
        "family_name",
        parse_person_name(&form.family_name, "last name"),
    );
    let email = errors.check("email", EmailAddress::parse(&form.email));
    let mobile = if form.mobile.trim().is_empty() && !mobile_required {
        Some(None)
    } else {
        errors
            .check("mobile", MobileNumber::parse(&form.mobile))
            .map(Some)
    };
    errors.check(
        "password",
        check_new_password(&form.password, username.as_ref()),
    );
    if errors.get("password").is_none() && form.password != form.password_confirm {
        errors.add("password_confirm", "The passwords do not match.");
    }
    match (username, given_name, family_name, email, mobile) {
        (Some(username), Some(given_name), Some(family_name), Some(email), Some(mobile))
            if errors.is_empty() =>
        {
            Ok(ValidAdmin {
                username,
                given_name,
                family_name,
                email,
                mobile,
            })
        }
        _ => Err(DomainError::Invalid(errors)),
    }
}

/// Creates the first platform administrator through the setup link. The link is used in
/// the same transaction, so it works exactly once, also when submitted concurrently.
pub async fn complete_setup(
    app: &App,
    token: &str,
    form: &AdminForm,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    if !setup_link_is_valid(app, token).await? {
        return Err(DomainError::NoLongerValid("setup link").into());
    }
    let valid = validate(form, true)?;
    let hash = app
        .passwords
        .hash(&form.password, app.random.as_ref())
        .await?;
    create_admin(
        app,
        valid,
        hash,
        Some(SecretHash::of(token)),
        Actor::Anonymous,
        source_ip,
    )
    .await
}

/// `tessera admin bootstrap`: the same, for scripts, without a link. Refused once any
/// platform administrator exists.
pub async fn bootstrap_admin(app: &App, form: &AdminForm) -> Result<User, CoreError> {
    let valid = validate(form, false)?;
    let hash = app
        .passwords
        .hash(&form.password, app.random.as_ref())
        .await?;
    create_admin(app, valid, hash, None, Actor::Cli, None).await
}

async fn create_admin(
    app: &App,
    valid: ValidAdmin,
    password_hash: String,
    link: Option<SecretHash>,
    actor: Actor,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if let Some(link) = &link
        && !tx.consume_setup_link(link, now).await?
    {
        return Err(DomainError::NoLongerValid("setup link").into());
    }
    if tx.platform_admin_exists().await? {
        return Err(DomainError::InvalidState(
            "A platform administrator already exists; sign in instead.".into(),
        )
        .into());
    }
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: valid.username,
        given_name: valid.given_name,
        family_name: valid.family_name,
        email: valid.email,
        mobile: valid.mobile,
        department: "Platform administration".into(),
        user_type: UserType::Officer,
        state: UserState::Active,
        platform_admin: true,
        password_hash: Some(password_hash),
        password_is_initial: false,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
        activation_deadline: None,
        reminders_sent: 0,
        phone_verified_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    tx.insert_user(&user).await.map_err(|e| match e {
        tessera_store::StoreError::Duplicate { .. } => {
            CoreError::Domain(DomainError::field("username", "This username is taken."))
        }
        other => other.into(),
    })?;
    tx.revoke_setup_links(now).await?;
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            user.email.as_str(),
            "Welcome to Tessera",
            format!(
                "Hello {},\n\nYou are the first platform administrator of Tessera at {}.\n\n\
                 Your username is: {}\nUse this username, not your email address, to sign in:\n{}\n",
                user.given_name,
                app.settings.issuer,
                user.username,
                app.settings.link("/signin"),
            ),
        ),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &actor, "setup.admin_created", Outcome::Success)
            .target(format!("user:{}", user.id))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "username": user.username.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
