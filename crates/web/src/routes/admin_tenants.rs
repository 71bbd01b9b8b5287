//! Platform administrators' tenant pages: the tenant list with the create form, and a
//! tenant's page with its apps and the people who administer it.

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::{WebError, urlencode};
use crate::extract::{Admin, user_context};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::admin::{create_tenant, list_tenants};
use tessera_core::tenants::{self, TenantAdmin, apps};
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/tenants", get(index).post(create))
        .route("/admin/tenants/{slug}", get(show))
        .route("/admin/tenants/{slug}/admins", post(add_admin))
        .route(
            "/admin/tenants/{slug}/admins/{user}/remove",
            post(remove_admin),
        )
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct TenantForm {
    slug: String,
    name: String,
}

async fn list_page(
    state: &WebState,
    admin: &Admin,
    status: StatusCode,
    values: &TenantForm,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let app = &state.app;
    let mut rows = Vec::new();
    for t in list_tenants(app, &admin.cap).await? {
        let cap = TenantAdmin::by_platform(app, &admin.cap, &t.slug).await?;
        let app_count = apps::list(app, &cap).await?.len();
        let admins: Vec<String> = tenants::admins(app, &cap)
            .await?
            .iter()
            .map(|u| u.username.as_str().to_owned())
            .collect();
        rows.push(context! {
            slug => t.slug,
            name => t.display_name,
            apps => app_count,
            admins => admins.join(", "),
            created_at => when(t.created_at),
        });
    }
    page(
        state,
        status,
        "admin_tenants.html",
        context! {
            page_title => "Tenants",
            current_user => user_context(&admin.who),
            tenants => rows,
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
        },
    )
}

async fn index(State(state): State<WebState>, admin: Admin) -> Result<Response, WebError> {
    list_page(
        &state,
        &admin,
        StatusCode::OK,
        &TenantForm::default(),
        &FieldErrors::new(),
    )
    .await
}

