//! The account lifecycle over real HTTP on both backends: invitations (expiry page naming
//! the sponsor, resend killing the old link, one account from 20 concurrent submits),
//! activation reminders and termination at the deadline, and the audit trail of it all.

use crate::support::{Browser, PASSWORD, setup_form, token_of};
use std::collections::HashSet;
use tessera_core::admin::PlatformAdmin;
use tessera_core::audit::{Verification, verify_chain};
use tessera_core::lifecycle::invitations::{self, Sponsor};
use tessera_core::lifecycle::jobs::run_due;
use tessera_core::setup::issue_setup_link;
use tessera_domain::invitation::InvitationStatus;
use tessera_domain::outbox::{Channel, OutboxMessage};
use tessera_domain::user::{EmailAddress, UserState};
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
    expired_link_names_the_sponsor_and_resend_kills_the_old_link,
    twenty_concurrent_submits_make_one_account,
    pending_account_is_reminded_then_terminated_at_its_deadline,
    revoked_invitation_and_bad_fields_are_refused_clearly,
);

/// The first administrator (who may sponsor), signed in.
pub async fn admin_browser(server: &TestServer) -> Browser {
    let link = issue_setup_link(&server.app).await.unwrap().unwrap();
    let mut b = Browser::new(&server.base_url);
    let done = b
        .post("/setup", &setup_form(&token_of(&link), "admin", PASSWORD))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(b.sign_in("admin", PASSWORD).await.status, 303);
    b
}

/// Every message queued so far, oldest first.
pub async fn outbox(server: &TestServer) -> Vec<OutboxMessage> {
    let mut r = server.app.db.read().await.unwrap();
    let mut all = r.list_outbox(None, 1000).await.unwrap();
    all.reverse();
    all
}

/// The newest message to `to` on `channel`.
pub async fn latest_to(server: &TestServer, to: &str, channel: Channel) -> OutboxMessage {
    outbox(server)
        .await
        .into_iter()
        .rev()
        .find(|m| m.recipient == to && m.channel == channel)
        .unwrap_or_else(|| panic!("no {channel:?} message to {to}"))
}

/// The registration link in the newest invitation email to `to`.
async fn invitation_link(server: &TestServer, to: &str) -> String {
    let mail = latest_to(server, to, Channel::Email).await;
    let start = mail
        .body
        .find("/register?token=")
        .unwrap_or_else(|| panic!("no link in {}", mail.body));
    let rest = &mail.body[start..];
    rest.split_whitespace().next().unwrap().to_owned()
}

async fn invite(b: &mut Browser, email: &str) {
    let sent = b.post("/invitations", &[("email", email)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location.as_deref(), Some("/invitations?notice=sent"));
}

pub fn registration<'a>(
    token: &'a str,
    username: &'a str,
    mobile: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("username", username),
        ("given_name", "Grace"),
        ("family_name", "Hopper"),
        ("mobile_country", "+65"),
        ("mobile", mobile),
        ("department", "Vendor engineering"),
    ]
}

pub async fn audit_actions(server: &TestServer) -> Vec<String> {
    let cap = PlatformAdmin::operator_at_cli();
    let records = tessera_core::audit::newest(&server.app, &cap, None, 1000)
        .await
        .unwrap();
    records.into_iter().map(|r| r.event.action).collect()
}

pub async fn assert_chain_intact(server: &TestServer) {
    let cap = PlatformAdmin::operator_at_cli();
    match verify_chain(&server.app, &cap).await.unwrap() {
        Verification::Intact { events } => assert!(events > 0),
        broken => panic!("audit chain broken: {broken:?}"),
    }
}

pub fn assert_has_actions(actions: &[String], expected: &[&str]) {
    let have: HashSet<&str> = actions.iter().map(String::as_str).collect();
    for e in expected {
        assert!(have.contains(e), "no audit event {e:?}; have {have:?}");
    }
}

