//! Issue 5, done-when 4 and 5: several accounts in one browser (the chooser, each choice
//! yielding that account's ID token, the `prompt` values and their errors, signing out one
//! account), and lockout (passwords, second factors, unknown names) held in the database,
//! so two nodes on one PostgreSQL see the same lock.

use crate::oidc_support::{Http, REDIRECT, World, param, world};
use crate::support::{Browser, PASSWORD, Page, between, totp};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::sync::Arc;
use tessera_core::admin::PlatformAdmin;
use tessera_core::oidc::clients::{NewApp, create_app};
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_domain::UserId;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_store::Database;
use tessera_store_postgres::PostgresDatabase;
use tessera_testkit::{Backend, Options, TestServer};
use time::Duration;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Postgres).await
                }
            )*
        }
    };
}

on_both_backends!(
    two_accounts_in_one_browser_each_get_their_own_id_token,
    select_account_and_prompt_none_answer_correctly,
);

/// Done-when 5: two nodes on one PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_holds_across_two_nodes_on_one_postgresql() {
    let nodes = Nodes::two_on_postgres().await;
    lockout(&nodes).await;
}

/// The same on one SQLite node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_holds_on_one_sqlite_node() {
    let nodes = Nodes::one(Backend::Sqlite).await;
    lockout(&nodes).await;
}

