//! The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207):
//! validate the request, decide whether the user must (re-)authenticate, issue a code.

use super::{ErrorCode, OAuthError, USER_SCOPES};
use crate::signin::SignedIn;
use crate::{App, CoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_domain::oauth::grant::{Authentication, CODE_LIFETIME};
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::oauth::{
    AuthorizationCode, GrantType, OAuthClient, pkce, redirect_uri_matches,
};
use tessera_domain::secret::{BearerSecret, SecretHash};

/// The request's parameters as received (query string or form body).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// Set by Tessera on the way back from a forced sign-in (Unix seconds): only a session
    /// that began at or after it satisfies `prompt=login` or `max_age`.
    pub auth_after: Option<String>,
    /// Set by Tessera after the account chooser: the browser's current account is the one
    /// the user picked, so the chooser is not shown again.
    pub account_chosen: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how an authorization response goes back to the client.
#[derive(Clone, Debug)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

/// Why a request cannot proceed.
#[derive(Debug)]
pub enum Refusal {
    /// The client or redirect URI cannot be trusted: show a page, never redirect.
    Page(String),
    /// A protocol error the client should hear about, at its redirect URI.
    Redirect(Reply),
    Core(CoreError),
}

impl<E: Into<CoreError>> From<E> for Refusal {
    fn from(e: E) -> Self {
        Self::Core(e.into())
    }
}

#[derive(Clone, Debug)]
pub struct Validated {
    pub client: OAuthClient,
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub scope: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Set when the parameters came from a pushed request (spent with the code).
    pub pushed: Option<SecretHash>,
    /// Re-authentication must have happened at or after this instant.
    pub auth_after: Option<time::OffsetDateTime>,
}

fn reply(
    app: &App,
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    mut params: Vec<(String, String)>,
) -> Reply {
    if let Some(s) = state {
        params.push(("state".into(), s.to_owned()));
    }
    // RFC 9207: the issuer in every authorization response, so a client can tell which
    // provider answered (mix-up attacks).
    params.push(("iss".into(), app.settings.issuer.clone()));
    Reply {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        params,
    }
}

fn error_reply(
    app: &App,
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    e: OAuthError,
) -> Refusal {
    Refusal::Redirect(reply(
        app,
        redirect_uri,
        mode,
        state,
        vec![
            ("error".into(), e.code.as_str().into()),
            ("error_description".into(), e.description),
        ],
    ))
}

/// Validates a request at /authorize; a `request_uri` stands for a pushed request.
pub async fn validate(app: &App, p: &AuthorizeParams) -> Result<Validated, Refusal> {
    let Some(uri) = p.request_uri.as_deref() else {
        return validate_params(app, p, None, false).await;
    };
    let unknown = || {
        Refusal::Page(
            "This sign-in request has expired or is not known. Start again from the application."
                .into(),
        )
    };
    let client_id = p.client_id.as_deref().ok_or_else(unknown)?;
    let hash = SecretHash::of(uri);
    let mut r = app.db.read().await?;
    let (pushed, used) = r.pushed_request(&hash).await?.ok_or_else(unknown)?;
    let client = r
        .client_by_client_id(client_id)
        .await?
        .ok_or_else(unknown)?;
    drop(r);
    if pushed.client != client.id {
        return Err(unknown());
    }
    let stored: AuthorizeParams = serde_json::from_str(&pushed.params)
        .map_err(|e| CoreError::Internal(format!("stored pushed request: {e}")))?;
    if used || pushed.expires_at <= app.clock.now() {
        // Tell the client at its (validated) redirect URI that the request_uri is spent.
        let v = validate_params(app, &stored, Some(hash), false).await?;
        return Err(error_reply(
            app,
            &v.redirect_uri,
            v.mode,
            v.state.as_deref(),
            OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "the request_uri was already used or has expired",
            ),
        ));
    }
    let mut v = validate_params(app, &stored, Some(hash), false).await?;
    // The re-authentication floor comes from the browser's return trip only (a pushed
    // request cannot set it), and is never earlier than the push itself.
    v.auth_after = p
        .auth_after
        .as_deref()
        .and_then(|s| s.parse::<i64>().ok())
        .map(|t| tessera_domain::clock::from_unix(t).max(pushed.created_at));
    Ok(v)
}