async fn expired_link_names_the_sponsor_and_resend_kills_the_old_link(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = admin_browser(&server).await;
    let to = "grace@vendor.example.com";
    invite(&mut admin, to).await;
    let first = invitation_link(&server, to).await;
    let path = first.trim_start_matches(&server.base_url).to_owned();

    let mut guest = Browser::new(&server.base_url);
    let open = guest.get(&path).await;
    assert_eq!(open.status, 200, "{}", open.body);
    assert!(open.body.contains("Register for Tessera"));

    // Five days later (the default validity) the link shows the expiry page.
    server
        .clock
        .advance(Duration::days(5) + Duration::seconds(1));
    let expired = guest.get(&path).await;
    assert_eq!(expired.status, 410);
    assert!(
        expired.body.contains("This invitation has expired"),
        "{}",
        expired.body
    );
    assert!(
        expired.body.contains("Ada Lovelace"),
        "names the sponsor: {}",
        expired.body
    );
    assert!(expired.body.contains("ada@agency.gov.sg"));
    let submit = guest
        .post(
            "/register",
            &registration(&token_of(&path), "grace", "91234567"),
        )
        .await;
    assert_eq!(submit.status, 410, "an expired link registers nobody");

    // The job records the expiry once, however often it runs.
    assert_eq!(run_due(&server.app).await.unwrap().invitations_expired, 1);
    assert_eq!(run_due(&server.app).await.unwrap().invitations_expired, 0);

    // Resend: a fresh link for the full period; the old one stops working. (Five days on,
    // the administrator's session has ended: sign in again.)
    assert_eq!(admin.sign_in("admin", PASSWORD).await.status, 303);
    let cli = Sponsor::operator_at_cli();
    let listed = invitations::list(&server.app, &cli, None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, InvitationStatus::Expired);
    let resent = admin
        .post(&format!("/invitations/{}/resend", listed[0].id), &[])
        .await;
    assert_eq!(
        resent.location.as_deref(),
        Some("/invitations?notice=resent"),
        "{}",
        resent.body
    );
    let second = invitation_link(&server, to).await;
    assert_ne!(first, second);
    let old = guest.get(&path).await;
    assert_eq!(old.status, 410);
    assert!(old.body.contains("does not work"), "{}", old.body);
    let fresh = guest.get(second.trim_start_matches(&server.base_url)).await;
    assert_eq!(fresh.status, 200);
    let list_page = admin.get("/invitations").await;
    assert!(list_page.body.contains(to) && list_page.body.contains("Sent"));

    assert_has_actions(
        &audit_actions(&server).await,
        &["invitation.sent", "invitation.expired", "invitation.resent"],
    );
    assert_chain_intact(&server).await;
}

async fn twenty_concurrent_submits_make_one_account(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = admin_browser(&server).await;
    let to = "ken@vendor.example.com";
    invite(&mut admin, to).await;
    let link = invitation_link(&server, to).await;
    let token = token_of(&link);

    // Half share one username, half differ: only the invitation itself decides.
    let mut tasks = Vec::new();
    for n in 0..20 {
        let base = server.base_url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let username = if n % 2 == 0 {
                "ken".to_owned()
            } else {
                format!("ken{n:02}")
            };
            let mut b = Browser::new(&base);
            let page = b
                .post("/register", &registration(&token, &username, "91234567"))
                .await;
            (page.status, page.body)
        }));
    }
    let mut done = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => {
                assert!(body.contains("Registration complete"), "{body}");
                done += 1;
            }
            410 => assert!(body.contains("has been used"), "{body}"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(done, 1, "exactly one submit registers");
    let accounts = server
        .app
        .db
        .read()
        .await
        .unwrap()
        .users_by_email(&EmailAddress::parse(to).unwrap())
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].state, UserState::Pending);
    let sms = outbox(&server)
        .await
        .into_iter()
        .filter(|m| m.channel == Channel::Sms)
        .count();
    assert_eq!(sms, 1, "one initial password");
    assert_chain_intact(&server).await;
}

