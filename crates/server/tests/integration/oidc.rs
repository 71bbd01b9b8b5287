//! The OpenID Connect provider against the `openidconnect` crate (an independent client),
//! and every protocol error path with its RFC error code.

use crate::oidc_support::{Http, REDIRECT, World, authorize, param, signed_in, world};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyAdditionalClaims,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde_json::Value;
use tessera_testkit::Backend;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(tessera_testkit::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(tessera_testkit::Backend::Postgres).await }
            )*
        }
    };
}

on_both_backends!(
    openidconnect_crate_completes_the_code_flow,
    client_credentials_introspect_revoke
);

/// Done-when 1 (the Rust client): code + PKCE → tokens → ID token validation (signature,
/// iss, aud, nonce, at_hash) → userinfo → refresh.
async fn openidconnect_crate_completes_the_code_flow(backend: Backend) {
    let w = world(backend).await;
    // The client library checks `exp` and `iat` against the wall clock.
    w.server
        .clock
        .set(tessera_domain::Clock::now(&tessera_domain::SystemClock));
    let http = Http::new();
    let issuer = IssuerUrl::new(w.server.base_url.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(w.client_id.clone()),
        Some(ClientSecret::new(w.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let mut b = signed_in(&w).await;
    let (status, location, pairs) = authorize(&mut b, url.as_str()).await;
    assert_eq!(status, 303, "{location:?}");
    assert!(location.unwrap().starts_with(REDIRECT));
    assert_eq!(param(&pairs, "state"), Some(state.secret().as_str()));
    assert_eq!(
        param(&pairs, "iss"),
        Some(w.server.base_url.as_str()),
        "RFC 9207 iss"
    );
    let code = param(&pairs, "code").unwrap().to_owned();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), w.user.id.to_string());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@agency.gov.sg")
    );
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);
    assert!(claims.auth_time().is_some());

    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(
        info.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice")
    );

    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let rotated = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(rotated.secret(), refresh.secret(), "refresh tokens rotate");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
}

async fn token(w: &World, auth: (&str, &str), form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/token", w.server.base_url))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (status, r.json().await.unwrap())
}

