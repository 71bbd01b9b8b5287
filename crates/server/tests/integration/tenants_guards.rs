//! What the review of tenant self-service asked us to hold: no path gives a refused user a
//! code (consent form, device approval), taking access away stops the app's refresh
//! tokens, and a tenant admin cannot mint or take over a platform API credential.

use crate::oidc_support::{REDIRECT, param};
use crate::support::{Browser, PASSWORD};
use crate::tenants_access::{TenantWorld, person, signed_in};
use openidconnect::PkceCodeChallenge;
use tessera_core::admin::PlatformAdmin;
use tessera_core::oidc::clients::{NewApp, create_app};
use tessera_core::tenants::TenantAdmin;
use tessera_core::tenants::apps::{self, AccessEdit, set_access};
use tessera_domain::user::UserType;
use tessera_testkit::Backend;

fn query_pairs(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn authorize_query(client_id: &str, challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid offline_access".into()),
        ("state", "st".into()),
        ("nonce", "n".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_user_gets_no_code_through_the_consent_form() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let created = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Third-party wiki".into(),
            redirect_uris: vec![REDIRECT.into()],
            consent_required: true,
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let client_id = created.client.client_id.clone();
    set_access(
        app,
        &docs,
        &client_id,
        AccessEdit {
            listed_only: true,
            offshore_allowed: true,
            ..AccessEdit::default()
        },
    )
    .await
    .unwrap();
    person(&w.server, "rick", "Rick", UserType::Vendor, false).await;
    let mut rick = signed_in(&w.server, "rick").await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let mut form = authorize_query(&client_id, challenge.as_str());
    form.push(("decision", "allow".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = rick.post("/authorize/consent", &form).await;
    let location = answer.location.clone().unwrap_or_default();
    let pairs = query_pairs(&location);
    assert!(param(&pairs, "code").is_none(), "a code: {location}");
    assert_eq!(param(&pairs, "error"), Some("access_denied"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_access_away_stops_the_refresh_tokens() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let created = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Reports".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let client_id = created.client.client_id.clone();
    let secret = created.secret.clone().unwrap();
    let listed = |users: Vec<String>| AccessEdit {
        listed_only: true,
        users,
        offshore_allowed: true,
        ..AccessEdit::default()
    };
    person(&w.server, "lisa", "Lisa", UserType::Officer, false).await;
    set_access(app, &docs, &client_id, listed(vec!["lisa".into()]))
        .await
        .unwrap();

    let mut lisa = signed_in(&w.server, "lisa").await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(authorize_query(&client_id, challenge.as_str()))
        .finish();
    let page = lisa.get(&format!("/authorize?{query}")).await;
    let location = page.location.clone().unwrap_or_default();
    let code = param(&query_pairs(&location), "code")
        .unwrap_or_else(|| panic!("no code: {page:?}"))
        .to_owned();
    let http = reqwest::Client::new();
    let token = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = format!("{}/token", w.server.base_url);
        let (id, secret) = (client_id.clone(), secret.clone());
        async move {
            let r = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, tokens) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.secret().clone()),
    ])
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, again) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await;
    assert_eq!(status, 200, "still admitted: {again}");
    let refresh = again["refresh_token"].as_str().unwrap().to_owned();

    // The tenant admin takes Lisa off the list; once the token endpoint's 5-second client
    // cache has passed, her refresh token no longer works.
    set_access(app, &docs, &client_id, listed(Vec::new()))
        .await
        .unwrap();
    w.server.clock.advance(time::Duration::seconds(6));
    let (status, refused) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_admins_cannot_mint_or_take_over_platform_credentials() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    // A platform API app that lives in the docs tenant.
    let platform_app = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Provisioning robot".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["tessera:admin".into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap()
    .client;

    let mut tara = Browser::new(&w.server.base_url);
    assert_eq!(tara.sign_in("tara", PASSWORD).await.status, 303);
    // Smuggling the platform scope inside one space-separated entry is refused.
    for scope in ["tessera:admin", "openid tessera:admin", " tessera:admin"] {
        let page = tara
            .post(
                "/tenant/docs/apps/new",
                &[
                    ("name", "Sneaky"),
                    ("kind", "confidential"),
                    ("grant", "client_credentials"),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(page.status, 422, "{scope:?}: {}", page.body);
        assert!(
            page.body.contains("Only platform administrators can grant"),
            "{scope:?}: {}",
            page.body
        );
    }
    // The platform app cannot be given a new secret, rotated, revoked or deleted by her.
    let base = format!("/tenant/docs/apps/{}", platform_app.id);
    for path in [
        format!("{base}/secrets"),
        format!("{base}/secrets/rotate"),
        format!("{base}/delete"),
    ] {
        let page = tara
            .post(
                &path,
                &[("overlap", "0"), ("unit", "seconds"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(!page.body.contains("client-secret"), "{path}");
    }
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    assert_eq!(
        apps::secrets(app, &docs, &platform_app.client_id)
            .await
            .unwrap()
            .len(),
        1,
        "no secret was added"
    );
    assert!(apps::get(app, &docs, &platform_app.client_id).await.is_ok());
}
