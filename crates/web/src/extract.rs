//! Request extractors: who is signed in, whether they hold the administrator capability,
//! and where the request came from.

use crate::WebState;
use crate::error::WebError;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use std::net::SocketAddr;
use tessera_core::admin::PlatformAdmin;
use tessera_core::signin::{SignedIn, resolve_session};

/// The session cookie's user, if any, signed in with a password. A low-assurance session
/// (an email code, from self-registration) does not count here: see [`AnySession`].
pub struct Session(pub SignedIn);

impl OptionalFromRequestParts<WebState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Option<Self>, WebError> {
        Ok(
            <AnySession as OptionalFromRequestParts<WebState>>::from_request_parts(parts, state)
                .await?
                .map(|AnySession(who)| who)
                .filter(SignedIn::is_fully_signed_in)
                .map(Session),
        )
    }
}

/// The session secrets this browser holds, current account first. One browser can hold
/// several signed-in accounts (the account chooser switches between them).
pub fn session_tokens(jar: &CookieJar, state: &WebState) -> Vec<String> {
    jar.get(state.session_cookie_name())
        .map(|c| {
            c.value()
                .split('.')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Any live session, including a low-assurance one: only for pages that show a person
/// their own registration request.
pub struct AnySession(pub SignedIn);

impl OptionalFromRequestParts<WebState> for AnySession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Option<Self>, WebError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(current) = session_tokens(&jar, state).into_iter().next() else {
            return Ok(None);
        };
        Ok(resolve_session(&state.app, &current).await?.map(AnySession))
    }
}

impl FromRequestParts<WebState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        match <Session as OptionalFromRequestParts<WebState>>::from_request_parts(parts, state)
            .await?
        {
            Some(s) => Ok(s),
            None => Err(WebError::SignInRequired {
                next: return_path(parts),
            }),
        }
    }
}

/// A signed-in platform administrator, with the capability the admin flows require.
pub struct Admin {
    pub who: SignedIn,
    pub cap: PlatformAdmin,
}

impl FromRequestParts<WebState> for Admin {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let Session(who) =
            <Session as FromRequestParts<WebState>>::from_request_parts(parts, state).await?;
        let cap = who.platform_admin().ok_or(WebError::Forbidden)?;
        Ok(Self { who, cap })
    }
}

/// Where to come back to after signing in: this page, for GET requests.
fn return_path(parts: &Parts) -> String {
    if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// The peer address, for audit events and throttling.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string()),
        ))
    }
}

/// The user as templates see it.
pub fn user_context(who: &SignedIn) -> minijinja::Value {
    minijinja::context! {
        username => who.user.username.as_str(),
        display_name => who.user.display_name(),
        is_platform_admin => who.user.platform_admin,
    }
}
