//! The authorization endpoint: validate, make sure the right person is signed in, answer
//! the client by redirect (query) or by an auto-submitted form (form_post).

use super::no_store;
use crate::WebState;
use crate::error::{WebError, error_page, urlencode};
use crate::extract::{Session, session_tokens};
use crate::routes::page;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use minijinja::context;
use tessera_core::oidc::authorize::{
    AuthorizeParams, Refusal, Reply, ResponseMode, SessionCheck, account_selection_required,
    check_session, issue_code, login_required, validate,
};
use tessera_core::oidc::authorize::{ConsentCheck, Validated, check_consent, consent_required};
use tessera_core::signin::resolve_session;

pub fn router() -> Router<WebState> {
    Router::new().route("/authorize", get(by_query).post(by_form))
}

async fn by_query(
    State(state): State<WebState>,
    who: Option<Session>,
    jar: CookieJar,
    Query(p): Query<AuthorizeParams>,
) -> Result<Response, WebError> {
    authorize(state, who, jar, p).await
}

async fn by_form(
    State(state): State<WebState>,
    who: Option<Session>,
    jar: CookieJar,
    form: Result<Form<AuthorizeParams>, FormRejection>,
) -> Result<Response, WebError> {
    let Ok(Form(p)) = form else {
        return Ok(invalid_page("The sign-in request could not be read."));
    };
    authorize(state, who, jar, p).await
}

/// The proof the chooser adds to the request it returns to: `<unix time>.<MAC>` over the
/// chosen session's `sid` and the time, valid five minutes. A relying service cannot make
/// one, so it cannot skip the chooser (or `account_selection_required`) by adding it.
pub(crate) fn chosen_proof(state: &WebState, who: &tessera_core::signin::SignedIn) -> String {
    let now = state.app.clock.now().unix_timestamp();
    let sid = tessera_core::oidc::authorize::session_id(who);
    let mac = state
        .app
        .secrets
        .code_mac(b"account chosen", &format!("{sid}.{now}"));
    format!("{now}.{}", hex(&mac))
}

