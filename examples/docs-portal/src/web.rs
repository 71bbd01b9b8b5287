//! The web routes: the home page, `/login` (authorization request), `/callback` (code
//! exchange and ID-token validation), `/logout` (RP-initiated logout) and the stylesheet.
//! Pending sign-ins and sessions live in memory, keyed by random values.

use crate::config::Settings;
use crate::oidc::{Http, IdToken, OtherClaims, Provider, discover, error_chain};
use crate::pages;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{AppendHeaders, Html, IntoResponse, Response};
use axum::routing::{get, post};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreGenderClaim};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, RequestTokenError, Scope, TokenResponse, UserInfoClaims,
};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

const SESSION_COOKIE: &str = "docs_portal_session";
const STATE_COOKIE: &str = "docs_portal_state";
/// How long a started sign-in may take.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// How long a Docs portal session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

pub struct AppState {
    settings: Settings,
    http: Http,
    provider: RwLock<Arc<Provider>>,
    /// Started sign-ins, by `state`.
    pending: Mutex<HashMap<String, Pending>>,
    /// Signed-in browsers, by session cookie.
    sessions: Mutex<HashMap<String, SignedIn>>,
}

struct Pending {
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    started: Instant,
}

struct SignedIn {
    display_name: String,
    id_token: IdToken,
    id_claims: Vec<(String, Value)>,
    userinfo: Result<Vec<(String, Value)>, String>,
    since: Instant,
}

/// A sign-in that did not work, for the error page.
struct Failure {
    code: String,
    description: String,
}

impl Failure {
    fn new(code: &str, description: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            description: description.into(),
        }
    }
}

/// A poisoned lock only means another request panicked; the maps are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppState {
    pub fn new(settings: Settings, http: Http, provider: Provider) -> Self {
        Self {
            settings,
            http,
            provider: RwLock::new(Arc::new(provider)),
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn provider(&self) -> Arc<Provider> {
        self.provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Discovers again (new signing keys after a rotation) and keeps the result.
    async fn refresh_provider(&self) -> anyhow::Result<Arc<Provider>> {
        let fresh = Arc::new(discover(&self.http, &self.settings).await?);
        *self.provider.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    fn base(&self) -> &str {
        &self.settings.base_path
    }

    fn cookie(&self, name: &str, value: &str, max_age: Duration) -> String {
        let path = if self.settings.base_path.is_empty() {
            "/"
        } else {
            &self.settings.base_path
        };
        let secure = if self.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            max_age.as_secs()
        )
    }
}

pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/style.css", get(style))
        .fallback(not_found)
        .layer(map_response(security_headers))
        .with_state(app)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The query's parameters; the first wins when one is repeated.
fn params(query: Option<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn see_other(location: &str, cookies: Vec<String>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        AppendHeaders(cookies.into_iter().map(|c| (SET_COOKIE, c))),
    )
        .into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(LOCATION, v);
            response
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "bad redirect").into_response(),
    }
}

async fn style() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        pages::STYLE,
    )
        .into_response()
}

async fn not_found(State(app): State<Arc<AppState>>) -> Response {
    (StatusCode::NOT_FOUND, Html(pages::not_found(app.base()))).into_response()
}

/// `GET /`: the button, or who is signed in and their claims.
async fn home(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let id = cookie_value(&headers, SESSION_COOKIE);
    let sessions = lock(&app.sessions);
    let session = id
        .as_deref()
        .and_then(|id| sessions.get(id))
        .filter(|s| s.since.elapsed() < SESSION_TTL);
    let page = match session {
        Some(s) => pages::home_signed_in(
            app.base(),
            &pages::SignedInView {
                display_name: &s.display_name,
                id_claims: &s.id_claims,
                userinfo: &s.userinfo,
            },
        ),
        None => pages::home_signed_out(app.base()),
    };
    Html(page).into_response()
}

