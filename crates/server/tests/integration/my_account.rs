//! "My account" over real HTTP on both backends: profile changes (bad input kept), a
//! mobile change proven by an SMS code (wrong codes, the sixth try, resend throttling),
//! password change (policy messages, other sessions ended, old password dead), the
//! sessions list with "sign out elsewhere", and adding and removing authenticator apps
//! (never the last).

use crate::lifecycle::{admin_browser, assert_chain_intact, assert_has_actions, audit_actions};
use crate::lifecycle::{latest_to, outbox};
use crate::support::{Browser, PASSWORD, Page, between, totp};
use tessera_domain::outbox::Channel;
use tessera_domain::user::{User, Username};
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
    profile_changes_and_bad_input_is_kept,
    mobile_change_needs_the_code_sent_to_the_new_number,
    password_change_ends_other_sessions_and_the_old_password,
    sessions_are_listed_and_signed_out_elsewhere,
    authenticators_are_added_and_removed_but_never_the_last,
);

const NEW_PASSWORD: &str = "violet tundra acorn marimba 77";

async fn admin_user(server: &TestServer) -> User {
    let mut r = server.app.db.read().await.unwrap();
    r.user_by_username(&Username::parse("admin").unwrap())
        .await
        .unwrap()
        .unwrap()
}

fn assert_redirect(page: &Page, to: &str) {
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some(to), "{}", page.body);
}

/// Whether the browser's session still opens "My account".
async fn signed_in(b: &mut Browser) -> bool {
    let page = b.get("/account").await;
    match page.status {
        200 => true,
        303 => {
            assert!(page.location.unwrap().starts_with("/signin"));
            false
        }
        other => panic!("unexpected {other}: {}", page.body),
    }
}