fn chosen_proof_holds(state: &WebState, who: &tessera_core::signin::SignedIn, proof: &str) -> bool {
    let Some((t, mac)) = proof.split_once('.') else {
        return false;
    };
    let Ok(t) = t.parse::<i64>() else {
        return false;
    };
    let now = state.app.clock.now().unix_timestamp();
    if !(now - 300..=now + 5).contains(&t) {
        return false;
    }
    let sid = tessera_core::oidc::authorize::session_id(who);
    let expected = state
        .app
        .secrets
        .code_mac(b"account chosen", &format!("{sid}.{t}"));
    let expected = hex(&expected);
    // Constant time: the comparison does not stop at the first differing byte.
    expected.len() == mac.len()
        && expected
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `next` with the chooser's proof for `who` when it returns to `/authorize`.
pub(crate) fn with_chosen_proof(
    state: &WebState,
    next: &str,
    who: &tessera_core::signin::SignedIn,
) -> String {
    if next.starts_with("/authorize?") {
        format!("{next}&account_chosen={}", chosen_proof(state, who))
    } else {
        next.to_owned()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many accounts this browser has signed in (the chooser shows when more than one).
async fn signed_in_accounts(state: &WebState, jar: &CookieJar) -> Result<usize, WebError> {
    let mut n = 0;
    for token in session_tokens(jar, state) {
        if let Some(w) = resolve_session(&state.app, &token).await?
            && w.is_fully_signed_in()
        {
            n += 1;
        }
    }
    Ok(n)
}

fn invalid_page(message: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in request is not valid",
        format!("{message} Go back to the application and try again, or contact its owner."),
    )
}

async fn authorize(
    state: WebState,
    who: Option<Session>,
    jar: CookieJar,
    p: AuthorizeParams,
) -> Result<Response, WebError> {
    let app = &state.app;
    let v = match validate(app, &p).await {
        Ok(v) => v,
        Err(Refusal::Page(message)) => return Ok(invalid_page(&message)),
        Err(Refusal::Redirect(reply)) => return send(&state, reply),
        Err(Refusal::Core(e)) => return Err(e.into()),
    };
    let who = who.map(|Session(w)| w);
    // The account chooser: asked for, or several accounts and none picked for this request.
    let picked = who.as_ref().is_some_and(|w| {
        p.account_chosen
            .as_deref()
            .is_some_and(|proof| chosen_proof_holds(&state, w, proof))
    });
    if let Some(w) = who.as_ref().filter(|_| !picked) {
        let accounts = signed_in_accounts(&state, &jar).await?;
        let asked = v.prompt.iter().any(|x| x == "select_account");
        let silent = v.prompt.iter().any(|x| x == "none");
        if silent && accounts > 1 {
            return send(&state, account_selection_required(app, &v));
        }
        if !silent && (asked || accounts > 1) {
            let mut chosen = p.clone();
            chosen.account_chosen = None;
            let next = format!("/authorize?{}", encode(&chosen));
            let _ = w; // the chooser lists every account; `w` is only the current one
            return Ok(
                Redirect::to(&format!("/signin/choose?next={}", urlencode(&next))).into_response(),
            );
        }
    }
    let check = check_session(app, &v, who.as_ref());
    // The app's access rules, before anything else is asked of the user: a refused user
    // sees whom to ask (or, silently, the app hears access_denied).
    if let (SessionCheck::Proceed, Some(w)) = (&check, &who)
        && let Some(why) = tessera_core::tenants::access::check(app, &v.client, w).await?
    {
        if v.prompt.iter().any(|x| x == "none") {
            return send(&state, tessera_core::oidc::authorize::not_allowed(app, &v));
        }
        return crate::routes::access_requests::refusal_page(&state, w, &v.client, why).await;
    }
    match check {
        SessionCheck::Proceed => match &who {
            // The app requires phishing-resistant MFA: a session without a passkey steps
            // up first, then comes back to this same request.
            Some(w)
                if v.client.require_phishing_resistant
                    && !tessera_core::passkeys::is_phishing_resistant(w) =>
            {
                if v.prompt.iter().any(|x| x == "none") {
                    return send(&state, login_required(app, &v));
                }
                let next = format!("/authorize?{}", encode(&p));
                Ok(
                    Redirect::to(&format!("/signin/step-up?next={}", urlencode(&next)))
                        .into_response(),
                )
            }
            Some(w) => match check_consent(app, &v, w).await? {
                ConsentCheck::NotNeeded => send(&state, issue_code(app, &v, w).await?),
                ConsentCheck::Required => send(&state, consent_required(app, &v)),
                ConsentCheck::Ask => ask_consent(&state, w, &v, &p),
            },
            None => Err(WebError::SignInRequired {
                next: String::new(),
            }),
        },
        SessionCheck::LoginRequired => send(&state, login_required(app, &v)),
        SessionCheck::SignIn => {
            // Come back to this same request after signing in, carrying the time the user
            // was sent away: only a session begun after it satisfies prompt=login/max_age.
            let mut again = p.clone();
            // A choice proves nothing for the session the sign-in will make.
            again.account_chosen = None;
            again.auth_after = Some(state.app.clock.now().unix_timestamp().to_string());
            let next = format!("/authorize?{}", encode(&again));
            let mut target = format!("/signin?next={}", urlencode(&next));
            if who.is_some() {
                target.push_str("&reauth=1");
            }
            if let Some(hint) = &v.login_hint {
                target.push_str(&format!("&login_hint={}", urlencode(hint)));
            }
            Ok(Redirect::to(&target).into_response())
        }
    }
}

pub(crate) fn encode(p: &AuthorizeParams) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("response_type", &p.response_type),
        ("scope", &p.scope),
        ("state", &p.state),
        ("nonce", &p.nonce),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("prompt", &p.prompt),
        ("max_age", &p.max_age),
        ("login_hint", &p.login_hint),
        ("acr_values", &p.acr_values),
        ("response_mode", &p.response_mode),
        ("request_uri", &p.request_uri),
        ("auth_after", &p.auth_after),
        ("account_chosen", &p.account_chosen),
    ] {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

pub(crate) fn send(state: &WebState, reply: Reply) -> Result<Response, WebError> {
    match reply.mode {
        ResponseMode::Query => {
            let mut url = url::Url::parse(&reply.redirect_uri).map_err(|_| WebError::NotFound)?;
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in &reply.params {
                    q.append_pair(k, v);
                }
            }
            let mut r = Redirect::to(url.as_str()).into_response();
            r.headers_mut().extend(no_store());
            Ok(r)
        }
        ResponseMode::FormPost => {
            let fields: Vec<_> = reply
                .params
                .iter()
                .map(|(k, v)| context! { name => k, value => v })
                .collect();
            page(
                state,
                StatusCode::OK,
                "form_post.html",
                context! { page_title => "Returning to the application", action => reply.redirect_uri, fields },
            )
        }
    }
}

/// The consent page: what the app asks for; the answer goes to `/authorize/consent`
/// (a portal form, CSRF-protected) with the request's own parameters.
fn ask_consent(
    state: &WebState,
    who: &tessera_core::signin::SignedIn,
    v: &Validated,
    p: &AuthorizeParams,
) -> Result<Response, WebError> {
    let fields: Vec<_> = url::form_urlencoded::parse(encode(p).as_bytes())
        .map(|(k, val)| context! { name => k.into_owned(), value => val.into_owned() })
        .collect();
    let scopes: Vec<String> = v.scope.iter().map(str::to_owned).collect();
    page(
        state,
        StatusCode::OK,
        "consent.html",
        context! {
            page_title => "Allow this app?",
            current_user => crate::extract::user_context(who),
            app_name => v.client.name.clone(),
            scopes,
            fields,
        },
    )
}
