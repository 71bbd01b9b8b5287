//! Lifecycle Done-when 5: every step of the lifecycle walk (invitation and registration,
//! expiry and resend, concurrent submits, reminders and termination, self-registration)
//! leaves exactly the audit events it should, on one server and one database, and the
//! real `tessera admin audit verify` passes over the result.
//!
//! Steps that deliberately write nothing are asserted to write nothing: viewing a link
//! (expired or replaced), a submit on a dead link, the losers of concurrent submits, and
//! an invalid self-registration details form.

use crate::lifecycle::{admin_browser, latest_to, outbox, registration};
use crate::support::{Browser, PASSWORD, run, tessera, token_of};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_core::admin::{PlatformAdmin, find_user};
use tessera_core::audit::{Verification, verify_chain};
use tessera_core::lifecycle::invitations::{self, Sponsor};
use tessera_core::lifecycle::jobs::run_due;
use tessera_core::lifecycle::settings;
use tessera_domain::audit::{AuditRecord, Outcome};
use tessera_domain::invitation::InvitationStatus;
use tessera_domain::lifecycle::{AddressPattern, LifecycleSettings};
use tessera_domain::outbox::Channel;
use tessera_domain::user::{EmailAddress, User, UserState};
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

on_both_backends!(every_lifecycle_step_is_audited_and_the_chain_verifies);

/// Reads the audit log step by step: each `take` returns the events written since the
/// previous one, oldest first.
struct Trail {
    mark: i64,
}

impl Trail {
    async fn start(server: &TestServer) -> Self {
        let mut r = server.app.db.read().await.unwrap();
        let newest = r.audit_newest(None, 1).await.unwrap();
        Self {
            mark: newest.first().map_or(0, |rec| rec.seq),
        }
    }

    async fn take(&mut self, server: &TestServer) -> Vec<AuditRecord> {
        let mut r = server.app.db.read().await.unwrap();
        let records = r.audit_after(self.mark, 1000).await.unwrap();
        if let Some(last) = records.last() {
            self.mark = last.seq;
        }
        records
    }
}

fn actions(records: &[AuditRecord]) -> Vec<&str> {
    records.iter().map(|r| r.event.action.as_str()).collect()
}

/// The step wrote exactly these events (in any order: events at one fake instant have no
/// order a test may rely on beyond the chain's).
fn assert_exactly(step: &str, records: &[AuditRecord], expected: &[&str]) {
    let mut have = actions(records);
    let mut want = expected.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    assert_eq!(have, want, "{step}: audit events written");
}

/// The one event with `action` among `records`.
fn the<'a>(records: &'a [AuditRecord], action: &str) -> &'a AuditRecord {
    let found: Vec<_> = records
        .iter()
        .filter(|r| r.event.action == action)
        .collect();
    assert_eq!(found.len(), 1, "one {action} in {:?}", actions(records));
    found[0]
}

fn detail(record: &AuditRecord) -> Value {
    serde_json::from_str(&record.event.detail).unwrap()
}

fn assert_event(record: &AuditRecord, actor: &str, target: Option<&str>, outcome: Outcome) {
    let e = &record.event;
    assert_eq!(e.actor, actor, "actor of {}", e.action);
    assert_eq!(e.target.as_deref(), target, "target of {}", e.action);
    assert_eq!(e.outcome, outcome, "outcome of {}", e.action);
}

async fn user_by_email(server: &TestServer, email: &str) -> User {
    let mut users = server
        .app
        .db
        .read()
        .await
        .unwrap()
        .users_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap();
    assert_eq!(users.len(), 1, "one account for {email}");
    users.remove(0)
}

/// The registration link in the newest invitation email to `to`.
async fn invitation_link(server: &TestServer, to: &str) -> String {
    let mail = latest_to(server, to, Channel::Email).await;
    mail.body
        .split_whitespace()
        .find(|w| w.contains("/register?token="))
        .unwrap_or_else(|| panic!("no link in {}", mail.body))
        .trim_start_matches(&server.base_url)
        .to_owned()
}

