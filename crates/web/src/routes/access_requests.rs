//! The page an app's access rules lead to (naming the app, its tenant and whom to ask, with
//! a "request access" form), the request itself, and the tenant admins' review page.

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::{WebError, urlencode};
use crate::extract::{ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::signin::SignedIn;
use tessera_core::tenants::access::{self, Refused, RequestDetails};
use tessera_core::tenants::{TenantAdmin, administer};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::tenancy::{AccessRefusal, AccessRequestStatus};
use tessera_domain::{AccessRequestId, DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/access/request", post(request))
        .route("/tenant/{slug}/requests", get(requests))
        .route("/tenant/{slug}/requests/{id}/{decision}", post(decide))
}

/// The 403 page naming the app, its tenant contact and a "request access" button.
pub async fn refusal_page(
    state: &WebState,
    who: &SignedIn,
    client: &OAuthClient,
    why: AccessRefusal,
) -> Result<Response, WebError> {
    let refused = access::refused(&state.app, client, who, why).await?;
    refused_view(
        state,
        who,
        &refused,
        StatusCode::FORBIDDEN,
        "",
        &FieldErrors::new(),
        "",
    )
}

/// Contacts come as "Name <email>"; the page shows the name and links the address.
fn contact(text: &str) -> minijinja::Value {
    match text.rsplit_once(" <") {
        Some((name, rest)) => context! { name => name, email => rest.trim_end_matches('>') },
        None => context! { name => text, email => "" },
    }
}

fn refused_view(
    state: &WebState,
    who: &SignedIn,
    refused: &Refused,
    status: StatusCode,
    reason: &str,
    errors: &FieldErrors,
    form_error: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "access_refused.html",
        context! {
            page_title => format!("You cannot use {} yet", refused.app_name),
            current_user => user_context(who),
            client_id => refused.client_id.clone(),
            app_name => refused.app_name.clone(),
            tenant_name => refused.tenant_name.clone(),
            reason => refused.reason,
            contacts => refused.contacts.iter().map(|c| contact(c)).collect::<Vec<_>>(),
            requested => refused.requested,
            may_request => refused.may_request,
            values => context! { reason => reason },
            errors => field_errors(errors),
            form_error,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestForm {
    client_id: String,
    reason: String,
}

async fn request(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<RequestForm>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let (status, errors, form_error) =
        match access::request(app, &who, &f.client_id, &f.reason, ip).await {
            Ok(_) => {
                state.wake_outbox();
                let refused = access::refused_by_client_id(app, &who, &f.client_id).await?;
                let (app_name, tenant_name, contacts) = match &refused {
                    Some(r) => (
                        r.app_name.clone(),
                        r.tenant_name.clone(),
                        r.contacts.iter().map(|c| contact(c)).collect::<Vec<_>>(),
                    ),
                    None => (String::new(), String::new(), Vec::new()),
                };
                return page(
                    &state,
                    StatusCode::OK,
                    "access_requested.html",
                    context! {
                        page_title => "Request sent",
                        current_user => user_context(&who),
                        app_name,
                        tenant_name,
                        contacts,
                    },
                );
            }
            Err(CoreError::Domain(DomainError::Invalid(e))) => {
                (StatusCode::UNPROCESSABLE_ENTITY, e, String::new())
            }
            // Asked already: the page says so, with the request still pending.
            Err(CoreError::Domain(DomainError::Conflict { message, .. })) => {
                (StatusCode::CONFLICT, FieldErrors::new(), message)
            }
            Err(other) => return Err(other.into()),
        };
    match access::refused_by_client_id(app, &who, &f.client_id).await? {
        Some(refused) => refused_view(
            &state,
            &who,
            &refused,
            status,
            &f.reason,
            &errors,
            &form_error,
        ),
        // Allowed in the meantime (an admin approved): nothing to ask for.
        None => Err(CoreError::Domain(DomainError::InvalidState(
            "You can use this app already.".into(),
        ))
        .into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
    who: String,
}

fn request_row(d: &RequestDetails) -> minijinja::Value {
    let r = &d.request;
    let (name, email, user_type, offshore) = match &d.user {
        Some(u) => (
            u.display_name(),
            u.email.as_str().to_owned(),
            u.user_type.as_str(),
            u.offshore.is_some(),
        ),
        None => ("(a removed account)".to_owned(), String::new(), "", false),
    };
    context! {
        id => r.id.to_string(),
        name,
        username => d.user.as_ref().map(|u| u.username.as_str().to_owned()).unwrap_or_default(),
        email,
        user_type,
        offshore,
        app_name => d.app_name.clone(),
        reason => r.reason.clone(),
        created_at => when(r.created_at),
        status => r.status.as_str(),
        decided_at => r.decided_at.map(when).unwrap_or_default(),
        decided_by => d.decided_by.clone().unwrap_or_default(),
    }
}

async fn requests_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    status: StatusCode,
    notice: &str,
    form_error: &str,
) -> Result<Response, WebError> {
    let all = access::list_details(&state.app, cap, None).await?;
    let (pending, decided): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|d| d.request.status == AccessRequestStatus::Pending);
    let tenant = cap.tenant();
    page(
        state,
        status,
        "tenant_requests.html",
        context! {
            page_title => format!("Access requests — {}", tenant.display_name),
            current_user => user_context(who),
            tenant => context! { slug => tenant.slug.clone(), name => tenant.display_name.clone() },
            pending => pending.into_iter().map(request_row).collect::<Vec<_>>(),
            decided => decided.into_iter().map(request_row).collect::<Vec<_>>(),
            notice,
            form_error,
        },
    )
}

async fn requests(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let cap = administer(&state.app, &who, &slug).await?;
    let notice = match q.done.as_str() {
        "approved" => format!("Approved: {} can now use the app, and was emailed.", q.who),
        "rejected" => format!("Rejected: {} was emailed.", q.who),
        _ => String::new(),
    };
    requests_page(&state, &who, &cap, StatusCode::OK, &notice, "").await
}

async fn decide(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path((slug, id, decision)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(WebError::NotFound),
    };
    let cap = administer(&state.app, &who, &slug).await?;
    let id: AccessRequestId = id.parse().map_err(|_| WebError::NotFound)?;
    match access::decide(&state.app, &cap, id, approve, ip).await {
        Ok(_) => {
            state.wake_outbox();
            let name = access::list_details(&state.app, &cap, None)
                .await?
                .into_iter()
                .find(|d| d.request.id == id)
                .and_then(|d| d.user.map(|u| u.display_name()))
                .unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/tenant/{}/requests?done={}&who={}",
                cap.tenant().slug,
                if approve { "approved" } else { "rejected" },
                urlencode(&name)
            ))
            .into_response())
        }
        // Decided already (by another admin, or a second click): say so on the list.
        Err(CoreError::Domain(DomainError::InvalidState(message))) => {
            requests_page(&state, &who, &cap, StatusCode::CONFLICT, "", &message).await
        }
        Err(other) => Err(other.into()),
    }
}