/// Validates the parameters themselves. `pushing` is set by the PAR endpoint, which
/// validates before storing.
pub async fn validate_params(
    app: &App,
    p: &AuthorizeParams,
    pushed: Option<SecretHash>,
    pushing: bool,
) -> Result<Validated, Refusal> {
    let client_id = p
        .client_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Refusal::Page(
                "The request does not say which application is asking (client_id is missing)."
                    .into(),
            )
        })?;
    let client = app
        .db
        .read()
        .await?
        .client_by_client_id(client_id)
        .await?
        .ok_or_else(|| {
            Refusal::Page(
                "The application that sent you here is not registered with Tessera.".into(),
            )
        })?;
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|r| redirect_uri_matches(r, uri)) =>
        {
            uri.to_owned()
        }
        Some(_) => {
            return Err(Refusal::Page(format!(
                "The application {:?} asked to send you to an address it has not registered.",
                client.name
            )));
        }
        // Required by OIDC Core §3.1.2.1, and needed to match it again at /token.
        None => {
            return Err(Refusal::Page(
                "The request does not say where to return to (redirect_uri).".into(),
            ));
        }
    };
    let state = p.state.as_deref();
    let mode = match p.response_mode.as_deref() {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return Err(error_reply(
                app,
                &redirect_uri,
                ResponseMode::Query,
                state,
                OAuthError::invalid_request(format!(
                    "response_mode {other:?} is not supported; use query or form_post"
                )),
            ));
        }
    };
    let fail = |e: OAuthError| error_reply(app, &redirect_uri, mode, state, e);

    if p.request.is_some() {
        return Err(fail(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if p.request_uri.is_some() {
        return Err(fail(OAuthError::invalid_request(
            "a pushed request cannot contain request_uri",
        )));
    }
    if client.require_par && pushed.is_none() && !pushing {
        return Err(fail(OAuthError::invalid_request(
            "this client must push its authorization requests (PAR, RFC 9126)",
        )));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(fail(OAuthError::invalid_request(
                "response_type is required",
            )));
        }
        Some(other) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type {other:?} is not supported; only code"),
            )));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        )));
    }
    let scope = Scopes::parse(p.scope.as_deref().unwrap_or(""))
        .map_err(|m| fail(OAuthError::new(ErrorCode::InvalidScope, m)))?;
    let unknown = scope.not_in(USER_SCOPES);
    if !unknown.is_empty() {
        return Err(fail(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("unknown scope: {}", unknown.join(" ")),
        )));
    }
    let challenge = p.code_challenge.as_deref().ok_or_else(|| {
        fail(OAuthError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ))
    })?;
    pkce::validate_challenge(
        challenge,
        p.code_challenge_method.as_deref().unwrap_or("plain"),
    )
    .map_err(|m| fail(OAuthError::invalid_request(m)))?;
    let prompt: Vec<String> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for v in &prompt {
        if !matches!(v.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(fail(OAuthError::invalid_request(format!(
                "unknown prompt value {v:?}"
            ))));
        }
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(fail(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        )));
    }
    let max_age = match p.max_age.as_deref() {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            fail(OAuthError::invalid_request(
                "max_age must be a whole number of seconds",
            ))
        })?),
    };
    Ok(Validated {
        client,
        redirect_uri,
        mode,
        scope,
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge: challenge.to_owned(),
        prompt,
        max_age,
        login_hint: p.login_hint.clone(),
        pushed,
        auth_after: p
            .auth_after
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .map(tessera_domain::clock::from_unix),
    })
}

/// What to do about the browser's session for this request.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// The session may be used as it is.
    Proceed,
    /// The user must sign in (again).
    SignIn,
    /// `prompt=none` and sign-in would be needed.
    LoginRequired,
}

pub fn check_session(app: &App, v: &Validated, who: Option<&SignedIn>) -> SessionCheck {
    let silent = v.prompt.iter().any(|p| p == "none");
    let Some(who) = who else {
        return if silent {
            SessionCheck::LoginRequired
        } else {
            SessionCheck::SignIn
        };
    };
    let age = (app.clock.now() - who.session.created_at).whole_seconds();
    // A session that began after Tessera sent the user to sign in again settles both
    // demands; `prompt=login` without that proof always asks.
    let reauthenticated = v.auth_after.is_some_and(|t| who.session.created_at >= t);
    let too_old = v.max_age.is_some_and(|m| age > m) && !reauthenticated;
    let forced = v.prompt.iter().any(|p| p == "login") && !reauthenticated;
    match (too_old || forced, silent) {
        (false, _) => SessionCheck::Proceed,
        (true, true) => SessionCheck::LoginRequired,
        (true, false) => SessionCheck::SignIn,
    }
}

pub fn login_required(app: &App, v: &Validated) -> Reply {
    match error_reply(
        app,
        &v.redirect_uri,
        v.mode,
        v.state.as_deref(),
        OAuthError::new(ErrorCode::LoginRequired, "the user must sign in"),
    ) {
        Refusal::Redirect(r) => r,
        _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
    }
}

