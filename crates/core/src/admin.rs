//! Platform administration: tenants, users, the outbox. Every function takes the
//! [`PlatformAdmin`] capability, which only a platform administrator's session or the
//! operator's command line can produce.

use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::outbox::{DeliveryStatus, NewMessage, OutboxMessage};
use tessera_domain::tenant::{Tenant, parse_display_name, parse_slug};
use tessera_domain::user::{EmailAddress, User, Username};
use tessera_domain::{DomainError, FieldErrors, OutboxMessageId, TenantId, UserId};

/// Proof of platform-administrator rights. It has no public constructor besides the two
/// below, so a handler without it cannot call anything in this module.
#[derive(Clone, Debug)]
pub struct PlatformAdmin {
    actor: Actor,
}

impl PlatformAdmin {
    pub(crate) fn signed_in(user: UserId) -> Self {
        Self {
            actor: Actor::User(user),
        }
    }

    /// The operator at `tessera admin`: whoever can read the configuration and reach the
    /// database already holds every right.
    pub fn operator_at_cli() -> Self {
        Self { actor: Actor::Cli }
    }

    /// An API client holding a live access token with the platform scope.
    pub(crate) fn api_client(client_id: &str) -> Self {
        Self {
            actor: Actor::Client(client_id.to_owned()),
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Overview {
    pub users: i64,
    pub tenants: i64,
    pub outbox_pending: i64,
    pub outbox_failed: i64,
}

pub async fn overview(app: &App, _: &PlatformAdmin) -> Result<Overview, CoreError> {
    let mut r = app.db.read().await?;
    Ok(Overview {
        users: r.count_users().await?,
        tenants: r.count_tenants().await?,
        outbox_pending: r.count_outbox(DeliveryStatus::Pending).await?,
        outbox_failed: r.count_outbox(DeliveryStatus::Failed).await?,
    })
}

pub async fn create_tenant(
    app: &App,
    admin: &PlatformAdmin,
    slug: &str,
    display_name: &str,
) -> Result<Tenant, CoreError> {
    let mut errors = FieldErrors::new();
    let slug = errors.check("slug", parse_slug(slug));
    let display_name = errors.check("name", parse_display_name(display_name));
    let (Some(slug), Some(display_name)) = (slug, display_name) else {
        return Err(DomainError::Invalid(errors).into());
    };
    let now = app.clock.now();
    let tenant = Tenant {
        id: TenantId::new_at(now, app.random.as_ref()),
        slug,
        display_name,
        created_at: now,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_tenant(&tenant).await.map_err(|e| match e {
        tessera_store::StoreError::Duplicate { .. } => CoreError::Domain(DomainError::Conflict {
            field: "slug",
            message: format!("A tenant with the handle {:?} exists already.", tenant.slug),
        }),
        other => other.into(),
    })?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, admin.actor(), "tenant.create", Outcome::Success)
            .tenant(tenant.id)
            .target(format!("tenant:{}", tenant.id))
            .detail(serde_json::json!({ "slug": tenant.slug, "name": tenant.display_name })),
    )
    .await?;
    tx.commit().await?;
    Ok(tenant)
}

pub async fn list_tenants(app: &App, _: &PlatformAdmin) -> Result<Vec<Tenant>, CoreError> {
    Ok(app.db.read().await?.list_tenants().await?)
}

pub async fn list_users(
    app: &App,
    _: &PlatformAdmin,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<User>, CoreError> {
    let after = after
        .map(Username::parse)
        .transpose()
        .map_err(|m| DomainError::field("after", m))?;
    Ok(app
        .db
        .read()
        .await?
        .list_users(after.as_ref(), limit.clamp(1, 1000))
        .await?)
}

/// Finds a user by username or by id.
pub async fn find_user(app: &App, _: &PlatformAdmin, key: &str) -> Result<User, CoreError> {
    let mut r = app.db.read().await?;
    let found = match key.parse::<UserId>() {
        Ok(id) => r.user_by_id(id).await?,
        Err(_) => match Username::parse(key) {
            Ok(name) => r.user_by_username(&name).await?,
            Err(_) => None,
        },
    };
    found.ok_or_else(|| DomainError::NotFound("user").into())
}

pub async fn list_outbox(
    app: &App,
    _: &PlatformAdmin,
    before: Option<OutboxMessageId>,
    limit: u32,
) -> Result<Vec<OutboxMessage>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .list_outbox(before, limit.clamp(1, 1000))
        .await?)
}

pub async fn outbox_message(
    app: &App,
    _: &PlatformAdmin,
    id: OutboxMessageId,
) -> Result<OutboxMessage, CoreError> {
    app.db
        .read()
        .await?
        .outbox_message(id)
        .await?
        .ok_or_else(|| DomainError::NotFound("message").into())
}

/// Queues a test email (to check SMTP settings end to end). One transaction: the message
/// and its audit event.
pub async fn send_test_email(
    app: &App,
    admin: &PlatformAdmin,
    to: &str,
    source_ip: Option<String>,
) -> Result<OutboxMessageId, CoreError> {
    let to = EmailAddress::parse(to).map_err(|m| DomainError::field("to", m))?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let id = app
        .queue(
            tx.as_mut(),
            NewMessage::email(
                to.as_str(),
                "Tessera test message",
                format!(
                    "This is a test message from Tessera at {}.\n\nIf you can read it, email delivery works.\n",
                    app.settings.issuer
                ),
            ),
        )
        .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, admin.actor(), "outbox.test_email", Outcome::Success)
            .target(format!("message:{id}"))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "to": to.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
