//! The portal over real HTTP, on SQLite and on PostgreSQL: setup link, sign-in, admin pages,
//! outbox delivery to a real SMTP sink and SMS receiver.

use crate::support::{Browser, PASSWORD, setup_form, token_of};
use std::time::Duration;
use tessera_core::setup::issue_setup_link;
use tessera_domain::UserId;
use tessera_domain::outbox::{DeliveryStatus, NewMessage};
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_testkit::{Backend, Options, SmsReceiver, SmtpSink, TestServer};

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
    setup_link_creates_the_admin_once,
    setup_link_expires_after_an_hour,
    concurrent_setup_submits_create_one_admin,
    sign_in_reveals_nothing_and_sign_out_ends_the_session,
    non_admins_cannot_reach_admin_pages,
    outbox_delivers_email_and_sms_and_retries,
    test_email_form_rejects_bad_input,
    cross_site_posts_are_refused,
);

async fn setup_link(server: &TestServer) -> String {
    issue_setup_link(&server.app)
        .await
        .unwrap()
        .expect("no admin yet, so a link")
}

async fn with_admin(server: &TestServer) -> Browser {
    let token = token_of(&setup_link(server).await);
    let mut b = Browser::new(&server.base_url);
    let done = b
        .post("/setup", &setup_form(&token, "admin", PASSWORD))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        b.sign_in("admin", PASSWORD).await.location.as_deref(),
        Some("/admin")
    );
    b
}

async fn setup_link_creates_the_admin_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let link = setup_link(&server).await;
    assert!(link.starts_with(&server.base_url), "{link}");
    let token = token_of(&link);
    let mut b = Browser::new(&server.base_url);

    let form = b.get(&format!("/setup?token={token}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Set up Tessera"));

    // Bad input: the page comes back with each field's message and what was typed.
    let mut bad = setup_form(&token, "Ada@Agency", "something else entirely");
    bad[5] = ("mobile", "91234567");
    let again = b.post("/setup", &bad).await;
    assert_eq!(again.status, 422);
    assert!(
        again.body.contains("Use a username, not an email address."),
        "{}",
        again.body
    );
    assert!(again.body.contains("Start with + and the country code"));
    assert!(
        again.body.contains("value=\"Ada@Agency\""),
        "typed username kept"
    );
    assert!(!again.body.contains(PASSWORD), "a password was echoed back");
    let mismatch = b
        .post(
            "/setup",
            &setup_form(&token, "admin", "something else entirely"),
        )
        .await;
    assert!(mismatch.body.contains("The passwords do not match."));
    let weak = b
        .post(
            "/setup",
            &[
                ("token", token.as_str()),
                ("username", "admin"),
                ("given_name", "A"),
                ("family_name", "B"),
                ("email", "a@agency.gov.sg"),
                ("mobile", "+6591234567"),
                ("password", "admin is me 1234"),
                ("password_confirm", "admin is me 1234"),
            ],
        )
        .await;
    assert!(
        weak.body.contains("must not contain your username"),
        "{}",
        weak.body
    );

    let done = b
        .post("/setup", &setup_form(&token, "admin", PASSWORD))
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/signin?setup=done"))
    );

    // The link died with its use, and no new link is issued once an admin exists.
    assert_eq!(b.get(&format!("/setup?token={token}")).await.status, 410);
    assert_eq!(
        b.post("/setup", &setup_form(&token, "admin2", PASSWORD))
            .await
            .status,
        410
    );
    assert!(issue_setup_link(&server.app).await.unwrap().is_none());

    let signin = b.get("/signin?setup=done").await;
    assert!(signin.body.contains("Administrator created"));
    assert_eq!(
        b.sign_in("admin", PASSWORD).await.location.as_deref(),
        Some("/admin")
    );
    let home = b.get("/admin").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Administration"));

    // The welcome email is in the outbox, readable by the admin.
    let outbox = b.get("/admin/outbox").await;
    assert!(
        outbox.body.contains("Welcome to Tessera") && outbox.body.contains("ada@agency.gov.sg")
    );
    let mut r = server.app.db.read().await.unwrap();
    let messages = r.list_outbox(None, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    let message = b.get(&format!("/admin/outbox/{}", messages[0].id)).await;
    assert!(
        message.body.contains("Your username is: admin"),
        "{}",
        message.body
    );

    // Every step left an audit event.
    let actions: Vec<_> = r
        .audit_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.action)
        .collect();
    assert_eq!(
        actions,
        [
            "keys.create",
            "setup.link_issued",
            "setup.admin_created",
            "signin.password",
            "mfa.totp_enrolled",
            "signin.success"
        ]
    );
}

async fn setup_link_expires_after_an_hour(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = token_of(&setup_link(&server).await);
    let mut b = Browser::new(&server.base_url);
    server.clock.advance(time::Duration::minutes(59));
    assert_eq!(b.get(&format!("/setup?token={token}")).await.status, 200);
    server.clock.advance(time::Duration::minutes(2));
    let expired = b.get(&format!("/setup?token={token}")).await;
    assert_eq!(expired.status, 410);
    assert!(expired.body.contains("no longer valid"));
    assert_eq!(
        b.post("/setup", &setup_form(&token, "admin", PASSWORD))
            .await
            .status,
        410
    );
    assert_eq!(
        server
            .app
            .db
            .read()
            .await
            .unwrap()
            .count_users()
            .await
            .unwrap(),
        0
    );
}

async fn concurrent_setup_submits_create_one_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = token_of(&setup_link(&server).await);
    let mut tasks = Vec::new();
    for n in 0..20 {
        let base = server.base_url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let username = format!("admin{n}");
            Browser::new(&base)
                .post("/setup", &setup_form(&token, &username, PASSWORD))
                .await
                .status
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            303 => created += 1,
            410 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        server
            .app
            .db
            .read()
            .await
            .unwrap()
            .count_users()
            .await
            .unwrap(),
        1
    );
}

