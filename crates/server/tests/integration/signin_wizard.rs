//! Issue 5, done-when 2 and 3, over real HTTP on both backends: the first-sign-in wizard
//! (authenticator, phone check, initial password, policies) in order, each step's bad
//! input with its message, no step reachable early, resumable; replayed TOTP codes; a new
//! Terms version asked at the next sign-in and audited; self-service password reset.

use crate::lifecycle::{
    admin_browser, assert_chain_intact, assert_has_actions, audit_actions, latest_to, outbox,
    registration,
};
use crate::support::{Browser, PASSWORD, between, token_of, totp};
use tessera_core::admin::{PlatformAdmin, find_user};
use tessera_domain::UserId;
use tessera_domain::outbox::Channel;
use tessera_domain::user::{EmailAddress, MobileNumber, User, UserState, UserType, Username};
use tessera_testkit::{Backend, TestServer};
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
    pending_account_walks_every_wizard_step_in_order,
    later_steps_are_not_reachable_early,
    the_wizard_resumes_where_it_was_left,
    a_new_terms_version_is_asked_at_the_next_sign_in,
    self_service_reset_ends_every_session,
    posting_a_later_step_early_changes_nothing,
    the_password_alone_changes_no_credential,
    phone_step_shows_why_a_code_is_refused,
);

/// A strong password none of the accounts here contains.
const NEW_PASSWORD: &str = "velvet tundra orbit 97 pancake";
const MOBILE: &str = "98765432";
const E164: &str = "+6598765432";

