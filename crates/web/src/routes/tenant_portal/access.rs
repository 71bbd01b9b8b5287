//! Who may use an app: everyone active or only listed users and groups, which user types,
//! whether offshore vendors may, and whether sign-ins need phishing-resistant MFA.

use super::{capability, form_errors, lines, tenant_context};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Session, user_context};
use crate::routes::page;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tessera_core::CoreError;
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{TenantAdmin, apps, groups};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::tenancy::Audience;
use tessera_domain::{DomainError, FieldErrors};

/// The form as typed. `group` holds group ids (checkboxes), `user_type` officer/vendor.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(default)]
pub(super) struct AccessForm {
    audience: String,
    users: String,
    group: Vec<String>,
    user_type: Vec<String>,
    offshore_allowed: String,
    require_phishing_resistant: String,
}

const FIELDS: &[&str] = &["audience", "users", "group", "user_type"];
const RENAMED: &[(&str, &str)] = &[("groups", "group"), ("user_types", "user_type")];

impl AccessForm {
    async fn of(state: &WebState, client: &OAuthClient) -> Result<Self, WebError> {
        let users = apps::listed_users(&state.app, client).await?;
        let on = |b: bool| if b { "on".to_owned() } else { String::new() };
        Ok(Self {
            audience: match client.access.audience {
                Audience::Everyone => "everyone".into(),
                Audience::Listed => "listed".into(),
            },
            users: users
                .iter()
                .map(|(_, name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            group: client
                .access
                .groups
                .iter()
                .map(ToString::to_string)
                .collect(),
            user_type: client
                .access
                .user_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            offshore_allowed: on(client.access.offshore_allowed),
            require_phishing_resistant: on(client.require_phishing_resistant),
        })
    }
}

async fn access_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    client: &OAuthClient,
    status: StatusCode,
    values: &AccessForm,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let tenant_groups: Vec<_> = groups::list(&state.app, cap)
        .await?
        .iter()
        .map(|g| {
            let id = g.id.to_string();
            context! {
                checked => values.group.contains(&id),
                id,
                name => g.name.clone(),
                description => g.description.clone(),
            }
        })
        .collect();
    let inactive: Vec<_> = apps::listed_users(&state.app, client)
        .await?
        .into_iter()
        .filter(|(_, _, active)| !active)
        .map(|(_, name, _)| name)
        .collect();
    let user_types: Vec<_> = [("officer", "Public officers"), ("vendor", "Vendors")]
        .iter()
        .map(|(value, label)| {
            context! { value => *value, label => *label, checked => values.user_type.iter().any(|t| t == value) }
        })
        .collect();
    let (errors, form_error) = form_errors(errors, RENAMED, FIELDS);
    page(
        state,
        status,
        "tenant_app_access.html",
        context! {
            page_title => format!("Who may use {}", client.name),
            current_user => user_context(who),
            tenant => tenant_context(cap),
            app => context! { id => client.id.to_string(), name => client.name.clone() },
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            groups => tenant_groups,
            user_types,
            inactive,
            errors,
            form_error,
        },
    )
}

pub(super) async fn show(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let client = apps::get(&state.app, &cap, &key).await?;
    let values = AccessForm::of(&state, &client).await?;
    access_page(
        &state,
        &who,
        &cap,
        &client,
        StatusCode::OK,
        &values,
        &FieldErrors::new(),
    )
    .await
}

pub(super) async fn save(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Form(f): Form<AccessForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let client = apps::get(&state.app, &cap, &key).await?;
    let listed_only = match f.audience.as_str() {
        "everyone" => Some(false),
        "listed" => Some(true),
        _ => None,
    };
    let result = match listed_only {
        Some(listed_only) => {
            let edit = apps::AccessEdit {
                listed_only,
                users: lines(&f.users),
                groups: f.group.clone(),
                user_types: f.user_type.clone(),
                offshore_allowed: !f.offshore_allowed.is_empty(),
                require_phishing_resistant: !f.require_phishing_resistant.is_empty(),
            };
            apps::set_access(&state.app, &cap, &key, edit).await
        }
        None => Err(DomainError::field("audience", "Choose who may use the app.").into()),
    };
    match result {
        Ok(updated) => Ok(Redirect::to(&format!(
            "/tenant/{}/apps/{}?notice=access_saved",
            cap.tenant().slug,
            updated.id
        ))
        .into_response()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            access_page(
                &state,
                &who,
                &cap,
                &client,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                &e,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}