/// An active account, straight into the store (no policies, no TOTP yet).
async fn active_account(server: &TestServer, username: &str, given: &str) -> User {
    let app = &server.app;
    let now = app.clock.now();
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse(username).unwrap(),
        given_name: given.into(),
        family_name: "Lim".into(),
        email: EmailAddress::parse(&format!("{username}@vendor.example.com")).unwrap(),
        mobile: None,
        department: "Contractor".into(),
        user_type: UserType::Vendor,
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

/// The relying service, as the `openidconnect` crate sees Tessera.
struct Rp {
    metadata: CoreProviderMetadata,
    id: String,
    secret: String,
    http: Http,
}

/// An authorization request on its way: the path to open, and what redeeming needs.
struct Request {
    path: String,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// What the validated ID token says.
#[derive(Debug)]
struct Claims {
    sub: String,
    username: Option<String>,
    auth_time: Option<i64>,
}

impl Rp {
    async fn new(w: &World) -> Self {
        let http = Http::new();
        let issuer = IssuerUrl::new(w.server.base_url.clone()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .unwrap();
        Self {
            metadata,
            id: w.client_id.clone(),
            secret: w.client_secret.clone(),
            http,
        }
    }

    /// An authorization request (code + PKCE + nonce) with extra parameters.
    fn request(&self, extra: &[(&str, &str)]) -> Request {
        let client = CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(self.id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        for (k, v) in extra {
            req = req.add_extra_param(*k, *v);
        }
        let (url, _, nonce) = req.url();
        Request {
            path: format!("{}?{}", url.path(), url.query().unwrap_or("")),
            nonce,
            verifier,
        }
    }

    /// Redeems a code and validates the ID token (signature, iss, aud, nonce, times).
    async fn redeem(&self, code: &str, request: Request) -> Claims {
        let client = CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(self.id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(request.verifier)
            .request_async(&self.http)
            .await
            .unwrap();
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&client.id_token_verifier(), &request.nonce)
            .unwrap();
        Claims {
            sub: claims.subject().as_str().to_owned(),
            username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
        }
    }
}

/// The query pairs of a redirect.
fn pairs_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The chooser's `next` (decoded) from its address.
fn chooser_next(location: &str) -> String {
    assert!(
        location.starts_with("/signin/choose?"),
        "expected the account chooser, got {location}"
    );
    param(&pairs_of(location), "next").unwrap().to_owned()
}

/// The index the chooser page gives `username`.
fn index_of(chooser: &Page, username: &str) -> String {
    chooser
        .body
        .split("name=\"account\" value=\"")
        .skip(1)
        .find(|part| {
            between(part, "class=\"account-detail\">", "</span>")
                .is_some_and(|d| d.starts_with(&format!("{username} ")))
        })
        .and_then(|part| part.split('"').next().map(str::to_owned))
        .unwrap_or_else(|| panic!("{username} is not offered: {}", chooser.body))
}

/// Answers the chooser with `username`; returns the redirect to the relying service.
async fn choose(b: &mut Browser, location: &str, username: &str) -> String {
    let next = chooser_next(location);
    let page = b.get(location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Choose an account"));
    assert!(page.body.contains("Use another account"));
    let index = index_of(&page, username);
    let chosen = b
        .post(
            "/signin/choose",
            &[("account", index.as_str()), ("next", next.as_str())],
        )
        .await;
    assert_eq!(chosen.status, 303, "{}", chosen.body);
    // Back to the request, with Tessera's proof that this account was chosen for it.
    let back = chosen.location.unwrap_or_default();
    assert!(
        back.starts_with(&format!("{next}&account_chosen=")),
        "{back}"
    );
    b.get(&back).await.location.unwrap_or_default()
}

/// The code in a redirect to the relying service.
fn code_in(location: &str) -> String {
    assert!(location.starts_with(REDIRECT), "{location}");
    param(&pairs_of(location), "code")
        .unwrap_or_else(|| panic!("no code: {location}"))
        .to_owned()
}

fn error_in(location: &str) -> String {
    assert!(location.starts_with(REDIRECT), "{location}");
    param(&pairs_of(location), "error")
        .unwrap_or_else(|| panic!("no error: {location}"))
        .to_owned()
}

fn session_count(b: &Browser) -> usize {
    b.cookie_for_tests()
        .split("; ")
        .find_map(|c| c.strip_prefix("tessera_session="))
        .map_or(0, |v| v.split('.').filter(|t| !t.is_empty()).count())
}

/// Both accounts of a world signed in in one browser: alice, then bob ("use another").
async fn two_signed_in(w: &World) -> Browser {
    let mut b = Browser::new(&w.server.base_url);
    assert_eq!(
        b.sign_in("alice", PASSWORD).await.location.as_deref(),
        Some("/admin")
    );
    assert_eq!(session_count(&b), 1);
    // Signed in, /signin goes home unless another account is wanted.
    assert_eq!(b.get("/signin").await.location.as_deref(), Some("/"));
    let another = b.get("/signin?reauth=1").await;
    assert_eq!(another.status, 200, "the sign-in form for another account");
    assert!(another.body.contains("Sign in"));
    assert_eq!(
        b.sign_in("bob", PASSWORD).await.location.as_deref(),
        Some("/")
    );
    assert_eq!(
        session_count(&b),
        2,
        "one cookie holds both sessions: {}",
        b.cookie_for_tests()
    );
    let home = b.get("/").await;
    assert!(
        home.body.contains("Welcome, Bob Lim"),
        "the newest account is the current one: {}",
        home.body
    );
    b
}

/// Done-when 4: the chooser appears and each choice yields that account's ID token.
async fn two_accounts_in_one_browser_each_get_their_own_id_token(backend: Backend) {
    let w = world(backend).await;
    // The client library checks `exp` and `iat` against the wall clock.
    w.server
        .clock
        .set(tessera_domain::Clock::now(&tessera_domain::SystemClock));
    let bob = active_account(&w.server, "bob", "Bob").await;
    let rp = Rp::new(&w).await;
    let mut b = two_signed_in(&w).await;

    // No prompt, two accounts: the chooser; each choice gives its own ID token.
    let mut bob_auth_time = None;
    for (username, sub) in [
        ("alice", w.user.id.to_string()),
        ("bob", bob.id.to_string()),
        ("alice", w.user.id.to_string()),
    ] {
        let req = rp.request(&[]);
        let first = b.get(&req.path).await;
        assert_eq!(first.status, 303);
        let location = first.location.unwrap();
        let back = choose(&mut b, &location, username).await;
        let claims = rp.redeem(&code_in(&back), req).await;
        assert_eq!(claims.sub, sub, "{username}");
        assert_eq!(claims.username.as_deref(), Some(username));
        if username == "bob" {
            bob_auth_time = claims.auth_time;
        }
        assert_eq!(session_count(&b), 2, "choosing keeps both accounts");
    }
    // The choice made alice current for the portal too.
    assert!(b.get("/admin").await.body.contains("Administration"));

    // prompt=none with two accounts: the relying service must let the user choose.
    let req = rp.request(&[("prompt", "none")]);
    let r = b.get(&req.path).await;
    assert_eq!(r.status, 303);
    let location = r.location.unwrap();
    assert_eq!(error_in(&location), "account_selection_required");
    assert!(param(&pairs_of(&location), "state").is_some());

    // prompt=login: choose, then sign in again as the chosen account; a fresh auth_time.
    w.server.clock.advance(Duration::seconds(30));
    let req = rp.request(&[("prompt", "login")]);
    let location = b.get(&req.path).await.location.unwrap();
    let next = chooser_next(&location);
    let page = b.get(&location).await;
    let index = index_of(&page, "bob");
    let chosen = b
        .post(
            "/signin/choose",
            &[("account", index.as_str()), ("next", next.as_str())],
        )
        .await;
    let chosen = chosen.location.unwrap();
    assert!(
        chosen.starts_with(&format!("{next}&account_chosen=")),
        "{chosen}"
    );
    let forced = b.get(&chosen).await.location.unwrap();
    assert!(
        forced.starts_with("/signin?next=") && forced.contains("reauth=1"),
        "prompt=login asks for the password again: {forced}"
    );
    assert_eq!(b.get(&forced).await.status, 200, "the sign-in form");
    let sign_in_next = param(&pairs_of(&forced), "next").unwrap().to_owned();
    let again = b.sign_in_to("bob", PASSWORD, &sign_in_next).await;
    let resume = again.location.unwrap();
    let back = b.get(&resume).await.location.unwrap();
    let claims = rp.redeem(&code_in(&back), req).await;
    assert_eq!(claims.sub, bob.id.to_string());
    assert!(
        bob_auth_time.is_some() && claims.auth_time > bob_auth_time,
        "re-authenticated: {claims:?}"
    );
    assert_eq!(
        session_count(&b),
        2,
        "signing in again replaced bob's session, alice stays"
    );

    // Sign out one account (the current: bob); alice stays signed in.
    let out = b.post("/signout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/"));
    assert_eq!(session_count(&b), 1);
    assert!(b.get("/admin").await.body.contains("Administration"));
    let req = rp.request(&[]);
    let direct = b.get(&req.path).await.location.unwrap();
    let claims = rp.redeem(&code_in(&direct), req).await;
    assert_eq!(claims.sub, w.user.id.to_string(), "one account: no chooser");
    let req = rp.request(&[("prompt", "none")]);
    let silent = b.get(&req.path).await.location.unwrap();
    let claims = rp.redeem(&code_in(&silent), req).await;
    assert_eq!(claims.sub, w.user.id.to_string());

    // Sign out of all: prompt=none now needs a sign-in.
    let out = b.post("/signout", &[("scope", "all")]).await;
    assert_eq!(out.location.as_deref(), Some("/signin"));
    assert_eq!(session_count(&b), 0);
    let req = rp.request(&[("prompt", "none")]);
    let location = b.get(&req.path).await.location.unwrap();
    assert_eq!(error_in(&location), "login_required");
}

/// `prompt=select_account` with one account; `prompt=none` without a session and when
/// consent is needed; "use another account".
async fn select_account_and_prompt_none_answer_correctly(backend: Backend) {
    let w = world(backend).await;
    w.server
        .clock
        .set(tessera_domain::Clock::now(&tessera_domain::SystemClock));
    active_account(&w.server, "bob", "Bob").await;
    let rp = Rp::new(&w).await;

    // No session: prompt=none → login_required; no prompt → the sign-in page.
    let mut b = Browser::new(&w.server.base_url);
    let req = rp.request(&[("prompt", "none")]);
    let location = b.get(&req.path).await.location.unwrap();
    assert_eq!(error_in(&location), "login_required");
    let req = rp.request(&[]);
    let location = b.get(&req.path).await.location.unwrap();
    assert!(location.starts_with("/signin?next="), "{location}");

    // One account, no prompt: no chooser.
    assert_eq!(
        b.sign_in("alice", PASSWORD).await.location.as_deref(),
        Some("/admin")
    );
    let req = rp.request(&[]);
    let direct = b.get(&req.path).await.location.unwrap();
    assert!(direct.starts_with(REDIRECT), "{direct}");
    // prompt=select_account shows the chooser even with one account.
    let req = rp.request(&[("prompt", "select_account")]);
    let location = b.get(&req.path).await.location.unwrap();
    let chooser = b.get(&location).await;
    assert_eq!(chooser.status, 200);
    assert_eq!(chooser.body.matches("name=\"account\"").count(), 1);
    let back = choose(&mut b, &location, "alice").await;
    let claims = rp.redeem(&code_in(&back), req).await;
    assert_eq!(claims.sub, w.user.id.to_string());
    // "Use another account" from the chooser: the sign-in form, then back to the request.
    let req = rp.request(&[("prompt", "select_account")]);
    let location = b.get(&req.path).await.location.unwrap();
    let next = chooser_next(&location);
    let chooser = b.get(&location).await;
    assert!(
        chooser.body.contains("reauth=1"),
        "a link to use another account: {}",
        chooser.body
    );
    let another = b
        .get(&format!(
            "/signin?reauth=1&next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(another.status, 200);
    let done = b.sign_in_to("bob", PASSWORD, &next).await;
    let back = b.get(&done.location.unwrap()).await.location.unwrap();
    let claims = rp.redeem(&code_in(&back), req).await;
    assert_eq!(claims.username.as_deref(), Some("bob"));
    assert_eq!(session_count(&b), 2);

    // A client that asks for consent: prompt=none answers consent_required once the
    // account is settled (one account, or one chosen).
    let cli = PlatformAdmin::operator_at_cli();
    let third = create_app(
        &w.server.app,
        &cli,
        NewApp {
            tenant: "docs".into(),
            name: "Third-party tool".into(),
            redirect_uris: vec![REDIRECT.into()],
            consent_required: true,
            ..NewApp::default()
        },
    )
    .await
    .unwrap();
    let consent_rp = Rp {
        metadata: rp.metadata.clone(),
        id: third.client.client_id.clone(),
        secret: third.secret.clone().unwrap(),
        http: Http::new(),
    };
    let req = consent_rp.request(&[("prompt", "none")]);
    let location = b.get(&req.path).await.location.unwrap();
    assert_eq!(
        error_in(&location),
        "account_selection_required",
        "two accounts and none chosen"
    );
    // A relying service cannot skip the choice by adding Tessera's own marker.
    let req = consent_rp.request(&[("prompt", "none"), ("account_chosen", "1")]);
    let location = b.get(&req.path).await.location.unwrap();
    assert_eq!(error_in(&location), "account_selection_required");
    let mut single = Browser::new(&w.server.base_url);
    assert_eq!(
        single.sign_in("bob", PASSWORD).await.location.as_deref(),
        Some("/")
    );
    let req = consent_rp.request(&[("prompt", "none")]);
    let location = single.get(&req.path).await.location.unwrap();
    assert_eq!(error_in(&location), "consent_required");
    // Without prompt=none the consent page is shown.
    let req = consent_rp.request(&[]);
    let page = single.get(&req.path).await;
    assert_eq!(page.status, 200, "{:?}", page.location);
}

/// One or two nodes serving one database, each with its own fake clock.
struct Nodes {
    servers: Vec<TestServer>,
}

impl Nodes {
    async fn one(backend: Backend) -> Self {
        Self {
            servers: vec![TestServer::start(backend).await],
        }
    }

    async fn two_on_postgres() -> Self {
        let (db, guard, url) = tessera_testkit::fresh_database(Backend::Postgres).await;
        let a = TestServer::start_on(db, guard, url.clone(), Options::default()).await;
        let second: Arc<dyn Database> = Arc::new(PostgresDatabase::connect(&url).await.unwrap());
        let b = TestServer::start_on(second, Box::new(()), url, Options::default()).await;
        assert_ne!(a.base_url, b.base_url);
        Self {
            servers: vec![a, b],
        }
    }

    /// Node A for even attempts, node B for odd ones.
    fn node(&self, attempt: usize) -> &TestServer {
        &self.servers[attempt % self.servers.len()]
    }

    fn a(&self) -> &TestServer {
        &self.servers[0]
    }

    fn b(&self) -> &TestServer {
        self.servers.last().unwrap()
    }

    fn advance(&self, by: Duration) {
        for s in &self.servers {
            s.clock.advance(by);
        }
    }
}

async fn password_attempt(server: &TestServer, username: &str, password: &str) -> Page {
    Browser::new(&server.base_url)
        .post("/signin", &[("username", username), ("password", password)])
        .await
}

fn assert_locked(page: &Page, what: &str) {
    assert_eq!(page.status, 429, "{what}: {}", page.body);
    assert!(
        page.body.contains("Too many failed attempts"),
        "{what}: {}",
        page.body
    );
    assert!(page.body.contains("locked until"), "{what}: {}", page.body);
}

/// A TOTP code no step within the drift window accepts.
fn wrong_totp(base: &str, username: &str) -> String {
    let near: Vec<String> = (-2..=2).map(|o| totp::code_at(base, username, o)).collect();
    (0..)
        .map(|i| format!("{:06}", (654_321 + i * 7_919) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Done-when 5: five wrong passwords (or second factors), alternating between the nodes,
/// lock the account on every node for 15 minutes; unknown names behave the same.
async fn lockout(nodes: &Nodes) {
    let (a, b) = (nodes.a(), nodes.b());
    bootstrap_admin(
        &a.app,
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
    active_account(a, "bob", "Bob").await;
    active_account(a, "carol", "Carol").await;

    // Passwords: four wrong ones are just wrong; the fifth locks, for a known account and
    // an unknown name alike.
    for username in ["bob", "nobody"] {
        for attempt in 0..5 {
            let page =
                password_attempt(nodes.node(attempt), username, &format!("wrong {attempt}")).await;
            if attempt < 4 {
                assert_eq!(page.status, 401, "{username} #{attempt}: {}", page.body);
                assert!(page.body.contains("Incorrect username or password."));
            } else {
                assert_locked(&page, &format!("{username}: the fifth wrong password"));
            }
        }
    }
    for (node, name) in [(a, "A"), (b, "B")] {
        assert_locked(
            &password_attempt(node, "bob", PASSWORD).await,
            &format!("the right password on node {name}"),
        );
        assert_locked(
            &password_attempt(node, "nobody", "anything at all").await,
            &format!("an unknown name on node {name}"),
        );
    }
    // Other accounts are not affected.
    assert_eq!(
        password_attempt(b, "carol", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/signin/setup/authenticator")
    );
    nodes.advance(Duration::minutes(14));
    assert_locked(&password_attempt(b, "bob", PASSWORD).await, "14 minutes on");
    nodes.advance(Duration::minutes(1) + Duration::seconds(1));
    for (node, name) in [(a, "A"), (b, "B")] {
        let page = password_attempt(node, "bob", PASSWORD).await;
        assert_eq!(
            page.status, 303,
            "node {name} after the lock: {}",
            page.body
        );
        let unknown = password_attempt(node, "nobody", "anything at all").await;
        assert_eq!(unknown.status, 401, "node {name}: {}", unknown.body);
    }
    let cap = PlatformAdmin::operator_at_cli();
    let records = tessera_core::audit::newest(&b.app, &cap, None, 1000)
        .await
        .unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.event.action == "signin.password"
                && r.event.detail.contains("\"locked\":true")),
        "the lock is audited"
    );

    // Second factor: carol enrols on node A (the key also known to node B's authenticator).
    let mut enrol = Browser::new(&a.base_url);
    let r = enrol
        .post("/signin", &[("username", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/authenticator"));
    let page = enrol.get("/signin/setup/authenticator").await;
    let key = between(&page.body, "id=\"totp-key\">", "</code>").unwrap();
    totp::remember(&a.base_url, "carol", &key);
    totp::remember(&b.base_url, "carol", &key);
    let code = totp::next_code(&a.base_url, "carol");
    let r = enrol
        .post("/signin/setup/authenticator", &[("code", code.as_str())])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/complete"));
    assert_eq!(enrol.get("/signin/complete").await.status, 303);

    let mut on_a = Browser::new(&a.base_url);
    let r = on_a
        .post("/signin", &[("username", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/code"));
    for attempt in 0..5 {
        let node = nodes.node(attempt);
        let mut here = on_a.moved_to(&node.base_url);
        let wrong = wrong_totp(&a.base_url, "carol");
        let page = here.post("/signin/code", &[("code", wrong.as_str())]).await;
        if attempt < 4 {
            assert_eq!(page.status, 422, "code #{attempt}: {}", page.body);
            assert!(page.body.contains("That code is not right"));
        } else {
            assert_locked(&page, "the fifth wrong code");
        }
    }
    for node in [a, b] {
        let mut here = on_a.moved_to(&node.base_url);
        let right = totp::code_at(&a.base_url, "carol", 0);
        assert_locked(
            &here.post("/signin/code", &[("code", right.as_str())]).await,
            &format!("the right code on {}", node.base_url),
        );
    }
    // A new sign-in passes the password but not the locked second factor.
    let mut fresh = Browser::new(&b.base_url);
    let r = fresh
        .post("/signin", &[("username", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/code"));
    let right = totp::code_at(&b.base_url, "carol", 0);
    assert_locked(
        &fresh
            .post("/signin/code", &[("code", right.as_str())])
            .await,
        "a new sign-in's right code",
    );
    assert_eq!(
        fresh.get("/signin/complete").await.location.as_deref(),
        Some("/signin/code")
    );

    nodes.advance(Duration::minutes(15) + Duration::seconds(1));
    let mut later = Browser::new(&b.base_url);
    let r = later
        .post("/signin", &[("username", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/code"));
    let code = totp::next_code(&b.base_url, "carol");
    let r = later.post("/signin/code", &[("code", code.as_str())]).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/signin/complete"),
        "after 15 minutes the right code works: {}",
        r.body
    );
    assert_eq!(
        later.get("/signin/complete").await.location.as_deref(),
        Some("/")
    );
}
