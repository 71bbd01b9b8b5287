//! The account chooser: one browser can hold several signed-in accounts. It lists them,
//! switches the current one, or starts a sign-in with another account.

use super::page;
use crate::WebState;
use crate::error::{WebError, safe_next, urlencode};
use crate::extract::session_tokens;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::context;
use serde::Deserialize;
use tessera_core::signin::{SignedIn, resolve_session};

pub fn router() -> Router<WebState> {
    Router::new().route("/signin/choose", get(show).post(choose))
}

/// The browser's live, fully signed-in accounts with their cookie secrets, in order.
async fn accounts(state: &WebState, jar: &CookieJar) -> Result<Vec<(String, SignedIn)>, WebError> {
    let mut out = Vec::new();
    for token in session_tokens(jar, state) {
        if let Some(w) = resolve_session(&state.app, &token).await?
            && w.is_fully_signed_in()
        {
            out.push((token, w));
        }
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseQuery {
    next: String,
}

async fn show(
    State(state): State<WebState>,
    jar: CookieJar,
    Query(q): Query<ChooseQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(&q.next).unwrap_or("/").to_owned();
    let list = accounts(&state, &jar).await?;
    if list.is_empty() {
        return Ok(Redirect::to(&format!("/signin?next={}", urlencode(&next))).into_response());
    }
    let items: Vec<_> = list
        .iter()
        .enumerate()
        .map(|(i, (_, w))| {
            context! {
                index => i,
                display_name => w.user.display_name(),
                username => w.user.username.as_str(),
                email => w.user.email.as_str(),
            }
        })
        .collect();
    page(
        &state,
        StatusCode::OK,
        "choose_account.html",
        context! {
            page_title => "Choose an account",
            accounts => items,
            another => format!("/signin?reauth=1&next={}", urlencode(&next)),
            next,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseForm {
    account: usize,
    next: String,
}

/// Makes the chosen account the current one, then goes on.
async fn choose(
    State(state): State<WebState>,
    jar: CookieJar,
    Form(f): Form<ChooseForm>,
) -> Result<Response, WebError> {
    let next = safe_next(&f.next).unwrap_or("/").to_owned();
    let mut list = accounts(&state, &jar).await?;
    if f.account >= list.len() {
        return Ok(
            Redirect::to(&format!("/signin/choose?next={}", urlencode(&next))).into_response(),
        );
    }
    let chosen = list.remove(f.account);
    let next = super::oidc::authorize::with_chosen_proof(&state, &next, &chosen.1);
    list.insert(0, chosen);
    let list: Vec<String> = list.into_iter().map(|(t, _)| t).collect();
    let cookie = Cookie::build((state.session_cookie_name(), list.join(".")))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies)
        .same_site(SameSite::Lax)
        .build();
    Ok((jar.add(cookie), Redirect::to(&next)).into_response())
}
