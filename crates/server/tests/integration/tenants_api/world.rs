//! The world of the admin API tests: two tenants with resources, the callers (API tokens
//! of each tenant and of the platform, a portal session of the other tenant's admin), an
//! HTTP client that speaks JSON, and the table of every endpoint.

use crate::support::{Browser, PASSWORD};
use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::oidc::clients::NewApp;
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_core::tenants::{self, TenantAdmin};
use tessera_domain::tenancy::{AccessRequest, AccessRequestStatus};
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_domain::{AccessRequestId, UserId};
use tessera_testkit::{Backend, TestServer};

/// Who calls.
#[derive(Clone)]
pub(super) enum Caller {
    Nobody,
    Token(String),
    /// A browser's portal session (its Cookie header); unsafe calls come from our origin.
    Session(String),
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Value,
}

impl Answer {
    pub(super) fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub(super) struct Api {
    pub(super) base: String,
    pub(super) http: reqwest::Client,
}

impl Api {
    pub(super) async fn call(
        &self,
        who: &Caller,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        match who {
            Caller::Nobody => {}
            Caller::Token(t) => req = req.bearer_auth(t),
            Caller::Session(cookie) => {
                req = req.header("cookie", cookie);
                if method != Method::GET {
                    req = req
                        .header("origin", &self.base)
                        .header("sec-fetch-site", "same-origin");
                }
            }
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(super) async fn get(&self, who: &Caller, path: &str) -> Answer {
        self.call(who, Method::GET, path, None, None).await
    }

    pub(super) async fn post(
        &self,
        who: &Caller,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Answer {
        self.call(who, Method::POST, path, Some(body), key).await
    }
}

/// Two tenants: `alpha` (A) with an app, a secret, a group with a member and an access
/// request; `beta` (B) administered by bob. API tokens: A's and B's tenant scope, and the
/// platform scope.
pub(super) struct World {
    pub(super) _server: TestServer,
    pub(super) api: Api,
    pub(super) alpha_token: Caller,
    pub(super) beta_token: Caller,
    pub(super) platform_token: Caller,
    pub(super) bob_session: Caller,
    pub(super) app_id: String,
    pub(super) secret_id: i64,
    pub(super) group_id: String,
    pub(super) carol: User,
    pub(super) request_id: String,
}

pub(super) async fn active_user(server: &TestServer, username: &str) -> User {
    let app = &server.app;
    let now = app.clock.now();
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse(username).unwrap(),
        given_name: username.to_uppercase(),
        family_name: "Tan".into(),
        email: EmailAddress::parse(&format!("{username}@agency.gov.sg")).unwrap(),
        mobile: None,
        department: "Digital Services".into(),
        user_type: UserType::Officer,
        state: UserState::Active,
        platform_admin: false,
        password_hash: Some(
            app.passwords
                .hash(PASSWORD, app.random.as_ref())
                .await
                .unwrap(),
        ),
        password_is_initial: false,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
        activation_deadline: None,
        reminders_sent: 0,
        phone_verified_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = app.db.begin().await.unwrap();
    tx.insert_user(&user).await.unwrap();
    tx.commit().await.unwrap();
    user
}

/// An API app of `cap`'s tenant with `scope`, and an access token for it.
pub(super) async fn api_token(
    server: &TestServer,
    cap: &TenantAdmin,
    name: &str,
    scope: &str,
) -> Caller {
    let created = tenants::apps::create(
        &server.app,
        cap,
        NewApp {
            name: name.into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec![scope.into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let r = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(&created.client.client_id, created.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    Caller::Token(
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned(),
    )
}

pub(super) async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let app = &server.app;
    let cli = PlatformAdmin::operator_at_cli();
    bootstrap_admin(
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
    create_tenant(app, &cli, "alpha", "Alpha").await.unwrap();
    create_tenant(app, &cli, "beta", "Beta").await.unwrap();
    let bob = active_user(&server, "bob").await;
    let carol = active_user(&server, "carol").await;
    tenants::add_admin(app, &cli, "beta", "bob").await.unwrap();

    let alpha = TenantAdmin::by_platform(app, &cli, "alpha").await.unwrap();
    let beta = TenantAdmin::by_platform(app, &cli, "beta").await.unwrap();
    let web_app = tenants::apps::create(
        app,
        &alpha,
        NewApp {
            name: "Alpha web".into(),
            redirect_uris: vec!["https://alpha.example.gov.sg/callback".into()],
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let app_id = web_app.client.id.to_string();
    let secret_id = tenants::apps::secrets(app, &alpha, &app_id).await.unwrap()[0].id;
    let group = tenants::groups::create(app, &alpha, "Editors", "")
        .await
        .unwrap();
    tenants::groups::add_member(app, &alpha, &group.id.to_string(), "carol")
        .await
        .unwrap();
    let now = app.clock.now();
    let request = AccessRequest {
        id: AccessRequestId::new_at(now, app.random.as_ref()),
        tenant_id: alpha.tenant_id(),
        app_id: web_app.client.id,
        user_id: bob.id,
        reason: "I edit Alpha's pages".into(),
        status: AccessRequestStatus::Pending,
        created_at: now,
        decided_at: None,
        decided_by: None,
    };
    let mut tx = app.db.begin().await.unwrap();
    tx.insert_access_request(&request).await.unwrap();
    tx.commit().await.unwrap();

    let alpha_token = api_token(&server, &alpha, "Alpha automation", "tessera:tenant").await;
    let beta_token = api_token(&server, &beta, "Beta automation", "tessera:tenant").await;
    let platform_token = api_token(&server, &alpha, "Platform automation", "tessera:admin").await;

    let mut browser = Browser::new(&server.base_url);
    let page = browser.sign_in("bob", PASSWORD).await;
    assert_eq!(page.status, 303, "bob signs in: {}", page.body);
    let bob_session = Caller::Session(browser.cookie_for_tests());

    let api = Api {
        base: server.base_url.clone(),
        http: reqwest::Client::new(),
    };
    World {
        _server: server,
        api,
        alpha_token,
        beta_token,
        platform_token,
        bob_session,
        app_id,
        secret_id,
        group_id: group.id.to_string(),
        carol,
        request_id: request.id.to_string(),
    }
}

/// Every endpoint: (method, path template, body). `openapi.json` is public and not listed.
pub(super) fn endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    let app_body = json!({"name": "Intruder", "redirect_uris": ["https://x.example/cb"]});
    vec![
        (Method::GET, "/api/v1/tenants", None),
        (
            Method::POST,
            "/api/v1/tenants",
            Some(json!({"slug": "gamma", "display_name": "Gamma"})),
        ),
        (Method::GET, "/api/v1/tenants/{tenant}", None),
        (Method::GET, "/api/v1/tenants/{tenant}/admins", None),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/admins",
            Some(json!({"user": "bob"})),
        ),
        (
            Method::DELETE,
            "/api/v1/tenants/{tenant}/admins/{user}",
            None,
        ),
        (Method::GET, "/api/v1/tenants/{tenant}/apps", None),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/apps",
            Some(app_body.clone()),
        ),
        (Method::GET, "/api/v1/tenants/{tenant}/apps/{app}", None),
        (
            Method::PUT,
            "/api/v1/tenants/{tenant}/apps/{app}",
            Some(app_body),
        ),
        (Method::DELETE, "/api/v1/tenants/{tenant}/apps/{app}", None),
        (
            Method::GET,
            "/api/v1/tenants/{tenant}/apps/{app}/access",
            None,
        ),
        (
            Method::PUT,
            "/api/v1/tenants/{tenant}/apps/{app}/access",
            Some(json!({"listed_only": true})),
        ),
        (
            Method::GET,
            "/api/v1/tenants/{tenant}/apps/{app}/secrets",
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/apps/{app}/secrets",
            Some(json!({"rotate_overlap_seconds": 0})),
        ),
        (
            Method::DELETE,
            "/api/v1/tenants/{tenant}/apps/{app}/secrets/{secret}",
            None,
        ),
        (Method::GET, "/api/v1/tenants/{tenant}/groups", None),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/groups",
            Some(json!({"name": "Intruders"})),
        ),
        (Method::GET, "/api/v1/tenants/{tenant}/groups/{group}", None),
        (
            Method::DELETE,
            "/api/v1/tenants/{tenant}/groups/{group}",
            None,
        ),
        (
            Method::GET,
            "/api/v1/tenants/{tenant}/groups/{group}/members",
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/groups/{group}/members",
            Some(json!({"user": "bob"})),
        ),
        (
            Method::DELETE,
            "/api/v1/tenants/{tenant}/groups/{group}/members/{user}",
            None,
        ),
        (
            Method::GET,
            "/api/v1/tenants/{tenant}/access-requests",
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/access-requests/{id}/approve",
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/{tenant}/access-requests/{id}/reject",
            None,
        ),
        (Method::GET, "/api/v1/tenants/{tenant}/audit", None),
        (Method::GET, "/api/v1/users", None),
        (Method::GET, "/api/v1/users/{user}", None),
        (Method::GET, "/api/v1/invitations", None),
        (
            Method::POST,
            "/api/v1/invitations",
            Some(json!({"email": "new@vendor.example.com", "sponsor": "bob"})),
        ),
        (Method::GET, "/api/v1/audit", None),
    ]
}

/// A template filled with tenant A's resources.
pub(super) fn fill(w: &World, template: &str) -> String {
    template
        .replace("{tenant}", "alpha")
        .replace("{app}", &w.app_id)
        .replace("{secret}", &w.secret_id.to_string())
        .replace("{group}", &w.group_id)
        .replace("{user}", &w.carol.id.to_string())
        .replace("{id}", &w.request_id)
}
