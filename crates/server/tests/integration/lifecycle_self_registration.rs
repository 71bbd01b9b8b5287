//! Officer self-registration over real HTTP on both backends: agency, non-agency and
//! no-inbox addresses, the email code's five tries, the short form, the low-assurance
//! session, and an existing account told to sign in instead.

use crate::lifecycle::{
    admin_browser, assert_chain_intact, assert_has_actions, audit_actions, latest_to, outbox,
};
use crate::support::Browser;
use tessera_core::admin::PlatformAdmin;
use tessera_core::lifecycle::settings;
use tessera_domain::lifecycle::{AddressPattern, LifecycleSettings};
use tessera_domain::outbox::Channel;
use tessera_domain::user::{EmailAddress, UserState, UserType};
use tessera_testkit::{Backend, TestServer};

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
    an_agency_officer_registers_end_to_end,
    other_addresses_are_refused_with_their_reasons,
    the_sixth_code_is_refused_even_if_right,
);

async fn with_no_inbox(server: &TestServer) {
    let s = LifecycleSettings {
        agency_domains: vec![AddressPattern::parse("*.gov.sg").unwrap()],
        no_inbox: vec![AddressPattern::parse("*@litemail.gov.sg").unwrap()],
        ..LifecycleSettings::default()
    };
    settings::save(&server.app, &PlatformAdmin::operator_at_cli(), s, None)
        .await
        .unwrap();
}

/// The code in the newest code email to `to`.
async fn code_for(server: &TestServer, to: &str) -> String {
    let mail = latest_to(server, to, Channel::Email).await;
    mail.subject
        .strip_prefix("Your Tessera code is ")
        .unwrap_or_else(|| panic!("not a code email: {}", mail.subject))
        .to_owned()
}

async fn start(b: &mut Browser, email: &str) {
    let started = b.post("/get-started", &[("email", email)]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    assert_eq!(started.location.as_deref(), Some("/get-started/code"));
}

async fn an_agency_officer_registers_end_to_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    with_no_inbox(&server).await;
    let email = "Mei.Tan@tech.gov.sg";
    let mut b = Browser::new(&server.base_url);
    assert_eq!(b.get("/get-started").await.status, 200);
    start(&mut b, email).await;
    let code_page = b.get("/get-started/code").await;
    assert!(code_page.body.contains("Mei.Tan@tech.gov.sg"));
    // Skipping ahead to the form is not possible before the code.
    assert_eq!(
        b.get("/get-started/details").await.location.as_deref(),
        Some("/get-started/code")
    );
    let code = code_for(&server, email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = b.post("/get-started/code", &[("code", wrong)]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("4 tries left"), "{}", bad.body);
    let ok = b.post("/get-started/code", &[("code", &code)]).await;
    assert_eq!(
        ok.location.as_deref(),
        Some("/get-started/details"),
        "{}",
        ok.body
    );

    let form = |mobile: &'static str| {
        vec![
            ("given_name", "Mei"),
            ("family_name", "Tan"),
            ("mobile_country", "+65"),
            ("mobile", mobile),
            ("department", "Government Technology Agency"),
        ]
    };
    let bad = b.post("/get-started/details", &form("12")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"mobile-error\""));
    assert!(bad.body.contains("value=\"Government Technology Agency\""));
    let done = b.post("/get-started/details", &form("81234567")).await;
    assert_eq!(
        done.location.as_deref(),
        Some("/my-request"),
        "{}",
        done.body
    );

    // The low-assurance session shows the request, and nothing else.
    let mine = b.get("/my-request").await;
    assert_eq!(mine.status, 200);
    assert!(
        mine.body.contains("mei.tan") && mine.body.contains("Pending"),
        "{}",
        mine.body
    );
    assert_eq!(b.get("/").await.location.as_deref(), Some("/signin"));
    assert_eq!(b.get("/invitations").await.status, 303);

    let users = server
        .app
        .db
        .read()
        .await
        .unwrap()
        .users_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].state, UserState::Pending);
    assert_eq!(users[0].user_type, UserType::Officer);
    assert_eq!(users[0].username.as_str(), "mei.tan");
    let welcome = outbox(&server)
        .await
        .into_iter()
        .find(|m| m.subject == "Your Tessera username is mei.tan")
        .expect("the onboarding email");
    assert_eq!(welcome.recipient, "Mei.Tan@tech.gov.sg");
    assert!(
        welcome
            .body
            .contains("Use this username, not your email address")
    );
    let sms = latest_to(&server, "+6581234567", Channel::Sms).await;
    assert!(sms.body.contains("initial password"));

    // The same address again: the browser sees the usual page, the mailbox is told to
    // sign in, and no second account appears.
    let mut again = Browser::new(&server.base_url);
    start(&mut again, "mei.tan@TECH.gov.sg").await;
    let notice = latest_to(&server, "mei.tan@tech.gov.sg", Channel::Email).await;
    assert_eq!(notice.subject, "You already have a Tessera account");
    assert!(notice.body.contains("Your username is: mei.tan"));
    let count = server
        .app
        .db
        .read()
        .await
        .unwrap()
        .users_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);

    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "self_registration.code_sent",
            "self_registration.code_failed",
            "self_registration.code_verified",
            "self_registration.completed",
        ],
    );
    assert_chain_intact(&server).await;
}