/// `GET /login[?prompt=…]`: start the authorization code flow with PKCE, state and nonce.
async fn login(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let q = params(query);
    let mut prompts = Vec::new();
    for p in q
        .get("prompt")
        .map(String::as_str)
        .unwrap_or("")
        .split_whitespace()
    {
        prompts.push(match p {
            "none" => CoreAuthPrompt::None,
            "login" => CoreAuthPrompt::Login,
            "consent" => CoreAuthPrompt::Consent,
            "select_account" => CoreAuthPrompt::SelectAccount,
            other => {
                return failure_page(
                    &app,
                    Failure::new(
                        "invalid_prompt",
                        format!(
                            "Unknown prompt value {other:?}: use none, login, consent or select_account."
                        ),
                    ),
                );
            }
        });
    }
    let provider = app.provider();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    for p in prompts {
        request = request.add_prompt(p);
    }
    let (url, state, nonce) = request.url();
    {
        let mut pending = lock(&app.pending);
        pending.retain(|_, p| p.started.elapsed() < LOGIN_TTL);
        pending.insert(
            state.secret().clone(),
            Pending {
                nonce,
                verifier,
                started: Instant::now(),
            },
        );
    }
    let cookie = app.cookie(STATE_COOKIE, state.secret(), LOGIN_TTL);
    see_other(url.as_str(), vec![cookie])
}

/// `GET /callback`: check the response, exchange the code, validate the ID token, call
/// userinfo, start a session.
async fn callback(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = params(query);
    let browser_state = cookie_value(&headers, STATE_COOKIE);
    let clear_state = app.cookie(STATE_COOKIE, "", Duration::ZERO);
    match complete(&app, &q, browser_state.as_deref()).await {
        Ok(session_id) => {
            let session = app.cookie(SESSION_COOKIE, &session_id, SESSION_TTL);
            see_other(&format!("{}/", app.base()), vec![clear_state, session])
        }
        Err(f) => {
            let mut response = failure_page(&app, f);
            if let Ok(v) = HeaderValue::from_str(&clear_state) {
                response.headers_mut().append(SET_COOKIE, v);
            }
            response
        }
    }
}

fn failure_page(app: &AppState, f: Failure) -> Response {
    tracing::warn!(code = %f.code, description = %f.description, "sign-in failed");
    (
        StatusCode::BAD_REQUEST,
        Html(pages::error(app.base(), &f.code, &f.description)),
    )
        .into_response()
}