async fn sign_in_reveals_nothing_and_sign_out_ends_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = with_admin(&server).await;

    let mut stranger = Browser::new(&server.base_url);
    let wrong = stranger.sign_in("admin", "not the password at all").await;
    let unknown = stranger.sign_in("nobody", "not the password at all").await;
    let malformed = stranger.sign_in("no such user", "x").await;
    for page in [&wrong, &unknown, &malformed] {
        assert_eq!(page.status, 401);
        assert!(page.body.contains("Incorrect username or password."));
    }
    // An email address is not a username: the page says so, for anyone.
    let email = stranger.sign_in("ada@agency.gov.sg", "x").await;
    assert_eq!(email.status, 422);
    assert!(
        email.body.contains("not your email address"),
        "{}",
        email.body
    );
    assert!(
        wrong.body.contains("value=\"admin\""),
        "typed username kept"
    );
    assert_eq!(
        stranger.get("/admin").await.location.as_deref(),
        Some("/signin?next=/admin")
    );

    // After sign-in, `next` brings the user back; a foreign `next` is ignored.
    let mut b = Browser::new(&server.base_url);
    let back = b.sign_in_to("admin", PASSWORD, "/admin/outbox").await;
    assert_eq!(back.location.as_deref(), Some("/admin/outbox"));
    let mut c = Browser::new(&server.base_url);
    let away = c.sign_in_to("admin", PASSWORD, "//evil.example/").await;
    assert_eq!(away.location.as_deref(), Some("/admin"));

    let out = admin.post("/signout", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/signin"));
    assert_eq!(admin.get("/admin").await.status, 303);
    // The other browser's session is untouched.
    assert_eq!(b.get("/admin").await.status, 200);

    // Sessions end after 8 idle hours.
    server.clock.advance(time::Duration::hours(9));
    assert_eq!(b.get("/admin").await.status, 303);
}

async fn non_admins_cannot_reach_admin_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = &server.app;
    let now = app.clock.now();
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse("vendor1").unwrap(),
        given_name: "Grace".into(),
        family_name: "Hopper".into(),
        email: EmailAddress::parse("grace@vendor.example.com").unwrap(),
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

    let mut b = Browser::new(&server.base_url);
    assert_eq!(
        b.sign_in("vendor1", PASSWORD).await.location.as_deref(),
        Some("/")
    );
    let home = b.get("/").await;
    assert!(home.body.contains("Welcome, Grace Hopper"));
    for path in ["/admin", "/admin/outbox"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("Not allowed"));
        let rid = page
            .headers
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            page.body.contains(&rid),
            "error page carries the request id"
        );
    }
    assert_eq!(
        b.post("/admin/outbox/test", &[("to", "x@agency.gov.sg")])
            .await
            .status,
        403
    );
}

async fn outbox_delivers_email_and_sms_and_retries(backend: Backend) {
    let sink = SmtpSink::start().await;
    let sms = SmsReceiver::start().await;
    let server = TestServer::start_with(
        backend,
        Options {
            smtp_url: Some(sink.url()),
            sms_webhook_url: Some(sms.url()),
        },
    )
    .await;
    let mut b = with_admin(&server).await;

    let sent = b
        .post("/admin/outbox/test", &[("to", "ops@agency.gov.sg")])
        .await;
    assert_eq!(sent.status, 303);
    let id = sent
        .location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 2, "welcome and test email");
    let test = mails
        .iter()
        .find(|m| m.to == ["ops@agency.gov.sg"])
        .expect("test email");
    assert_eq!(
        test.message_id().as_deref(),
        Some(format!("<{id}@tessera.outbox>").as_str())
    );
    assert!(test.data.contains("email delivery works"));

    // SMS goes to the webhook as {"to","body"}.
    let app = &server.app;
    let mut tx = app.db.begin().await.unwrap();
    app.queue(
        tx.as_mut(),
        NewMessage::sms("+6591234567", "Your code is 123456"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sms.received().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = sms.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].to.as_str(), got[0].body.as_str()),
        ("+6591234567", "Your code is 123456")
    );

    // A failing recipient is retried with backoff, and the failure is recorded.
    let mut tx = app.db.begin().await.unwrap();
    let bad = app
        .queue(tx.as_mut(), NewMessage::email("not an address", "x", "y"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut failed = None;
    for _ in 0..200 {
        let m = app
            .db
            .read()
            .await
            .unwrap()
            .outbox_message(bad)
            .await
            .unwrap()
            .unwrap();
        if m.attempts >= 1 && m.last_error.is_some() {
            failed = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the bad message was attempted");
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert!(failed.next_attempt_at > app.clock.now());
    assert!(failed.last_error.unwrap().contains("invalid recipient"));
}

async fn test_email_form_rejects_bad_input(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut b = with_admin(&server).await;
    let page = b
        .post("/admin/outbox/test", &[("to", "not-an-email")])
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("Enter an email address like"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"not-an-email\""));
    let mut r = server.app.db.read().await.unwrap();
    assert_eq!(
        r.count_outbox(DeliveryStatus::Pending).await.unwrap(),
        1,
        "only the welcome email"
    );
}

async fn cross_site_posts_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = token_of(&setup_link(&server).await);
    let client = reqwest::Client::new();
    let attempt = client
        .post(server.url("/setup"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&setup_form(&token, "admin", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status().as_u16(), 403);
    assert_eq!(
        server
            .app
            .db
            .read()
            .await
            .unwrap()
            .count_users()
            .await
            .unwrap(),
        0
    );
}
