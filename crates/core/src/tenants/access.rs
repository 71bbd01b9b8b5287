//! Who may use an app: the check at `/authorize`, the refused person's access request, and
//! the tenant admin's decision (approval lists the person on the app; both are emailed).

use super::TenantAdmin;
use crate::signin::SignedIn;
use crate::{App, CoreError};
use std::collections::HashMap;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::outbox::NewMessage;
use tessera_domain::tenancy::{AccessRefusal, AccessRequest, AccessRequestStatus, parse_reason};
use tessera_domain::user::User;
use tessera_domain::{AccessRequestId, DomainError, UserId};

/// Whether `who` may use `client` now; `Some` says why not.
pub async fn check(
    app: &App,
    client: &OAuthClient,
    who: &SignedIn,
) -> Result<Option<AccessRefusal>, CoreError> {
    let groups = if client.access.needs_groups() {
        app.db
            .read()
            .await?
            .groups_of_user_in_tenant(client.tenant_id, who.user.id)
            .await?
    } else {
        Vec::new()
    };
    Ok(client.access.admit(&who.user, &groups).err())
}

/// Whether the app still admits `user`, read inside a transaction (the refresh grant asks
/// again at every exchange, so taking access away ends the app's refresh tokens' use).
pub async fn admitted(
    tx: &mut dyn tessera_store::Tx,
    client: &OAuthClient,
    user: &tessera_domain::user::User,
) -> Result<Result<(), AccessRefusal>, CoreError> {
    let groups = if client.access.needs_groups() {
        tx.groups_of_user_in_tenant(client.tenant_id, user.id)
            .await?
    } else {
        Vec::new()
    };
    Ok(client.access.admit(user, &groups))
}

/// What the refusal page shows: the app, its tenant, whom to contact, and whether this
/// person has asked already.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refused {
    pub client_id: String,
    pub app_name: String,
    pub tenant_name: String,
    /// The tenant admins, as "Name <email>".
    pub contacts: Vec<String>,
    pub reason: &'static str,
    pub requested: bool,
    /// A request makes sense (a suspended account cannot ask).
    pub may_request: bool,
}

pub async fn refused(
    app: &App,
    client: &OAuthClient,
    who: &SignedIn,
    why: AccessRefusal,
) -> Result<Refused, CoreError> {
    let mut r = app.db.read().await?;
    let tenant = r
        .tenant_by_id(client.tenant_id)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?;
    let contacts = r
        .tenant_admins(tenant.id)
        .await?
        .into_iter()
        .filter(|u| u.state == tessera_domain::user::UserState::Active)
        .map(|u| format!("{} <{}>", u.display_name(), u.email))
        .collect();
    let requested = r
        .pending_access_request(client.id, who.user.id)
        .await?
        .is_some();
    Ok(Refused {
        client_id: client.client_id.clone(),
        app_name: client.name.clone(),
        tenant_name: tenant.display_name,
        contacts,
        reason: why.explain(),
        requested,
        may_request: why != AccessRefusal::NotActive,
    })
}

/// What the refusal page shows for the app with `client_id`, when `who` is refused by it;
/// `None` when they may use it. For re-showing the page after a failed request.
pub async fn refused_by_client_id(
    app: &App,
    who: &SignedIn,
    client_id: &str,
) -> Result<Option<Refused>, CoreError> {
    let client = app
        .db
        .read()
        .await?
        .client_by_client_id(client_id)
        .await?
        .ok_or(DomainError::NotFound("app"))?;
    match check(app, &client, who).await? {
        Some(why) => Ok(Some(refused(app, &client, who, why).await?)),
        None => Ok(None),
    }
}

/// A refused person asks the app's tenant admins for access; they are emailed.
pub async fn request(
    app: &App,
    who: &SignedIn,
    client_id: &str,
    reason: &str,
    source_ip: Option<String>,
) -> Result<AccessRequest, CoreError> {
    let reason = parse_reason(reason).map_err(|m| DomainError::field("reason", m))?;
    let client = app
        .db
        .read()
        .await?
        .client_by_client_id(client_id)
        .await?
        .ok_or(DomainError::NotFound("app"))?;
    match check(app, &client, who).await? {
        None => {
            return Err(
                DomainError::InvalidState(format!("You can use {} already.", client.name)).into(),
            );
        }
        Some(AccessRefusal::NotActive) => return Err(DomainError::Forbidden.into()),
        Some(_) => {}
    }
    let now = app.clock.now();
    let request = AccessRequest {
        id: AccessRequestId::new_at(now, app.random.as_ref()),
        tenant_id: client.tenant_id,
        app_id: client.id,
        user_id: who.user.id,
        reason,
        status: AccessRequestStatus::Pending,
        created_at: now,
        decided_at: None,
        decided_by: None,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_access_request(&request)
        .await
        .map_err(|e| match e {
            tessera_store::StoreError::Duplicate { .. } => {
                CoreError::Domain(DomainError::Conflict {
                    field: "app",
                    message: format!(
                        "You asked for access to {} already; its administrators will email you.",
                        client.name
                    ),
                })
            }
            other => other.into(),
        })?;
    // Straight to the tenant's review page (a tenant with no slug left would be a bug:
    // the portal's start page lists the tenants an admin looks after).
    let review = match tx.tenant_by_id(client.tenant_id).await? {
        Some(t) => app.settings.link(&format!("/tenant/{}/requests", t.slug)),
        None => app.settings.link("/tenant"),
    };
    let admins = tx.tenant_admins(client.tenant_id).await?;
    // Only active admins hear of it: a suspended one must not receive people's reasons.
    for admin in admins
        .iter()
        .filter(|u| u.state == tessera_domain::user::UserState::Active)
    {
        app.queue(
            tx.as_mut(),
            NewMessage::email(
                admin.email.as_str(),
                format!("{} asks to use {}", who.user.display_name(), client.name),
                format!(
                    "Hello {},\n\n{} ({}) asks to use {}.\n\nTheir reason: {}\n\n\
                     Approve or reject the request at {review}.\n",
                    admin.display_name(),
                    who.user.display_name(),
                    who.user.email,
                    client.name,
                    if request.reason.is_empty() {
                        "(none given)"
                    } else {
                        &request.reason
                    },
                ),
            ),
        )
        .await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(who.user.id),
            "access.request",
            Outcome::Success,
        )
        .tenant(client.tenant_id)
        .target(format!("app:{}", client.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "request": request.id.to_string() })),
    )
    .await?;
    tx.commit().await?;
    Ok(request)
}

