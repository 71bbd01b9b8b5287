//! A tenant admin, as a sponsor, invites someone straight into groups of the tenant: the
//! account joins them when the invitation registers.

use super::{field_errors, page};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_extra::extract::Form;
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::lifecycle::invitations::InvitationRequest;
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{self, TenantAdmin, groups};
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new().route("/tenant/{slug}/invite", get(form).post(send))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InviteForm {
    email: String,
    offshore: Option<String>,
    odc: Option<String>,
    seed: Option<String>,
    /// Repeated checkbox: the groups to join.
    group: Vec<String>,
}

async fn render(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    status: StatusCode,
    values: &InviteForm,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    let groups: Vec<_> = groups::list(&state.app, cap)
        .await?
        .into_iter()
        .map(|g| {
            let id = g.id.to_string();
            context! { checked => values.group.contains(&id), id, name => g.name }
        })
        .collect();
    page(
        state,
        status,
        "tenant_invite.html",
        context! {
            page_title => format!("Invite someone to {}", cap.tenant().display_name),
            current_user => user_context(who),
            tenant => context! { slug => cap.tenant().slug.clone(), name => cap.tenant().display_name.clone() },
            groups,
            values => context! {
                email => values.email.clone(),
                offshore => values.offshore.is_some(),
                odc => values.odc.is_some(),
                seed => values.seed.is_some(),
            },
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
            notice,
        },
    )
}

async fn form(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let cap = tenants::administer(&state.app, &who, &slug).await?;
    render(
        &state,
        &who,
        &cap,
        StatusCode::OK,
        &InviteForm::default(),
        &FieldErrors::new(),
        "",
    )
    .await
}

async fn send(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
    Form(values): Form<InviteForm>,
) -> Result<Response, WebError> {
    let cap = tenants::administer(&state.app, &who, &slug).await?;
    let request = InvitationRequest {
        email: values.email.clone(),
        offshore: values.offshore.is_some(),
        odc: values.odc.is_some(),
        seed: values.seed.is_some(),
    };
    match groups::invite(&state.app, &cap, &request, &values.group, ip).await {
        Ok(invitation) => {
            let notice = format!(
                "Invitation sent to {}. The link works once and expires on {}.",
                invitation.email.as_str(),
                super::when(invitation.expires_at)
            );
            render(
                &state,
                &who,
                &cap,
                StatusCode::OK,
                &InviteForm::default(),
                &FieldErrors::new(),
                &notice,
            )
            .await
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            render(
                &state,
                &who,
                &cap,
                StatusCode::UNPROCESSABLE_ENTITY,
                &values,
                &errors,
                "",
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