/// The OIDC `sid` for a portal session: stable for the session, reveals nothing of its
/// cookie.
pub fn session_id(who: &SignedIn) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &[b"sid:".as_slice(), who.session.token_hash.as_bytes()].concat(),
    );
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// Issues a one-time code for the signed-in user and returns the success response.
pub async fn issue_code(app: &App, v: &Validated, who: &SignedIn) -> Result<Reply, CoreError> {
    // Every path to a code passes here (authorize, consent, the chooser): the app's access
    // rules and its MFA requirement are enforced once more, whatever page came before.
    if crate::tenants::access::check(app, &v.client, who)
        .await?
        .is_some()
    {
        return Ok(not_allowed(app, v));
    }
    if v.client.require_phishing_resistant && !crate::passkeys::is_phishing_resistant(who) {
        return Ok(login_required(app, v));
    }
    let now = app.clock.now();
    let secret = BearerSecret::generate(app.random.as_ref());
    let code = AuthorizationCode {
        code_hash: secret.hash(),
        client: v.client.id,
        redirect_uri: v.redirect_uri.clone(),
        scope: v.scope.to_string(),
        nonce: v.nonce.clone(),
        code_challenge: v.code_challenge.clone(),
        auth: Authentication {
            user_id: who.user.id,
            auth_time: who.session.created_at,
            amr: who.amr(),
            acr: who.acr().into(),
            sid: session_id(who),
        },
        created_at: now,
        expires_at: now + CODE_LIFETIME,
    };
    let mut tx = app.db.begin().await?;
    if let Some(h) = &v.pushed
        && !tx.consume_pushed_request(h, now).await?
    {
        let e = OAuthError::new(
            ErrorCode::InvalidRequestUri,
            "the request_uri was already used or has expired",
        );
        return Ok(
            match error_reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), e) {
                Refusal::Redirect(r) => r,
                _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
            },
        );
    }
    tx.insert_authorization_code(&code).await?;
    tx.record_session_client(&code.auth.sid, v.client.id, who.user.id, now)
        .await?;
    tx.commit().await?;
    Ok(reply(
        app,
        &v.redirect_uri,
        v.mode,
        v.state.as_deref(),
        vec![("code".into(), secret.expose().to_owned())],
    ))
}

/// Whether the user must be asked before the app gets a code.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsentCheck {
    NotNeeded,
    Ask,
    /// `prompt=none`, and consent would be needed.
    Required,
}

/// First-party apps (the default) need no consent; an app that requires it asks once per
/// user, again when it wants more scopes, and whenever `prompt=consent` says so.
pub async fn check_consent(
    app: &App,
    v: &Validated,
    who: &SignedIn,
) -> Result<ConsentCheck, CoreError> {
    let forced = v.prompt.iter().any(|p| p == "consent");
    if !v.client.consent_required && !forced {
        return Ok(ConsentCheck::NotNeeded);
    }
    if !forced {
        let stored = app
            .db
            .read()
            .await?
            .consent(who.user.id, v.client.id)
            .await?;
        if let Some(c) = stored
            && v.scope
                .is_subset_of(&Scopes::parse(&c.scope).unwrap_or_default())
        {
            return Ok(ConsentCheck::NotNeeded);
        }
    }
    Ok(if v.prompt.iter().any(|p| p == "none") {
        ConsentCheck::Required
    } else {
        ConsentCheck::Ask
    })
}

/// `prompt=none` while several accounts are signed in and none was chosen.
pub fn account_selection_required(app: &App, v: &Validated) -> Reply {
    let e = OAuthError::new(
        ErrorCode::AccountSelectionRequired,
        "several accounts are signed in; the user must choose one",
    );
    match error_reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), e) {
        Refusal::Redirect(r) => r,
        _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
    }
}

/// `prompt=none` for a user the app's access rules refuse (the page cannot be shown).
pub fn not_allowed(app: &App, v: &Validated) -> Reply {
    let e = OAuthError::new(
        ErrorCode::AccessDenied,
        "the app's access rules do not admit this user",
    );
    match error_reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), e) {
        Refusal::Redirect(r) => r,
        _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
    }
}

pub fn consent_required(app: &App, v: &Validated) -> Reply {
    let e = OAuthError::new(ErrorCode::ConsentRequired, "the user must consent first");
    match error_reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), e) {
        Refusal::Redirect(r) => r,
        _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
    }
}

/// Records the user's answer. On approval the consent is remembered (widened to these
/// scopes) and `None` is returned so the flow goes on; a refusal goes back as access_denied.
pub async fn decide_consent(
    app: &App,
    v: &Validated,
    who: &SignedIn,
    approve: bool,
) -> Result<Option<Reply>, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if approve {
        let mut scope = v.scope.clone();
        if let Some(c) = tx.consent(who.user.id, v.client.id).await? {
            let both = format!("{} {}", c.scope, v.scope);
            scope = Scopes::parse(&both).unwrap_or(scope);
        }
        tx.grant_consent(who.user.id, v.client.id, &scope.to_string(), now)
            .await?;
    }
    app.audit(
        tx.as_mut(),
        tessera_domain::audit::AuditEvent::new(
            now,
            &tessera_domain::audit::Actor::User(who.user.id),
            if approve {
                "consent.grant"
            } else {
                "consent.refuse"
            },
            tessera_domain::audit::Outcome::Success,
        )
        .target(format!("app:{}", v.client.id))
        .detail(serde_json::json!({ "scope": v.scope.to_string() })),
    )
    .await?;
    tx.commit().await?;
    if approve {
        return Ok(None);
    }
    let e = OAuthError::new(ErrorCode::AccessDenied, "the user did not allow the app");
    Ok(Some(
        match error_reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), e) {
            Refusal::Redirect(r) => r,
            _ => reply(app, &v.redirect_uri, v.mode, v.state.as_deref(), Vec::new()),
        },
    ))
}
