//! A tenant's apps: registering one (its first secret shown once, on the page that answers
//! the form, never in a URL), its page with the settings form, secrets and deletion.

use super::{NoticeQuery, capability, form_errors, lines, notice_text, tenant_context};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Session, user_context};
use crate::routes::page;
use crate::routes::when;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tessera_core::CoreError;
use tessera_core::oidc::clients::{
    self, DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_REFRESH_ABSOLUTE_TTL, DEFAULT_REFRESH_IDLE_TTL, NewApp,
};
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{TenantAdmin, apps};
use tessera_domain::oauth::{ClientKind, GrantType, OAuthClient, SigningAlg};
use tessera_domain::tenancy::Audience;
use tessera_domain::{DomainError, FieldErrors};

/// The settings form, as typed (so a re-rendered form keeps it). Field names are core's
/// error keys, so each message lands next to its field; `kind` is core's `public`.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(default)]
pub(super) struct AppForm {
    name: String,
    description: String,
    redirect_uri: String,
    post_logout_redirect_uri: String,
    kind: String,
    grant: Vec<String>,
    scope: String,
    access_token_ttl: String,
    refresh_idle_ttl: String,
    refresh_absolute_ttl: String,
    id_token_alg: String,
    backchannel_logout_uri: String,
    consent_required: String,
    require_par: String,
    resource: String,
    jwks_uri: String,
    jwks: String,
}

const FIELDS: &[&str] = &[
    "name",
    "description",
    "redirect_uri",
    "post_logout_redirect_uri",
    "kind",
    "grant",
    "scope",
    "access_token_ttl",
    "refresh_idle_ttl",
    "refresh_absolute_ttl",
    "id_token_alg",
    "backchannel_logout_uri",
    "resource",
    "jwks_uri",
    "jwks",
];
const RENAMED: &[(&str, &str)] = &[("public", "kind")];

/// The grant types the form offers, by their short names.
const GRANTS: &[(&str, &str)] = &[
    ("authorization_code", "Authorization code (people sign in)"),
    ("refresh_token", "Refresh token"),
    (
        "client_credentials",
        "Client credentials (the app acts for itself)",
    ),
    ("device_code", "Device code (TVs, command-line tools)"),
];

fn short_grant(g: GrantType) -> &'static str {
    match g {
        GrantType::DeviceCode => "device_code",
        other => other.as_str(),
    }
}

fn checked(v: &str) -> bool {
    !v.is_empty()
}

impl AppForm {
    fn for_new_app() -> Self {
        Self {
            kind: "confidential".into(),
            grant: vec!["authorization_code".into(), "refresh_token".into()],
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL.to_string(),
            refresh_idle_ttl: DEFAULT_REFRESH_IDLE_TTL.to_string(),
            refresh_absolute_ttl: DEFAULT_REFRESH_ABSOLUTE_TTL.to_string(),
            id_token_alg: SigningAlg::RS256.as_str().into(),
            ..Self::default()
        }
    }

    fn of(c: &OAuthClient) -> Self {
        let on = |b: bool| if b { "on".to_owned() } else { String::new() };
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            redirect_uri: c.redirect_uris.join("\n"),
            post_logout_redirect_uri: c.post_logout_redirect_uris.join("\n"),
            kind: c.kind.as_str().into(),
            grant: c
                .grant_types
                .iter()
                .map(|g| short_grant(*g).to_owned())
                .collect(),
            scope: c.allowed_scopes.join(" "),
            access_token_ttl: c.access_token_ttl_secs.to_string(),
            refresh_idle_ttl: c.refresh_idle_ttl_secs.to_string(),
            refresh_absolute_ttl: c.refresh_absolute_ttl_secs.to_string(),
            id_token_alg: c.id_token_alg.as_str().into(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
            consent_required: on(c.consent_required),
            require_par: on(c.require_par),
            resource: c.allowed_resources.join("\n"),
            jwks_uri: c.jwks_uri.clone().unwrap_or_default(),
            jwks: c.jwks.clone().unwrap_or_default(),
        }
    }

