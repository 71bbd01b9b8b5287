//! Delegated tenant administration. Every function here takes the [`TenantAdmin`]
//! capability, which carries its tenant: queries go through `cap.tenant_id()`, so a handler
//! never compares tenant ids itself and a record of another tenant is simply not found.

pub mod access;
pub mod apps;
pub mod groups;

use crate::admin::PlatformAdmin;
use crate::signin::SignedIn;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::tenant::{Tenant, parse_slug};
use tessera_domain::user::{User, UserState};
use tessera_domain::{DomainError, TenantId};

/// The API scope of platform administration (granted only by platform administrators).
pub const SCOPE_PLATFORM_ADMIN: &str = "tessera:admin";
/// The API scope of administering the tenant the calling app belongs to.
pub const SCOPE_TENANT_ADMIN: &str = "tessera:tenant";

/// Proof of the right to administer one tenant. Made only by [`administer`] (a signed-in
/// tenant admin or platform admin), [`TenantAdmin::by_platform`] and
/// [`TenantAdmin::by_api_client`].
#[derive(Clone, Debug)]
pub struct TenantAdmin {
    tenant: Tenant,
    actor: Actor,
    /// The signed-in person behind it, when there is one (sponsoring needs a person).
    user: Option<User>,
    /// Held by a platform administrator (who may grant the platform API scope).
    platform: bool,
}

impl TenantAdmin {
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    pub fn is_platform_admin(&self) -> bool {
        self.platform
    }

    /// A platform administrator administers every tenant.
    pub async fn by_platform(
        app: &App,
        admin: &PlatformAdmin,
        tenant: &str,
    ) -> Result<Self, CoreError> {
        let tenant = find_tenant(app, tenant)
            .await?
            .ok_or(DomainError::NotFound("tenant"))?;
        Ok(Self {
            tenant,
            actor: admin.actor().clone(),
            user: None,
            platform: true,
        })
    }

    /// An API client whose access token carries the tenant scope administers the tenant
    /// it belongs to, and no other.
    pub(crate) fn by_api_client(tenant: Tenant, client_id: &str) -> Self {
        Self {
            tenant,
            actor: Actor::Client(client_id.to_owned()),
            user: None,
            platform: false,
        }
    }

    /// An event about this tenant, filed under it so its admins see it.
    pub fn event(&self, app: &App, action: &str) -> AuditEvent {
        AuditEvent::new(app.clock.now(), &self.actor, action, Outcome::Success)
            .tenant(self.tenant.id)
    }
}

/// A tenant by slug or by id.
pub async fn find_tenant(app: &App, key: &str) -> Result<Option<Tenant>, CoreError> {
    let mut r = app.db.read().await?;
    if let Ok(id) = key.parse::<TenantId>() {
        return Ok(r.tenant_by_id(id).await?);
    }
    match parse_slug(key) {
        Ok(slug) => Ok(r.tenant_by_slug(&slug).await?),
        Err(_) => Ok(None),
    }
}

/// The capability for `who` over `tenant` (slug or id). Someone who may not administer it
/// is told it does not exist, as for a tenant that really does not: no probing.
pub async fn administer(app: &App, who: &SignedIn, tenant: &str) -> Result<TenantAdmin, CoreError> {
    if !who.is_fully_signed_in() || who.user.state != UserState::Active {
        return Err(DomainError::NotFound("tenant").into());
    }
    let tenant = find_tenant(app, tenant)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?;
    let allowed = who.user.platform_admin
        || app
            .db
            .read()
            .await?
            .is_tenant_admin(tenant.id, who.user.id)
            .await?;
    if !allowed {
        return Err(DomainError::NotFound("tenant").into());
    }
    Ok(TenantAdmin {
        tenant,
        actor: Actor::User(who.user.id),
        user: Some(who.user.clone()),
        platform: who.user.platform_admin,
    })
}

/// The tenants `who` administers (every tenant for a platform administrator).
pub async fn administered_by(app: &App, who: &SignedIn) -> Result<Vec<Tenant>, CoreError> {
    if !who.is_fully_signed_in() || who.user.state != UserState::Active {
        return Ok(Vec::new());
    }
    let mut r = app.db.read().await?;
    if who.user.platform_admin {
        Ok(r.list_tenants().await?)
    } else {
        Ok(r.tenants_administered_by(who.user.id).await?)
    }
}

pub async fn admins(app: &App, cap: &TenantAdmin) -> Result<Vec<User>, CoreError> {
    Ok(app.db.read().await?.tenant_admins(cap.tenant_id()).await?)
}