async fn complete(
    app: &AppState,
    q: &HashMap<String, String>,
    browser_state: Option<&str>,
) -> Result<String, Failure> {
    let state = q.get("state");
    if let Some(error) = q.get("error") {
        if let Some(s) = state {
            lock(&app.pending).remove(s);
        }
        return Err(Failure::new(
            error,
            q.get("error_description").cloned().unwrap_or_default(),
        ));
    }
    let state = state
        .ok_or_else(|| Failure::new("missing_state", "The response from Tessera has no state."))?;
    if browser_state != Some(state.as_str()) {
        return Err(Failure::new(
            "state_mismatch",
            "This response does not belong to a sign-in started in this browser. Start again.",
        ));
    }
    let pending = lock(&app.pending)
        .remove(state)
        .filter(|p| p.started.elapsed() < LOGIN_TTL)
        .ok_or_else(|| {
            Failure::new(
                "unknown_state",
                "This sign-in is unknown, already completed or expired. Start again.",
            )
        })?;
    let mut provider = app.provider();
    // RFC 9207: when the issuer says who it is, it must be the one we asked.
    if let Some(iss) = q.get("iss")
        && iss.as_str() != provider.issuer.as_str()
    {
        return Err(Failure::new(
            "issuer_mismatch",
            format!("The response came from {iss}, not from the configured issuer."),
        ));
    }
    let code = q
        .get("code")
        .ok_or_else(|| Failure::new("missing_code", "The response from Tessera has no code."))?;

    let tokens = provider
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| Failure::new("configuration_error", e.to_string()))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&app.http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => Failure::new(
                r.error().as_ref(),
                r.error_description().cloned().unwrap_or_default(),
            ),
            other => Failure::new("token_request_failed", error_chain(&other)),
        })?;
    let raw = tokens
        .id_token()
        .ok_or_else(|| Failure::new("missing_id_token", "The token response has no ID token."))?
        .to_string();
    let id_token = IdToken::from_str(&raw)
        .map_err(|e| Failure::new("invalid_id_token", format!("unreadable ID token: {e}")))?;

    // Signature (against the JWKS), issuer, audience, azp, expiry, nonce.
    let first = id_token
        .claims(&provider.client.id_token_verifier(), &pending.nonce)
        .map(|_| ());
    if let Err(ClaimsVerificationError::SignatureVerification(e)) = &first {
        // Perhaps a key we have not seen yet: fetch the JWKS again, once.
        tracing::info!(error = %e, "ID token signature did not verify; refreshing the JWKS");
        provider = app
            .refresh_provider()
            .await
            .map_err(|e| Failure::new("discovery_failed", format!("{e:#}")))?;
    } else if let Err(e) = first {
        return Err(Failure::new("invalid_id_token", error_chain(&e)));
    }
    let verifier = provider.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| Failure::new("invalid_id_token", error_chain(&e)))?;
    if let Some(expected) = claims.access_token_hash() {
        let actual = id_token
            .signing_alg()
            .and_then(|alg| id_token.signing_key(&verifier).map(|key| (alg, key)))
            .map_err(|e| Failure::new("invalid_id_token", error_chain(&e)))
            .and_then(|(alg, key)| {
                AccessTokenHash::from_token(tokens.access_token(), alg, key)
                    .map_err(|e| Failure::new("invalid_id_token", error_chain(&e)))
            })?;
        if &actual != expected {
            return Err(Failure::new(
                "invalid_id_token",
                "at_hash does not match the access token.",
            ));
        }
    }
    let subject = claims.subject().clone();
    let display_name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.to_string())
        .or_else(|| claims.preferred_username().map(|u| u.to_string()))
        .unwrap_or_else(|| subject.to_string());
    let id_claims = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => pages::ordered(map),
        _ => Vec::new(),
    };

    let userinfo = match provider
        .client
        .user_info(tokens.access_token().clone(), Some(subject))
    {
        Err(e) => Err(e.to_string()),
        Ok(request) => {
            let info: Result<UserInfoClaims<OtherClaims, CoreGenderClaim>, _> =
                request.request_async(&app.http).await;
            match info.map(|i| serde_json::to_value(&i)) {
                Ok(Ok(Value::Object(map))) => Ok(pages::ordered(map)),
                Ok(Ok(_)) => Err("not a JSON object".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(error_chain(&e)),
            }
        }
    };
    if let Err(e) = &userinfo {
        tracing::warn!(error = %e, "userinfo failed");
    }

    let session_id = CsrfToken::new_random().secret().clone();
    let mut sessions = lock(&app.sessions);
    sessions.retain(|_, s| s.since.elapsed() < SESSION_TTL);
    tracing::info!(user = %display_name, "signed in");
    sessions.insert(
        session_id.clone(),
        SignedIn {
            display_name,
            id_token,
            id_claims,
            userinfo,
            since: Instant::now(),
        },
    );
    Ok(session_id)
}

/// `POST /logout`: end the local session, then RP-initiated logout at Tessera.
async fn logout(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let session =
        cookie_value(&headers, SESSION_COOKIE).and_then(|id| lock(&app.sessions).remove(&id));
    let clear = app.cookie(SESSION_COOKIE, "", Duration::ZERO);
    let home = format!("{}/", app.base());
    let provider = app.provider();
    let (Some(session), Some(endpoint)) = (session, provider.end_session_endpoint.clone()) else {
        return see_other(&home, vec![clear]);
    };
    let mut request = LogoutRequest::from(endpoint)
        .set_id_token_hint(&session.id_token)
        .set_client_id(ClientId::new(app.settings.client_id.clone()));
    if let Ok(back) = PostLogoutRedirectUrl::new(app.settings.post_logout_redirect_uri.clone()) {
        request = request.set_post_logout_redirect_uri(back);
    }
    see_other(request.http_get_url().as_str(), vec![clear])
}
