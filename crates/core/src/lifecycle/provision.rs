//! Making a pending account (from an invitation or a self-registration): the account, its
//! initial password, the onboarding email and the SMS, all in the caller's transaction.

use crate::{App, CoreError};
use tessera_domain::outbox::NewMessage;
use tessera_domain::user::{
    EmailAddress, MobileNumber, OffshoreDetails, User, UserState, UserType, Username,
};
use tessera_domain::{DomainError, UserId};
use tessera_store::{StoreError, Tx};
use time::OffsetDateTime;

/// A validated registration, ready to become a pending account.
#[derive(Clone, Debug)]
pub(crate) struct PendingAccount {
    /// Chosen by the caller, which may have to record it first (the invitation it used).
    pub id: UserId,
    pub username: Username,
    pub given_name: String,
    pub family_name: String,
    pub email: EmailAddress,
    pub mobile: MobileNumber,
    pub department: String,
    pub user_type: UserType,
    pub sponsor: Option<UserId>,
    pub offshore: Option<OffshoreDetails>,
    pub device_onboarding: bool,
}

/// The generated first-sign-in password: its plain text for the SMS and its hash. Hashing
/// is slow, so it happens before the transaction opens.
pub(crate) struct InitialPassword {
    plain: String,
    hash: String,
}

impl InitialPassword {
    pub async fn generate(app: &App) -> Result<Self, CoreError> {
        let plain = tessera_domain::secret::initial_password(app.random.as_ref());
        let hash = app.passwords.hash(&plain, app.random.as_ref()).await?;
        Ok(Self { plain, hash })
    }

    pub fn plain(&self) -> &str {
        &self.plain
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// "23 December 2026" — the deadline as people read it, in UTC.
pub fn human_date(at: OffsetDateTime) -> String {
    let month = at.month().to_string();
    format!("{} {} {} (UTC)", at.day(), month, at.year())
}

/// Inserts the account and queues its two onboarding messages. A taken username is a
/// field error; the caller's transaction is then dropped, so nothing is half-written.
pub(crate) async fn create_pending(
    app: &App,
    tx: &mut dyn Tx,
    account: PendingAccount,
    password: &InitialPassword,
    deadline: OffsetDateTime,
) -> Result<User, CoreError> {
    let now = app.clock.now();
    let taken = || DomainError::field("username", "This username is taken. Choose another.");
    // Checked first so that PostgreSQL does not abort the transaction on the unique index;
    // the index still decides a race.
    if tx.user_by_username(&account.username).await?.is_some() {
        return Err(taken().into());
    }
    let user = User {
        id: account.id,
        username: account.username,
        given_name: account.given_name,
        family_name: account.family_name,
        email: account.email,
        mobile: Some(account.mobile),
        department: account.department,
        user_type: account.user_type,
        state: UserState::Pending,
        platform_admin: false,
        password_hash: Some(password.hash.clone()),
        password_is_initial: true,
        sponsor: account.sponsor,
        offshore: account.offshore,
        device_onboarding: account.device_onboarding,
        activation_deadline: Some(deadline),
        reminders_sent: 0,
        phone_verified_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    tx.insert_user(&user).await.map_err(|e| match e {
        StoreError::Duplicate { .. } => CoreError::Domain(taken()),
        other => other.into(),
    })?;
    queue_onboarding_messages(app, tx, &user, &password.plain, deadline).await?;
    Ok(user)
}

/// The onboarding email (username, deadline, how to sign in) and the initial-password SMS.
pub(crate) async fn queue_onboarding_messages(
    app: &App,
    tx: &mut dyn Tx,
    user: &User,
    initial_password: &str,
    deadline: OffsetDateTime,
) -> Result<(), CoreError> {
    let deadline_text = human_date(deadline);
    let seed = if user.device_onboarding {
        "\nDevice onboarding (SEED) was requested for you. Activate your account first; the \
         device onboarding email follows separately.\n"
    } else {
        ""
    };
    let body = format!(
        "Hello {given},\n\n\
         Your Tessera account has been created and is pending activation.\n\n\
         Your username is: {username}\n\
         Use this username, not your email address, to sign in.\n\n\
         Your initial password has been sent by SMS to your mobile number. It works only for \
         your first sign-in, where you set up multi-factor authentication, verify your phone \
         and choose your own password.\n\n\
         Activate your account by {deadline_text}. After that date the account is terminated \
         and a new request is needed.\n\n\
         Sign in at: {signin}\n{seed}\n\
         Did not get the SMS? Some networks (for example in China) block the sender; ask \
         your sponsor or the platform administrators to send a new initial password.\n",
        given = user.given_name,
        username = user.username,
        signin = app.settings.link("/signin"),
    );
    app.queue(
        tx,
        NewMessage::email(
            user.email.as_str(),
            format!("Your Tessera username is {}", user.username),
            body,
        ),
    )
    .await?;
    if let Some(mobile) = &user.mobile {
        app.queue(
            tx,
            NewMessage::sms(
                mobile.as_str(),
                format!(
                    "Tessera: your initial password is {initial_password} . Use it with \
                     username {} to activate your account by {deadline_text}.",
                    user.username
                ),
            ),
        )
        .await?;
    }
    Ok(())
}
