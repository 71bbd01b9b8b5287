//! Shared set-up for the OpenID Connect tests: a server with a user, a tenant and apps,
//! and an `openidconnect` HTTP adapter over this workspace's reqwest.

use crate::support::{Browser, PASSWORD};
use std::future::Future;
use std::pin::Pin;
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::oidc::clients::{NewApp, create_app};
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_domain::user::User;
use tessera_testkit::{Backend, TestServer};

pub const REDIRECT: &str = "http://localhost:9999/callback";

pub struct World {
    pub server: TestServer,
    pub user: User,
    pub client_id: String,
    pub client_secret: String,
    pub public_client_id: String,
    pub machine_id: String,
    pub machine_secret: String,
}

pub async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let app = &server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let user = bootstrap_admin(
        app,
        &AdminForm {
            username: "alice".into(),
            given_name: "Alice".into(),
            family_name: "Tan".into(),
            email: "alice@agency.gov.sg".into(),
            mobile: "+6591234567".into(),
            password: PASSWORD.into(),
            password_confirm: PASSWORD.into(),
        },
    )
    .await
    .unwrap();
    create_tenant(app, &cli, "docs", "Docs portal")
        .await
        .unwrap();
    let web = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Docs portal".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let public = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "CLI tool".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            public: true,
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let machine = create_app(
        app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Reports job".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["reports.read".into(), "reports.write".into()],
            resources: vec!["https://reports.example.gov.sg/".into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    World {
        server,
        user,
        client_id: web.client.client_id,
        client_secret: web.secret.unwrap(),
        public_client_id: public.client.client_id,
        machine_id: machine.client.client_id,
        machine_secret: machine.secret.unwrap(),
    }
}

/// Signs in and returns a browser holding the session.
pub async fn signed_in(w: &World) -> Browser {
    let mut b = Browser::new(&w.server.base_url);
    let r = b.sign_in("alice", PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    b
}

/// Follows an authorization URL with the browser; returns the redirect's query pairs.
pub async fn authorize(b: &mut Browser, url: &str) -> (u16, Option<String>, Vec<(String, String)>) {
    let path = url
        .split_once("/authorize")
        .map(|(_, rest)| format!("/authorize{rest}"))
        .unwrap();
    let page = b.get(&path).await;
    let location = page.location.clone();
    let pairs = location
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    (page.status, location, pairs)
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// openidconnect's HTTP client, over reqwest (redirects off, as the spec requires).
pub struct Http(pub reqwest::Client);

impl Http {
    pub fn new() -> Self {
        Self(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        )
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(e.to_string()))?;
            let mut out = http::Response::builder().status(response.status());
            for (k, v) in response.headers() {
                out = out.header(k, v);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpError(e.to_string()))?
                .to_vec();
            out.body(body).map_err(|e| HttpError(e.to_string()))
        })
    }
}
