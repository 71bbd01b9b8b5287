//! Client authentication with private_key_jwt (RFC 7523) and EdDSA ID tokens, checked
//! with aws-lc-rs directly rather than Tessera's own JWS code.

use crate::oidc_flows::{b64, code_flow, server_with, sign_in};
use crate::oidc_support::REDIRECT;
use serde_json::Value;
use tessera_core::oidc::clients::NewApp;
use tessera_testkit::Backend;

/// An ES256 key pair made with aws-lc-rs, and its public JWK.
fn client_key() -> (aws_lc_rs::signature::EcdsaKeyPair, Value) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": enc(&point[1..33]), "y": enc(&point[33..65]), "kid": "app-key-1", "use": "sig" });
    (pair, jwk)
}

fn assertion(pair: &aws_lc_rs::signature::EcdsaKeyPair, claims: &Value) -> String {
    use base64::Engine;
    let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = serde_json::json!({ "alg": "ES256", "kid": "app-key-1", "typ": "JWT" });
    let signing_input = format!(
        "{}.{}",
        enc(header.to_string().as_bytes()),
        enc(claims.to_string().as_bytes())
    );
    let sig = pair
        .sign(
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
        )
        .unwrap();
    format!("{signing_input}.{}", enc(sig.as_ref()))
}

async fn with_assertion(base: &str, client_id: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", token),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// private_key_jwt (RFC 7523): a signed assertion authenticates once; replays, expired
/// assertions, foreign audiences and secrets are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_authenticates_once_per_assertion() {
    let (pair, jwk) = client_key();
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Signer".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["reports.read".into()],
            jwks: Some(serde_json::json!({ "keys": [jwk.clone()] }).to_string()),
            ..NewApp::default()
        },
    )
    .await;
    assert!(
        app.secret.is_none(),
        "no secret for a key-authenticated app"
    );
    let base = server.base_url.clone();
    let now = server.clock_now();
    let claims = |jti: &str, aud: &str, exp: i64| serde_json::json!({ "iss": app.id, "sub": app.id, "aud": aud, "jti": jti, "exp": exp, "iat": now });
    let good = assertion(&pair, &claims("a-1", &format!("{base}/token"), now + 60));
    let (s, body) = with_assertion(&base, &app.id, &good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], "reports.read");
    let (s, body) = with_assertion(&base, &app.id, &good).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a replayed assertion"
    );
    for (label, token) in [
        ("expired", assertion(&pair, &claims("a-2", &base, now - 1))),
        (
            "too long-lived",
            assertion(&pair, &claims("a-3", &base, now + 3600)),
        ),
        (
            "foreign audience",
            assertion(
                &pair,
                &claims("a-4", "https://other.example/token", now + 60),
            ),
        ),
        (
            "another key",
            assertion(&client_key().0, &claims("a-5", &base, now + 60)),
        ),
    ] {
        let (s, _) = with_assertion(&base, &app.id, &token).await;
        assert_eq!(s, 401, "{label}");
    }
    // An array, even one naming the issuer, and our other endpoints are refused: only
    // the issuer (or the token endpoint) as a single string.
    let arr = serde_json::json!({ "iss": app.id, "sub": app.id, "aud": [base.clone()], "jti": "a-7", "exp": now + 60 });
    assert_eq!(
        with_assertion(&base, &app.id, &assertion(&pair, &arr))
            .await
            .0,
        401,
        "aud array"
    );
    let par_aud = assertion(&pair, &claims("a-8", &format!("{base}/par"), now + 60));
    assert_eq!(
        with_assertion(&base, &app.id, &par_aud).await.0,
        401,
        "another endpoint as aud"
    );
    // The issuer itself is an acceptable audience.
    let (s, _) = with_assertion(
        &base,
        &app.id,
        &assertion(&pair, &claims("a-6", &base, now + 60)),
    )
    .await;
    assert_eq!(s, 200);
    // A secret is no way in for this app.
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(&app.id, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// The same with keys fetched from the app's JWKS URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_with_a_jwks_uri() {
    let (pair, jwk) = client_key();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let doc = serde_json::json!({ "keys": [jwk] });
    let router = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || async move { axum::Json(doc.clone()) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Remote keys".into(),
            grant_types: vec!["client_credentials".into()],
            jwks_uri: Some(format!("http://127.0.0.1:{port}/jwks")),
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let now = server.clock_now();
    let token = assertion(
        &pair,
        &serde_json::json!({ "iss": app.id, "sub": app.id, "aud": base, "jti": "r-1", "exp": now + 60 }),
    );
    let (s, body) = with_assertion(&base, &app.id, &token).await;
    assert_eq!(s, 200, "{body}");
}

/// An app may take EdDSA ID tokens; they verify with the Ed25519 key in the JWKS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_id_tokens_verify_against_the_jwks() {
    let (server, app) = server_with(
        Backend::Sqlite,
        NewApp {
            name: "Modern".into(),
            redirect_uris: vec![REDIRECT.into()],
            id_token_alg: Some("EdDSA".into()),
            ..NewApp::default()
        },
    )
    .await;
    let base = server.base_url.clone();
    let mut b = sign_in(&base).await;
    let tokens = code_flow(&base, &app, &mut b, "").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwks: Value = reqwest::get(format!("{base}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ED25519,
        b64(jwk["x"].as_str().unwrap()),
    )
    .verify(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &b64(parts[2]),
    )
    .expect("the EdDSA signature verifies");
}
