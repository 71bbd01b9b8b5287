//! The platform administrator's pages: home and the outbox.

use super::page;
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Admin, ClientIp, user_context};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::admin::{list_outbox, outbox_message, overview, send_test_email};
use tessera_domain::DomainError;
use tessera_domain::OutboxMessageId;
use tessera_domain::outbox::OutboxMessage;
use time::OffsetDateTime;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/outbox", get(outbox))
        .route("/admin/outbox/test", post(test_email))
        .route("/admin/outbox/{id}", get(message))
}

async fn home(State(state): State<WebState>, admin: Admin) -> Result<Response, WebError> {
    let stats = overview(&state.app, &admin.cap).await?;
    page(
        &state,
        StatusCode::OK,
        "admin_home.html",
        context! {
            page_title => "Administration",
            current_user => user_context(&admin.who),
            stats => minijinja::Value::from(minijinja::value::Serde(&stats)),
            delivery_mode => state.settings.delivery_mode.clone(),
        },
    )
}

#[derive(Deserialize)]
struct OutboxQuery {
    before: Option<String>,
}

fn when(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(f).unwrap_or_default()
}

fn message_context(m: &OutboxMessage) -> minijinja::Value {
    let subject = if m.subject.is_empty() {
        m.body.chars().take(60).collect::<String>()
    } else {
        m.subject.clone()
    };
    context! {
        id => m.id.to_string(),
        created_at => when(m.created_at),
        channel => m.channel.as_str(),
        recipient => m.recipient.clone(),
        subject,
        status => m.status.as_str(),
        attempts => m.attempts,
        last_error => m.last_error.clone().unwrap_or_default(),
        delivered_at => m.delivered_at.map(when).unwrap_or_default(),
        body => m.body.clone(),
    }
}

async fn outbox(
    State(state): State<WebState>,
    admin: Admin,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, WebError> {
    let before = match q.before.as_deref() {
        Some(s) => Some(
            s.parse::<OutboxMessageId>()
                .map_err(|_| WebError::NotFound)?,
        ),
        None => None,
    };
    outbox_page(&state, &admin, before, StatusCode::OK, "", "").await
}

async fn outbox_page(
    state: &WebState,
    admin: &Admin,
    before: Option<OutboxMessageId>,
    status: StatusCode,
    test_to: &str,
    test_error: &str,
) -> Result<Response, WebError> {
    let messages = list_outbox(&state.app, &admin.cap, before, 100).await?;
    let messages: Vec<_> = messages.iter().map(message_context).collect();
    page(
        state,
        status,
        "outbox_list.html",
        context! {
            page_title => "Outbox",
            current_user => user_context(&admin.who),
            delivery_mode => state.settings.delivery_mode.clone(),
            messages,
            test_to,
            test_error,
        },
    )
}

#[derive(Deserialize)]
struct TestEmail {
    #[serde(default)]
    to: String,
}

async fn test_email(
    State(state): State<WebState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Form(f): Form<TestEmail>,
) -> Result<Response, WebError> {
    match send_test_email(&state.app, &admin.cap, &f.to, ip).await {
        Ok(id) => {
            state.wake_outbox();
            Ok(Redirect::to(&format!("/admin/outbox/{id}")).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let message = errors
                .get("to")
                .unwrap_or("Enter an email address.")
                .to_owned();
            outbox_page(
                &state,
                &admin,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.to,
                &message,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn message(
    State(state): State<WebState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = id
        .parse::<OutboxMessageId>()
        .map_err(|_| WebError::NotFound)?;
    let m = outbox_message(&state.app, &admin.cap, id).await?;
    page(
        &state,
        StatusCode::OK,
        "outbox_message.html",
        context! { page_title => "Message", current_user => user_context(&admin.who), message => message_context(&m) },
    )
}