async fn form_post(
    w: &World,
    path: &str,
    auth: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", w.server.base_url))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Done-when 2: a client_credentials JWT (ES256, RFC 9068) that introspects active, then
/// inactive after revocation.
async fn client_credentials_introspect_revoke(backend: Backend) {
    let w = world(backend).await;
    let machine = (w.machine_id.as_str(), w.machine_secret.as_str());
    let (status, body) = token(
        &w,
        machine,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports.read"),
            ("resource", "https://reports.example.gov.sg/"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let at = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body["scope"], "reports.read");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let header: Value = serde_json::from_slice(&b64(at.split('.').next().unwrap())).unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("ES256"), Some("at+jwt"))
    );
    let claims: Value = serde_json::from_slice(&b64(at.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["aud"], "https://reports.example.gov.sg/");
    assert_eq!(claims["client_id"], w.machine_id.as_str());
    assert_eq!(claims["sub"], w.machine_id.as_str());

    // A machine token has no openid scope: userinfo says so (RFC 6750 §3.1).
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", w.server.base_url))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let (s, i) = form_post(&w, "/introspect", machine, &[("token", at.as_str())]).await;
    assert_eq!((s, i["active"].as_bool()), (200, Some(true)), "{i}");
    assert_eq!(i["scope"], "reports.read");
    let (s, _) = form_post(&w, "/revoke", machine, &[("token", at.as_str())]).await;
    assert_eq!(s, 200);
    let (_, i) = form_post(&w, "/introspect", machine, &[("token", at.as_str())]).await;
    assert_eq!(i, serde_json::json!({ "active": false }));
    // Unknown tokens are inactive, and revoking them is still 200 (RFC 7009 §2.2).
    let (_, i) = form_post(&w, "/introspect", machine, &[("token", "garbage")]).await;
    assert_eq!(i["active"], false);
    assert_eq!(
        form_post(&w, "/revoke", machine, &[("token", "garbage")])
            .await
            .0,
        200
    );
    // Introspection requires an authenticated client.
    assert_eq!(
        form_post(
            &w,
            "/introspect",
            (machine.0, "wrong"),
            &[("token", at.as_str())]
        )
        .await
        .0,
        401
    );
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn pkce() -> (String, String) {
    let (c, v) = PkceCodeChallenge::new_random_sha256();
    (c.as_str().to_owned(), v.secret().clone())
}

fn auth_url(w: &World, extra: &str, challenge: &str) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20offline_access&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        w.server.base_url,
        w.client_id,
        urlencode(REDIRECT)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn code_for(w: &World, b: &mut crate::support::Browser, challenge: &str) -> String {
    let (status, _, pairs) = authorize(b, &auth_url(w, "", challenge)).await;
    assert_eq!(status, 303);
    param(&pairs, "code").unwrap().to_owned()
}

/// Done-when 3: each error path answers with its RFC error code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_path_has_its_rfc_code() {
    let w = world(Backend::Sqlite).await;
    let web = (w.client_id.as_str(), w.client_secret.as_str());
    let mut b = signed_in(&w).await;
    let (challenge, verifier) = pkce();

    // /authorize: an untrustworthy client or redirect gets a page, never a redirect.
    for url in [
        auth_url(&w, "", &challenge).replace(&w.client_id, "unknown-client"),
        auth_url(&w, "", &challenge)
            .replace(&urlencode(REDIRECT), &urlencode("https://evil.example/cb")),
    ] {
        let (status, location, _) = authorize(&mut b, &url).await;
        assert_eq!((status, location), (400, None), "{url}");
    }
    // Protocol errors go back to the client, with state and iss.
    let cases: Vec<(String, &str)> = vec![
        (
            auth_url(&w, "", &challenge).replace(
                "&code_challenge_method=S256",
                "&code_challenge_method=plain",
            ),
            "invalid_request",
        ),
        (
            auth_url(&w, "", &challenge).replace(&format!("&code_challenge={challenge}"), ""),
            "invalid_request",
        ),
        (
            auth_url(&w, "", &challenge).replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            auth_url(&w, "", &challenge).replace("scope=openid", "scope=openid%20admin"),
            "invalid_scope",
        ),
        (
            auth_url(&w, "&prompt=none%20login", &challenge),
            "invalid_request",
        ),
    ];
    for (url, want) in cases {
        let (status, _, pairs) = authorize(&mut b, &url).await;
        assert_eq!(status, 303, "{url}");
        assert_eq!(param(&pairs, "error"), Some(want), "{url}");
        assert_eq!(param(&pairs, "state"), Some("s1"));
        assert!(param(&pairs, "iss").is_some());
    }
    let mut stranger = crate::support::Browser::new(&w.server.base_url);
    let (_, _, pairs) = authorize(&mut stranger, &auth_url(&w, "&prompt=none", &challenge)).await;
    assert_eq!(param(&pairs, "error"), Some("login_required"));

    // PAR: an unknown request_uri gets a page; a used one goes back as invalid_request_uri.
    let forged = format!(
        "{}/authorize?client_id={}&request_uri=urn:ietf:params:oauth:request_uri:forged",
        w.server.base_url, w.client_id
    );
    assert_eq!(authorize(&mut b, &forged).await.0, 400);
    let pushed: Value = reqwest::Client::new()
        .post(format!("{}/par", w.server.base_url))
        .basic_auth(&w.client_id, Some(&w.client_secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_ref = format!(
        "{}/authorize?client_id={}&request_uri={}",
        w.server.base_url,
        w.client_id,
        urlencode(pushed["request_uri"].as_str().unwrap())
    );
    let (status, _, pairs) = authorize(&mut b, &by_ref).await;
    assert_eq!((status, param(&pairs, "state")), (303, Some("s1")));
    assert!(param(&pairs, "code").is_some());
    let (_, _, pairs) = authorize(&mut b, &by_ref).await;
    assert_eq!(
        param(&pairs, "error"),
        Some("invalid_request_uri"),
        "PAR request_uri reuse"
    );

    // /token
    let code = code_for(&w, &mut b, &challenge).await;
    let exchange = |code: String, verifier: String| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code),
            ("redirect_uri".to_owned(), REDIRECT.to_owned()),
            ("code_verifier".to_owned(), verifier),
        ]
    };
    let as_refs = |v: &Vec<(String, String)>| {
        v.iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    let send = |form: Vec<(String, String)>, auth: (String, String)| {
        let w_base = w.server.base_url.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{w_base}/token"))
                .basic_auth(auth.0, Some(auth.1))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let owned = (web.0.to_owned(), web.1.to_owned());

    let wrong = send(
        as_refs(&exchange(code.clone(), "x".repeat(43))),
        owned.clone(),
    )
    .await;
    assert_eq!(
        (wrong.0, wrong.1["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let spent = send(
        as_refs(&exchange(code.clone(), verifier.clone())),
        owned.clone(),
    )
    .await;
    assert_eq!(
        spent.1["error"], "invalid_grant",
        "a code is spent by a failed attempt"
    );

    // Replay: the second use fails and revokes what the first issued.
    let code = code_for(&w, &mut b, &challenge).await;
    let first = send(
        as_refs(&exchange(code.clone(), verifier.clone())),
        owned.clone(),
    )
    .await;
    assert_eq!(first.0, 200, "{}", first.1);
    let replay = send(as_refs(&exchange(code, verifier.clone())), owned.clone()).await;
    assert_eq!(replay.1["error"], "invalid_grant");
    let rt = first.1["refresh_token"].as_str().unwrap().to_owned();
    let after = send(
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt),
        ],
        owned.clone(),
    )
    .await;
    assert_eq!(
        after.1["error"], "invalid_grant",
        "replay revoked the refresh token"
    );
    let (info, _) = userinfo(&w, first.1["access_token"].as_str().unwrap()).await;
    assert_eq!(info, 401, "replay revoked the access token");

    // Expired code (fake clock).
    let code = code_for(&w, &mut b, &challenge).await;
    w.server.clock.advance(time::Duration::seconds(61));
    let expired = send(as_refs(&exchange(code, verifier.clone())), owned.clone()).await;
    assert_eq!(expired.1["error"], "invalid_grant");

    // Wrong secret, unknown client: 401 invalid_client with a challenge.
    let r = reqwest::Client::new()
        .post(format!("{}/token", w.server.base_url))
        .basic_auth(&w.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let (s, e) = token(&w, ("nobody", "x"), &[("grant_type", "client_credentials")]).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));

    // Refresh reuse revokes the family.
    let (b_challenge, b_verifier) = pkce();
    let code = code_for(&w, &mut b, &b_challenge).await;
    let issued = send(as_refs(&exchange(code, b_verifier)), owned.clone()).await;
    let rt1 = issued.1["refresh_token"].as_str().unwrap().to_owned();
    let r2 = send(
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt1.clone()),
        ],
        owned.clone(),
    )
    .await;
    assert_eq!(r2.0, 200);
    let reuse = send(
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt1),
        ],
        owned.clone(),
    )
    .await;
    assert_eq!(reuse.1["error"], "invalid_grant");
    let rt2 = r2.1["refresh_token"].as_str().unwrap().to_owned();
    let dead = send(
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt2),
        ],
        owned.clone(),
    )
    .await;
    assert_eq!(
        dead.1["error"], "invalid_grant",
        "reuse revoked the whole family"
    );

    // Grant and scope rules.
    let machine = (w.machine_id.as_str(), w.machine_secret.as_str());
    for (auth, form, want) in [
        (
            web,
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "x"),
            ],
            "unsupported_grant_type",
        ),
        (
            web,
            vec![("grant_type", "client_credentials")],
            "unauthorized_client",
        ),
        (
            machine,
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "reports.delete"),
            ],
            "invalid_scope",
        ),
        (
            machine,
            vec![
                ("grant_type", "client_credentials"),
                ("resource", "https://payroll.example.gov.sg/"),
            ],
            "invalid_target",
        ),
        (machine, vec![("code", "x")], "invalid_request"),
    ] {
        let (s, e) = token(&w, auth, &form).await;
        assert_eq!((s, e["error"].as_str()), (400, Some(want)), "{form:?}");
    }
    // A public client authenticates with nothing but its id, and must not send a secret.
    let (s, e) = form_post(
        &w,
        "/token",
        (&w.public_client_id, "a-secret"),
        &[("grant_type", "authorization_code")],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
}

