//! A tenant's groups: the list with a form to create one, a group's members (add by
//! username, remove), and deleting a group.

use super::{NoticeQuery, capability, form_errors, notice_text, tenant_context};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Session, user_context};
use crate::routes::page;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tessera_core::CoreError;
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{TenantAdmin, groups};
use tessera_domain::tenancy::TenantGroup;
use tessera_domain::{DomainError, FieldErrors};

#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(default)]
pub(super) struct GroupForm {
    name: String,
    description: String,
}

/// A field message, also for a conflict (a name in use), with the status to answer.
fn invalid(e: CoreError) -> Result<(StatusCode, FieldErrors), CoreError> {
    match e {
        CoreError::Domain(DomainError::Invalid(errors)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, errors))
        }
        CoreError::Domain(DomainError::Conflict { field, message }) => {
            let mut errors = FieldErrors::new();
            errors.add(field, message);
            Ok((StatusCode::CONFLICT, errors))
        }
        other => Err(other),
    }
}

async fn groups_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    status: StatusCode,
    values: &GroupForm,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    let list: Vec<_> = groups::list(&state.app, cap)
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
    let (errors, form_error) = form_errors(errors, &[], &["name", "description"]);
    page(
        state,
        status,
        "tenant_groups.html",
        context! {
            page_title => "Groups",
            current_user => user_context(who),
            tenant => tenant_context(cap),
            groups => list,
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            errors,
            form_error,
            notice,
        },
    )
}

pub(super) async fn index(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    groups_page(
        &state,
        &who,
        &cap,
        StatusCode::OK,
        &GroupForm::default(),
        &FieldErrors::new(),
        notice_text(&q.notice),
    )
    .await
}

fn group_url(cap: &TenantAdmin, group: &TenantGroup) -> String {
    format!("/tenant/{}/groups/{}", cap.tenant().slug, group.id)
}

pub(super) async fn create(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Form(f): Form<GroupForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    match groups::create(&state.app, &cap, &f.name, &f.description).await {
        Ok(group) => Ok(
            Redirect::to(&format!("{}?notice=group_created", group_url(&cap, &group)))
                .into_response(),
        ),
        Err(e) => {
            let (status, errors) = invalid(e)?;
            groups_page(&state, &who, &cap, status, &f, &errors, "").await
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(default)]
pub(super) struct MemberForm {
    username: String,
}

#[derive(Default)]
struct GroupPage<'a> {
    member: MemberForm,
    errors: FieldErrors,
    delete_error: &'a str,
    notice: &'a str,
}

async fn group_page(
    state: &WebState,
    who: &SignedIn,
    cap: &TenantAdmin,
    group: &TenantGroup,
    status: StatusCode,
    parts: GroupPage<'_>,
) -> Result<Response, WebError> {
    let members: Vec<_> = groups::members(&state.app, cap, &group.id.to_string())
        .await?
        .iter()
        .map(|u| {
            context! {
                id => u.id.to_string(),
                username => u.username.as_str(),
                name => u.display_name(),
                email => u.email.as_str(),
                state => u.state.as_str(),
            }
        })
        .collect();
    let (errors, form_error) = form_errors(&parts.errors, &[("user", "username")], &["username"]);
    page(
        state,
        status,
        "tenant_group.html",
        context! {
            page_title => group.name.clone(),
            current_user => user_context(who),
            tenant => tenant_context(cap),
            group => context! {
                id => group.id.to_string(),
                name => group.name.clone(),
                description => group.description.clone(),
            },
            members,
            values => minijinja::Value::from(minijinja::value::Serde(&parts.member)),
            errors,
            form_error,
            delete_error => parts.delete_error,
            notice => parts.notice,
        },
    )
}

pub(super) async fn show(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let group = groups::get(&state.app, &cap, &key).await?;
    group_page(
        &state,
        &who,
        &cap,
        &group,
        StatusCode::OK,
        GroupPage {
            notice: notice_text(&q.notice),
            ..GroupPage::default()
        },
    )
    .await
}

pub(super) async fn add_member(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Form(f): Form<MemberForm>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let group = groups::get(&state.app, &cap, &key).await?;
    let result = if f.username.trim().is_empty() {
        Err(DomainError::field("user", "Enter the username of the person to add.").into())
    } else {
        groups::add_member(&state.app, &cap, &key, &f.username).await
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("{}?notice=member_added", group_url(&cap, &group)))
                .into_response(),
        ),
        Err(e) => {
            let (status, errors) = invalid(e)?;
            group_page(
                &state,
                &who,
                &cap,
                &group,
                status,
                GroupPage {
                    member: f,
                    errors,
                    ..GroupPage::default()
                },
            )
            .await
        }
    }
}

pub(super) async fn remove_member(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key, user)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let group = groups::get(&state.app, &cap, &key).await?;
    match groups::remove_member(&state.app, &cap, &key, &user).await {
        Ok(()) => {}
        // A member removed a moment ago (another tab, a double click) is simply gone.
        Err(CoreError::Domain(DomainError::Invalid(_) | DomainError::NotFound(_))) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(Redirect::to(&format!(
        "{}?notice=member_removed",
        group_url(&cap, &group)
    ))
    .into_response())
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
    let group = groups::get(&state.app, &cap, &key).await?;
    if f.confirm.is_empty() {
        return group_page(
            &state,
            &who,
            &cap,
            &group,
            StatusCode::UNPROCESSABLE_ENTITY,
            GroupPage {
                delete_error: "Tick the box to confirm that the group should be deleted.",
                ..GroupPage::default()
            },
        )
        .await;
    }
    groups::delete(&state.app, &cap, &key).await?;
    Ok(Redirect::to(&format!(
        "/tenant/{}/groups?notice=group_deleted",
        cap.tenant().slug
    ))
    .into_response())
}