    /// What core is asked for; messages for what cannot even be read go to `errors`.
    fn to_new_app(&self, errors: &mut FieldErrors) -> NewApp {
        let mut seconds = |field: &str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            errors.check(
                field,
                text.parse::<i64>()
                    .map_err(|_| "Enter a whole number of seconds.".to_owned()),
            )
        };
        let access_token_ttl_secs = seconds("access_token_ttl", &self.access_token_ttl);
        let refresh_idle_ttl_secs = seconds("refresh_idle_ttl", &self.refresh_idle_ttl);
        let refresh_absolute_ttl_secs = seconds("refresh_absolute_ttl", &self.refresh_absolute_ttl);
        if self.grant.is_empty() {
            errors.add("grant", "Choose at least one grant type.");
        }
        if !matches!(self.kind.as_str(), "confidential" | "public") {
            errors.add("public", "Choose confidential or public.");
        }
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        NewApp {
            tenant: String::new(),
            name: self.name.clone(),
            description: self.description.clone(),
            redirect_uris: lines(&self.redirect_uri),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uri),
            public: self.kind == "public",
            grant_types: self.grant.clone(),
            scopes: self.scope.split_whitespace().map(str::to_owned).collect(),
            id_token_alg: optional(&self.id_token_alg),
            require_par: checked(&self.require_par),
            backchannel_logout_uri: optional(&self.backchannel_logout_uri),
            jwks: optional(&self.jwks),
            jwks_uri: optional(&self.jwks_uri),
            consent_required: checked(&self.consent_required),
            resources: lines(&self.resource),
            require_phishing_resistant: false,
            access_token_ttl_secs,
            refresh_idle_ttl_secs,
            refresh_absolute_ttl_secs,
        }
    }
}

/// The choices of the form's radio buttons, checkboxes and select, with what is chosen.
fn choices(values: &AppForm) -> minijinja::Value {
    context! {
        grants => GRANTS
            .iter()
            .map(|(value, label)| context! { value => *value, label => *label, checked => values.grant.iter().any(|g| g == value) })
            .collect::<Vec<_>>(),
        algs => SigningAlg::ALL
            .iter()
            .map(|a| context! { value => a.as_str(), selected => values.id_token_alg == a.as_str() })
            .collect::<Vec<_>>(),
    }
}

/// The rotation form, as typed.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(default)]
pub(super) struct RotateForm {
    pub overlap: String,
    pub overlap_unit: String,
}

impl Default for RotateForm {
    fn default() -> Self {
        Self {
            overlap: "24".into(),
            overlap_unit: "hours".into(),
        }
    }
}

/// Everything an app page may show besides the app itself.
#[derive(Default)]
pub(super) struct AppPage<'a> {
    pub values: Option<AppForm>,
    pub errors: FieldErrors,
    /// A secret just made: shown on this response only.
    pub secret: Option<&'a str>,
    pub rotate: RotateForm,
    pub rotate_errors: FieldErrors,
    pub delete_error: &'a str,
    pub notice: &'a str,
}

fn app_context(c: &OAuthClient) -> minijinja::Value {
    context! {
        id => c.id.to_string(),
        client_id => c.client_id.clone(),
        name => c.name.clone(),
        description => c.description.clone(),
        kind => c.kind.as_str(),
        confidential => c.kind == ClientKind::Confidential,
        uses_keys => c.uses_private_key_jwt(),
        uses_secrets => c.kind == ClientKind::Confidential && !c.uses_private_key_jwt(),
        grants => c.grant_types.iter().map(|g| short_grant(*g)).collect::<Vec<_>>(),
        redirect_uris => c.redirect_uris.clone(),
        created_at => when(c.created_at),
        listed_only => c.access.audience == Audience::Listed,
        require_phishing_resistant => c.require_phishing_resistant,
    }
}

