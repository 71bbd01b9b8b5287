//! Sponsors invite people by email; the invitee registers through the single-use link.
//! Sponsors resend (a new link; the old one dies) or revoke, and see their invitations.

use super::form::RegistrationForm;
use super::provision::{InitialPassword, PendingAccount, create_pending, human_date};
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::invitation::{Invitation, InvitationStatus, InvitationTerms};
use tessera_domain::lifecycle::{AddressVerdict, LifecycleSettings};
use tessera_domain::outbox::NewMessage;
use tessera_domain::secret::{BearerSecret, SecretHash};
use tessera_domain::user::{EmailAddress, User, UserState, UserType};
use tessera_domain::{DomainError, InvitationId, UserId};
use tessera_store::{InvitationQuery, Tx};

/// The right to invite: an active public officer or a platform administrator (tenant
/// administrators join in the tenants issue). Administrators see every invitation.
#[derive(Clone, Debug)]
pub struct Sponsor {
    /// Absent for the operator at the command line managing everyone's invitations.
    user: Option<User>,
    actor: Actor,
    sees_all: bool,
    /// A tenant admin sponsoring for their tenant: the invitations' events are filed there.
    tenant: Option<tessera_domain::TenantId>,
}

impl Sponsor {
    /// A signed-in person who may sponsor, or `None`.
    pub(crate) fn for_user(user: &User) -> Option<Self> {
        let may = user.state == UserState::Active
            && (user.platform_admin || user.user_type == UserType::Officer);
        may.then(|| Self {
            user: Some(user.clone()),
            actor: Actor::User(user.id),
            sees_all: user.platform_admin,
            tenant: None,
        })
    }

    /// A tenant admin, active, sponsoring for their tenant (officer or vendor alike: the
    /// platform trusted them with the tenant). Sees only their own invitations.
    pub(crate) fn tenant_admin(user: &User, tenant: tessera_domain::TenantId) -> Option<Self> {
        (user.state == UserState::Active).then(|| Self {
            user: Some(user.clone()),
            actor: Actor::User(user.id),
            sees_all: false,
            tenant: Some(tenant),
        })
    }

    /// `tessera admin invite --sponsor NAME`: the operator acts for a named sponsor, who
    /// must be allowed to sponsor.
    pub async fn named_at_cli(app: &App, username: &str) -> Result<Self, CoreError> {
        let name = tessera_domain::user::Username::parse(username)
            .map_err(|m| DomainError::field("sponsor", m))?;
        let user = app
            .db
            .read()
            .await?
            .user_by_username(&name)
            .await?
            .ok_or_else(|| DomainError::field("sponsor", format!("No user is named {name}.")))?;
        let mut sponsor = Self::for_user(&user).ok_or_else(|| {
            DomainError::field(
                "sponsor",
                format!(
                    "{name} cannot sponsor: only active public officers and administrators can."
                ),
            )
        })?;
        sponsor.actor = Actor::Cli;
        sponsor.sees_all = true;
        Ok(sponsor)
    }

    /// A platform API client inviting for a named sponsor: like the command line, but the
    /// audit log names the client.
    pub async fn named_for(
        app: &App,
        admin: &crate::admin::PlatformAdmin,
        username: &str,
    ) -> Result<Self, CoreError> {
        let mut sponsor = Self::named_at_cli(app, username).await?;
        sponsor.actor = admin.actor().clone();
        Ok(sponsor)
    }

    /// The operator at `tessera admin invitation …`: manages every invitation but, being
    /// nobody, cannot invite without `--sponsor`.
    pub fn operator_at_cli() -> Self {
        Self {
            user: None,
            actor: Actor::Cli,
            sees_all: true,
            tenant: None,
        }
    }

    fn may_manage(&self, invitation: &Invitation) -> bool {
        self.sees_all
            || self
                .user
                .as_ref()
                .is_some_and(|u| u.id == invitation.sponsor)
    }
}

/// What the sponsor fills in.
#[derive(Clone, Debug, Default)]
pub struct InvitationRequest {
    pub email: String,
    pub offshore: bool,
    pub odc: bool,
    pub seed: bool,
}