async fn userinfo(w: &World, at: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", w.server.base_url))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Done-when 4 (one node): tokens signed before a rotation still verify; new ones use the
/// new key; the old key leaves the JWKS once its tokens have expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_old_tokens_valid() {
    let w = world(Backend::Sqlite).await;
    let machine = (w.machine_id.as_str(), w.machine_secret.as_str());
    let cc = [("grant_type", "client_credentials")];
    let (_, before) = token(&w, machine, &cc).await;
    let old = before["access_token"].as_str().unwrap().to_owned();
    let kid = |t: &str| {
        serde_json::from_slice::<Value>(&b64(t.split('.').next().unwrap())).unwrap()["kid"].clone()
    };
    let new_kids =
        tessera_core::oidc::keys::rotate(&w.server.app, &tessera_domain::audit::Actor::Cli)
            .await
            .unwrap();
    let (_, after) = token(&w, machine, &cc).await;
    let new = after["access_token"].as_str().unwrap().to_owned();
    assert_ne!(kid(&old), kid(&new));
    assert!(new_kids.iter().any(|k| kid(&new) == k.as_str()));
    for t in [&old, &new] {
        let (_, i) = form_post(&w, "/introspect", machine, &[("token", t.as_str())]).await;
        assert_eq!(i["active"], true);
    }
    let jwks: Value = reqwest::get(format!("{}/jwks.json", w.server.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert!(
        kids.contains(&kid(&old)) && kids.contains(&kid(&new)) && kids.len() == 6,
        "{kids:?}"
    );
    // Not due yet; 30 days after the keys were made, the schedule rotates them.
    assert!(
        tessera_core::oidc::keys::rotate_if_due(&w.server.app)
            .await
            .unwrap()
            .is_none()
    );
    // 25 hours on, the retired keys are gone, and so are the tokens they signed.
    w.server.clock.advance(time::Duration::hours(26));
    let jwks: Value = reqwest::get(format!("{}/jwks.json", w.server.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert!(!kids.contains(&kid(&old)) && kids.len() == 3, "{kids:?}");
}

/// prompt=login and max_age force a new sign-in; form_post answers with a form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_and_form_post() {
    let w = world(Backend::Sqlite).await;
    let mut b = signed_in(&w).await;
    let (challenge, _) = pkce();
    for extra in ["&prompt=login", "&max_age=0"] {
        w.server.clock.advance(time::Duration::seconds(5));
        let (status, location, _) = authorize(&mut b, &auth_url(&w, extra, &challenge)).await;
        assert_eq!(status, 303);
        let location = location.unwrap();
        assert!(
            location.starts_with("/signin?next=") && location.contains("reauth=1"),
            "{location}"
        );
        assert!(location.contains("auth_after%3D"), "{location}");
        let page = b.get(&location).await;
        assert_eq!(
            page.status, 200,
            "the sign-in form is shown although a session exists"
        );
        // Opening the return address by hand, without signing in again, gets no code.
        let next: String =
            url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
                .unwrap();
        w.server.clock.advance(time::Duration::seconds(1));
        let skipped = b.get(&next).await;
        assert!(
            skipped
                .location
                .as_deref()
                .unwrap_or("")
                .starts_with("/signin"),
            "{:?}",
            skipped.location
        );
        // Signing in again satisfies it: the fresh session began after `auth_after`.
        let again = b
            .sign_in_to("alice", crate::support::PASSWORD, next.as_str())
            .await;
        let back = again.location.unwrap();
        let done = b.get(&back).await;
        let redirect = done.location.unwrap_or_default();
        assert!(
            redirect.starts_with(REDIRECT) && redirect.contains("code="),
            "{extra}: {redirect}"
        );
    }
    // PAR with prompt=login: one sign-in, no loop.
    w.server.clock.advance(time::Duration::seconds(2));
    let pushed: Value = reqwest::Client::new()
        .post(format!("{}/par", w.server.base_url))
        .basic_auth(&w.client_id, Some(&w.client_secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("prompt", "login"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    w.server.clock.advance(time::Duration::seconds(2));
    let by_ref = format!(
        "/authorize?client_id={}&request_uri={}",
        w.client_id,
        urlencode(pushed["request_uri"].as_str().unwrap())
    );
    let first = b.get(&by_ref).await.location.unwrap();
    assert!(first.starts_with("/signin"), "{first}");
    let next: String = url::form_urlencoded::parse(first.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // A forged floor before the push does not let the old session through.
    let forged = next.replace("auth_after=", "auth_after=0&ignored=");
    assert!(
        b.get(&forged)
            .await
            .location
            .unwrap()
            .starts_with("/signin")
    );
    let again = b
        .sign_in_to("alice", crate::support::PASSWORD, next.as_str())
        .await;
    let done = b.get(&again.location.unwrap()).await;
    assert!(
        done.location.unwrap_or_default().contains("code="),
        "PAR + prompt=login completes after one sign-in"
    );
    let url = auth_url(&w, "&response_mode=form_post", &challenge);
    let path = url
        .split_once("/authorize")
        .map(|(_, r)| format!("/authorize{r}"))
        .unwrap();
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("action=\"http:&#x2f;&#x2f;localhost:9999&#x2f;callback\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"code\"") && page.body.contains("name=\"iss\""));
    let meta: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        w.server.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(meta["issuer"], w.server.base_url.as_str());
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_on_schedule() {
    let w = world(Backend::Sqlite).await;
    let app = &w.server.app;
    assert!(
        tessera_core::oidc::keys::rotate_if_due(app)
            .await
            .unwrap()
            .is_none()
    );
    w.server.clock.advance(time::Duration::days(30));
    let kids = tessera_core::oidc::keys::rotate_if_due(app)
        .await
        .unwrap()
        .expect("due after 30 days");
    assert_eq!(kids.len(), 3, "one per algorithm");
    assert!(
        tessera_core::oidc::keys::rotate_if_due(app)
            .await
            .unwrap()
            .is_none(),
        "fresh keys are not due"
    );
}
