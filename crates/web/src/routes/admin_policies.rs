//! Administrators publish policy documents (Privacy Policy, Terms of Use, MDM acceptable
//! use) as numbered versions; a new version is asked of everyone at their next sign-in.

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Admin, ClientIp, user_context};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::policies::{all_versions, publish, render_markdown};
use tessera_domain::policy::PolicyKind;
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new().route("/admin/policies", get(index).post(create))
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct PolicyForm {
    kind: String,
    title: String,
    body: String,
}

async fn render(
    state: &WebState,
    admin: &Admin,
    status: StatusCode,
    values: &PolicyForm,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    let docs = all_versions(&state.app, &admin.cap).await?;
    let kinds: Vec<_> = PolicyKind::ALL
        .iter()
        .map(|k| context! { value => k.as_str(), title => k.title(), selected => values.kind == k.as_str() })
        .collect();
    let docs: Vec<_> = docs
        .iter()
        .map(|d| {
            context! {
                kind => d.kind.title(),
                version => d.version,
                title => d.title.clone(),
                published_at => when(d.published_at),
                published_by => d.published_by.clone(),
                html => minijinja::Value::from_safe_string(render_markdown(&d.body)),
            }
        })
        .collect();
    page(
        state,
        status,
        "admin_policies.html",
        context! {
            page_title => "Policies",
            current_user => user_context(&admin.who),
            kinds,
            docs,
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
            notice,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Published {
    published: String,
}

async fn index(
    State(state): State<WebState>,
    admin: Admin,
    Query(q): Query<Published>,
) -> Result<Response, WebError> {
    let notice = if q.published.is_empty() {
        String::new()
    } else {
        format!(
            "Published {}. Everyone it applies to accepts it at their next sign-in.",
            q.published
        )
    };
    render(
        &state,
        &admin,
        StatusCode::OK,
        &PolicyForm::default(),
        &FieldErrors::new(),
        &notice,
    )
    .await
}

async fn create(
    State(state): State<WebState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Form(f): Form<PolicyForm>,
) -> Result<Response, WebError> {
    match publish(&state.app, &admin.cap, &f.kind, &f.title, &f.body, ip).await {
        Ok(doc) => {
            let label = format!("{} version {}", doc.kind.title(), doc.version);
            Ok(Redirect::to(&format!(
                "/admin/policies?published={}",
                crate::error::urlencode(&label)
            ))
            .into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            render(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, &f, &e, "").await
        }
        Err(other) => Err(other.into()),
    }
}
