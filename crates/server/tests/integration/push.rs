//! Push approval with number matching over real HTTP: enrolment in the wizard, sign-in
//! approvals, wrong numbers, expiry, replayed approvals, and a challenge made on one node
//! answered through another (one PostgreSQL).

use crate::lifecycle::{
    admin_browser, assert_chain_intact, assert_has_actions, audit_actions, latest_to, registration,
};
use crate::support::{Browser, Output, between, run, temp_dir, tessera, token_of};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_domain::outbox::Channel;
use tessera_domain::push::{request_message, response_message};
use tessera_domain::{PushChallengeId, PushDeviceId};
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

on_both_backends!(push_enrols_approves_denies_and_refuses_replays);

/// A minimal authenticator app: an ES256 device key and the signed API calls.
struct Device {
    key: EcdsaKeyPair,
    id: String,
    http: reqwest::Client,
}

impl Device {
    async fn enrol(base: &str, uri: &str) -> Self {
        let token = uri.split("token=").nth(1).unwrap().to_owned();
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/api/push/v1/devices"))
            .json(&json!({
                "token": token,
                "name": "Test phone",
                "alg": "ES256",
                "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        let id = body["device_id"].as_str().unwrap().to_owned();
        // The token works once.
        let again = http
            .post(format!("{base}/api/push/v1/devices"))
            .json(&json!({
                "token": uri.split("token=").nth(1).unwrap(),
                "name": "Second phone",
                "alg": "ES256",
                "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 410);
        Self { key, id, http }
    }

    fn sign(&self, message: &[u8]) -> String {
        let sig = self.key.sign(&SystemRandom::new(), message).unwrap();
        URL_SAFE_NO_PAD.encode(sig.as_ref())
    }

    /// The open challenges' ids, as the server lists them (never their numbers).
    async fn pending(&self, base: &str, now: i64) -> Vec<String> {
        let device: PushDeviceId = self.id.parse().unwrap();
        let r = self
            .http
            .get(format!("{base}/api/push/v1/challenges"))
            .header("x-tessera-device", &self.id)
            .header("x-tessera-time", now.to_string())
            .header(
                "x-tessera-signature",
                self.sign(&request_message("list", device, now)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        assert!(
            !body.to_string().contains("\"number\""),
            "the number is never sent to the device"
        );
        body["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The signed answer, as sent (so a test can replay it).
    fn answer_body(&self, challenge: &str, number: u8, decision: &str) -> Value {
        let cid: PushChallengeId = challenge.parse().unwrap();
        let did: PushDeviceId = self.id.parse().unwrap();
        json!({
            "device_id": self.id,
            "number": number,
            "decision": decision,
            "signature": self.sign(&response_message(cid, number, decision, did)),
        })
    }

    async fn send(&self, base: &str, challenge: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{base}/api/push/v1/challenges/{challenge}"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// The page's text of an HTML-escaped value.
pub(crate) fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// The number the waiting page shows.
pub(crate) fn number_on(page: &str) -> u8 {
    between(page, "id=\"push-number\" aria-live=\"polite\">", "<")
        .unwrap_or_else(|| panic!("no number on the page: {page}"))
        .trim()
        .parse()
        .unwrap()
}

fn challenge_in(location: &str) -> String {
    location.split("c=").nth(1).unwrap().to_owned()
}

/// Invites and registers a vendor; returns the initial password.
pub(crate) async fn pending_vendor(server: &TestServer, admin: &mut Browser, user: &str) -> String {
    let email = format!("{user}@vendor.example.com");
    let sent = admin.post("/invitations", &[("email", &email)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let mail = latest_to(server, &email, Channel::Email).await;
    let link = mail
        .body
        .split_whitespace()
        .find(|w| w.contains("/register?token="))
        .unwrap()
        .to_owned();
    let mut guest = Browser::new(&server.base_url);
    let done = guest
        .post(
            "/register",
            &registration(&token_of(&link), user, "91234567"),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let sms = latest_to(server, "+6591234567", Channel::Sms).await;
    sms.body
        .split("initial password is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned()
}

async fn push_enrols_approves_denies_and_refuses_replays(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    let initial = pending_vendor(&server, &mut admin, "pia").await;

    // The wizard's first step, with push: QR code, the app registers, a number confirms it.
    let mut b = Browser::new(&base);
    let first = b
        .post("/signin", &[("username", "pia"), ("password", &initial)])
        .await;
    assert_eq!(
        first.location.as_deref(),
        Some("/signin/setup/authenticator")
    );
    let page = b.get("/signin/setup/push").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let uri = unescape(&between(&page.body, "id=\"push-uri\">", "</code>").unwrap());
    assert!(uri.starts_with("tessera-push://enroll?server="), "{uri}");
    let not_yet = b.get("/signin/setup/push/confirm").await;
    assert!(not_yet.body.contains("Waiting for your app"));
    let device = Device::enrol(&base, &uri).await;
    let to_confirm = b.get("/signin/setup/push/confirm").await;
    let waiting = to_confirm.location.unwrap();
    let confirm_id = challenge_in(&waiting);
    let page = b.get(&waiting).await;
    assert!(page.body.contains("Confirm your authenticator"));
    let number = number_on(&page.body);
    assert_eq!(
        device.pending(&base, server.clock_now()).await,
        vec![confirm_id.clone()]
    );
    let (status, body) = device
        .send(
            &base,
            &confirm_id,
            &device.answer_body(&confirm_id, number, "approve"),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    let on = b.get(&waiting).await;
    assert_eq!(
        on.location.as_deref(),
        Some("/signin/setup/phone"),
        "push counts as the second factor; the wizard goes on"
    );

    // Finish the wizard: phone and new password (no policies are published here). The
    // clock moves on so that this SMS is the newest to the number.
    server.clock.advance(Duration::seconds(1));
    let sent = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", "91234567")],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let sms = latest_to(&server, "+6591234567", Channel::Sms).await;
    let code = between(&sms.body, "verification code is ", " ").unwrap();
    let phoned = b
        .post("/signin/setup/phone/verify", &[("code", &code)])
        .await;
    assert_eq!(phoned.location.as_deref(), Some("/signin/setup/password"));
    let new_password = "quartz lantern meadow 58 orbit";
    let reset = b
        .post(
            "/signin/setup/password",
            &[
                ("current_password", &initial),
                ("new_password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert_eq!(
        reset.location.as_deref(),
        Some("/signin/complete"),
        "{}",
        reset.body
    );
    assert_eq!(
        b.get("/signin/complete").await.location.as_deref(),
        Some("/")
    );

    // A later sign-in: push is preferred; a wrong number is refused and counted.
    server.clock.advance(Duration::minutes(1));
    let mut c = Browser::new(&base);
    let step = c
        .post(
            "/signin",
            &[("username", "pia"), ("password", new_password)],
        )
        .await;
    assert_eq!(step.location.as_deref(), Some("/signin/code"));
    let to_push = c.get("/signin/code").await;
    assert_eq!(to_push.location.as_deref(), Some("/signin/push"));
    let waiting = c.get("/signin/push").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&c.get(&waiting).await.body);
    let wrong = if number == 99 { 98 } else { number + 1 };
    let (status, body) = device
        .send(&base, &id, &device.answer_body(&id, wrong, "approve"))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("wrong_number"))
    );
    assert_eq!(body["tries_left"], 2);
    let approval = device.answer_body(&id, number, "approve");
    let (status, body) = device.send(&base, &id, &approval).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    // Replay: the captured approval again is refused; so is a forged signature.
    let (status, _) = device.send(&base, &id, &approval).await;
    assert_eq!(status, 409, "a replayed approval is refused");
    let mut forged = device.answer_body(&id, number, "approve");
    forged["signature"] = json!(URL_SAFE_NO_PAD.encode([7u8; 64]));
    assert_eq!(device.send(&base, &id, &forged).await.0, 401);
    let done = c.get(&waiting).await;
    assert_eq!(done.location.as_deref(), Some("/signin/complete"));
    assert_eq!(
        c.get("/signin/complete").await.location.as_deref(),
        Some("/")
    );

    // Three wrong numbers deny; an expired challenge cannot be approved.
    server.clock.advance(Duration::minutes(1));
    let mut d = Browser::new(&base);
    d.post(
        "/signin",
        &[("username", "pia"), ("password", new_password)],
    )
    .await;
    let waiting = d.get("/signin/push").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&d.get(&waiting).await.body);
    let wrong = if number == 99 { 98 } else { number + 1 };
    for left in [2, 1, 0] {
        let (_, body) = device
            .send(&base, &id, &device.answer_body(&id, wrong, "approve"))
            .await;
        assert_eq!(body["tries_left"], left);
    }
    let (status, _) = device
        .send(&base, &id, &device.answer_body(&id, number, "approve"))
        .await;
    assert_eq!(status, 409, "ended after three wrong numbers");
    assert!(
        d.get(&waiting)
            .await
            .body
            .contains("The request was denied")
    );
    let waiting = d.get("/signin/push").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&d.get(&waiting).await.body);
    server.clock.advance(Duration::seconds(61));
    let (status, _) = device
        .send(&base, &id, &device.answer_body(&id, number, "approve"))
        .await;
    assert_eq!(status, 409, "an expired challenge cannot be approved");
    assert!(d.get(&waiting).await.body.contains("This request expired"));

    // Deny and report writes a security event.
    let waiting = d.get("/signin/push").await.location.unwrap();
    let id = challenge_in(&waiting);
    let (status, body) = device
        .send(&base, &id, &device.answer_body(&id, 0, "report"))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("reported")));

    // Lost phone: an administrator resets the account's MFA; the next sign-in enrols again
    // and the device's answers are refused.
    let pia = tessera_core::admin::find_user(
        &server.app,
        &tessera_core::admin::PlatformAdmin::operator_at_cli(),
        "pia",
    )
    .await
    .unwrap();
    let reset = admin
        .post(&format!("/admin/users/{}/reset-mfa", pia.id), &[])
        .await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    let mut e = Browser::new(&base);
    let after = e
        .post(
            "/signin",
            &[("username", "pia"), ("password", new_password)],
        )
        .await;
    assert_eq!(
        after.location.as_deref(),
        Some("/signin/setup/authenticator")
    );
    let (status, _) = device
        .send(&base, &id, &device.answer_body(&id, 0, "deny"))
        .await;
    assert_eq!(status, 401, "a removed device is no longer registered");

    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "user.mfa_reset",
            "push.device_registered",
            "push.approved",
            "push.wrong_number",
            "push.wrong_numbers",
            "push.reported",
            "signin.push",
        ],
    );
    assert_chain_intact(&server).await;
}

/// A challenge created through node A is approved through node B (one PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_from_one_node_is_approved_through_another() {
    let a = TestServer::start(Backend::Postgres).await;
    let b_node = TestServer::start_on(
        a.app.db.clone(),
        Box::new(()),
        a.db_url.clone(),
        Options::default(),
    )
    .await;
    b_node.clock.set(tessera_domain::Clock::now(&a.clock));
    let mut admin = admin_browser(&a).await;
    let initial = pending_vendor(&a, &mut admin, "noa").await;
    let mut br = Browser::new(&a.base_url);
    br.post("/signin", &[("username", "noa"), ("password", &initial)])
        .await;
    let page = br.get("/signin/setup/push").await;
    let uri = unescape(&between(&page.body, "id=\"push-uri\">", "</code>").unwrap());
    // The app talks to node B only.
    let device = Device::enrol(&b_node.base_url, &uri).await;
    let waiting = br.get("/signin/setup/push/confirm").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&br.get(&waiting).await.body);
    b_node.clock.set(tessera_domain::Clock::now(&a.clock));
    assert_eq!(
        device.pending(&b_node.base_url, b_node.clock_now()).await,
        vec![id.clone()]
    );
    let (status, body) = device
        .send(
            &b_node.base_url,
            &id,
            &device.answer_body(&id, number, "approve"),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    // Node A's browser sees it and goes on.
    assert_eq!(
        br.get(&waiting).await.location.as_deref(),
        Some("/signin/setup/phone")
    );
}

/// `tessera authenticator <args>` (the real binary) with its key file, run off the async
/// workers (the servers under test run on them).
async fn cli_authenticator(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = tessera(dir);
    cmd.arg("authenticator")
        .args(args)
        .env("TESSERA_AUTHENTICATOR_FILE", dir.join("phone.json"));
    tokio::task::spawn_blocking(move || run(cmd, None))
        .await
        .unwrap()
}

/// The CLI failed with one `tessera: error:` line containing `needle`.
fn cli_refused(out: &Output, needle: &str) {
    assert_ne!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
    assert!(
        lines[0].starts_with("tessera: error: ") && lines[0].contains(needle),
        "{needle:?} in {}",
        out.stderr
    );
}

/// The binary signs its requests with the real time: both nodes' fake clocks are moved
/// to it (never back).
fn sync_clocks(nodes: &[&TestServer]) {
    let real = tessera_domain::Clock::now(&tessera_domain::SystemClock);
    let to = nodes
        .iter()
        .map(|n| tessera_domain::Clock::now(&n.clock))
        .fold(real, std::cmp::max);
    for n in nodes {
        n.clock.set(to);
    }
}

/// Issue 6, Done-when 2: the browser push flow with the challenge made through node A and
/// answered by the real `tessera authenticator` through node B. The nodes share one
/// PostgreSQL database but not a connection pool: B connects on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_answers_through_node_b_a_sign_in_started_on_node_a() {
    let (db, guard, url) = tessera_testkit::fresh_database(Backend::Postgres).await;
    let a = TestServer::start_on(db, guard, url.clone(), Options::default()).await;
    let own_pool: Arc<dyn Database> = Arc::new(PostgresDatabase::connect(&url).await.unwrap());
    let b = TestServer::start_on(own_pool, Box::new(()), url, Options::default()).await;
    assert!(!Arc::ptr_eq(&a.app.db, &b.app.db), "separate pools");
    assert_ne!(a.base_url, b.base_url);
    let nodes = [&a, &b];
    sync_clocks(&nodes);
    let mut admin = admin_browser(&a).await;
    let initial = pending_vendor(&a, &mut admin, "ola").await;
    let dir = temp_dir();

    // The wizard on node A shows the enrolment link; the CLI enrols through node B.
    let mut br = Browser::new(&a.base_url);
    let first = br
        .post("/signin", &[("username", "ola"), ("password", &initial)])
        .await;
    assert_eq!(
        first.location.as_deref(),
        Some("/signin/setup/authenticator")
    );
    let page = br.get("/signin/setup/push").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let uri = unescape(&between(&page.body, "id=\"push-uri\">", "</code>").unwrap());
    let token = url::Url::parse(&uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let via_b = format!(
        "tessera-push://enroll?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("server", &b.base_url)
            .append_pair("token", &token)
            .finish()
    );
    sync_clocks(&nodes);
    let out = cli_authenticator(dir.path(), &["enroll", &via_b, "--name", "CLI phone"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(" for ola at {}", b.base_url)),
        "{}",
        out.stdout
    );

    let key: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("phone.json")).unwrap())
            .unwrap();
    assert_eq!(
        key["server"],
        b.base_url.as_str(),
        "the CLI talks to node B only"
    );

    // The confirmation: node A shows the number, the CLI approves it through node B.
    let waiting = br.get("/signin/setup/push/confirm").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&br.get(&waiting).await.body);
    sync_clocks(&nodes);
    let out = cli_authenticator(dir.path(), &["approve", "--number", &number.to_string()]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!("approved challenge {id}")),
        "{}",
        out.stdout
    );
    assert_eq!(
        br.get(&waiting).await.location.as_deref(),
        Some("/signin/setup/phone")
    );
    // The rest of the wizard on node A: phone, new password.
    a.clock.advance(Duration::seconds(1));
    let sent = br
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", "91234567")],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let sms = latest_to(&a, "+6591234567", Channel::Sms).await;
    let code = between(&sms.body, "verification code is ", " ").unwrap();
    let phoned = br
        .post("/signin/setup/phone/verify", &[("code", &code)])
        .await;
    assert_eq!(phoned.location.as_deref(), Some("/signin/setup/password"));
    let password = "quartz lantern meadow 58 orbit";
    let reset = br
        .post(
            "/signin/setup/password",
            &[
                ("current_password", &initial),
                ("new_password", password),
                ("confirm_password", password),
            ],
        )
        .await;
    assert_eq!(
        reset.location.as_deref(),
        Some("/signin/complete"),
        "{}",
        reset.body
    );
    assert_eq!(
        br.get("/signin/complete").await.location.as_deref(),
        Some("/")
    );

    // A sign-in on node A: the number it shows, typed into the CLI against node B,
    // approves, and the browser on node A goes on to finish the sign-in.
    let start = |base: String| async move {
        let mut c = Browser::new(&base);
        let step = c
            .post("/signin", &[("username", "ola"), ("password", password)])
            .await;
        assert_eq!(step.location.as_deref(), Some("/signin/code"));
        assert_eq!(
            c.get("/signin/code").await.location.as_deref(),
            Some("/signin/push")
        );
        let waiting = c.get("/signin/push").await.location.unwrap();
        let number = number_on(&c.get(&waiting).await.body);
        (c, waiting, number)
    };
    sync_clocks(&nodes);
    let (mut c, waiting, number) = start(a.base_url.clone()).await;
    let id = challenge_in(&waiting);
    sync_clocks(&nodes);
    let out = cli_authenticator(dir.path(), &["list", "--json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["challenges"][0]["id"], id.as_str(), "{listed}");
    let out = cli_authenticator(dir.path(), &["approve", "--number", &number.to_string()]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!("approved challenge {id}")),
        "{}",
        out.stdout
    );
    assert_eq!(
        c.get(&waiting).await.location.as_deref(),
        Some("/signin/complete")
    );
    assert_eq!(
        c.get("/signin/complete").await.location.as_deref(),
        Some("/")
    );

    // A wrong number through node B is refused; after three the sign-in is denied, and
    // even the right number cannot approve it then.
    a.clock.advance(Duration::minutes(1));
    sync_clocks(&nodes);
    let (mut d, waiting, number) = start(a.base_url.clone()).await;
    let id = challenge_in(&waiting);
    let wrong = if number == 99 { 98 } else { number + 1 };
    for left in [
        "2 tries left",
        "1 try left",
        "no tries left, the sign-in is denied",
    ] {
        sync_clocks(&nodes);
        let out = cli_authenticator(
            dir.path(),
            &[
                "approve",
                "--challenge",
                &id,
                "--number",
                &wrong.to_string(),
            ],
        )
        .await;
        cli_refused(&out, &format!("wrong number for challenge {id}: {left}"));
    }
    let out = cli_authenticator(
        dir.path(),
        &[
            "approve",
            "--challenge",
            &id,
            "--number",
            &number.to_string(),
        ],
    )
    .await;
    cli_refused(&out, "is no longer open");
    assert!(
        d.get(&waiting)
            .await
            .body
            .contains("The request was denied")
    );

    // An expired challenge (both nodes' clocks past its minute) cannot be approved
    // through node B, which no longer lists it either. The CLI signs with the real time and
    // the server allows REQUEST_SKEW (120 s): the fake clocks, which earlier TOTP steps may
    // have moved ahead, must be within 55 s of real time before they jump 61 s.
    sync_clocks(&nodes);
    let lead = tessera_domain::Clock::now(&a.clock)
        - tessera_domain::Clock::now(&tessera_domain::SystemClock);
    if lead > Duration::seconds(55) {
        tokio::time::sleep(std::time::Duration::from_secs(
            (lead - Duration::seconds(55)).whole_seconds() as u64 + 1,
        ))
        .await;
    }
    let waiting = d.get("/signin/push").await.location.unwrap();
    let id = challenge_in(&waiting);
    let number = number_on(&d.get(&waiting).await.body);
    for n in nodes {
        n.clock.advance(Duration::seconds(61));
    }
    let out = cli_authenticator(
        dir.path(),
        &[
            "approve",
            "--challenge",
            &id,
            "--number",
            &number.to_string(),
        ],
    )
    .await;
    cli_refused(&out, "is no longer open");
    let out = cli_authenticator(dir.path(), &["list"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "no pending sign-in challenges");
    assert!(d.get(&waiting).await.body.contains("This request expired"));

    assert_has_actions(
        &audit_actions(&a).await,
        &[
            "push.device_registered",
            "push.approved",
            "push.wrong_number",
            "push.wrong_numbers",
            "signin.push",
        ],
    );
    assert_chain_intact(&a).await;
}
