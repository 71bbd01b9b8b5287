//! Push approval pages of the sign-in: enrolling the authenticator (QR code, then the
//! number that confirms it) and the waiting page that shows the number to type. The
//! waiting page refreshes itself every two seconds, so it works without JavaScript.

use super::page;
use super::signin::{at_step, flow_cookie, go, recover};
use crate::WebState;
use crate::error::WebError;
use crate::extract::ClientIp;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;
use tessera_core::signin::flow::Step;
use tessera_core::signin::push_step::{self, Waiting};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/signin/setup/push", get(enrol))
        .route("/signin/setup/push/confirm", get(confirm))
        .route("/signin/push", get(waiting))
}

fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(220, 220)
                .build()
        })
        .unwrap_or_default()
}

/// Wizard step 1, push variant: the QR code carrying a one-time enrolment link.
async fn enrol(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    if let Err(r) = at_step(&state, &jar, Step::EnrolTotp).await? {
        return Ok(r);
    }
    let uri = match push_step::enrolment_uri(&state.app, &flow_cookie(&jar, &state)).await {
        Ok(u) => u,
        Err(e) => return recover(&state, &jar, e).await,
    };
    page(
        &state,
        StatusCode::OK,
        "setup_push.html",
        context! {
            page_title => "Set up push approval",
            qr_svg => minijinja::Value::from_safe_string(qr_svg(&uri)),
            uri,
        },
    )
}

/// After scanning: wait for the app to register, then show the number that confirms it.
async fn confirm(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> Result<Response, WebError> {
    if let Err(r) = at_step(&state, &jar, Step::EnrolTotp).await? {
        return Ok(r);
    }
    match push_step::confirmation_challenge(&state.app, &flow_cookie(&jar, &state), ip).await {
        Ok(Some(c)) => Ok(Redirect::to(&format!("/signin/push?c={}", c.id)).into_response()),
        Ok(None) => page(
            &state,
            StatusCode::OK,
            "push_not_yet.html",
            context! { page_title => "Waiting for your app" },
        ),
        Err(e) => recover(&state, &jar, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WaitQuery {
    c: String,
}

/// Without `c`: opens a sign-in challenge. With it: shows the number until the app
/// answers, then moves on.
async fn waiting(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Query(q): Query<WaitQuery>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    if q.c.is_empty() {
        if let Err(r) = at_step(&state, &jar, Step::SecondFactor).await? {
            return Ok(r);
        }
        return match push_step::sign_in_challenge(&state.app, &cookie, "Tessera sign-in", ip).await
        {
            Ok(c) => Ok(Redirect::to(&format!("/signin/push?c={}", c.id)).into_response()),
            Err(tessera_core::CoreError::Domain(tessera_domain::DomainError::TooManyAttempts(
                m,
            ))) => page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                "push_ended.html",
                context! { page_title => "Too many requests", title => "Too many requests", explanation => m },
            ),
            Err(e) => recover(&state, &jar, e).await,
        };
    }
    match push_step::wait(&state.app, &cookie, &q.c, ip).await {
        Ok(Waiting::Open(c)) => {
            let mut r = page(
                &state,
                StatusCode::OK,
                "push_wait.html",
                context! {
                    page_title => "Approve in your app",
                    number => c.number,
                    confirming => c.app_name == tessera_core::push::CONFIRMATION_APP,
                    app_name => c.app_name,
                },
            )?;
            // Refresh the page until the app answers (no script needed).
            r.headers_mut().insert(
                axum::http::header::REFRESH,
                axum::http::HeaderValue::from_static("2"),
            );
            Ok(r)
        }
        Ok(Waiting::Done(step)) => Ok(go(step)),
        Ok(Waiting::Expired) => page(
            &state,
            StatusCode::OK,
            "push_ended.html",
            context! {
                page_title => "Request expired",
                title => "This request expired",
                explanation => "Nobody answered within a minute. Send a new request, or use another method.",
            },
        ),
        Ok(Waiting::Denied) => page(
            &state,
            StatusCode::OK,
            "push_ended.html",
            context! {
                page_title => "Request denied",
                title => "The request was denied",
                explanation => "Your authenticator denied this sign-in, or the wrong number was entered three times. If you did not try to sign in, your password may be known to someone else: change it.",
            },
        ),
        Err(e) => recover(&state, &jar, e).await,
    }
}