async fn other_addresses_are_refused_with_their_reasons(backend: Backend) {
    let server = TestServer::start(backend).await;
    with_no_inbox(&server).await;
    let mut b = Browser::new(&server.base_url);
    let gmail = b.post("/get-started", &[("email", "mei@gmail.com")]).await;
    assert_eq!(gmail.status, 422);
    assert!(
        gmail
            .body
            .contains("Only public officers can register here"),
        "{}",
        gmail.body
    );
    assert!(gmail.body.contains("value=\"mei@gmail.com\""));
    let lite = b
        .post("/get-started", &[("email", "mei@litemail.gov.sg")])
        .await;
    assert_eq!(lite.status, 422);
    assert!(lite.body.contains("has no mailbox"), "{}", lite.body);
    assert!(lite.body.contains("standard mailbox"));
    let junk = b.post("/get-started", &[("email", "nope")]).await;
    assert_eq!(junk.status, 422);
    assert!(outbox(&server).await.is_empty(), "refusals send nothing");

    // Sponsors cannot invite a no-inbox address either.
    let mut admin = admin_browser(&server).await;
    let refused = admin
        .post("/invitations", &[("email", "vendor@litemail.gov.sg")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("has no mailbox"));
    assert_has_actions(
        &audit_actions(&server).await,
        &["self_registration.refused"],
    );
    assert_chain_intact(&server).await;
}

async fn the_sixth_code_is_refused_even_if_right(backend: Backend) {
    let server = TestServer::start(backend).await;
    let email = "raj@hdb.gov.sg";
    let mut b = Browser::new(&server.base_url);
    start(&mut b, email).await;
    let code = code_for(&server, email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let page = b.post("/get-started/code", &[("code", wrong)]).await;
        assert_eq!(page.status, 422);
        if left > 0 {
            assert!(
                page.body.contains(&format!("{left} tries left")),
                "{}",
                page.body
            );
        } else {
            assert!(page.body.contains("no tries are left"), "{}", page.body);
        }
    }
    let sixth = b.post("/get-started/code", &[("code", &code)]).await;
    assert_eq!(sixth.status, 422, "the right code, too late");
    assert!(
        sixth.body.contains("Too many wrong codes"),
        "{}",
        sixth.body
    );
    assert_eq!(
        b.get("/get-started/details").await.location.as_deref(),
        Some("/get-started?again=1")
    );
    // A new code cannot be sent for a spent request either.
    let resend = b.post("/get-started/resend", &[]).await;
    assert_eq!(resend.status, 429);
    assert!(resend.body.contains("Start again"), "{}", resend.body);
    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "self_registration.code_failed",
            "self_registration.code_refused",
        ],
    );
    assert_chain_intact(&server).await;
}