async fn profile_changes_and_bad_input_is_kept(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut b = admin_browser(&server).await;

    let home = b.get("/account").await;
    assert_eq!(home.status, 200, "{}", home.body);
    for expected in [
        "<h1>My account</h1>",
        "href=\"/account\">My account</a>",
        "value=\"Ada\"",
        "value=\"Lovelace\"",
        "autocomplete=\"given-name\"",
        "autocomplete=\"family-name\"",
        "autocomplete=\"organization\"",
        "autocomplete=\"tel\"",
        "href=\"/account/password\"",
        "href=\"/account/apps\"",
        "href=\"/account/mfa/add\"",
    ] {
        assert!(home.body.contains(expected), "{expected}: {}", home.body);
    }

    // A blank first name: the field says why; what was typed stays.
    let bad = b
        .post(
            "/account/profile",
            &[
                ("given_name", "  "),
                ("family_name", "Byron"),
                ("department", "Analytical Engines"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("Enter your first name."), "{}", bad.body);
    assert!(bad.body.contains("value=\"Byron\""));
    assert!(bad.body.contains("value=\"Analytical Engines\""));
    assert!(bad.body.contains("aria-invalid=\"true\""));
    assert_eq!(admin_user(&server).await.family_name, "Lovelace");

    let too_long = "x".repeat(121);
    let bad = b
        .post(
            "/account/profile",
            &[
                ("given_name", "Ada"),
                ("family_name", "Byron"),
                ("department", &too_long),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("at most 120 characters"), "{}", bad.body);

    let saved = b
        .post(
            "/account/profile",
            &[
                ("given_name", "Ada"),
                ("family_name", "Byron"),
                ("department", "Analytical Engines"),
            ],
        )
        .await;
    assert_redirect(&saved, "/account?notice=profile");
    let after = b.get("/account?notice=profile").await;
    assert!(after.body.contains("Your details were saved."));
    assert!(
        after.body.contains("Signed in as Ada Byron"),
        "{}",
        after.body
    );
    let user = admin_user(&server).await;
    assert_eq!(
        (user.family_name.as_str(), user.department.as_str()),
        ("Byron", "Analytical Engines")
    );

    // The same again changes nothing and writes nothing.
    let same = b
        .post(
            "/account/profile",
            &[
                ("given_name", "Ada"),
                ("family_name", "Byron"),
                ("department", "Analytical Engines"),
            ],
        )
        .await;
    assert_redirect(&same, "/account?notice=unchanged");
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "account.profile_updated")
            .count(),
        1
    );
    assert_chain_intact(&server).await;
}

/// The six digits in the newest SMS to `to`.
async fn sms_code(server: &TestServer, to: &str) -> String {
    let sms = latest_to(server, to, Channel::Sms).await;
    let code = between(&sms.body, "verification code is ", " ")
        .unwrap_or_else(|| panic!("no code in {}", sms.body));
    assert_eq!(code.len(), 6, "{}", sms.body);
    code
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn mobile_change_needs_the_code_sent_to_the_new_number(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut b = admin_browser(&server).await;
    let new = "+6598765432";

    let bad = b
        .post(
            "/account/mobile",
            &[("mobile_country", "+65"), ("mobile", "12ab")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"mobile-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"12ab\""), "typed value kept");

    let sent = b
        .post(
            "/account/mobile",
            &[("mobile_country", "+65"), ("mobile", "98765432")],
        )
        .await;
    assert_redirect(&sent, "/account?notice=code_sent");
    let page = b.get("/account?notice=code_sent").await;
    assert!(
        page.body
            .contains("Code sent to <strong>+6598765432</strong>")
    );
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    let code = sms_code(&server, new).await;
    // Nothing went to the old number, and the account keeps it until the code returns.
    assert!(
        !outbox(&server)
            .await
            .iter()
            .any(|m| m.recipient == "+6591234567")
    );

    // Five wrong codes use up the tries; the sixth, even the right one, is refused.
    let first = b
        .post("/account/mobile/verify", &[("code", wrong(&code))])
        .await;
    assert_eq!(first.status, 422);
    assert!(
        first.body.contains("That code is not right. 4 tries left."),
        "{}",
        first.body
    );
    for _ in 0..3 {
        let again = b
            .post("/account/mobile/verify", &[("code", wrong(&code))])
            .await;
        assert_eq!(again.status, 422);
    }
    let fifth = b
        .post("/account/mobile/verify", &[("code", wrong(&code))])
        .await;
    assert!(fifth.body.contains("no tries are left"), "{}", fifth.body);
    let sixth = b.post("/account/mobile/verify", &[("code", &code)]).await;
    assert_eq!(sixth.status, 422);
    assert!(
        sixth
            .body
            .contains("Too many wrong codes. Send a new code."),
        "{}",
        sixth.body
    );
    let user = admin_user(&server).await;
    assert_eq!(user.mobile.unwrap().as_str(), "+6591234567");

    // A new code to the same number waits for the resend interval.
    let soon = b
        .post(
            "/account/mobile",
            &[("mobile_country", "+65"), ("mobile", "98765432")],
        )
        .await;
    assert_eq!(soon.status, 422);
    assert!(soon.body.contains("before asking for another code"));
    // Nor does switching to another number escape it.
    let other = b
        .post(
            "/account/mobile",
            &[("mobile_country", "+60"), ("mobile", "123456789")],
        )
        .await;
    assert_eq!(other.status, 422, "{}", other.body);
    server.clock.advance(Duration::seconds(61));
    let resent = b
        .post(
            "/account/mobile",
            &[("mobile_country", "+65"), ("mobile", "98765432")],
        )
        .await;
    assert_redirect(&resent, "/account?notice=code_sent");
    let code = sms_code(&server, new).await;
    let done = b.post("/account/mobile/verify", &[("code", &code)]).await;
    assert_redirect(&done, "/account?notice=mobile");
    let page = b.get("/account?notice=mobile").await;
    assert!(page.body.contains("Your mobile number was changed."));
    assert!(
        page.body
            .contains("<strong>+6598765432</strong> (verified)")
    );

    let user = admin_user(&server).await;
    assert_eq!(user.mobile.unwrap().as_str(), new);
    assert_eq!(user.phone_verified_at, Some(server.app.clock.now()));
    // (Messages queued at the same fake instant have no order: find it by subject.)
    let mail = outbox(&server)
        .await
        .into_iter()
        .find(|m| m.subject == "Your Tessera mobile number was changed")
        .expect("the person is told by email");
    assert_eq!(mail.recipient, "ada@agency.gov.sg");
    assert!(mail.body.contains("432") && !mail.body.contains(new));
    // The code was used up.
    let replay = b.post("/account/mobile/verify", &[("code", &code)]).await;
    assert_eq!(replay.status, 422);

    let actions = audit_actions(&server).await;
    assert_has_actions(
        &actions,
        &[
            "account.mobile_code_sent",
            "account.mobile_change_failed",
            "account.mobile_changed",
        ],
    );
    assert_chain_intact(&server).await;
}

fn password_form<'a>(current: &'a str, new: &'a str, confirm: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", confirm),
    ]
}