async fn create(
    State(state): State<WebState>,
    admin: Admin,
    Form(f): Form<TenantForm>,
) -> Result<Response, WebError> {
    match create_tenant(&state.app, &admin.cap, &f.slug, &f.name).await {
        Ok(t) => Ok(Redirect::to(&format!("/admin/tenants/{}", t.slug)).into_response()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, &f, &e).await
        }
        Err(CoreError::Domain(DomainError::Conflict { field, message })) => {
            let mut e = FieldErrors::new();
            e.add(field, message);
            list_page(&state, &admin, StatusCode::CONFLICT, &f, &e).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    added: String,
    removed: String,
}

async fn tenant_page(
    state: &WebState,
    admin: &Admin,
    slug: &str,
    status: StatusCode,
    username: &str,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    let app = &state.app;
    let cap = TenantAdmin::by_platform(app, &admin.cap, slug).await?;
    let tenant = cap.tenant();
    let app_rows: Vec<_> = apps::list(app, &cap)
        .await?
        .iter()
        .map(|c| {
            context! {
                id => c.id.to_string(),
                client_id => c.client_id.clone(),
                name => c.name.clone(),
                kind => if c.kind == tessera_domain::oauth::ClientKind::Public { "public" } else { "confidential" },
            }
        })
        .collect();
    let admin_rows: Vec<_> = tenants::admins(app, &cap)
        .await?
        .iter()
        .map(|u| {
            context! {
                id => u.id.to_string(),
                username => u.username.as_str(),
                display_name => u.display_name(),
                email => u.email.as_str(),
                state => u.state.as_str(),
            }
        })
        .collect();
    page(
        state,
        status,
        "admin_tenant.html",
        context! {
            page_title => tenant.display_name.clone(),
            current_user => user_context(&admin.who),
            tenant => context! {
                id => tenant.id.to_string(),
                slug => tenant.slug.clone(),
                name => tenant.display_name.clone(),
                created_at => when(tenant.created_at),
            },
            apps => app_rows,
            admins => admin_rows,
            values => context! { username => username },
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the field marked below." },
            notice,
        },
    )
}

async fn show(
    State(state): State<WebState>,
    admin: Admin,
    Path(slug): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    let notice = if !done.added.is_empty() {
        format!(
            "{} is now an admin of this tenant and can use its tenant portal.",
            done.added
        )
    } else if !done.removed.is_empty() {
        format!("{} no longer administers this tenant.", done.removed)
    } else {
        String::new()
    };
    tenant_page(
        &state,
        &admin,
        &slug,
        StatusCode::OK,
        "",
        &FieldErrors::new(),
        &notice,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdminForm {
    username: String,
}

async fn add_admin(
    State(state): State<WebState>,
    admin: Admin,
    Path(slug): Path<String>,
    Form(f): Form<AdminForm>,
) -> Result<Response, WebError> {
    let result = if f.username.trim().is_empty() {
        Err(DomainError::field("user", "Enter the username of the person to add.").into())
    } else {
        tenants::add_admin(&state.app, &admin.cap, &slug, f.username.trim()).await
    };
    match result {
        Ok(user) => Ok(Redirect::to(&format!(
            "/admin/tenants/{slug}?added={}",
            urlencode(user.username.as_str())
        ))
        .into_response()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            // The core names the field `user`; the form calls it `username`.
            let mut errors = FieldErrors::new();
            for (_, message) in e.iter() {
                errors.add("username", message.to_owned());
            }
            tenant_page(
                &state,
                &admin,
                &slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.username,
                &errors,
                "",
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn remove_admin(
    State(state): State<WebState>,
    admin: Admin,
    Path((slug, user)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let removed = tessera_core::admin::find_user(&state.app, &admin.cap, &user).await?;
    tenants::remove_admin(&state.app, &admin.cap, &slug, &user).await?;
    Ok(Redirect::to(&format!(
        "/admin/tenants/{slug}?removed={}",
        urlencode(removed.username.as_str())
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use minijinja::context;

    /// The pages of tenants, access requests and the audit log render in the strict
    /// environment with the contexts their handlers give, in each of their states.
    #[test]
    fn tenant_access_and_audit_pages_render() {
        let t = crate::Templates::new(None).unwrap();
        let user =
            context! { username => "ada", display_name => "Ada Lim", is_platform_admin => true };
        let contact = context! { name => "Tara Lim", email => "tara@tech.gov.sg" };
        let no_errors = std::collections::BTreeMap::<String, String>::new();
        let reason_error =
            std::collections::BTreeMap::from([("reason".to_owned(), "Too long.".to_owned())]);
        let render = |name: &str, ctx: minijinja::Value| {
            let html = t
                .render(name, ctx)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(html.contains("</html>"), "{name}");
            html
        };
        let html = render(
            "admin_tenants.html",
            context! {
                page_title => "Tenants", current_user => user.clone(),
                tenants => vec![context! { slug => "docs", name => "Docs", apps => 2, admins => "tara", created_at => "x" }],
                values => context! { slug => "a b", name => "" },
                errors => std::collections::BTreeMap::from([("slug".to_owned(), "Bad handle.".to_owned())]),
                form_error => "Check the fields marked below.",
            },
        );
        assert!(html.contains("Bad handle.") && html.contains("Create tenant"));
        let html = render(
            "admin_tenant.html",
            context! {
                page_title => "Docs", current_user => user.clone(),
                tenant => context! { id => "1", slug => "docs", name => "Docs", created_at => "x" },
                apps => vec![context! { id => "a1", client_id => "c1", name => "Wiki", kind => "confidential" }],
                admins => vec![context! { id => "u1", username => "tara", display_name => "Tara", email => "t@x", state => "active" }],
                values => context! { username => "" }, errors => no_errors.clone(), form_error => "", notice => "Done.",
            },
        );
        assert!(html.contains("/tenant/docs/apps/a1") && html.contains("Add tenant admin"));
        for (requested, may_request, contacts, errors) in [
            (false, true, vec![contact.clone()], no_errors.clone()),
            (false, true, vec![], reason_error.clone()),
            (true, true, vec![contact.clone()], no_errors.clone()),
            (false, false, vec![contact.clone()], no_errors.clone()),
        ] {
            let html = render(
                "access_refused.html",
                context! {
                    page_title => "x", current_user => user.clone(), client_id => "c1",
                    app_name => "Wiki", tenant_name => "Docs", reason => "Not listed.",
                    contacts, requested, may_request, values => context! { reason => "" },
                    errors, form_error => "",
                },
            );
            assert_eq!(
                html.contains("Why do you need it?"),
                may_request && !requested
            );
        }
        render(
            "access_requested.html",
            context! { page_title => "Request sent", current_user => user.clone(), app_name => "Wiki", tenant_name => "Docs", contacts => vec![contact] },
        );
        let row = |status: &str| {
            context! {
                id => "r1", name => "Rick", username => "rick", email => "r@x", user_type => "vendor",
                offshore => true, app_name => "Wiki", reason => "", created_at => "x", status,
                decided_at => "", decided_by => "Tara",
            }
        };
        render(
            "tenant_requests.html",
            context! {
                page_title => "x", current_user => user.clone(),
                tenant => context! { slug => "docs", name => "Docs" },
                pending => vec![row("pending")], decided => vec![row("approved"), row("rejected")],
                notice => "", form_error => "",
            },
        );
        for tenant in [None, Some(context! { slug => "docs", name => "Docs" })] {
            render(
                "admin_audit.html",
                context! {
                    page_title => "Audit log", current_user => user.clone(), tenant,
                    action_path => "/admin/audit",
                    filters => context! { actor => "", target => "", action => "", since => "", until => "", before => "", format => "" },
                    filtered => false, errors => no_errors.clone(), form_error => "",
                    records => vec![context! {
                        seq => 1, at => "x", actor => "cli", actor_name => "", action => "tenant.create",
                        target => "tenant:1", target_name => "", outcome => "success", source_ip => "",
                        detail => "{}", tenant => "docs",
                    }],
                    older => "/admin/audit?before=1", newest => "", csv => "c", json => "j", export_max => 10000,
                },
            );
        }
    }
}