pub async fn list(
    app: &App,
    cap: &TenantAdmin,
    status: Option<AccessRequestStatus>,
) -> Result<Vec<AccessRequest>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .access_requests_of_tenant(cap.tenant_id(), status)
        .await?)
}

/// An access request as its reviewers see it: who asks (absent if the account was since
/// removed) and for which app.
#[derive(Clone, Debug)]
pub struct RequestDetails {
    pub request: AccessRequest,
    pub user: Option<User>,
    pub app_name: String,
    /// Who decided, in words: a person's name, or the actor as the audit log has it.
    pub decided_by: Option<String>,
}

/// [`list`], with the people and app names the review page shows.
pub async fn list_details(
    app: &App,
    cap: &TenantAdmin,
    status: Option<AccessRequestStatus>,
) -> Result<Vec<RequestDetails>, CoreError> {
    let requests = list(app, cap, status).await?;
    let mut r = app.db.read().await?;
    let apps = r.list_clients(Some(cap.tenant_id())).await?;
    let mut users: HashMap<UserId, Option<User>> = HashMap::new();
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let user = match users.get(&request.user_id) {
            Some(u) => u.clone(),
            None => {
                let u = r.user_by_id(request.user_id).await?;
                users.insert(request.user_id, u.clone());
                u
            }
        };
        let decided_by = match request.decided_by.as_deref() {
            None => None,
            Some(actor) => match actor.strip_prefix("user:").and_then(|id| id.parse().ok()) {
                Some(id) => {
                    let decider = match users.get(&id) {
                        Some(u) => u.clone(),
                        None => {
                            let u = r.user_by_id(id).await?;
                            users.insert(id, u.clone());
                            u
                        }
                    };
                    Some(decider.map_or_else(|| actor.to_owned(), |u| u.display_name()))
                }
                None => Some(actor.to_owned()),
            },
        };
        let app_name = apps
            .iter()
            .find(|a| a.id == request.app_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "(a deleted app)".to_owned());
        out.push(RequestDetails {
            request,
            user,
            app_name,
            decided_by,
        });
    }
    Ok(out)
}

pub async fn get(
    app: &App,
    cap: &TenantAdmin,
    id: AccessRequestId,
) -> Result<AccessRequest, CoreError> {
    app.db
        .read()
        .await?
        .access_request_in_tenant(cap.tenant_id(), id)
        .await?
        .ok_or_else(|| DomainError::NotFound("access request").into())
}

/// Approves (the person is listed on the app) or rejects a pending request, once: a
/// request decided already, also by another admin at the same moment, is refused.
pub async fn decide(
    app: &App,
    cap: &TenantAdmin,
    id: AccessRequestId,
    approve: bool,
    source_ip: Option<String>,
) -> Result<AccessRequest, CoreError> {
    let now = app.clock.now();
    let status = if approve {
        AccessRequestStatus::Approved
    } else {
        AccessRequestStatus::Rejected
    };
    let mut tx = app.db.begin().await?;
    let request = tx
        .access_request_in_tenant(cap.tenant_id(), id)
        .await?
        .ok_or(DomainError::NotFound("access request"))?;
    let decided_by = cap.actor().encode();
    if !tx
        .decide_access_request(id, status, &decided_by, now)
        .await?
    {
        return Err(DomainError::InvalidState("This request was decided already.".into()).into());
    }
    let client = tx
        .client_in_tenant(cap.tenant_id(), request.app_id)
        .await?
        .ok_or(DomainError::NotFound("app"))?;
    let user = tx
        .user_by_id(request.user_id)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    if approve && !client.access.users.contains(&user.id) {
        let mut access = client.access.clone();
        access.users.push(user.id);
        let updated = OAuthClient {
            access,
            ..client.clone()
        };
        tx.update_client(&updated).await?;
    }
    let (subject, body) = if approve {
        (
            format!("You can now use {}", client.name),
            format!(
                "Hello {},\n\nYour request to use {} was approved. Sign in to it again.\n",
                user.display_name(),
                client.name
            ),
        )
    } else {
        (
            format!("Your request to use {} was not approved", client.name),
            format!(
                "Hello {},\n\nYour request to use {} was not approved. Contact {}'s \
                 administrators if you think it should be.\n",
                user.display_name(),
                client.name,
                cap.tenant().display_name
            ),
        )
    };
    app.queue(
        tx.as_mut(),
        NewMessage::email(user.email.as_str(), subject, body),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        cap.event(
            app,
            if approve {
                "access.approve"
            } else {
                "access.reject"
            },
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(
            serde_json::json!({ "request": id.to_string(), "app": format!("app:{}", client.id) }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(AccessRequest {
        status,
        decided_at: Some(now),
        decided_by: Some(decided_by),
        ..request
    })
}