/// The event, filed under the sponsor's tenant when there is one.
fn filed(event: AuditEvent, tenant: Option<tessera_domain::TenantId>) -> AuditEvent {
    match tenant {
        Some(t) => event.tenant(t),
        None => event,
    }
}

fn link(app: &App, secret: &BearerSecret) -> String {
    app.settings
        .link(&format!("/register?token={}", secret.expose()))
}

async fn queue_invitation_email(
    app: &App,
    tx: &mut dyn Tx,
    invitation: &Invitation,
    sponsor: &User,
    secret: &BearerSecret,
) -> Result<(), CoreError> {
    let body = format!(
        "Hello,\n\n{sponsor} ({sponsor_email}) invites you to Tessera.\n\n\
         Complete your registration here:\n{link}\n\n\
         The link works once and expires on {expiry}. After that, ask {sponsor} for a new \
         invitation.\n",
        sponsor = sponsor.display_name(),
        sponsor_email = sponsor.email,
        link = link(app, secret),
        expiry = human_date(invitation.expires_at),
    );
    app.queue(
        tx,
        NewMessage::email(
            invitation.email.as_str(),
            format!("{} invites you to Tessera", sponsor.display_name()),
            body,
        ),
    )
    .await?;
    Ok(())
}

pub async fn invite(
    app: &App,
    sponsor: &Sponsor,
    request: &InvitationRequest,
    source_ip: Option<String>,
) -> Result<Invitation, CoreError> {
    invite_into_groups(app, sponsor, request, source_ip, &[]).await
}

