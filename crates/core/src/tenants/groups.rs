//! A tenant's groups and their members (access rules admit groups as a whole).

use super::TenantAdmin;
use crate::{App, CoreError};
use tessera_domain::tenancy::{TenantGroup, parse_description, parse_group_name};
use tessera_domain::user::User;
use tessera_domain::{DomainError, FieldErrors, GroupId};

pub async fn list(app: &App, cap: &TenantAdmin) -> Result<Vec<TenantGroup>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .groups_of_tenant(cap.tenant_id())
        .await?)
}

/// One of the tenant's groups, by id or by name.
pub async fn get(app: &App, cap: &TenantAdmin, key: &str) -> Result<TenantGroup, CoreError> {
    let found = match key.parse::<GroupId>() {
        Ok(id) => {
            app.db
                .read()
                .await?
                .group_in_tenant(cap.tenant_id(), id)
                .await?
        }
        Err(_) => list(app, cap)
            .await?
            .into_iter()
            .find(|g| g.name.eq_ignore_ascii_case(key.trim())),
    };
    found.ok_or_else(|| DomainError::NotFound("group").into())
}

pub async fn create(
    app: &App,
    cap: &TenantAdmin,
    name: &str,
    description: &str,
) -> Result<TenantGroup, CoreError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", parse_group_name(name));
    let description = errors.check("description", parse_description(description));
    let (Some(name), Some(description)) = (name, description) else {
        return Err(DomainError::Invalid(errors).into());
    };
    let now = app.clock.now();
    let group = TenantGroup {
        id: GroupId::new_at(now, app.random.as_ref()),
        tenant_id: cap.tenant_id(),
        name,
        description,
        created_at: now,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_group(&group).await.map_err(|e| match e {
        tessera_store::StoreError::Duplicate { .. } => CoreError::Domain(DomainError::Conflict {
            field: "name",
            message: format!("This tenant has a group named {:?} already.", group.name),
        }),
        other => other.into(),
    })?;
    app.audit(
        tx.as_mut(),
        cap.event(app, "group.create")
            .target(format!("group:{}", group.id))
            .detail(serde_json::json!({ "name": group.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(group)
}

pub async fn delete(app: &App, cap: &TenantAdmin, key: &str) -> Result<(), CoreError> {
    let group = get(app, cap, key).await?;
    let mut tx = app.db.begin().await?;
    if !tx.delete_group(cap.tenant_id(), group.id).await? {
        return Err(DomainError::NotFound("group").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "group.delete")
            .target(format!("group:{}", group.id))
            .detail(serde_json::json!({ "name": group.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn members(app: &App, cap: &TenantAdmin, key: &str) -> Result<Vec<User>, CoreError> {
    let group = get(app, cap, key).await?;
    Ok(app.db.read().await?.group_members(group.id).await?)
}

/// Adds a user (by username or id). Adding a member twice changes nothing.
pub async fn add_member(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    user: &str,
) -> Result<User, CoreError> {
    let group = get(app, cap, key).await?;
    let user = super::find_member(app, user).await?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if tx.add_group_member(group.id, user.id, now).await? {
        app.audit(
            tx.as_mut(),
            cap.event(app, "group.member_add")
                .target(format!("group:{}", group.id))
                .detail(serde_json::json!({ "user": format!("user:{}", user.id), "username": user.username.as_str() })),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(user)
}

pub async fn remove_member(
    app: &App,
    cap: &TenantAdmin,
    key: &str,
    user: &str,
) -> Result<(), CoreError> {
    let group = get(app, cap, key).await?;
    let user = super::find_member(app, user).await?;
    let mut tx = app.db.begin().await?;
    if !tx.remove_group_member(group.id, user.id).await? {
        return Err(DomainError::NotFound("member").into());
    }
    app.audit(
        tx.as_mut(),
        cap.event(app, "group.member_remove")
            .target(format!("group:{}", group.id))
            .detail(serde_json::json!({ "user": format!("user:{}", user.id), "username": user.username.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A tenant admin, as a sponsor, invites someone who joins the named groups of this tenant
/// (by id or name) on registering. Needs a person behind the capability.
pub async fn invite(
    app: &App,
    cap: &TenantAdmin,
    request: &crate::lifecycle::invitations::InvitationRequest,
    groups: &[String],
    source_ip: Option<String>,
) -> Result<tessera_domain::invitation::Invitation, CoreError> {
    use crate::lifecycle::invitations::{Sponsor, invite_into_groups};
    let sponsor = cap
        .user()
        .and_then(|u| Sponsor::tenant_admin(u, cap.tenant_id()))
        .ok_or_else(|| {
            DomainError::field("sponsor", "Only a signed-in tenant admin can sponsor.")
        })?;
    let tenant_groups = list(app, cap).await?;
    let mut chosen = Vec::new();
    let mut errors = FieldErrors::new();
    for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        match tenant_groups
            .iter()
            .find(|t| t.id.to_string() == g || t.name.eq_ignore_ascii_case(g))
        {
            Some(t) if !chosen.contains(&t.id) => chosen.push(t.id),
            Some(_) => {}
            None => errors.add("groups", format!("This tenant has no group {g:?}.")),
        }
    }
    errors.into_result()?;
    invite_into_groups(app, &sponsor, request, source_ip, &chosen).await
}