async fn password_change_ends_other_sessions_and_the_old_password(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut here = admin_browser(&server).await;
    let mut elsewhere = Browser::new(&server.base_url);
    assert_eq!(elsewhere.sign_in("admin", PASSWORD).await.status, 303);
    assert!(signed_in(&mut elsewhere).await);

    let form = here.get("/account/password").await;
    assert_eq!(form.status, 200);
    for token in ["current-password", "new-password", "username"] {
        assert!(form.body.contains(&format!("autocomplete=\"{token}\"")));
    }

    let weak = here
        .post(
            "/account/password",
            &password_form(PASSWORD, "password1234", "password1234"),
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(
        weak.body.contains("Choose a stronger password"),
        "{}",
        weak.body
    );
    assert!(!weak.body.contains("password1234"), "never echo a password");

    let short = here
        .post(
            "/account/password",
            &password_form(PASSWORD, "short", "short"),
        )
        .await;
    assert!(short.body.contains("Use at least 12 characters."));

    let wrong_current = here
        .post(
            "/account/password",
            &password_form("not my password", NEW_PASSWORD, NEW_PASSWORD),
        )
        .await;
    assert_eq!(wrong_current.status, 422);
    assert!(
        wrong_current
            .body
            .contains("This is not your current password.")
    );

    let mismatch = here
        .post(
            "/account/password",
            &password_form(PASSWORD, NEW_PASSWORD, "violet tundra acorn marimba 78"),
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("The new passwords do not match."));
    assert!(!mismatch.body.contains(NEW_PASSWORD));
    assert!(signed_in(&mut elsewhere).await, "nothing changed yet");

    let changed = here
        .post(
            "/account/password",
            &password_form(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        )
        .await;
    assert_redirect(&changed, "/account?notice=password");
    assert!(signed_in(&mut here).await, "this session stays");
    assert!(!signed_in(&mut elsewhere).await, "the other one ended");

    let mut old = Browser::new(&server.base_url);
    let refused = old.sign_in("admin", PASSWORD).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("Incorrect username or password."));
    let mut new = Browser::new(&server.base_url);
    assert_eq!(new.sign_in("admin", NEW_PASSWORD).await.status, 303);
    assert!(signed_in(&mut new).await);

    assert!(
        outbox(&server)
            .await
            .iter()
            .any(|m| m.recipient == "ada@agency.gov.sg"
                && m.subject == "Your Tessera password was changed"),
        "the person is told by email"
    );
    let actions = audit_actions(&server).await;
    assert_has_actions(
        &actions,
        &["account.password_change_failed", "account.password_changed"],
    );
    assert_chain_intact(&server).await;
}

/// The id in the first "sign out this session" form.
fn first_session_id(body: &str) -> String {
    between(body, "action=\"/account/sessions/", "/end\"").expect("a session to end")
}

async fn sessions_are_listed_and_signed_out_elsewhere(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut here = admin_browser(&server).await;
    let mut second = Browser::new(&server.base_url);
    assert_eq!(second.sign_in("admin", PASSWORD).await.status, 303);
    server.clock.advance(Duration::seconds(5));
    let mut third = Browser::new(&server.base_url);
    assert_eq!(third.sign_in("admin", PASSWORD).await.status, 303);

    let list = here.get("/account").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.matches("This browser").count(), 1);
    assert_eq!(list.body.matches("/end\"").count(), 2, "{}", list.body);
    assert!(list.body.contains("127.0.0.1"));
    assert!(list.body.contains("password, authenticator app"));
    assert!(list.body.contains("Sign out everywhere else"));
    // The id is opaque: not the stored token hash.
    let id = first_session_id(&list.body);
    let user = admin_user(&server).await;
    let hashes: Vec<String> = {
        let mut r = server.app.db.read().await.unwrap();
        r.sessions_of_user(user.id)
            .await
            .unwrap()
            .iter()
            .map(|s| {
                s.token_hash
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect()
    };
    assert_eq!(hashes.len(), 3);
    assert!(
        hashes
            .iter()
            .all(|h| !list.body.contains(h.as_str()) && h != &id)
    );

    // The newest other session is listed first; end it alone.
    let ended = here.post(&format!("/account/sessions/{id}/end"), &[]).await;
    assert_redirect(&ended, "/account?notice=session_ended");
    assert!(!signed_in(&mut third).await);
    assert!(signed_in(&mut second).await);
    let gone = here.post(&format!("/account/sessions/{id}/end"), &[]).await;
    assert_eq!(gone.status, 404);

    let all = here.post("/account/sessions/end-others", &[]).await;
    assert_redirect(&all, "/account?notice=others_ended");
    assert!(!signed_in(&mut second).await);
    let page = here.get("/account?notice=others_ended").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Every other session was signed out."));
    assert!(page.body.contains("You are signed in only here."));
    assert_eq!(page.body.matches("/end\"").count(), 0);

    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "account.sessions_ended")
            .count(),
        2
    );
    assert_chain_intact(&server).await;
}

