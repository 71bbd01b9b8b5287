//! Passkeys over HTTP: an app that requires phishing-resistant MFA sends a session without
//! a passkey to the step-up page (and answers `login_required` to `prompt=none`); an app
//! without the requirement is unaffected. The ceremonies themselves run in a browser
//! (e2e/tests/passkeys.test.mjs).

use crate::oidc_flows::{code_flow, server_with, sign_in};
use crate::oidc_support::{REDIRECT, authorize, param};
use openidconnect::PkceCodeChallenge;
use tessera_core::oidc::clients::NewApp;
use tessera_testkit::Backend;

fn authorize_url(base: &str, client_id: &str, extra: &str) -> String {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    format!(
        "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s&code_challenge={}&code_challenge_method=S256{extra}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_requiring_phishing_resistant_mfa_sends_a_totp_session_to_step_up() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Secure reports".into(),
            redirect_uris: vec![REDIRECT.into()],
            require_phishing_resistant: true,
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;

    let (status, location, _) = authorize(&mut b, &authorize_url(&base, &app.id, "")).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.starts_with("/signin/step-up?next=/authorize%3F"),
        "{location}"
    );
    let page = b.get(&location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Confirm with a passkey"),
        "{}",
        page.body
    );
    assert!(page.body.contains("no passkey yet"), "{}", page.body);
    assert!(page.body.contains("/static/passkey.js"));

    // A silent request cannot step up.
    let (_, _, pairs) = authorize(&mut b, &authorize_url(&base, &app.id, "&prompt=none")).await;
    assert_eq!(param(&pairs, "error"), Some("login_required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_app_takes_a_totp_session_as_it_is() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Docs".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;
    let tokens = code_flow(&base, &app, &mut b, "").await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
}