/// The registration link in the newest invitation email to `to`.
async fn invitation_link(server: &TestServer, to: &str) -> String {
    let mail = latest_to(server, to, Channel::Email).await;
    let start = mail
        .body
        .find("/register?token=")
        .unwrap_or_else(|| panic!("no link in {}", mail.body));
    mail.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A pending account made the way people get one: invited, then registered. Returns the
/// initial password from the SMS.
async fn pending_account(server: &TestServer, admin: &mut Browser, username: &str) -> String {
    let to = format!("{username}@vendor.example.com");
    let sent = admin.post("/invitations", &[("email", to.as_str())]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let token = token_of(&invitation_link(server, &to).await);
    let done = Browser::new(&server.base_url)
        .post("/register", &registration(&token, username, MOBILE))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let sms = outbox(server)
        .await
        .into_iter()
        .find(|m| m.recipient == E164 && m.body.contains("initial password is "))
        .expect("the initial password by SMS");
    sms.body
        .split("initial password is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned()
}

/// An active account with a registered (unverified) mobile, straight into the store.
async fn active_account(server: &TestServer, username: &str, mobile: Option<&str>) -> User {
    let app = &server.app;
    let now = app.clock.now();
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse(username).unwrap(),
        given_name: "Rosa".into(),
        family_name: "Parks".into(),
        email: EmailAddress::parse(&format!("{username}@vendor.example.com")).unwrap(),
        mobile: mobile.map(|m| MobileNumber::parse(m).unwrap()),
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

/// The audit actions that target `user`, newest first.
async fn actions_for(server: &TestServer, user: &User) -> Vec<String> {
    let cap = PlatformAdmin::operator_at_cli();
    let target = format!("user:{}", user.id);
    tessera_core::audit::newest(&server.app, &cap, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.target.as_deref() == Some(target.as_str()))
        .map(|r| r.event.action)
        .collect()
}

async fn user(server: &TestServer, username: &str) -> User {
    find_user(&server.app, &PlatformAdmin::operator_at_cli(), username)
        .await
        .unwrap()
}

async fn publish(admin: &mut Browser, kind: &str, title: &str, body: &str) {
    let r = admin
        .post(
            "/admin/policies",
            &[("kind", kind), ("title", title), ("body", body)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location
            .as_deref()
            .unwrap_or("")
            .starts_with("/admin/policies?published="),
        "{:?}",
        r.location
    );
}

async fn publish_privacy_and_terms(admin: &mut Browser) {
    publish(
        admin,
        "privacy",
        "Privacy Policy",
        "# Privacy\n\nWe keep **only** what we need.",
    )
    .await;
    publish(
        admin,
        "terms",
        "Terms of Use",
        "# Terms\n\nUse Tessera for official work.",
    )
    .await;
}

/// The newest SMS verification code sent to `number` (codes sent at one fake instant have
/// no order among themselves: tests move the clock between sends).
async fn sms_code(server: &TestServer, number: &str) -> String {
    let m = outbox(server)
        .await
        .into_iter()
        .filter(|m| {
            m.channel == Channel::Sms
                && m.recipient == number
                && m.body.contains("verification code is ")
        })
        .max_by_key(|m| m.created_at)
        .unwrap_or_else(|| panic!("no verification code to {number}"));
    m.body
        .split("verification code is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned()
}

async fn sms_code_count(server: &TestServer, number: &str) -> usize {
    outbox(server)
        .await
        .into_iter()
        .filter(|m| m.recipient == number && m.body.contains("verification code is "))
        .count()
}

/// A six-digit code that is certainly not `right`.
fn wrong_six(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 500_001) % 1_000_000)
}

/// A TOTP code no step within the server's drift window accepts.
fn wrong_totp(base: &str, username: &str) -> String {
    let near: Vec<String> = (-2..=2).map(|o| totp::code_at(base, username, o)).collect();
    (0..)
        .map(|i| format!("{:06}", (123_457 + i * 7_919) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Reads the enrolment page's key and registers it with the test authenticator.
async fn read_key(b: &mut Browser, username: &str) {
    let page = b.get("/signin/setup/authenticator").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Step 1 of 4"), "{}", page.body);
    assert!(page.body.contains("<svg"), "an inline QR code");
    assert!(page.body.contains("otpauth:"), "the setup link is shown");
    let key = between(&page.body, "id=\"totp-key\">", "</code>").expect("the key as text");
    totp::remember(&b.base, username, &key);
}

/// Username then password; returns the redirect after the password.
async fn password_step(b: &mut Browser, username: &str, password: &str) -> Option<String> {
    let first = b.post("/signin", &[("username", username)]).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(first.location.as_deref(), Some("/signin/password"));
    let page = b.get("/signin/password").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(username), "{}", page.body);
    b.post("/signin/password", &[("password", password)])
        .await
        .location
}

/// Follows the finished sign-in: the session cookie, then where it began.
async fn complete(b: &mut Browser) -> String {
    let done = b.get("/signin/complete").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        b.cookie_for_tests().contains("tessera_session="),
        "a session cookie: {}",
        b.cookie_for_tests()
    );
    done.location.unwrap()
}

/// The phone step, done right: a code sent to the registered number and typed.
async fn verify_phone(server: &TestServer, b: &mut Browser) -> Option<String> {
    let sent = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", MOBILE)],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let code = sms_code(server, E164).await;
    b.post("/signin/setup/phone/verify", &[("code", code.as_str())])
        .await
        .location
}

async fn accept(b: &mut Browser, kind: &str, version: &str) -> Option<String> {
    b.post(
        "/signin/setup/policies",
        &[("kind", kind), ("version", version), ("accept", "yes")],
    )
    .await
    .location
}

/// Done-when 2 (every step, every bad input) and the end of done-when 1's path.
async fn pending_account_walks_every_wizard_step_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    publish_privacy_and_terms(&mut admin).await;
    let initial = pending_account(&server, &mut admin, "lin").await;
    assert_eq!(user(&server, "lin").await.state, UserState::Pending);

    let mut b = Browser::new(&base);
    assert_eq!(
        password_step(&mut b, "lin", &initial).await.as_deref(),
        Some("/signin/setup/authenticator")
    );

    // 1. Authenticator: a wrong code keeps the step, with its message; the same key is shown.
    read_key(&mut b, "lin").await;
    let key_before = between(
        &b.get("/signin/setup/authenticator").await.body,
        "id=\"totp-key\">",
        "</code>",
    );
    let wrong = b
        .post(
            "/signin/setup/authenticator",
            &[("code", wrong_totp(&base, "lin").as_str())],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains("That code is not right. Check the time on your phone"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("Set up your authenticator app"));
    assert_eq!(
        between(&wrong.body, "id=\"totp-key\">", "</code>"),
        key_before,
        "a wrong code keeps the key being enrolled"
    );
    let empty = b.post("/signin/setup/authenticator", &[("code", "")]).await;
    assert_eq!(empty.status, 422);
    let right = b
        .post(
            "/signin/setup/authenticator",
            &[("code", totp::next_code(&base, "lin").as_str())],
        )
        .await;
    assert_eq!(
        right.location.as_deref(),
        Some("/signin/setup/phone"),
        "{}",
        right.body
    );

    // 2. Phone: prefilled with the registered number; five tries; a throttled resend.
    let page = b.get("/signin/setup/phone").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Step 2 of 4"));
    // Prefilled either whole or split into the country code and the national number.
    let whole = page.body.contains(&format!("value=\"{E164}\""));
    let split = page.body.contains(&format!("value=\"{MOBILE}\""))
        && page.body.contains("value=\"+65\" selected");
    assert!(
        whole || split,
        "the registered mobile is prefilled: {}",
        page.body
    );
    assert!(
        !page.body.contains("/signin/setup/phone/verify")
            && !page
                .body
                .contains("&#x2f;signin&#x2f;setup&#x2f;phone&#x2f;verify"),
        "no code field before a code was sent"
    );
    let too_early = b
        .post("/signin/setup/phone/verify", &[("code", "123456")])
        .await;
    assert_eq!(too_early.status, 422);
    assert!(too_early.body.contains("Verify your mobile number"));
    let sent = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", MOBILE)],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body.contains("We sent a six-digit code by SMS"),
        "{}",
        sent.body
    );
    assert!(sent.body.contains(E164), "names where the code went");
    let first_code = sms_code(&server, E164).await;
    assert_eq!(first_code.len(), 6);
    let bad = wrong_six(&first_code);
    for left in (1..=4).rev() {
        let r = b
            .post("/signin/setup/phone/verify", &[("code", bad.as_str())])
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.body
                .contains(&format!("That code is not right. {left} tries left.")),
            "{left} left: {}",
            r.body
        );
    }
    let fifth = b
        .post("/signin/setup/phone/verify", &[("code", bad.as_str())])
        .await;
    assert_eq!(fifth.status, 422);
    assert!(fifth.body.contains("Verify your mobile number"));
    // (What the fifth and sixth refusals say: `phone_step_shows_why_a_code_is_refused`.)
    let sixth = b
        .post(
            "/signin/setup/phone/verify",
            &[("code", first_code.as_str())],
        )
        .await;
    assert_eq!(sixth.status, 422, "the 6th try, even right, is refused");
    assert!(sixth.location.is_none());
    assert_eq!(
        b.get("/signin/setup/phone").await.status,
        200,
        "still on the phone step"
    );
    assert!(user(&server, "lin").await.phone_verified_at.is_none());
    // The resend is throttled.
    let throttled = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", MOBILE)],
        )
        .await;
    assert_eq!(throttled.status, 422, "{}", throttled.body);
    assert!(
        throttled.body.contains("before asking for another code"),
        "{}",
        throttled.body
    );
    assert_eq!(sms_code_count(&server, E164).await, 1);
    server.clock.advance(Duration::seconds(61));
    let resent = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", MOBILE)],
        )
        .await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(sms_code_count(&server, E164).await, 2);
    let second_code = sms_code(&server, E164).await;
    let verified = b
        .post(
            "/signin/setup/phone/verify",
            &[("code", second_code.as_str())],
        )
        .await;
    assert_eq!(
        verified.location.as_deref(),
        Some("/signin/setup/password"),
        "{}",
        verified.body
    );

    // 3. The initial password: each rule's message.
    let page = b.get("/signin/setup/password").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Step 3 of 4"));
    let try_password = |current: &str, new: &str, confirm: &str| {
        vec![
            ("current_password", current.to_owned()),
            ("new_password", new.to_owned()),
            ("confirm_password", confirm.to_owned()),
        ]
    };
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            try_password(&initial, "short pw 1", "short pw 1"),
            "Use at least 12 characters.",
        ),
        (
            try_password(&initial, "password1234", "password1234"),
            "Choose a stronger password",
        ),
        (
            try_password(&initial, "Lin quantum harbor 42", "Lin quantum harbor 42"),
            "Your password must not contain your username.",
        ),
        (
            try_password(&initial, NEW_PASSWORD, "velvet tundra orbit 97 pancakes"),
            "The new passwords do not match.",
        ),
        (
            try_password(&initial, &initial, &initial),
            "Choose a password different from the current one.",
        ),
        (
            try_password("not the initial one", NEW_PASSWORD, NEW_PASSWORD),
            "This is not your current password.",
        ),
    ];
    for (form, message) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/signin/setup/password", &form).await;
        assert_eq!(r.status, 422, "{message}: {}", r.body);
        assert!(r.body.contains(message), "{message}: {}", r.body);
        assert!(r.body.contains("Choose your password"), "stays on the step");
    }
    assert!(user(&server, "lin").await.password_is_initial);
    let changed = b
        .post(
            "/signin/setup/password",
            &[
                ("current_password", initial.as_str()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/signin/setup/policies"),
        "{}",
        changed.body
    );

    // 4. Policies, Privacy then Terms; an unticked box keeps the step.
    let privacy = b.get("/signin/setup/policies").await;
    assert_eq!(privacy.status, 200);
    assert!(privacy.body.contains("Step 4 of 4"));
    assert!(
        privacy.body.contains("Privacy Policy (version 1)"),
        "{}",
        privacy.body
    );
    assert!(
        privacy.body.contains("<strong>only</strong>"),
        "Markdown rendered"
    );
    let unticked = b
        .post(
            "/signin/setup/policies",
            &[("kind", "privacy"), ("version", "1")],
        )
        .await;
    assert_eq!(unticked.status, 422, "{}", unticked.body);
    assert!(
        unticked
            .body
            .contains("Tick the box to confirm you have read and accept the Privacy Policy."),
        "{}",
        unticked.body
    );
    assert_eq!(
        accept(&mut b, "privacy", "1").await.as_deref(),
        Some("/signin/setup/policies")
    );
    let terms = b.get("/signin/setup/policies").await;
    assert!(
        terms.body.contains("Terms of Use (version 1)"),
        "{}",
        terms.body
    );
    let unticked = b
        .post(
            "/signin/setup/policies",
            &[("kind", "terms"), ("version", "1")],
        )
        .await;
    assert_eq!(unticked.status, 422);
    assert!(unticked.body.contains("accept the Terms of Use."));
    assert_eq!(
        accept(&mut b, "terms", "1").await.as_deref(),
        Some("/signin/complete")
    );

    // Done: a session, an active account, and the audit trail.
    assert_eq!(complete(&mut b).await, "/");
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Welcome, Grace Hopper"), "{}", home.body);
    let lin = user(&server, "lin").await;
    assert_eq!(lin.state, UserState::Active);
    assert!(lin.activation_deadline.is_none());
    assert!(lin.phone_verified_at.is_some());
    assert!(!lin.password_is_initial);
    assert_eq!(lin.mobile.as_ref().map(|m| m.as_str()), Some(E164));
    let actions = audit_actions(&server).await;
    assert_has_actions(
        &actions,
        &[
            "mfa.totp_enrolled",
            "phone.code_sent",
            "phone.code_failed",
            "phone.verified",
            "password.initial_replaced",
            "policy.accepted",
            "user.activated",
            "signin.success",
        ],
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "policy.accepted").count(),
        2
    );
    assert_chain_intact(&server).await;

    // The next sign-in asks only the password and a TOTP code; a replayed code is refused.
    let mut again = Browser::new(&base);
    assert_eq!(
        password_step(&mut again, "lin", &initial).await,
        None,
        "the initial password no longer works"
    );
    let refused = again
        .post("/signin/password", &[("password", initial.as_str())])
        .await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Incorrect username or password."));
    let mut again = Browser::new(&base);
    assert_eq!(
        password_step(&mut again, "lin", NEW_PASSWORD)
            .await
            .as_deref(),
        Some("/signin/code")
    );
    assert_eq!(again.get("/signin/code").await.status, 200);
    let wrong = again
        .post(
            "/signin/code",
            &[("code", wrong_totp(&base, "lin").as_str())],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("That code is not right"),
        "{}",
        wrong.body
    );
    let code = totp::next_code(&base, "lin");
    let ok = again.post("/signin/code", &[("code", code.as_str())]).await;
    assert_eq!(
        ok.location.as_deref(),
        Some("/signin/complete"),
        "no wizard step on the next sign-in: {}",
        ok.body
    );
    assert_eq!(complete(&mut again).await, "/");
    // The code that just signed in is refused at the next sign-in.
    let mut third = Browser::new(&base);
    assert_eq!(
        password_step(&mut third, "lin", NEW_PASSWORD)
            .await
            .as_deref(),
        Some("/signin/code")
    );
    let replay = third.post("/signin/code", &[("code", code.as_str())]).await;
    assert_eq!(replay.status, 422, "a replayed TOTP code: {}", replay.body);
    assert!(replay.body.contains("was used already"));
    assert_eq!(
        third.get("/signin/complete").await.location.as_deref(),
        Some("/signin/code"),
        "no session without the second factor"
    );
}