/// The id in the first "remove" form of the second-factor list.
fn first_key_id(body: &str) -> String {
    between(body, "action=\"/account/mfa/", "/remove\"").expect("a key to remove")
}

async fn authenticators_are_added_and_removed_but_never_the_last(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut b = admin_browser(&server).await;

    let page = b.get("/account").await;
    assert_eq!(page.body.matches("/remove\"").count(), 1);
    let original = first_key_id(&page.body);
    let refused = b
        .post(&format!("/account/mfa/{original}/remove"), &[])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("This is your only second factor"),
        "{}",
        refused.body
    );

    // Add a second app: the page shows a QR code and the key; a wrong code keeps the name.
    let add = b.get("/account/mfa/add").await;
    assert_eq!(add.status, 200, "{}", add.body);
    assert!(add.body.contains("<svg"));
    let key = between(&add.body, "id=\"totp-key\">", "</code>").unwrap();
    // A reload shows the same key (the enrolment is resumed, not restarted).
    let again = b.get("/account/mfa/add").await;
    assert_eq!(
        between(&again.body, "id=\"totp-key\">", "</code>").unwrap(),
        key
    );
    totp::remember(&server.base_url, "admin (second app)", &key);
    let wrong = totp::code_at(&server.base_url, "admin (second app)", 100);
    let bad = b
        .post(
            "/account/mfa/add",
            &[("label", "Work phone"), ("code", &wrong)],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("That code is not right"), "{}", bad.body);
    assert!(bad.body.contains("value=\"Work phone\""));
    let code = totp::next_code(&server.base_url, "admin (second app)");
    let added = b
        .post(
            "/account/mfa/add",
            &[("label", "Work phone"), ("code", &code)],
        )
        .await;
    assert_redirect(&added, "/account?notice=mfa_added");
    let page = b.get("/account?notice=mfa_added").await;
    assert!(page.body.contains("The authenticator app was added."));
    assert!(page.body.contains("Work phone"));
    assert_eq!(page.body.matches("/remove\"").count(), 2);

    // Remove the original; the new one is now the only one and stays.
    let removed = b
        .post(&format!("/account/mfa/{original}/remove"), &[])
        .await;
    assert_redirect(&removed, "/account?notice=mfa_removed");
    let page = b.get("/account").await;
    assert_eq!(page.body.matches("/remove\"").count(), 1);
    let remaining = first_key_id(&page.body);
    assert_ne!(remaining, original);
    let refused = b
        .post(&format!("/account/mfa/{remaining}/remove"), &[])
        .await;
    assert_eq!(refused.status, 409);

    // The next sign-in takes a code from the new app (a later time step than the one
    // that confirmed it).
    server.clock.advance(Duration::seconds(30));
    totp::remember(&server.base_url, "admin", &key);
    let mut fresh = Browser::new(&server.base_url);
    assert_eq!(fresh.sign_in("admin", PASSWORD).await.status, 303);
    assert!(signed_in(&mut fresh).await);

    let actions = audit_actions(&server).await;
    assert_has_actions(&actions, &["mfa.totp_enrolled", "mfa.totp_removed"]);
    assert_chain_intact(&server).await;
}