/// Names an existing, active user as an admin of the tenant. Platform administrators only.
pub async fn add_admin(
    app: &App,
    admin: &PlatformAdmin,
    tenant: &str,
    user: &str,
) -> Result<User, CoreError> {
    let cap = TenantAdmin::by_platform(app, admin, tenant).await?;
    let user = crate::admin::find_user(app, admin, user)
        .await
        .map_err(|_| DomainError::field("user", "There is no such user."))?;
    if user.state != UserState::Active {
        return Err(DomainError::field(
            "user",
            format!(
                "{} is not active, so cannot administer a tenant.",
                user.username
            ),
        )
        .into());
    }
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    tx.add_tenant_admin(cap.tenant_id(), user.id, now).await?;
    app.audit(
        tx.as_mut(),
        cap.event(app, "tenant.admin_add")
            .target(format!("user:{}", user.id))
            .detail(serde_json::json!({ "tenant": cap.tenant().slug, "username": user.username.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn remove_admin(
    app: &App,
    admin: &PlatformAdmin,
    tenant: &str,
    user: &str,
) -> Result<(), CoreError> {
    let cap = TenantAdmin::by_platform(app, admin, tenant).await?;
    let user = crate::admin::find_user(app, admin, user).await?;
    let mut tx = app.db.begin().await?;
    if !tx.remove_tenant_admin(cap.tenant_id(), user.id).await? {
        return Err(DomainError::NotFound("tenant admin").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "tenant.admin_remove")
            .target(format!("user:{}", user.id))
            .detail(serde_json::json!({ "tenant": cap.tenant().slug, "username": user.username.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A user that exists and is not terminated, by username or id: what access rules and
/// group memberships may name.
pub(crate) async fn find_member(app: &App, key: &str) -> Result<User, CoreError> {
    let mut r = app.db.read().await?;
    let found = match key.trim().parse::<tessera_domain::UserId>() {
        Ok(id) => r.user_by_id(id).await?,
        Err(_) => match tessera_domain::user::Username::parse(key) {
            Ok(name) => r.user_by_username(&name).await?,
            Err(_) => None,
        },
    };
    found
        .filter(|u| u.state != UserState::Terminated)
        .ok_or_else(|| {
            DomainError::field("user", format!("There is no user {:?}.", key.trim())).into()
        })
}

/// Who calls the admin API with an access token.
// One value per request, never stored in bulk: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ApiCaller {
    Platform(PlatformAdmin),
    Tenant(TenantAdmin),
    /// A person signed in to the portal (the browser sends the session cookie and passes
    /// the CSRF check): their own rights, tenant by tenant.
    Person(Box<SignedIn>),
}

/// The caller behind a bearer token: a live client_credentials access token we issued,
/// to an app that still exists and still holds the scope. Platform scope wins over tenant
/// scope. `None` for anything else (the API answers 401).
pub async fn api_caller(app: &App, bearer: &str) -> Result<Option<ApiCaller>, CoreError> {
    use serde_json::Value;
    let claims = match crate::oidc::userinfo::live_access_token(app, bearer).await {
        Ok(Some(c)) => c,
        Ok(None) | Err(crate::oidc::OidcError::OAuth(_)) => return Ok(None),
        Err(crate::oidc::OidcError::Core(e)) => return Err(e),
    };
    let (Some(client_id), Some(sub)) = (
        claims.get("client_id").and_then(Value::as_str),
        claims.get("sub").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    // Only an app acting for itself (client_credentials), never a user's token.
    if sub != client_id || claims.get("sid").is_some() {
        return Ok(None);
    }
    let issuer = app.settings.issuer.trim_end_matches('/');
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => {
            a.trim_end_matches('/') == issuer || *a == format!("{issuer}/api/v1")
        }
        _ => false,
    };
    if !aud_ok {
        return Ok(None);
    }
    let scope = tessera_domain::oauth::scope::Scopes::parse(
        claims.get("scope").and_then(Value::as_str).unwrap_or(""),
    )
    .unwrap_or_default();
    let mut r = app.db.read().await?;
    let Some(client) = r.client_by_client_id(client_id).await? else {
        return Ok(None);
    };
    let still = |s: &str| scope.contains(s) && client.allowed_scopes.iter().any(|a| a == s);
    if still(SCOPE_PLATFORM_ADMIN) {
        return Ok(Some(ApiCaller::Platform(PlatformAdmin::api_client(
            client_id,
        ))));
    }
    if still(SCOPE_TENANT_ADMIN) {
        let Some(tenant) = r.tenant_by_id(client.tenant_id).await? else {
            return Ok(None);
        };
        return Ok(Some(ApiCaller::Tenant(TenantAdmin::by_api_client(
            tenant, client_id,
        ))));
    }
    Ok(None)
}

impl ApiCaller {
    /// The capability over `tenant` (slug or id): a platform caller gets any tenant, a
    /// tenant caller only its own; any other tenant is "not found".
    pub async fn tenant(&self, app: &App, tenant: &str) -> Result<TenantAdmin, CoreError> {
        match self {
            Self::Platform(p) => TenantAdmin::by_platform(app, p, tenant).await,
            Self::Person(who) => administer(app, who, tenant).await,
            Self::Tenant(t) => {
                let same = t.tenant.slug == tenant || t.tenant.id.to_string() == tenant;
                if same {
                    Ok(t.clone())
                } else {
                    Err(DomainError::NotFound("tenant").into())
                }
            }
        }
    }

    pub fn platform(&self) -> Option<PlatformAdmin> {
        match self {
            Self::Platform(p) => Some(p.clone()),
            Self::Person(who) => who.platform_admin(),
            Self::Tenant(_) => None,
        }
    }

    /// Who it is, for idempotency keys: keys of different callers never meet.
    pub fn principal(&self) -> String {
        match self {
            Self::Platform(p) => p.actor().encode(),
            Self::Tenant(t) => t.actor().encode(),
            Self::Person(who) => format!("user:{}", who.user.id),
        }
    }
}