/// Done-when 2: visiting a later step's URL early lands on the current step.
async fn later_steps_are_not_reachable_early(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    publish_privacy_and_terms(&mut admin).await;
    let initial = pending_account(&server, &mut admin, "kai").await;

    // Before the password, every step sends to the password page.
    let mut b = Browser::new(&base);
    let r = b.post("/signin", &[("username", "kai")]).await;
    assert_eq!(r.location.as_deref(), Some("/signin/password"));
    for path in [
        "/signin/code",
        "/signin/setup/authenticator",
        "/signin/setup/phone",
        "/signin/setup/password",
        "/signin/setup/policies",
        "/signin/complete",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.location.as_deref(), Some("/signin/password"), "{path}");
    }
    let r = b
        .post("/signin/password", &[("password", initial.as_str())])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/authenticator"));

    let expect_at = async |b: &mut Browser, here: &str, later: &[&str]| {
        for path in later {
            let r = b.get(path).await;
            assert_eq!(r.status, 303, "{path}: {}", r.body);
            assert_eq!(r.location.as_deref(), Some(here), "{path} while at {here}");
        }
        assert_eq!(b.get(here).await.status, 200, "{here}");
    };
    expect_at(
        &mut b,
        "/signin/setup/authenticator",
        &[
            "/signin/code",
            "/signin/setup/phone",
            "/signin/setup/password",
            "/signin/setup/policies",
            "/signin/complete",
        ],
    )
    .await;
    read_key(&mut b, "kai").await;
    let code = totp::next_code(&base, "kai");
    b.post("/signin/setup/authenticator", &[("code", code.as_str())])
        .await;
    expect_at(
        &mut b,
        "/signin/setup/phone",
        &[
            "/signin/code",
            "/signin/setup/authenticator",
            "/signin/setup/password",
            "/signin/setup/policies",
            "/signin/complete",
        ],
    )
    .await;
    assert_eq!(
        verify_phone(&server, &mut b).await.as_deref(),
        Some("/signin/setup/password")
    );
    expect_at(
        &mut b,
        "/signin/setup/password",
        &[
            "/signin/setup/authenticator",
            "/signin/setup/phone",
            "/signin/setup/policies",
            "/signin/complete",
        ],
    )
    .await;
    let r = b
        .post(
            "/signin/setup/password",
            &[
                ("current_password", initial.as_str()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/policies"));
    expect_at(
        &mut b,
        "/signin/setup/policies",
        &[
            "/signin/setup/authenticator",
            "/signin/setup/phone",
            "/signin/setup/password",
            "/signin/complete",
        ],
    )
    .await;
    // Accepting a version that is not the one asked now does not skip it.
    let r = accept(&mut b, "terms", "1").await;
    assert_eq!(r.as_deref(), Some("/signin/setup/policies"));
    let page = b.get("/signin/setup/policies").await;
    assert!(
        page.body.contains("Privacy Policy (version 1)"),
        "Privacy first: {}",
        page.body
    );
    accept(&mut b, "privacy", "1").await;
    let r = b.get("/signin/setup/policies").await;
    // Whether or not the early Terms acceptance counted, the order ends at completion.
    if r.status == 200 {
        assert!(r.body.contains("Terms of Use"));
        accept(&mut b, "terms", "1").await;
    }
    assert_eq!(complete(&mut b).await, "/");
    assert_eq!(user(&server, "kai").await.state, UserState::Active);
}

/// Done-when 2: posting a later step's form early changes nothing.
async fn posting_a_later_step_early_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    publish_privacy_and_terms(&mut admin).await;
    let initial = pending_account(&server, &mut admin, "noa").await;
    let mut b = Browser::new(&base);
    assert_eq!(
        password_step(&mut b, "noa", &initial).await.as_deref(),
        Some("/signin/setup/authenticator")
    );
    let audit_before = audit_actions(&server).await.len();
    let sms_before = sms_code_count(&server, E164).await;

    let posts: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "/signin/setup/phone",
            vec![("mobile_country", "+65"), ("mobile", MOBILE)],
        ),
        ("/signin/setup/phone/verify", vec![("code", "123456")]),
        (
            "/signin/setup/password",
            vec![
                ("current_password", initial.as_str()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        ),
        (
            "/signin/setup/policies",
            vec![("kind", "privacy"), ("version", "1"), ("accept", "yes")],
        ),
    ];
    let mut failures = Vec::new();
    for (path, form) in &posts {
        let r = b.post(path, form).await;
        if !(r.status == 303 && r.location.as_deref() == Some("/signin/setup/authenticator")) {
            failures.push(format!(
                "POST {path}: {} {:?} (expected a redirect to the current step)",
                r.status, r.location
            ));
        }
    }
    let noa = user(&server, "noa").await;
    if !noa.password_is_initial {
        failures.push("POST /signin/setup/password early replaced the initial password".into());
    }
    if noa.phone_verified_at.is_some() {
        failures.push("the phone counts as verified".into());
    }
    let sms_after = sms_code_count(&server, E164).await;
    if sms_after != sms_before {
        failures.push(format!(
            "POST /signin/setup/phone early sent {} SMS code(s)",
            sms_after - sms_before
        ));
    }
    let new_actions: Vec<String> = {
        let all = audit_actions(&server).await;
        // `newest` lists newest first.
        all[..all.len() - audit_before].to_vec()
    };
    for action in [
        "policy.accepted",
        "password.initial_replaced",
        "phone.code_sent",
    ] {
        if new_actions.iter().any(|a| a == action) {
            failures.push(format!("an early post recorded {action}"));
        }
    }
    // Still at step 1.
    assert_eq!(
        b.get("/signin/setup/phone").await.location.as_deref(),
        Some("/signin/setup/authenticator")
    );
    assert!(
        failures.is_empty(),
        "early posts changed state:\n{}",
        failures.join("\n")
    );
}

/// Resumable: quit after a step, and the next sign-in continues at the next one.
async fn the_wizard_resumes_where_it_was_left(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    publish_privacy_and_terms(&mut admin).await;
    let initial = pending_account(&server, &mut admin, "ines").await;

    // Quit after the authenticator step.
    {
        let mut b = Browser::new(&base);
        password_step(&mut b, "ines", &initial).await;
        read_key(&mut b, "ines").await;
        let code = totp::next_code(&base, "ines");
        let r = b
            .post("/signin/setup/authenticator", &[("code", code.as_str())])
            .await;
        assert_eq!(r.location.as_deref(), Some("/signin/setup/phone"));
    }
    // Back: the code of the enrolled app (no new enrolment), then the phone step.
    let mut b = Browser::new(&base);
    assert_eq!(
        password_step(&mut b, "ines", &initial).await.as_deref(),
        Some("/signin/code"),
        "asks for a TOTP code, not a new enrolment"
    );
    assert_eq!(
        b.get("/signin/setup/authenticator")
            .await
            .location
            .as_deref(),
        Some("/signin/code")
    );
    let code = totp::next_code(&base, "ines");
    let r = b.post("/signin/code", &[("code", code.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/phone"));
    assert_eq!(
        verify_phone(&server, &mut b).await.as_deref(),
        Some("/signin/setup/password")
    );
    drop(b);

    // Quit after the phone step: back at the password step.
    let mut b = Browser::new(&base);
    let r = b.sign_in("ines", &initial).await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/password"));
    let r = b
        .post(
            "/signin/setup/password",
            &[
                ("current_password", initial.as_str()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/policies"));
    assert_eq!(
        accept(&mut b, "privacy", "1").await.as_deref(),
        Some("/signin/setup/policies")
    );
    drop(b);

    // Quit after one policy: the new password now, and only the Terms are left.
    let mut b = Browser::new(&base);
    let r = b.sign_in("ines", NEW_PASSWORD).await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/policies"));
    let page = b.get("/signin/setup/policies").await;
    assert!(
        page.body.contains("Terms of Use (version 1)"),
        "{}",
        page.body
    );
    assert_eq!(
        accept(&mut b, "terms", "1").await.as_deref(),
        Some("/signin/complete")
    );
    assert_eq!(complete(&mut b).await, "/");
    let ines = user(&server, "ines").await;
    assert_eq!(ines.state, UserState::Active);
    let audit = actions_for(&server, &ines).await;
    assert_eq!(
        audit.iter().filter(|a| *a == "mfa.totp_enrolled").count(),
        1,
        "enrolled once"
    );
    assert_eq!(audit.iter().filter(|a| *a == "user.activated").count(), 1);
}

/// Done-when 3: a new Terms version makes the next sign-in ask for it; audited.
async fn a_new_terms_version_is_asked_at_the_next_sign_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    publish_privacy_and_terms(&mut admin).await;
    active_account(&server, "vera", None).await;

    let mut b = Browser::new(&base);
    let r = b.sign_in("vera", PASSWORD).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/signin/setup/policies"),
        "an active account accepts current policies too"
    );
    accept(&mut b, "privacy", "1").await;
    assert_eq!(
        accept(&mut b, "terms", "1").await.as_deref(),
        Some("/signin/complete")
    );
    assert_eq!(complete(&mut b).await, "/");

    // Nothing new: the next sign-in goes straight through.
    let mut plain = Browser::new(&base);
    assert_eq!(
        plain.sign_in("vera", PASSWORD).await.location.as_deref(),
        Some("/")
    );

    server.clock.advance(Duration::minutes(1));
    publish(
        &mut admin,
        "terms",
        "Terms of Use",
        "# Terms\n\nVersion two: *new* rules.",
    )
    .await;
    let listed = admin.get("/admin/policies").await;
    assert!(listed.body.contains("Version two"), "{}", listed.body);

    // The next sign-in stops at the new Terms (and only those).
    let mut next = Browser::new(&base);
    let r = next.sign_in("vera", PASSWORD).await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/policies"));
    let page = next.get("/signin/setup/policies").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Terms of Use (version 2)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<em>new</em>"));
    assert_eq!(
        next.get("/signin/complete").await.location.as_deref(),
        Some("/signin/setup/policies"),
        "no session before accepting"
    );
    // Accepting the old version does nothing.
    assert_eq!(
        accept(&mut next, "terms", "1").await.as_deref(),
        Some("/signin/setup/policies")
    );
    let unticked = next
        .post(
            "/signin/setup/policies",
            &[("kind", "terms"), ("version", "2")],
        )
        .await;
    assert_eq!(unticked.status, 422);
    assert_eq!(
        accept(&mut next, "terms", "2").await.as_deref(),
        Some("/signin/complete")
    );
    assert_eq!(complete(&mut next).await, "/");

    let cap = PlatformAdmin::operator_at_cli();
    let records = tessera_core::audit::newest(&server.app, &cap, None, 1000)
        .await
        .unwrap();
    let vera = user(&server, "vera").await;
    let accepted: Vec<serde_json::Value> = records
        .iter()
        .filter(|r| {
            r.event.action == "policy.accepted"
                && r.event.target.as_deref() == Some(&format!("user:{}", vera.id))
        })
        .map(|r| serde_json::from_str(&r.event.detail).unwrap())
        .collect();
    assert_eq!(accepted.len(), 3, "{accepted:?}");
    assert!(
        accepted
            .iter()
            .any(|d| d["kind"] == "terms" && d["version"] == 2),
        "the new version's acceptance is audited: {accepted:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.event.action == "policy.published"
                && r.event.detail.contains("\"version\":2")),
        "the publication is audited"
    );
    assert_chain_intact(&server).await;

    // Accepted: the sign-in after goes straight through again.
    let mut after = Browser::new(&base);
    assert_eq!(
        after.sign_in("vera", PASSWORD).await.location.as_deref(),
        Some("/")
    );
}

/// Self-service password reset: SMS code → authenticator → new password; every session
/// ends; an unknown username walks the same pages and never succeeds.
async fn self_service_reset_ends_every_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let number = "+6590001111";
    active_account(&server, "rosa", Some(number)).await;
    let mut signed_in = Browser::new(&base);
    assert_eq!(
        signed_in
            .sign_in("rosa", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/")
    );
    assert_eq!(signed_in.get("/").await.status, 200);

    let mut b = Browser::new(&base);
    let start = b.get("/signin/forgot").await;
    assert_eq!(start.status, 200);
    assert!(start.body.contains("Reset your password"));
    let r = b.post("/signin/forgot", &[("username", "rosa")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/signin/forgot/code"));
    for later in ["/signin/forgot/authenticator", "/signin/forgot/password"] {
        assert_eq!(
            b.get(later).await.location.as_deref(),
            Some("/signin/forgot/code"),
            "{later} early"
        );
    }
    let early = b
        .post(
            "/signin/forgot/password",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_ne!(early.location.as_deref(), Some("/signin?reset=1"));
    let code_page = b.get("/signin/forgot/code").await;
    assert_eq!(code_page.status, 200);
    let code = sms_code(&server, number).await;
    let wrong = b
        .post(
            "/signin/forgot/code",
            &[("code", wrong_six(&code).as_str())],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("That code is not right, or it has expired."),
        "{}",
        wrong.body
    );
    let r = b
        .post("/signin/forgot/code", &[("code", code.as_str())])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/forgot/authenticator"));
    assert_eq!(
        b.get("/signin/forgot/password").await.location.as_deref(),
        Some("/signin/forgot/authenticator")
    );
    let wrong = b
        .post(
            "/signin/forgot/authenticator",
            &[("code", wrong_totp(&base, "rosa").as_str())],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("That code is not right, or was used already.")
    );
    let otp = totp::next_code(&base, "rosa");
    let r = b
        .post("/signin/forgot/authenticator", &[("code", otp.as_str())])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/forgot/password"));
    assert_eq!(b.get("/signin/forgot/password").await.status, 200);
    for (new, confirm, message) in [
        ("short pw 1", "short pw 1", "Use at least 12 characters."),
        ("password1234", "password1234", "Choose a stronger password"),
        (
            NEW_PASSWORD,
            "velvet tundra orbit 97 pancakes",
            "The new passwords do not match.",
        ),
    ] {
        let r = b
            .post(
                "/signin/forgot/password",
                &[("new_password", new), ("confirm_password", confirm)],
            )
            .await;
        assert_eq!(r.status, 422, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    let done = b
        .post(
            "/signin/forgot/password",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/signin?reset=1"),
        "{}",
        done.body
    );
    let notice = b.get("/signin?reset=1").await;
    assert!(
        notice.body.contains("every session ended"),
        "{}",
        notice.body
    );

    // Every session ended; the old password fails, the new one works.
    assert_eq!(
        signed_in.get("/").await.location.as_deref(),
        Some("/signin"),
        "the signed-in browser is signed out"
    );
    let old = Browser::new(&base).sign_in("rosa", PASSWORD).await;
    assert_eq!(old.status, 401, "the old password no longer works");
    assert_eq!(
        Browser::new(&base)
            .sign_in("rosa", NEW_PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/")
    );
    let mail = latest_to(&server, "rosa@vendor.example.com", Channel::Email).await;
    assert_eq!(mail.subject, "Your Tessera password was changed");
    // The reset flow is used up.
    assert_eq!(
        b.get("/signin/forgot/password").await.location.as_deref(),
        Some("/signin/forgot?expired=1")
    );

    // An unknown username: the same pages, no SMS, never a success.
    let messages_before = outbox(&server).await.len();
    let mut ghost = Browser::new(&base);
    let r = ghost.post("/signin/forgot", &[("username", "ghost")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/signin/forgot/code"));
    let page = ghost.get("/signin/forgot/code").await;
    assert_eq!(page.status, code_page.status);
    assert_eq!(
        between(&page.body, "<h1>", "</h1>"),
        between(&code_page.body, "<h1>", "</h1>")
    );
    for guess in ["000000", "123456", code.as_str()] {
        let r = ghost.post("/signin/forgot/code", &[("code", guess)]).await;
        assert_eq!(r.status, 422);
        assert!(
            r.body
                .contains("That code is not right, or it has expired.")
        );
    }
    assert_eq!(
        ghost
            .get("/signin/forgot/authenticator")
            .await
            .location
            .as_deref(),
        Some("/signin/forgot/code")
    );
    assert_eq!(
        outbox(&server).await.len(),
        messages_before,
        "no message for nobody"
    );
    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "password_reset.requested",
            "password_reset.sms_verified",
            "password_reset.totp",
            "password.reset",
        ],
    );
    assert_chain_intact(&server).await;
}

/// Done-when 2 for the phone step: each refusal of an SMS code says why, on the page.
async fn phone_step_shows_why_a_code_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    let initial = pending_account(&server, &mut admin, "omar").await;
    let mut b = Browser::new(&base);
    password_step(&mut b, "omar", &initial).await;
    read_key(&mut b, "omar").await;
    let code = totp::next_code(&base, "omar");
    let r = b
        .post("/signin/setup/authenticator", &[("code", code.as_str())])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/setup/phone"));

    let mut failures = Vec::new();
    let before = b
        .post("/signin/setup/phone/verify", &[("code", "123456")])
        .await;
    if !before.body.contains("Send a code first.") {
        failures.push("a code before any was sent: 'Send a code first.' is not shown");
    }
    let sent = b
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", MOBILE)],
        )
        .await;
    assert_eq!(sent.status, 200);
    let right = sms_code(&server, E164).await;
    let bad = wrong_six(&right);
    for _ in 0..4 {
        let r = b
            .post("/signin/setup/phone/verify", &[("code", bad.as_str())])
            .await;
        assert!(r.body.contains("tries left."), "{}", r.body);
    }
    let fifth = b
        .post("/signin/setup/phone/verify", &[("code", bad.as_str())])
        .await;
    assert_eq!(fifth.status, 422);
    if !fifth.body.contains("no tries are left. Send a new code.") {
        failures.push("the 5th wrong code: 'no tries are left. Send a new code.' is not shown");
    }
    let sixth = b
        .post("/signin/setup/phone/verify", &[("code", right.as_str())])
        .await;
    assert_eq!(sixth.status, 422);
    if !sixth
        .body
        .contains("Too many wrong codes. Send a new code.")
    {
        failures.push("the 6th try: 'Too many wrong codes. Send a new code.' is not shown");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An active account with an authenticator: someone who knows only the password stops at
/// /signin/code, and no wizard form changes the password or the mobile number from there.
async fn the_password_alone_changes_no_credential(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let own = "+6590002222";
    let attacker = "+6590003333";
    active_account(&server, "mia", Some(own)).await;
    let mut owner = Browser::new(&base);
    assert_eq!(
        owner.sign_in("mia", PASSWORD).await.location.as_deref(),
        Some("/")
    );

    let mut thief = Browser::new(&base);
    let r = thief
        .post("/signin", &[("username", "mia"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.location.as_deref(), Some("/signin/code"));
    let mut failures = Vec::new();
    thief
        .post(
            "/signin/setup/phone",
            &[("mobile_country", "+65"), ("mobile", "90003333")],
        )
        .await;
    if sms_code_count(&server, attacker).await > 0 {
        failures.push("a code was sent to a new number without the second factor".to_owned());
        let code = sms_code(&server, attacker).await;
        thief
            .post("/signin/setup/phone/verify", &[("code", code.as_str())])
            .await;
    }
    thief
        .post(
            "/signin/setup/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    let mia = user(&server, "mia").await;
    if mia.mobile.as_ref().map(|m| m.as_str()) != Some(own) {
        failures.push(format!("the mobile number became {:?}", mia.mobile));
    }
    let still = server
        .app
        .passwords
        .verify(PASSWORD, mia.password_hash.as_deref())
        .await
        .unwrap();
    if !still {
        failures.push("the password was changed".to_owned());
    }
    assert_eq!(
        thief.get("/signin/complete").await.location.as_deref(),
        Some("/signin/code"),
        "no session without the second factor"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