/// An app's page: details, secrets (with a new one shown once), access summary, settings
/// form, deletion.
pub(super) async fn app_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    client: &OAuthClient,
    status: StatusCode,
    parts: AppPage<'_>,
) -> Result<Response, WebError> {
    let now = state.app.clock.now();
    let secrets: Vec<_> = if client.kind == ClientKind::Confidential {
        apps::secrets(&state.app, cap, &client.id.to_string())
            .await?
            .iter()
            .map(|s| {
                context! {
                    id => s.id,
                    created_at => when(s.created_at),
                    expires_at => s.expires_at.map(when).unwrap_or_default(),
                    valid => s.valid_at(now),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let values = parts.values.unwrap_or_else(|| AppForm::of(client));
    let (errors, form_error) = form_errors(&parts.errors, RENAMED, FIELDS);
    let (rotate_errors, rotate_error) = form_errors(&parts.rotate_errors, &[], &["overlap"]);
    page(
        state,
        status,
        "tenant_app.html",
        context! {
            page_title => client.name.clone(),
            current_user => user_context(who),
            tenant => tenant_context(cap),
            creating => false,
            app => app_context(client),
            secret => parts.secret.unwrap_or_default(),
            secrets,
            values => minijinja::Value::from(minijinja::value::Serde(&values)),
            choices => choices(&values),
            errors,
            form_error,
            rotate => minijinja::Value::from(minijinja::value::Serde(&parts.rotate)),
            rotate_errors,
            rotate_error,
            delete_error => parts.delete_error,
            notice => parts.notice,
        },
    )
}

fn new_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    status: StatusCode,
    values: &AppForm,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let (errors, form_error) = form_errors(errors, RENAMED, FIELDS);
    page(
        state,
        status,
        "tenant_app.html",
        context! {
            page_title => "Register an app",
            current_user => user_context(who),
            tenant => tenant_context(cap),
            creating => true,
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            choices => choices(values),
            errors,
            form_error,
        },
    )
}

pub(super) async fn new_form(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    new_page(
        &state,
        &who,
        &cap,
        StatusCode::OK,
        &AppForm::for_new_app(),
        &FieldErrors::new(),
    )
}

fn app_url(cap: &TenantAdmin, client: &OAuthClient) -> String {
    format!("/tenant/{}/apps/{}", cap.tenant().slug, client.id)
}

pub(super) async fn create(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Form(f): Form<AppForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let mut errors = FieldErrors::new();
    let new = f.to_new_app(&mut errors);
    // Every field's message at once: the form's own checks, then core's.
    clients::check(&new, &mut errors);
    if !errors.is_empty() {
        return new_page(
            &state,
            &who,
            &cap,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            &errors,
        );
    }
    match apps::create(&state.app, &cap, new).await {
        // The secret is answered on this page, once: never in a redirect or a URL.
        Ok(created) => match created.secret.as_deref() {
            Some(secret) => {
                app_page(
                    &state,
                    &who,
                    &cap,
                    &created.client,
                    StatusCode::OK,
                    AppPage {
                        secret: Some(secret),
                        notice: notice_text("created"),
                        ..AppPage::default()
                    },
                )
                .await
            }
            None => Ok(Redirect::to(&format!(
                "{}?notice=created",
                app_url(&cap, &created.client)
            ))
            .into_response()),
        },
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            new_page(&state, &who, &cap, StatusCode::UNPROCESSABLE_ENTITY, &f, &e)
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn show(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let client = apps::get(&state.app, &cap, &key).await?;
    app_page(
        &state,
        &who,
        &cap,
        &client,
        StatusCode::OK,
        AppPage {
            notice: notice_text(&q.notice),
            ..AppPage::default()
        },
    )
    .await
}

pub(super) async fn update(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Form(mut f): Form<AppForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let client = apps::get(&state.app, &cap, &key).await?;
    // Public or confidential is fixed at registration; the form only shows it.
    f.kind = client.kind.as_str().into();
    let mut errors = FieldErrors::new();
    let mut edit = f.to_new_app(&mut errors);
    // Set on the access page, not here.
    edit.require_phishing_resistant = client.require_phishing_resistant;
    clients::check(&edit, &mut errors);
    let result = if errors.is_empty() {
        apps::update(&state.app, &cap, &key, edit).await
    } else {
        Err(DomainError::Invalid(errors).into())
    };
    match result {
        Ok(updated) => {
            Ok(Redirect::to(&format!("{}?notice=saved", app_url(&cap, &updated))).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            app_page(
                &state,
                &who,
                &cap,
                &client,
                StatusCode::UNPROCESSABLE_ENTITY,
                AppPage {
                    values: Some(f),
                    errors: e,
                    ..AppPage::default()
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DeleteForm {
    confirm: String,
}

pub(super) async fn delete(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Form(f): Form<DeleteForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let client = apps::get(&state.app, &cap, &key).await?;
    if !checked(&f.confirm) {
        return app_page(
            &state,
            &who,
            &cap,
            &client,
            StatusCode::UNPROCESSABLE_ENTITY,
            AppPage {
                delete_error: "Tick the box to confirm that the app should be deleted.",
                ..AppPage::default()
            },
        )
        .await;
    }
    apps::delete(&state.app, &cap, &key).await?;
    Ok(Redirect::to(&format!("/tenant/{}?notice=app_deleted", cap.tenant().slug)).into_response())
}
