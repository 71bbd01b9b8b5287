//! RP-initiated logout (`end_session_endpoint`): confirm, sign out (which notifies every
//! app of the session by back-channel logout), then return to the app if it asked.

use super::page;
use crate::WebState;
use crate::error::{WebError, error_page};
use crate::extract::{ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use minijinja::context;
use tessera_core::oidc::logout::{EndSessionParams, return_address};
use tessera_core::signin::sign_out;

pub fn router() -> Router<WebState> {
    Router::new().route("/logout", get(ask).post(confirm))
}

/// Shows "Sign out?" (never signs out on a GET, which any site could trigger).
async fn ask(
    State(state): State<WebState>,
    who: Option<Session>,
    Query(p): Query<EndSessionParams>,
) -> Result<Response, WebError> {
    if let Err(why) = return_address(&state.app, &p).await {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-out request is not valid",
            why,
        ));
    }
    page(
        &state,
        StatusCode::OK,
        "logout.html",
        context! {
            page_title => "Sign out",
            current_user => who.as_ref().map(|Session(w)| user_context(w)),
            signed_in => who.is_some(),
            id_token_hint => p.id_token_hint.unwrap_or_default(),
            post_logout_redirect_uri => p.post_logout_redirect_uri.unwrap_or_default(),
            state => p.state.unwrap_or_default(),
            client_id => p.client_id.unwrap_or_default(),
        },
    )
}

async fn confirm(
    State(state): State<WebState>,
    who: Option<Session>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(p): Form<EndSessionParams>,
) -> Result<Response, WebError> {
    let none_if_empty = |s: Option<String>| s.filter(|v| !v.is_empty());
    let p = EndSessionParams {
        id_token_hint: none_if_empty(p.id_token_hint),
        post_logout_redirect_uri: none_if_empty(p.post_logout_redirect_uri),
        state: none_if_empty(p.state),
        client_id: none_if_empty(p.client_id),
    };
    let target = match return_address(&state.app, &p).await {
        Ok(t) => t,
        Err(why) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-out request is not valid",
                why,
            ));
        }
    };
    if let Some(Session(w)) = who {
        sign_out(&state.app, &w, ip).await?;
        state.wake_outbox();
    }
    // Other accounts signed in in this browser stay signed in.
    let others: Vec<String> = crate::extract::session_tokens(&jar, &state)
        .into_iter()
        .skip(1)
        .collect();
    let jar = if others.is_empty() {
        jar.remove(
            Cookie::build((state.session_cookie_name(), ""))
                .path("/")
                .build(),
        )
    } else {
        jar.add(
            Cookie::build((state.session_cookie_name(), others.join(".")))
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies)
                .same_site(axum_extra::extract::cookie::SameSite::Lax)
                .build(),
        )
    };
    match target {
        Some(url) => Ok((jar, Redirect::to(&url)).into_response()),
        None => Ok((
            jar,
            page(
                &state,
                StatusCode::OK,
                "logout_done.html",
                context! { page_title => "Signed out" },
            )?,
        )
            .into_response()),
    }
}
