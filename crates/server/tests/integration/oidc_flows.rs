//! PAR (RFC 9126), the device grant (RFC 8628) through the portal's device pages, and
//! logout: RP-initiated and back-channel (OIDC Back-Channel Logout 1.0).

use crate::oidc_support::{REDIRECT, authorize, param};
use crate::support::{Browser, PASSWORD};
use axum::extract::State;
use axum::routing::post;
use openidconnect::PkceCodeChallenge;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::oidc::clients::{NewApp, create_app};
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_testkit::{Backend, TestServer};

pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) async fn server_with(backend: Backend, new: NewApp) -> (TestServer, App) {
    let server = TestServer::start(backend).await;
    let cli = PlatformAdmin::operator_at_cli();
    bootstrap_admin(
        &server.app,
        &AdminForm {
            username: "alice".into(),
            given_name: "Alice".into(),
            family_name: "Tan".into(),
            email: "alice@agency.gov.sg".into(),
            mobile: String::new(),
            password: PASSWORD.into(),
            password_confirm: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
    create_tenant(&server.app, &cli, "docs", "Docs")
        .await
        .unwrap();
    let created = create_app(
        &server.app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            ..new
        },
    )
    .await
    .unwrap();
    let app = App {
        id: created.client.client_id,
        secret: created.secret,
    };
    (server, app)
}

pub(crate) fn post_form(
    base: &str,
    path: &str,
    app: &App,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut r = reqwest::Client::new().post(format!("{base}{path}"));
    r = match &app.secret {
        Some(s) => r.basic_auth(&app.id, Some(s)),
        None => r,
    };
    let mut form: Vec<(String, String)> = form
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    if app.secret.is_none() {
        form.push(("client_id".into(), app.id.clone()));
    }
    r.form(&form)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_requires_par_must_push() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Strict".into(),
            redirect_uris: vec![REDIRECT.into()],
            require_par: true,
            ..NewApp::default()
        },
    )
    .await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let w = Bare {
        base: server.base_url.clone(),
    };
    let mut b = sign_in(&w.base).await;
    let direct = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&code_challenge={}&code_challenge_method=S256",
        w.base,
        app.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let (_, _, pairs) = authorize(&mut b, &direct).await;
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    // Bad pushed requests are refused as JSON at /par.
    let r = post_form(
        &w.base,
        "/par",
        &app,
        &[("response_type", "token"), ("redirect_uri", REDIRECT)],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_response_type"
    );
    let wrong = App {
        id: app.id.clone(),
        secret: Some("wrong".into()),
    };
    let r = post_form(&w.base, "/par", &wrong, &[("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let ok = post_form(
        &w.base,
        "/par",
        &app,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status().as_u16(), 201);
    let body: Value = ok.json().await.unwrap();
    assert!(
        body["request_uri"]
            .as_str()
            .unwrap()
            .starts_with("urn:ietf:params:oauth:request_uri:")
    );
    assert_eq!(body["expires_in"], 300);
}

struct Bare {
    base: String,
}

/// Exchanges an authorization code at /token for the app.
pub(crate) async fn exchange_code(base: &str, app: &App, code: &str, verifier: &str) -> Value {
    post_form(
        base,
        "/token",
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// The whole code flow for a signed-in browser: authorize (with `extra` query), then
/// exchange the code. Returns the token response.
pub(crate) async fn code_flow(base: &str, app: &App, b: &mut Browser, extra: &str) -> Value {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{base}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256{extra}",
        app.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let (_, _, pairs) = authorize(b, &url).await;
    let code = param(&pairs, "code").unwrap().to_owned();
    exchange_code(base, app, &code, verifier.secret()).await
}

pub(crate) async fn sign_in(base: &str) -> Browser {
    let mut b = Browser::new(base);
    let r = b.sign_in("alice", PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    b
}

async fn poll(base: &str, app: &App, device_code: &str) -> (u16, Value) {
    let r = post_form(
        base,
        "/token",
        app,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ],
    )
    .send()
    .await
    .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn start_device(base: &str, app: &App) -> Value {
    let r = post_form(
        base,
        "/device_authorization",
        app,
        &[("scope", "openid profile")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// The device grant end to end over HTTP, the user acting through the portal's pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_grant_through_the_portal() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Office printer".into(),
            public: true,
            grant_types: vec!["device_code".into()],
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let start = start_device(&base, &app).await;
    let user_code = start["user_code"].as_str().unwrap().to_owned();
    let device_code = start["device_code"].as_str().unwrap().to_owned();
    assert_eq!(start["verification_uri"], format!("{base}/device"));
    assert_eq!(
        start["verification_uri_complete"],
        format!("{base}/device?user_code={user_code}")
    );
    assert_eq!(
        (start["interval"].as_i64(), start["expires_in"].as_i64()),
        (Some(5), Some(600))
    );
    assert!(
        user_code.len() == 9
            && user_code
                .chars()
                .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );

    let (s, e) = poll(&base, &app, &device_code).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, e) = poll(&base, &app, &device_code).await;
    assert_eq!(e["error"], "slow_down", "polled again at once");

    // Not signed in: the page asks for sign-in first, and comes back.
    let mut stranger = Browser::new(&base);
    assert_eq!(
        stranger.get("/device").await.location.as_deref(),
        Some("/signin?next=/device")
    );

    let mut b = sign_in(&base).await;
    let wrong = b.post("/device", &[("user_code", "BBBB-BBBB")]).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("This code is not valid"));
    // Typed loosely: lower case, no hyphen.
    let loose = user_code.replace('-', "").to_lowercase();
    let confirm = b.get(&format!("/device?user_code={loose}")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Office printer") && confirm.body.contains(&user_code));
    let done = b
        .post(
            "/device/decide",
            &[("user_code", user_code.as_str()), ("decision", "approve")],
        )
        .await;
    assert!(done.body.contains("Device connected"), "{}", done.body);
    let again = b
        .post(
            "/device/decide",
            &[("user_code", user_code.as_str()), ("decision", "deny")],
        )
        .await;
    assert_eq!(again.status, 410, "decided once");

    server.clock.advance(time::Duration::seconds(6));
    let (s, tokens) = poll(&base, &app, &device_code).await;
    assert_eq!(s, 200, "{tokens}");
    assert!(tokens["id_token"].as_str().is_some() && tokens["access_token"].as_str().is_some());
    server.clock.advance(time::Duration::seconds(6));
    let (_, e) = poll(&base, &app, &device_code).await;
    assert_eq!(
        e["error"], "expired_token",
        "an approval is spent by one poll"
    );

    // Denied, and expired.
    let denied = start_device(&base, &app).await;
    let code = denied["user_code"].as_str().unwrap();
    assert!(
        b.post(
            "/device/decide",
            &[("user_code", code), ("decision", "deny")]
        )
        .await
        .body
        .contains("denied")
    );
    let (_, e) = poll(&base, &app, denied["device_code"].as_str().unwrap()).await;
    assert_eq!(e["error"], "access_denied");
    let late = start_device(&base, &app).await;
    server.clock.advance(time::Duration::seconds(601));
    let (_, e) = poll(&base, &app, late["device_code"].as_str().unwrap()).await;
    assert_eq!(e["error"], "expired_token");
    // A client without the grant may not start one.
    let other = App {
        id: "nobody".into(),
        secret: None,
    };
    let r = post_form(&base, "/device_authorization", &other, &[])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

type Received = Arc<Mutex<Vec<String>>>;

async fn logout_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new()
        .route(
            "/backchannel",
            post(|State(got): State<Received>, axum::Form(f): axum::Form<std::collections::HashMap<String, String>>| async move {
                if let Some(t) = f.get("logout_token") {
                    got.lock().unwrap().push(t.clone());
                }
                ""
            }),
        )
        .with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://127.0.0.1:{port}/backchannel"), got)
}

pub(crate) fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// Verifies an RS256 JWS against a JWKS with aws-lc-rs directly (not Tessera's code).
fn verify_rs256(token: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS256");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    let key = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: b64(jwk["n"].as_str().unwrap()),
        e: b64(jwk["e"].as_str().unwrap()),
    };
    key.verify(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &b64(parts[2]),
    )
    .expect("signature verifies");
    let mut claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    claims["typ"] = header["typ"].clone();
    claims
}

/// Done-when 6: signing out in the portal delivers a valid logout token to the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_notifies_apps_by_back_channel() {
    let (receiver, got) = logout_receiver().await;
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Docs".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://docs.example.gov.sg/bye".into()],
            backchannel_logout_uri: Some(receiver),
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;
    let tokens = code_flow(&base, &app, &mut b, "&nonce=n").await;
    let jwks: Value = reqwest::get(format!("{base}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = verify_rs256(tokens["id_token"].as_str().unwrap(), &jwks);

    assert_eq!(b.post("/signout", &[]).await.status, 303);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while got.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no logout token arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tokens_got = got.lock().unwrap().clone();
    assert_eq!(tokens_got.len(), 1);
    let logout = verify_rs256(&tokens_got[0], &jwks);
    assert_eq!(logout["typ"], "logout+jwt");
    assert_eq!(logout["iss"], base.as_str());
    assert_eq!(logout["aud"], app.id.as_str());
    assert_eq!(logout["sid"], id["sid"], "the session the app knows");
    assert_eq!(logout["sub"], id["sub"]);
    assert!(logout["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(logout.get("nonce").is_none() && logout["jti"].is_string() && logout["iat"].is_i64());
    // The session's (online) refresh token is revoked with it.
    let r: Value = post_form(
        &base,
        "/token",
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["error"], "invalid_grant");
}

/// RP-initiated logout: a confirmation page, then back to a registered address with state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_returns_to_registered_addresses_only() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Docs".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://docs.example.gov.sg/bye".into()],
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;
    let bad = b
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https://evil.example/",
            app.id
        ))
        .await;
    assert_eq!(bad.status, 400);
    let page = b.get(&format!("/logout?client_id={}&post_logout_redirect_uri=https://docs.example.gov.sg/bye&state=xyz", app.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign out of Tessera?"));
    assert_eq!(
        b.get("/admin").await.status,
        200,
        "a GET alone signs nobody out"
    );
    let done = b
        .post(
            "/logout",
            &[
                ("client_id", app.id.as_str()),
                (
                    "post_logout_redirect_uri",
                    "https://docs.example.gov.sg/bye",
                ),
                ("state", "xyz"),
                ("id_token_hint", ""),
            ],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("https://docs.example.gov.sg/bye?state=xyz")
    );
    assert_eq!(b.get("/admin").await.status, 303, "signed out");
}

/// Consent: an app that requires it asks once (per scope set), prompt=none answers
/// consent_required, refusing is access_denied, and the user can take it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_is_asked_once_remembered_and_revocable() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Partner portal".into(),
            redirect_uris: vec![REDIRECT.into()],
            consent_required: true,
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = |scope: &str, extra: &str| {
        format!(
            "{base}/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=st&code_challenge={}&code_challenge_method=S256{extra}",
            app.id,
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
            challenge.as_str()
        )
    };
    let path = |u: String| {
        u.split_once("/authorize")
            .map(|(_, r)| format!("/authorize{r}"))
            .unwrap()
    };
    let decide = |decision: &str, scope: &str| {
        vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("client_id".to_owned(), app.id.clone()),
            ("redirect_uri".to_owned(), REDIRECT.to_owned()),
            ("scope".to_owned(), scope.to_owned()),
            ("state".to_owned(), "st".to_owned()),
            ("code_challenge".to_owned(), challenge.as_str().to_owned()),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
            ("decision".to_owned(), decision.to_owned()),
        ]
    };
    let as_refs = |v: &Vec<(String, String)>| {
        v.iter()
            .map(|(a, b)| (a.as_str().to_owned(), b.as_str().to_owned()))
            .collect::<Vec<_>>()
    };

    let (_, _, pairs) = authorize(&mut b, &url("openid", "&prompt=none")).await;
    assert_eq!(param(&pairs, "error"), Some("consent_required"));
    let page = b.get(&path(url("openid profile", ""))).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Allow Partner portal?") && page.body.contains("see your name"),
        "{}",
        page.body
    );

    let refuse = decide("deny", "openid profile");
    let refused = b
        .post(
            "/authorize/consent",
            &as_refs(&refuse)
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    let location = refused.location.unwrap();
    assert!(
        location.contains("error=access_denied") && location.contains("state=st"),
        "{location}"
    );

    let allow = decide("allow", "openid profile");
    let allowed = b
        .post(
            "/authorize/consent",
            &as_refs(&allow)
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert!(
        allowed.location.as_deref().unwrap().contains("code="),
        "{:?}",
        allowed.location
    );
    // Remembered: no page for the same (or fewer) scopes, even with prompt=none.
    let (status, _, pairs) = authorize(&mut b, &url("openid", "&prompt=none")).await;
    assert_eq!(status, 303);
    let code = param(&pairs, "code")
        .expect("a code without asking again")
        .to_owned();
    // More scopes, or prompt=consent, ask again.
    assert_eq!(b.get(&path(url("openid email", ""))).await.status, 200);
    assert_eq!(
        b.get(&path(url("openid", "&prompt=consent"))).await.status,
        200
    );

    // The user takes it back: the app's refresh token dies with it.
    let tokens = exchange_code(&base, &app, &code, verifier.secret()).await;
    let listed = b.get("/account/apps").await;
    assert!(listed.body.contains("Partner portal"));
    assert_eq!(
        b.post("/account/apps/revoke", &[("client_id", app.id.as_str())])
            .await
            .status,
        303
    );
    assert!(!b.get("/account/apps").await.body.contains("Partner portal"));
    let r: Value = post_form(
        &base,
        "/token",
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["error"], "invalid_grant");
    assert_eq!(
        b.get(&path(url("openid", ""))).await.status,
        200,
        "asked again after revoking"
    );
}