/// The code in the newest code email to `to`.
async fn code_for(server: &TestServer, to: &str) -> String {
    let mail = latest_to(server, to, Channel::Email).await;
    mail.subject
        .strip_prefix("Your Tessera code is ")
        .unwrap_or_else(|| panic!("not a code email: {}", mail.subject))
        .to_owned()
}

fn wrong_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The rows in `audit_events`, counted by SQL rather than through the store.
async fn audit_rows(backend: Backend, url: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM audit_events";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

async fn every_lifecycle_step_is_audited_and_the_chain_verifies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    let cap = PlatformAdmin::operator_at_cli();
    let admin_actor = format!(
        "user:{}",
        find_user(&server.app, &cap, "admin").await.unwrap().id
    );
    let mut trail = Trail::start(&server).await;

    // 1. A sponsor invites; the form with a bad mobile is refused (and audited), then
    //    the right one makes the pending account and queues its onboarding messages.
    let grace_email = "grace@vendor.example.com";
    let sent = admin.post("/invitations", &[("email", grace_email)]).await;
    assert_eq!(sent.location.as_deref(), Some("/invitations?notice=sent"));
    let step = trail.take(&server).await;
    assert_exactly("invite", &step, &["invitation.sent"]);
    let invitation_target = the(&step, "invitation.sent").event.target.clone().unwrap();
    assert!(invitation_target.starts_with("invitation:"));
    assert_event(
        &step[0],
        &admin_actor,
        Some(&invitation_target),
        Outcome::Success,
    );

    let link = invitation_link(&server, grace_email).await;
    let token = token_of(&link);
    let mut guest = Browser::new(&base);
    assert_eq!(guest.get(&link).await.status, 200);
    let bad = guest
        .post("/register", &registration(&token, "grace", "12ab"))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"mobile-error\""), "{}", bad.body);
    let step = trail.take(&server).await;
    assert_exactly(
        "viewing the link, then a bad mobile",
        &step,
        &["registration.invalid"],
    );
    assert_event(
        &step[0],
        "anonymous",
        Some(&invitation_target),
        Outcome::Failure,
    );
    assert_eq!(detail(&step[0])["fields"], serde_json::json!(["mobile"]));

    let done = guest
        .post("/register", &registration(&token, "grace", "91234567"))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Registration complete"));
    let grace = user_by_email(&server, grace_email).await;
    assert_eq!(grace.state, UserState::Pending);
    let grace_target = format!("user:{}", grace.id);
    let step = trail.take(&server).await;
    // The account's creation is recorded by this one event (there is no separate
    // user-created event): it names the invitation, the username and the deadline.
    assert_exactly("registration", &step, &["registration.completed"]);
    assert_event(
        &step[0],
        &grace_target,
        Some(&grace_target),
        Outcome::Success,
    );
    let d = detail(&step[0]);
    assert_eq!(d["invitation"], invitation_target.as_str());
    assert_eq!(d["username"], "grace");
    assert_eq!(d["sponsor"], admin_actor.as_str());
    assert_eq!(
        d["activation_deadline"],
        grace.activation_deadline.unwrap().unix_timestamp()
    );
    let queued = outbox(&server).await;
    assert_eq!(
        queued
            .iter()
            .filter(|m| m.recipient == grace_email && m.subject == "Your Tessera username is grace")
            .count(),
        1,
        "the onboarding email"
    );
    let sms = latest_to(&server, "+6591234567", Channel::Sms).await;
    let initial = sms
        .body
        .split("initial password is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the initial password SMS")
        .to_owned();

    // 2. An expired link: shown (not audited), expired by the job (audited, system),
    //    resent (audited), the old link refused (not audited); then 20 concurrent submits
    //    of the new link make exactly one registration event.
    let ken_email = "ken@vendor.example.com";
    let sent = admin.post("/invitations", &[("email", ken_email)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let step = trail.take(&server).await;
    assert_exactly("second invite", &step, &["invitation.sent"]);
    let ken_invitation = step[0].event.target.clone().unwrap();
    let old_link = invitation_link(&server, ken_email).await;
    let old_token = token_of(&old_link);

    server
        .clock
        .advance(Duration::days(5) + Duration::seconds(1));
    let expired = guest.get(&old_link).await;
    assert_eq!(expired.status, 410);
    assert!(expired.body.contains("This invitation has expired"));
    let late = guest
        .post("/register", &registration(&old_token, "ken", "98765432"))
        .await;
    assert_eq!(late.status, 410, "an expired link registers nobody");
    let step = trail.take(&server).await;
    assert_exactly("viewing and submitting an expired link", &step, &[]);

    let report = run_due(&server.app).await.unwrap();
    assert_eq!(report.invitations_expired, 1);
    assert_eq!((report.reminders_sent, report.accounts_terminated), (0, 0));
    let step = trail.take(&server).await;
    assert_exactly("the expiry job", &step, &["invitation.expired"]);
    assert_event(&step[0], "system", Some(&ken_invitation), Outcome::Success);

    // Five days on the sponsor's session has ended: sign in again (its own events).
    assert_eq!(admin.sign_in("admin", PASSWORD).await.status, 303);
    trail.take(&server).await;
    let listed = invitations::list(
        &server.app,
        &Sponsor::operator_at_cli(),
        Some(InvitationStatus::Expired),
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(format!("invitation:{}", listed[0].id), ken_invitation);
    let resent = admin
        .post(&format!("/invitations/{}/resend", listed[0].id), &[])
        .await;
    assert_eq!(
        resent.location.as_deref(),
        Some("/invitations?notice=resent"),
        "{}",
        resent.body
    );
    let step = trail.take(&server).await;
    assert_exactly("resend", &step, &["invitation.resent"]);
    assert_event(
        &step[0],
        &admin_actor,
        Some(&ken_invitation),
        Outcome::Success,
    );
    let new_link = invitation_link(&server, ken_email).await;
    assert_ne!(new_link, old_link);
    let old = guest.get(&old_link).await;
    assert_eq!(old.status, 410);
    assert!(old.body.contains("does not work"), "{}", old.body);
    let refused = guest
        .post("/register", &registration(&old_token, "ken", "98765432"))
        .await;
    assert_eq!(refused.status, 410);
    let step = trail.take(&server).await;
    assert_exactly("the replaced link, viewed and submitted", &step, &[]);

    let new_token = token_of(&new_link);
    let mut tasks = Vec::new();
    for n in 0..20 {
        let base = base.clone();
        let token = new_token.clone();
        tasks.push(tokio::spawn(async move {
            let username = if n % 2 == 0 {
                "ken".to_owned()
            } else {
                format!("ken{n:02}")
            };
            let mut b = Browser::new(&base);
            let page = b
                .post("/register", &registration(&token, &username, "98765432"))
                .await;
            (page.status, page.body)
        }));
    }
    let mut registered = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => registered += 1,
            410 => assert!(body.contains("has been used"), "{body}"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(registered, 1);
    let ken = user_by_email(&server, ken_email).await;
    let ken_target = format!("user:{}", ken.id);
    let step = trail.take(&server).await;
    assert_exactly("20 concurrent submits", &step, &["registration.completed"]);
    assert_event(&step[0], &ken_target, Some(&ken_target), Outcome::Success);
    assert_eq!(detail(&step[0])["invitation"], ken_invitation.as_str());

    // 3. Grace's pending account: reminded 7 days and 1 day before its deadline, then
    //    terminated by the job (actor system); her sign-in afterwards is refused and
    //    audited as a failure.
    let deadline = grace.activation_deadline.unwrap();
    server
        .clock
        .set(deadline - Duration::days(7) + Duration::hours(1));
    assert_eq!(run_due(&server.app).await.unwrap().reminders_sent, 1);
    let step = trail.take(&server).await;
    assert_exactly("the 7-day reminder", &step, &["user.activation_reminder"]);
    assert_event(&step[0], "system", Some(&grace_target), Outcome::Success);

    // A day before Grace's deadline, Ken (registered five days later) is 7 days from his.
    server
        .clock
        .set(deadline - Duration::days(1) + Duration::hours(1));
    assert_eq!(run_due(&server.app).await.unwrap().reminders_sent, 2);
    let step = trail.take(&server).await;
    assert_exactly(
        "the 1-day and 7-day reminders",
        &step,
        &["user.activation_reminder", "user.activation_reminder"],
    );
    let mut reminded: Vec<_> = step
        .iter()
        .map(|r| r.event.target.clone().unwrap())
        .collect();
    reminded.sort();
    let mut expected = vec![grace_target.clone(), ken_target.clone()];
    expected.sort();
    assert_eq!(reminded, expected);

    server.clock.set(deadline + Duration::seconds(1));
    let report = run_due(&server.app).await.unwrap();
    assert_eq!(report.accounts_terminated, 1);
    assert_eq!(report.reminders_sent, 0);
    let step = trail.take(&server).await;
    assert_exactly("termination at the deadline", &step, &["user.terminated"]);
    assert_event(&step[0], "system", Some(&grace_target), Outcome::Success);
    assert_eq!(detail(&step[0])["reason"], "activation_deadline");
    assert_eq!(
        user_by_email(&server, grace_email).await.state,
        UserState::Terminated
    );
    // The job running again writes nothing.
    assert_eq!(run_due(&server.app).await.unwrap().accounts_terminated, 0);
    assert_exactly("the job again", &trail.take(&server).await, &[]);

    let refused = Browser::new(&base).sign_in("grace", &initial).await;
    assert_eq!(refused.status, 401);
    let step = trail.take(&server).await;
    assert_exactly("sign-in after termination", &step, &["signin.password"]);
    assert_event(&step[0], "anonymous", Some(&grace_target), Outcome::Failure);

    // 4. Self-registration, with a no-inbox pattern configured (itself audited).
    let s = LifecycleSettings {
        agency_domains: vec![AddressPattern::parse("*.gov.sg").unwrap()],
        no_inbox: vec![AddressPattern::parse("*@litemail.gov.sg").unwrap()],
        ..LifecycleSettings::default()
    };
    settings::save(&server.app, &cap, s, None).await.unwrap();
    let step = trail.take(&server).await;
    assert_exactly("settings", &step, &["settings.lifecycle"]);
    assert_event(&step[0], "cli", None, Outcome::Success);

    // An agency address end to end.
    let mei_email = "mei.tan@tech.gov.sg";
    let mut b = Browser::new(&base);
    let started = b.post("/get-started", &[("email", mei_email)]).await;
    assert_eq!(started.location.as_deref(), Some("/get-started/code"));
    let step = trail.take(&server).await;
    assert_exactly("code sent", &step, &["self_registration.code_sent"]);
    let request = step[0].event.target.clone().unwrap();
    assert!(request.starts_with("self_registration:"), "{request}");
    assert_event(&step[0], "anonymous", Some(&request), Outcome::Success);
    assert_eq!(detail(&step[0])["email"], mei_email);

    let code = code_for(&server, mei_email).await;
    let bad = b
        .post("/get-started/code", &[("code", wrong_code(&code))])
        .await;
    assert_eq!(bad.status, 422);
    let step = trail.take(&server).await;
    assert_exactly("a wrong code", &step, &["self_registration.code_failed"]);
    assert_event(&step[0], "anonymous", Some(&request), Outcome::Failure);
    assert_eq!(detail(&step[0])["attempt"], 1);
    let ok = b.post("/get-started/code", &[("code", &code)]).await;
    assert_eq!(ok.location.as_deref(), Some("/get-started/details"));
    let step = trail.take(&server).await;
    assert_exactly(
        "the right code",
        &step,
        &["self_registration.code_verified"],
    );
    assert_event(&step[0], "anonymous", Some(&request), Outcome::Success);

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
    // Unlike the invitation form (registration.invalid), an invalid details form writes
    // no event: it is refused before anything is read or written.
    assert_exactly("invalid details", &trail.take(&server).await, &[]);
    let done = b.post("/get-started/details", &form("81234567")).await;
    assert_eq!(
        done.location.as_deref(),
        Some("/my-request"),
        "{}",
        done.body
    );
    let mei = user_by_email(&server, mei_email).await;
    assert_eq!(mei.state, UserState::Pending);
    let mei_target = format!("user:{}", mei.id);
    let step = trail.take(&server).await;
    assert_exactly("self-registration", &step, &["self_registration.completed"]);
    assert_event(&step[0], &mei_target, Some(&mei_target), Outcome::Success);
    let d = detail(&step[0]);
    assert_eq!(d["request"], request.as_str());
    assert_eq!(d["username"], "mei.tan");
    assert!(
        outbox(&server)
            .await
            .iter()
            .any(|m| m.subject == "Your Tessera username is mei.tan"),
        "the onboarding email"
    );
    assert!(
        latest_to(&server, "+6581234567", Channel::Sms)
            .await
            .body
            .contains("initial password")
    );

    // A non-agency and a no-inbox address: one refusal event each, with the reason.
    for (email, reason) in [
        ("mei@gmail.com", "not_agency"),
        ("mei@litemail.gov.sg", "no_inbox"),
    ] {
        let page = Browser::new(&base)
            .post("/get-started", &[("email", email)])
            .await;
        assert_eq!(page.status, 422, "{email}");
        let step = trail.take(&server).await;
        assert_exactly(email, &step, &["self_registration.refused"]);
        assert_event(&step[0], "anonymous", None, Outcome::Failure);
        let d = detail(&step[0]);
        assert_eq!(
            (d["email"].as_str(), d["reason"].as_str()),
            (Some(email), Some(reason))
        );
    }

    // Five wrong codes, then the right one as the sixth: refused, and audited as such.
    let raj_email = "raj@hdb.gov.sg";
    let mut r = Browser::new(&base);
    let started = r.post("/get-started", &[("email", raj_email)]).await;
    assert_eq!(started.status, 303);
    let step = trail.take(&server).await;
    assert_exactly("code sent", &step, &["self_registration.code_sent"]);
    let raj_request = step[0].event.target.clone().unwrap();
    let code = code_for(&server, raj_email).await;
    for attempt in 1..=5 {
        let page = r
            .post("/get-started/code", &[("code", wrong_code(&code))])
            .await;
        assert_eq!(page.status, 422);
        let step = trail.take(&server).await;
        assert_exactly("a wrong code", &step, &["self_registration.code_failed"]);
        assert_eq!(detail(&step[0])["attempt"], attempt);
    }
    let sixth = r.post("/get-started/code", &[("code", &code)]).await;
    assert_eq!(sixth.status, 422);
    assert!(
        sixth.body.contains("Too many wrong codes"),
        "{}",
        sixth.body
    );
    let step = trail.take(&server).await;
    assert_exactly("the sixth code", &step, &["self_registration.code_refused"]);
    assert_event(&step[0], "anonymous", Some(&raj_request), Outcome::Failure);

    // 5. The chain verifies, in process and through the real binary, over every row.
    let rows = audit_rows(backend, &server.db_url).await;
    assert!(rows > 30, "{rows} rows");
    match verify_chain(&server.app, &cap).await.unwrap() {
        Verification::Intact { events } => assert_eq!(events, rows as u64),
        broken => panic!("audit chain broken: {broken:?}"),
    }
    let dir = crate::support::temp_dir();
    let mut cmd = tessera(dir.path());
    // The test servers' master key (PostgreSQL nodes must be given theirs).
    cmd.env("TESSERA_DATABASE_URL", &server.db_url)
        .env("TESSERA_SECRET_KEY", URL_SAFE_NO_PAD.encode([42u8; 32]))
        .args(["admin", "audit", "verify", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(cmd, None))
        .await
        .unwrap();
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let verdict: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout));
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(verdict["events"], rows, "{verdict}");
}
