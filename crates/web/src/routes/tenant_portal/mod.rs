//! The tenant portal: the pages where a tenant admin manages the tenant's apps (settings,
//! secrets shown once, rotation with an overlap, who may use each app) and groups. Every
//! page asks core for the `TenantAdmin` capability first; someone who is not an admin of
//! the tenant is told it does not exist (404), exactly as for a tenant that does not.

mod access;
mod apps;
mod groups;
mod secrets;
#[cfg(test)]
mod template_tests;

use super::page;
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Session, user_context};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{self, TenantAdmin};
use tessera_domain::FieldErrors;
use tessera_domain::tenancy::AccessRequestStatus;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/tenant", get(index))
        .route("/tenant/{slug}", get(home))
        .route(
            "/tenant/{slug}/apps/new",
            get(apps::new_form).post(apps::create),
        )
        .route(
            "/tenant/{slug}/apps/{app}",
            get(apps::show).post(apps::update),
        )
        .route("/tenant/{slug}/apps/{app}/delete", post(apps::delete))
        .route("/tenant/{slug}/apps/{app}/secrets", post(secrets::add))
        .route(
            "/tenant/{slug}/apps/{app}/secrets/rotate",
            post(secrets::rotate),
        )
        .route(
            "/tenant/{slug}/apps/{app}/secrets/{secret}/revoke",
            post(secrets::revoke),
        )
        .route(
            "/tenant/{slug}/apps/{app}/access",
            get(access::show).post(access::save),
        )
        .route(
            "/tenant/{slug}/groups",
            get(groups::index).post(groups::create),
        )
        .route("/tenant/{slug}/groups/{group}", get(groups::show))
        .route(
            "/tenant/{slug}/groups/{group}/members",
            post(groups::add_member),
        )
        .route(
            "/tenant/{slug}/groups/{group}/members/{user}/remove",
            post(groups::remove_member),
        )
        .route("/tenant/{slug}/groups/{group}/delete", post(groups::delete))
}

/// The capability over the tenant in the URL, or the 404 page.
async fn capability(state: &WebState, who: &SignedIn, slug: &str) -> Result<TenantAdmin, WebError> {
    Ok(tenants::administer(&state.app, who, slug).await?)
}

/// The tenant as templates see it.
fn tenant_context(cap: &TenantAdmin) -> minijinja::Value {
    context! {
        slug => cap.tenant().slug.clone(),
        name => cap.tenant().display_name.clone(),
    }
}

/// `?notice=` after a redirect: a fixed sentence per code, never text from the URL.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

fn notice_text(code: &str) -> &'static str {
    match code {
        "created" => "The app was registered.",
        "saved" => "The app's settings were saved.",
        "access_saved" => "Who may use the app was saved.",
        "secret_revoked" => "The secret was revoked: it no longer works.",
        "app_deleted" => "The app was deleted. Its client id and secrets no longer work.",
        "group_created" => "The group was created.",
        "group_deleted" => "The group was deleted.",
        "member_added" => "The member was added.",
        "member_removed" => "The member was removed.",
        _ => "",
    }
}

/// Field messages as the tenant forms show them: core's field names renamed to the form's
/// (`rename`), and the messages with no field of their own, for the summary at the top.
fn form_errors(
    errors: &FieldErrors,
    rename: &[(&str, &str)],
    fields: &[&str],
) -> (std::collections::BTreeMap<String, String>, String) {
    let mut by_field = std::collections::BTreeMap::new();
    let mut others = Vec::new();
    for (field, message) in errors.iter() {
        let field = rename
            .iter()
            .find(|(from, _)| *from == field)
            .map_or(field, |(_, to)| *to);
        if fields.contains(&field) {
            by_field.insert(field.to_owned(), message.to_owned());
        } else {
            others.push(message.to_owned());
        }
    }
    let summary = if errors.is_empty() {
        String::new()
    } else if others.is_empty() {
        "Check the fields marked below.".to_owned()
    } else {
        others.join(" ")
    };
    (by_field, summary)
}

/// Lines of a textarea, trimmed, without the empty ones.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn index(State(state): State<WebState>, Session(who): Session) -> Result<Response, WebError> {
    let tenants: Vec<_> = tenants::administered_by(&state.app, &who)
        .await?
        .iter()
        .map(|t| context! { slug => t.slug.clone(), name => t.display_name.clone() })
        .collect();
    page(
        &state,
        StatusCode::OK,
        "tenant_list.html",
        context! {
            page_title => "Tenants you administer",
            current_user => user_context(&who),
            tenants,
            is_platform_admin => who.user.platform_admin,
        },
    )
}

async fn home(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let app = &state.app;
    let apps: Vec<_> = tenants::apps::list(app, &cap)
        .await?
        .iter()
        .map(|a| {
            context! {
                id => a.id.to_string(),
                name => a.name.clone(),
                client_id => a.client_id.clone(),
                kind => a.kind.as_str(),
            }
        })
        .collect();
    let groups: Vec<_> = tenants::groups::list(app, &cap)
        .await?
        .iter()
        .map(|g| {
            context! {
                id => g.id.to_string(),
                name => g.name.clone(),
                description => g.description.clone(),
            }
        })
        .collect();
    let pending = tenants::access::list(app, &cap, Some(AccessRequestStatus::Pending))
        .await?
        .len();
    let admins: Vec<_> = tenants::admins(app, &cap)
        .await?
        .iter()
        .map(|u| context! { name => u.display_name(), email => u.email.as_str() })
        .collect();
    page(
        &state,
        StatusCode::OK,
        "tenant_home.html",
        context! {
            page_title => cap.tenant().display_name.clone(),
            current_user => user_context(&who),
            tenant => tenant_context(&cap),
            apps,
            groups,
            pending,
            admins,
            notice => notice_text(&q.notice),
        },
    )
}
