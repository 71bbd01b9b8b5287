//! A tenant's apps: registration, settings, deletion, secrets (generate, rotate with an
//! overlap window, revoke) and who may use each app.

use super::{SCOPE_PLATFORM_ADMIN, TenantAdmin};
use crate::oidc::clients::{self, CreatedApp, NewApp};
use crate::{App, CoreError};
use tessera_domain::oauth::{ClientKind, OAuthClient};
use tessera_domain::secret::BearerSecret;
use tessera_domain::tenancy::{AccessRules, AppSecret, Audience};
use tessera_domain::user::UserState;
use tessera_domain::{AppId, DomainError, FieldErrors};
use time::Duration;

/// The longest overlap a rotation may give the old secret.
pub const MAX_OVERLAP: Duration = Duration::days(30);

pub async fn list(app: &App, cap: &TenantAdmin) -> Result<Vec<OAuthClient>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .list_clients(Some(cap.tenant_id()))
        .await?)
}

/// One of the tenant's apps by id or `client_id`.
pub async fn get(app: &App, cap: &TenantAdmin, key: &str) -> Result<OAuthClient, CoreError> {
    let mut r = app.db.read().await?;
    let found = match key.parse::<AppId>() {
        Ok(id) => r.client_in_tenant(cap.tenant_id(), id).await?,
        Err(_) => r
            .client_by_client_id(key)
            .await?
            .filter(|c| c.tenant_id == cap.tenant_id()),
    };
    found.ok_or_else(|| DomainError::NotFound("app").into())
}

/// Checked on the parsed scopes (`"openid tessera:admin"` in one entry is two scopes).
/// The most users and groups one app's rules may name.
pub const MAX_LISTED: usize = 1000;

/// The app, for a change: an app holding the platform API scope is a platform credential,
/// so only a platform administrator may change it, add or revoke its secrets, or delete
/// it, even though it lives in a tenant.
async fn get_to_change(app: &App, cap: &TenantAdmin, key: &str) -> Result<OAuthClient, CoreError> {
    let client = get(app, cap, key).await?;
    if !cap.is_platform_admin()
        && client
            .allowed_scopes
            .iter()
            .any(|s| s == SCOPE_PLATFORM_ADMIN)
    {
        return Err(DomainError::Forbidden.into());
    }
    Ok(client)
}

fn refuse_platform_scope(cap: &TenantAdmin, scopes: &[String], errors: &mut FieldErrors) {
    if !cap.is_platform_admin() && scopes.iter().any(|s| s == SCOPE_PLATFORM_ADMIN) {
        errors.add(
            "scope",
            format!("Only platform administrators can grant {SCOPE_PLATFORM_ADMIN}."),
        );
    }
}

pub async fn create(app: &App, cap: &TenantAdmin, new: NewApp) -> Result<CreatedApp, CoreError> {
    let mut errors = FieldErrors::new();
    let checked = clients::check(&new, &mut errors);
    refuse_platform_scope(cap, &checked.scopes, &mut errors);
    errors.into_result()?;
    clients::register(app, cap.tenant(), cap.actor(), new, checked).await
}