/// Invites someone who, on registering, joins `groups` (checked by the caller to belong to
/// the sponsor's tenant): the invitation and its groups are one transaction.
pub async fn invite_into_groups(
    app: &App,
    sponsor: &Sponsor,
    request: &InvitationRequest,
    source_ip: Option<String>,
    groups: &[tessera_domain::GroupId],
) -> Result<Invitation, CoreError> {
    let Some(sponsor_user) = &sponsor.user else {
        return Err(DomainError::field("sponsor", "Name the sponsor of the invitation.").into());
    };
    let email = EmailAddress::parse(&request.email).map_err(|m| DomainError::field("email", m))?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let settings = super::settings::load(tx.as_mut()).await?;
    let verdict = settings.classify(&email);
    if verdict == AddressVerdict::NoInbox {
        return Err(DomainError::field("email", NO_INBOX_MESSAGE).into());
    }
    if let Some(existing) = tx
        .users_by_email(&email)
        .await?
        .into_iter()
        .find(|u| u.state != UserState::Terminated)
    {
        return Err(DomainError::field(
            "email",
            format!(
                "{email} already has an account ({}); they can sign in with it.",
                existing.username
            ),
        )
        .into());
    }
    let terms = InvitationTerms::new(request.offshore, request.odc, request.seed);
    // Agency addresses belong to public officers; everyone else is a vendor.
    let user_type = if verdict == AddressVerdict::Agency && !terms.offshore {
        UserType::Officer
    } else {
        UserType::Vendor
    };
    let secret = BearerSecret::generate(app.random.as_ref());
    let invitation = Invitation {
        id: InvitationId::new_at(now, app.random.as_ref()),
        email,
        sponsor: sponsor_user.id,
        user_type,
        terms,
        token_hash: secret.hash(),
        status: InvitationStatus::Sent,
        registered_user: None,
        sends: 1,
        created_at: now,
        expires_at: now + settings.invitation_validity(),
        updated_at: now,
        version: 1,
    };
    tx.insert_invitation(&invitation).await?;
    for group in groups {
        tx.add_invitation_group(invitation.id, *group).await?;
    }
    queue_invitation_email(app, tx.as_mut(), &invitation, sponsor_user, &secret).await?;
    app.audit(
        tx.as_mut(),
        filed(
            AuditEvent::new(now, &sponsor.actor, "invitation.sent", Outcome::Success),
            sponsor.tenant,
        )
        .target(format!("invitation:{}", invitation.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({
            "email": invitation.email.as_str(),
            "sponsor": format!("user:{}", sponsor_user.id),
            "offshore": terms.offshore, "odc": terms.odc, "seed": terms.seed,
            "groups": groups.iter().map(|g| format!("group:{g}")).collect::<Vec<_>>(),
            "expires_at": invitation.expires_at.unix_timestamp(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(invitation)
}

pub const NO_INBOX_MESSAGE: &str = "This address has no mailbox (for example a LiteMail \
    address), so it cannot receive the messages Tessera sends. Use an address with a standard \
    mailbox, or ask your IT team to upgrade this one to a standard mailbox first.";

async fn managed(
    tx: &mut dyn Tx,
    sponsor: &Sponsor,
    id: InvitationId,
) -> Result<Invitation, CoreError> {
    match tx.invitation_by_id(id).await? {
        Some(i) if sponsor.may_manage(&i) => Ok(i),
        // Someone else's invitation looks like none at all.
        _ => Err(DomainError::NotFound("invitation").into()),
    }
}

/// Sends a new link valid for the full period; the previous link stops working.
pub async fn resend(
    app: &App,
    sponsor: &Sponsor,
    id: InvitationId,
    source_ip: Option<String>,
) -> Result<Invitation, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let settings = super::settings::load(tx.as_mut()).await?;
    let old = managed(tx.as_mut(), sponsor, id).await?;
    if !old.may_resend() {
        return Err(DomainError::InvalidState(format!(
            "This invitation is {}; it cannot be resent.",
            old.status.as_str()
        ))
        .into());
    }
    let secret = BearerSecret::generate(app.random.as_ref());
    let new = Invitation {
        token_hash: secret.hash(),
        status: InvitationStatus::Sent,
        sends: old.sends + 1,
        expires_at: now + settings.invitation_validity(),
        updated_at: now,
        ..old.clone()
    };
    if !tx.update_invitation(&new).await? {
        return Err(changed_meanwhile());
    }
    let sponsor_user = tx
        .user_by_id(old.sponsor)
        .await?
        .ok_or_else(|| CoreError::Internal(format!("invitation {id} names a missing sponsor")))?;
    queue_invitation_email(app, tx.as_mut(), &new, &sponsor_user, &secret).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &sponsor.actor, "invitation.resent", Outcome::Success)
            .target(format!("invitation:{id}"))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "sends": new.sends, "expires_at": new.expires_at.unix_timestamp() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Invitation {
        version: new.version + 1,
        ..new
    })
}

pub async fn revoke(
    app: &App,
    sponsor: &Sponsor,
    id: InvitationId,
    source_ip: Option<String>,
) -> Result<Invitation, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let old = managed(tx.as_mut(), sponsor, id).await?;
    if !old.may_revoke() {
        return Err(DomainError::InvalidState(format!(
            "This invitation is {}; it cannot be revoked.",
            old.status.as_str()
        ))
        .into());
    }
    let new = Invitation {
        status: InvitationStatus::Revoked,
        updated_at: now,
        ..old
    };
    if !tx.update_invitation(&new).await? {
        return Err(changed_meanwhile());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &sponsor.actor, "invitation.revoked", Outcome::Success)
            .target(format!("invitation:{id}"))
            .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(Invitation {
        version: new.version + 1,
        ..new
    })
}

fn changed_meanwhile() -> CoreError {
    DomainError::InvalidState(
        "This invitation was changed by someone else just now. Reload and try again.".into(),
    )
    .into()
}

/// Invitations the sponsor may see, newest first; administrators see all, or filter by
/// sponsor.
pub async fn list(
    app: &App,
    sponsor: &Sponsor,
    status: Option<InvitationStatus>,
    before: Option<InvitationId>,
    limit: u32,
) -> Result<Vec<Invitation>, CoreError> {
    let query = InvitationQuery {
        sponsor: if sponsor.sees_all {
            None
        } else {
            sponsor.user.as_ref().map(|u| u.id)
        },
        status,
        before,
        limit: limit.clamp(1, 500),
    };
    Ok(app.db.read().await?.list_invitations(&query).await?)
}

/// What the registration page shows for a link.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InvitationView {
    pub email: String,
    pub sponsor_name: String,
    pub sponsor_email: String,
    pub needs_offshore_details: bool,
    pub status: InvitationStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// Looks up a link: `None` if no invitation ever had it (or its link was replaced).
pub async fn view(app: &App, token: &str) -> Result<Option<InvitationView>, CoreError> {
    if token.is_empty() {
        return Ok(None);
    }
    let now = app.clock.now();
    let mut r = app.db.read().await?;
    let Some(inv) = r.invitation_by_token(&SecretHash::of(token)).await? else {
        return Ok(None);
    };
    let sponsor = r.user_by_id(inv.sponsor).await?;
    Ok(Some(InvitationView {
        email: inv.email.to_string(),
        sponsor_name: sponsor
            .as_ref()
            .map(User::display_name)
            .unwrap_or_else(|| "your sponsor".into()),
        sponsor_email: sponsor.map(|s| s.email.to_string()).unwrap_or_default(),
        needs_offshore_details: inv.terms.needs_offshore_details(),
        status: inv.status_at(now),
        expires_at: inv.expires_at,
    }))
}

/// Registers through a link: one transaction marks the invitation used (compare-and-set,
/// so of many concurrent submits exactly one succeeds), creates the pending account and
/// queues the onboarding email and initial-password SMS.
pub async fn register(
    app: &App,
    token: &str,
    form: &RegistrationForm,
    source_ip: Option<String>,
) -> Result<User, CoreError> {
    let now = app.clock.now();
    let token_hash = SecretHash::of(token);
    let current = app
        .db
        .read()
        .await?
        .invitation_by_token(&token_hash)
        .await?;
    let Some(current) = current.filter(|i| i.is_usable(now)) else {
        return Err(DomainError::NoLongerValid("invitation").into());
    };
    let valid = match form.validate(true, current.terms.needs_offshore_details()) {
        Ok(v) => v,
        Err(errors) => {
            let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
            let mut tx = app.db.begin().await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::Anonymous,
                    "registration.invalid",
                    Outcome::Failure,
                )
                .target(format!("invitation:{}", current.id))
                .source_ip(source_ip)
                .detail(serde_json::json!({ "fields": fields })),
            )
            .await?;
            tx.commit().await?;
            return Err(DomainError::Invalid(errors).into());
        }
    };
    let Some(username) = valid.username.clone() else {
        return Err(CoreError::Internal(
            "registration without a username".into(),
        ));
    };
    let password = InitialPassword::generate(app).await?;
    let mut tx = app.db.begin().await?;
    let settings: LifecycleSettings = super::settings::load(tx.as_mut()).await?;
    let Some(inv) = tx
        .invitation_by_token(&token_hash)
        .await?
        .filter(|i| i.is_usable(now))
    else {
        return Err(DomainError::NoLongerValid("invitation").into());
    };
    let user_id = UserId::new_at(now, app.random.as_ref());
    let account = PendingAccount {
        id: user_id,
        username,
        given_name: valid.given_name.clone(),
        family_name: valid.family_name.clone(),
        email: inv.email.clone(),
        mobile: valid.mobile.clone(),
        department: valid.department.clone(),
        user_type: inv.user_type,
        sponsor: Some(inv.sponsor),
        offshore: valid.offshore_details(inv.terms.offshore, inv.terms.odc),
        device_onboarding: inv.terms.seed,
    };
    let deadline = now + settings.activation_window();
    // Claim the invitation first (compare-and-set): of concurrent submits, the losers stop
    // here without touching the users table, so even a shared username cannot make them
    // fail differently. The reference to the account is checked at commit.
    let used = Invitation {
        status: InvitationStatus::Registered,
        registered_user: Some(user_id),
        updated_at: now,
        ..inv.clone()
    };
    if !tx.update_invitation(&used).await? {
        return Err(DomainError::NoLongerValid("invitation").into());
    }
    let user = create_pending(app, tx.as_mut(), account, &password, deadline).await?;
    // A tenant admin's invitation names groups of their tenant: the account joins them now.
    let groups = tx.invitation_groups(inv.id).await?;
    for group in &groups {
        tx.add_group_member(*group, user.id, now).await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "registration.completed",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({
            "invitation": format!("invitation:{}", inv.id),
            "username": user.username.as_str(),
            "sponsor": format!("user:{}", inv.sponsor),
            "activation_deadline": deadline.unix_timestamp(),
            "groups": groups.iter().map(|g| format!("group:{g}")).collect::<Vec<_>>(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