async fn pending_account_is_reminded_then_terminated_at_its_deadline(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = admin_browser(&server).await;
    let to = "lin@vendor.example.com";
    invite(&mut admin, to).await;
    let token = token_of(&invitation_link(&server, to).await);
    let mut guest = Browser::new(&server.base_url);
    let done = guest
        .post("/register", &registration(&token, "lin", "91234567"))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);

    // Messages queued at one fake instant have no order among themselves: pick by subject.
    let welcome = outbox(&server)
        .await
        .into_iter()
        .find(|m| m.recipient == to && m.subject == "Your Tessera username is lin")
        .expect("the onboarding email");
    assert!(welcome.body.contains("Your username is: lin"));
    assert!(
        welcome
            .body
            .contains("Use this username, not your email address")
    );
    let sms = latest_to(&server, "+6591234567", Channel::Sms).await;
    let initial = sms
        .body
        .split("initial password is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    // The initial password opens the account while it is pending.
    let mut person = Browser::new(&server.base_url);
    assert_eq!(person.sign_in("lin", &initial).await.status, 303);

    // Reminders 7 days and 1 day before the 30-day deadline, each once.
    server
        .clock
        .advance(Duration::days(23) + Duration::hours(1));
    let r = run_due(&server.app).await.unwrap();
    assert_eq!(r.reminders_sent, 1);
    assert_eq!(run_due(&server.app).await.unwrap().reminders_sent, 0);
    server.clock.advance(Duration::days(6));
    assert_eq!(run_due(&server.app).await.unwrap().reminders_sent, 1);
    let reminders = outbox(&server)
        .await
        .into_iter()
        .filter(|m| m.recipient == to && m.subject == "Activate your Tessera account")
        .count();
    assert_eq!(reminders, 2);

    // At the deadline: terminated, user and sponsor told, sign-in refused, session gone.
    server.clock.advance(Duration::days(1));
    let r = run_due(&server.app).await.unwrap();
    assert_eq!(r.accounts_terminated, 1);
    assert_eq!(run_due(&server.app).await.unwrap().accounts_terminated, 0);
    let user_mail = latest_to(&server, to, Channel::Email).await;
    assert_eq!(user_mail.subject, "Your Tessera account was terminated");
    let sponsor_mail = latest_to(&server, "ada@agency.gov.sg", Channel::Email).await;
    assert!(
        sponsor_mail.subject.contains("lin was terminated"),
        "{}",
        sponsor_mail.subject
    );
    let refused = Browser::new(&server.base_url)
        .sign_in("lin", &initial)
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(person.get("/").await.location.as_deref(), Some("/signin"));

    assert_eq!(admin.sign_in("admin", PASSWORD).await.status, 303);
    let user_page = admin.get("/admin/users?state=terminated").await;
    assert!(user_page.body.contains(">lin<"), "{}", user_page.body);
    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "invitation.sent",
            "registration.completed",
            "user.activation_reminder",
            "user.terminated",
        ],
    );
    assert_chain_intact(&server).await;
}

async fn revoked_invitation_and_bad_fields_are_refused_clearly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = admin_browser(&server).await;

    // Bad input to the invitation form re-renders it with the field's message.
    let bad = admin
        .post("/invitations", &[("email", "not-an-email")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("Enter an email address like"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("value=\"not-an-email\""));

    let to = "mo@vendor.example.com";
    invite(&mut admin, to).await;
    let token = token_of(&invitation_link(&server, to).await);
    let mut guest = Browser::new(&server.base_url);
    let mut form = registration(&token, "Mo@vendor.example.com", "12ab");
    form.retain(|(k, _)| *k != "department");
    let page = guest.post("/register", &form).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("not an email address"), "{}", page.body);
    assert!(page.body.contains("id=\"mobile-error\""));
    assert!(page.body.contains("Enter the department"));
    assert!(
        page.body.contains("value=\"Grace\""),
        "typed values are kept"
    );

    let cli = Sponsor::operator_at_cli();
    let id = invitations::list(&server.app, &cli, None, None, 10)
        .await
        .unwrap()[0]
        .id;
    let revoked = admin.post(&format!("/invitations/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, 303);
    let closed = guest.get(&format!("/register?token={token}")).await;
    assert_eq!(closed.status, 410);
    assert!(closed.body.contains("withdrew"), "{}", closed.body);
    let again = admin.post(&format!("/invitations/{id}/revoke"), &[]).await;
    assert_eq!(again.status, 409, "revoking twice says why: {}", again.body);

    assert_has_actions(
        &audit_actions(&server).await,
        &[
            "invitation.sent",
            "registration.invalid",
            "invitation.revoked",
        ],
    );
    assert_chain_intact(&server).await;
}