/// Replaces the app's settings with `edit` (everything a registration sets, except
/// public/confidential, which cannot change: a public app has no secret to rotate).
pub async fn update(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    edit: NewApp,
) -> Result<OAuthClient, CoreError> {
    let current = get_to_change(app, cap, key).await?;
    let mut errors = FieldErrors::new();
    let checked = clients::check(&edit, &mut errors);
    refuse_platform_scope(cap, &checked.scopes, &mut errors);
    if checked.kind != current.kind {
        errors.add(
            "public",
            "An app cannot change between public and confidential; register a new one.",
        );
    }
    errors.into_result()?;
    let updated = OAuthClient {
        name: checked.name,
        description: checked.description,
        redirect_uris: edit.redirect_uris,
        grant_types: checked.grant_types,
        allowed_scopes: checked.scopes,
        id_token_alg: checked.id_token_alg,
        access_token_ttl_secs: checked.access_token_ttl_secs,
        refresh_idle_ttl_secs: checked.refresh_idle_ttl_secs,
        refresh_absolute_ttl_secs: checked.refresh_absolute_ttl_secs,
        require_par: edit.require_par,
        post_logout_redirect_uris: edit.post_logout_redirect_uris,
        backchannel_logout_uri: edit.backchannel_logout_uri,
        jwks: edit.jwks,
        jwks_uri: edit.jwks_uri,
        consent_required: edit.consent_required,
        allowed_resources: edit.resources,
        require_phishing_resistant: edit.require_phishing_resistant,
        ..current
    };
    let mut tx = app.db.begin().await?;
    if !tx.update_client(&updated).await? {
        return Err(DomainError::NotFound("app").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "app.update")
            .target(format!("app:{}", updated.id))
            .detail(serde_json::json!({ "client_id": updated.client_id, "name": updated.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

pub async fn delete(app: &App, cap: &TenantAdmin, key: &str) -> Result<(), CoreError> {
    let current = get_to_change(app, cap, key).await?;
    let mut tx = app.db.begin().await?;
    if !tx.delete_client(cap.tenant_id(), current.id).await? {
        return Err(DomainError::NotFound("app").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "app.delete")
            .target(format!("app:{}", current.id))
            .detail(serde_json::json!({ "client_id": current.client_id, "name": current.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn secrets(app: &App, cap: &TenantAdmin, key: &str) -> Result<Vec<AppSecret>, CoreError> {
    let client = get(app, cap, key).await?;
    Ok(app.db.read().await?.client_secrets(client.id).await?)
}

/// A new secret, shown once. With `overlap`, a rotation: every other secret still valid
/// stops working when the overlap ends (immediately for a zero overlap); without, the new
/// secret is simply added.
pub async fn new_secret(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    overlap: Option<Duration>,
) -> Result<(AppSecret, String), CoreError> {
    let client = get_to_change(app, cap, key).await?;
    if client.kind != ClientKind::Confidential || client.uses_private_key_jwt() {
        return Err(DomainError::InvalidState(
            "This app does not use client secrets (it is public, or authenticates with its keys)."
                .into(),
        )
        .into());
    }
    if let Some(o) = overlap
        && (o.is_negative() || o > MAX_OVERLAP)
    {
        return Err(DomainError::field(
            "overlap",
            "The overlap is between 0 and 30 days (2592000 seconds).",
        )
        .into());
    }
    let now = app.clock.now();
    let secret = BearerSecret::generate(app.random.as_ref());
    let mut tx = app.db.begin().await?;
    let expired = match overlap {
        Some(o) => tx.expire_client_secrets(client.id, now, now + o).await?,
        None => 0,
    };
    let id = tx
        .add_client_secret(
            client.id,
            &app.secrets.client_secret_hmac(secret.expose()),
            now,
            None,
        )
        .await?;
    app.audit(
        tx.as_mut(),
        cap.event(
            app,
            if overlap.is_some() {
                "app.secret_rotate"
            } else {
                "app.secret_add"
            },
        )
        .target(format!("app:{}", client.id))
        .detail(serde_json::json!({
            "secret": id,
            "overlap_seconds": overlap.map(|o| o.whole_seconds()),
            "old_secrets_expiring": expired,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok((
        AppSecret {
            id,
            created_at: now,
            expires_at: None,
        },
        secret.expose().to_owned(),
    ))
}

pub async fn revoke_secret(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    secret: i64,
) -> Result<(), CoreError> {
    let client = get_to_change(app, cap, key).await?;
    let mut tx = app.db.begin().await?;
    if !tx.delete_client_secret(client.id, secret).await? {
        return Err(DomainError::NotFound("secret").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "app.secret_revoke")
            .target(format!("app:{}", client.id))
            .detail(serde_json::json!({ "secret": secret })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who may use the app, as a tenant admin sets it: users by username or id, groups of
/// this tenant by id or name.
#[derive(Clone, Debug, Default)]
pub struct AccessEdit {
    pub listed_only: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub user_types: Vec<String>,
    pub offshore_allowed: bool,
    pub require_phishing_resistant: bool,
}

pub async fn set_access(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    edit: AccessEdit,
) -> Result<OAuthClient, CoreError> {
    let client = get_to_change(app, cap, key).await?;
    let mut errors = FieldErrors::new();
    if edit.users.len() + edit.groups.len() > MAX_LISTED {
        errors.add(
            "users",
            format!("List at most {MAX_LISTED} users and groups; use groups for more people."),
        );
        return Err(DomainError::Invalid(errors).into());
    }
    let mut users = Vec::new();
    for u in edit.users.iter().filter(|u| !u.trim().is_empty()) {
        match super::find_member(app, u).await {
            Ok(user) if !users.contains(&user.id) => users.push(user.id),
            Ok(_) => {}
            Err(_) => errors.add("users", format!("There is no user {:?}.", u.trim())),
        }
    }
    let tenant_groups = super::groups::list(app, cap).await?;
    let mut groups = Vec::new();
    for g in edit.groups.iter().filter(|g| !g.trim().is_empty()) {
        let g = g.trim();
        match tenant_groups
            .iter()
            .find(|t| t.id.to_string() == g || t.name.eq_ignore_ascii_case(g))
        {
            Some(t) if !groups.contains(&t.id) => groups.push(t.id),
            Some(_) => {}
            None => errors.add("groups", format!("This tenant has no group {g:?}.")),
        }
    }
    let mut user_types = Vec::new();
    for t in edit.user_types.iter().filter(|t| !t.trim().is_empty()) {
        match tessera_domain::user::UserType::parse(t.trim()) {
            Some(t) if !user_types.contains(&t) => user_types.push(t),
            Some(_) => {}
            None => errors.add(
                "user_types",
                format!("{t:?} is not a user type: use officer or vendor."),
            ),
        }
    }
    errors.into_result()?;
    let updated = OAuthClient {
        access: AccessRules {
            audience: if edit.listed_only {
                Audience::Listed
            } else {
                Audience::Everyone
            },
            users,
            groups,
            user_types,
            offshore_allowed: edit.offshore_allowed,
        },
        require_phishing_resistant: edit.require_phishing_resistant,
        ..client
    };
    let mut tx = app.db.begin().await?;
    if !tx.update_client(&updated).await? {
        return Err(DomainError::NotFound("app").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "app.access_update")
            .target(format!("app:{}", updated.id))
            .detail(serde_json::json!({
                "access": updated.access,
                "require_phishing_resistant": updated.require_phishing_resistant,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// The people an app's rules name, for display: `(id, username, active)`.
pub async fn listed_users(
    app: &App,
    client: &OAuthClient,
) -> Result<Vec<(tessera_domain::UserId, String, bool)>, CoreError> {
    let mut r = app.db.read().await?;
    let mut out = Vec::new();
    for id in &client.access.users {
        if let Some(u) = r.user_by_id(*id).await? {
            out.push((
                u.id,
                u.username.as_str().to_owned(),
                u.state == UserState::Active,
            ));
        }
    }
    Ok(out)
}
