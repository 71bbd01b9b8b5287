//! Issue 7, done-when 2: an app's access rules at `/authorize`. Listed people (by name or
//! through a group) get a code; anyone else sees the refusal page naming the app and its
//! tenant's contacts (or, with prompt=none, the app hears access_denied), asks for access,
//! and the tenant admin approves or rejects on the tenant's review page: both emailed,
//! both audited under the tenant. Other tenants' admins cannot see or decide.

use crate::oidc_support::{REDIRECT, param};
use crate::support::{Browser, PASSWORD, Page, between};
use openidconnect::PkceCodeChallenge;
use std::time::Duration;
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::audit::{AuditReader, search};
use tessera_core::oidc::clients::{NewApp, create_app};
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_core::tenants::apps::{AccessEdit, set_access};
use tessera_core::tenants::{self, TenantAdmin, groups};
use tessera_domain::user::{EmailAddress, OffshoreDetails, User, UserState, UserType, Username};
use tessera_domain::{TenantId, UserId};
use tessera_store::AuditQuery;
use tessera_testkit::{Backend, Options, ReceivedMail, SmtpSink, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_requests_are_approved_and_rejected_on_sqlite() {
    access_request_flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_requests_are_approved_and_rejected_on_postgresql() {
    access_request_flow(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_type_and_offshore_rules_refuse_with_their_reasons() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let cap = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let officers_only = w.app("Officer tools").await;
    set_access(
        app,
        &cap,
        &officers_only,
        AccessEdit {
            user_types: vec!["officer".into()],
            offshore_allowed: true,
            ..AccessEdit::default()
        },
    )
    .await
    .unwrap();
    let onshore = w.app("Onshore reports").await;
    set_access(
        app,
        &cap,
        &onshore,
        AccessEdit {
            offshore_allowed: false,
            ..AccessEdit::default()
        },
    )
    .await
    .unwrap();
    person(&w.server, "vera", "Vera", UserType::Vendor, false).await;
    person(&w.server, "omar", "Omar", UserType::Vendor, true).await;
    person(&w.server, "olga", "Olga", UserType::Officer, false).await;

    let mut vera = signed_in(&w.server, "vera").await;
    let page = authorize(&mut vera, &officers_only, "").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("This app is not open to your type of account.")
    );
    assert!(page.body.contains("Officer tools") && page.body.contains("Docs team"));
    assert!(
        code_of(&authorize(&mut vera, &onshore, "").await).is_some(),
        "onshore vendor"
    );

    let mut omar = signed_in(&w.server, "omar").await;
    let page = authorize(&mut omar, &onshore, "").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("This app is not open to vendors working from outside the country.")
    );
    assert!(page.body.contains("Request access"));

    let mut olga = signed_in(&w.server, "olga").await;
    assert!(code_of(&authorize(&mut olga, &officers_only, "").await).is_some());
    assert!(code_of(&authorize(&mut olga, &onshore, "").await).is_some());
}

async fn access_request_flow(backend: Backend) {
    let w = TenantWorld::start(backend).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let wiki = w.app("Docs wiki").await;
    groups::create(app, &docs, "writers", "People who write the docs")
        .await
        .unwrap();
    person(&w.server, "lisa", "Lisa", UserType::Officer, false).await;
    person(&w.server, "gina", "Gina", UserType::Vendor, false).await;
    let rick = person(&w.server, "rick", "Rick", UserType::Vendor, false).await;
    let rhea = person(&w.server, "rhea", "Rhea", UserType::Officer, false).await;
    groups::add_member(app, &docs, "writers", "gina")
        .await
        .unwrap();
    set_access(
        app,
        &docs,
        &wiki,
        AccessEdit {
            listed_only: true,
            users: vec!["lisa".into()],
            groups: vec!["writers".into()],
            offshore_allowed: true,
            ..AccessEdit::default()
        },
    )
    .await
    .unwrap();

    // Listed by name, and through a group: a code.
    for username in ["lisa", "gina"] {
        let mut b = signed_in(&w.server, username).await;
        let page = authorize(&mut b, &wiki, "").await;
        assert!(code_of(&page).is_some(), "{username}: {page:?}");
    }

    // Anyone else: the refusal page, naming the app, its tenant and whom to ask.
    let mut rick_b = signed_in(&w.server, "rick").await;
    let refused = authorize(&mut rick_b, &wiki, "").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    for text in [
        "Docs wiki",
        "Docs team",
        "Tara Lim",
        "tara@tech.gov.sg",
        "This app is open only to people its owners have given access.",
        "Why do you need it?",
        "Request access",
    ] {
        assert!(
            refused.body.contains(text),
            "{text:?} missing: {}",
            refused.body
        );
    }
    assert!(
        refused
            .body
            .contains(&format!("name=\"client_id\" value=\"{wiki}\""))
    );
    // Silently: the app hears access_denied.
    let silent = authorize(&mut rick_b, &wiki, "&prompt=none").await;
    assert!(matches!(silent.status, 302 | 303), "{}", silent.status);
    let location = silent.location.clone().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(&pairs(&location), "error"), Some("access_denied"));

    // The request: the tenant admin is emailed; asking twice is answered clearly.
    let sent = rick_b
        .post(
            "/access/request",
            &[
                ("client_id", wiki.as_str()),
                ("reason", "I write the release notes"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("Request sent"));
    assert!(sent.body.contains("Docs team"));
    let mail = mail_to(
        &w.sink,
        "tara@tech.gov.sg",
        "Rick Lim asks to use Docs wiki",
    )
    .await;
    // Long lines may be soft-wrapped (quoted-printable).
    let text = mail.data.replace("=\r\n", "").replace("=\n", "");
    assert!(text.contains("I write the release notes"), "{text}");
    assert!(text.contains("/tenant/docs/requests"), "{text}");
    let again = rick_b
        .post(
            "/access/request",
            &[("client_id", wiki.as_str()), ("reason", "Please")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again
            .body
            .contains("You asked for access to Docs wiki already"),
        "{}",
        again.body
    );
    let refused = authorize(&mut rick_b, &wiki, "").await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("You asked for access to Docs wiki already")
    );
    assert!(
        !refused.body.contains("Why do you need it?"),
        "no second form"
    );

    // Rhea asks too (she will be rejected).
    let mut rhea_b = signed_in(&w.server, "rhea").await;
    assert_eq!(authorize(&mut rhea_b, &wiki, "").await.status, 403);
    let sent = rhea_b
        .post(
            "/access/request",
            &[("client_id", wiki.as_str()), ("reason", "")],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);

    // The tenant admin's review page.
    let mut tara = signed_in(&w.server, "tara").await;
    let review = tara.get("/tenant/docs/requests").await;
    assert_eq!(review.status, 200, "{}", review.body);
    for text in [
        "Rick Lim",
        "rick@agency.example.com",
        "Vendor",
        "Docs wiki",
        "I write the release notes",
        "Rhea Lim",
        "Approve",
        "Reject",
    ] {
        assert!(
            review.body.contains(text),
            "{text:?} missing: {}",
            review.body
        );
    }
    let rick_request = request_id(&review.body, "Rick Lim");
    let rhea_request = request_id(&review.body, "Rhea Lim");

    // Another tenant's admin can neither see nor decide it.
    let mut otto = signed_in(&w.server, "otto").await;
    assert_eq!(otto.get("/tenant/docs/requests").await.status, 404);
    assert_eq!(otto.get("/tenant/maps/requests").await.status, 200);
    for path in [
        format!("/tenant/docs/requests/{rick_request}/approve"),
        format!("/tenant/maps/requests/{rick_request}/approve"),
        format!("/tenant/maps/requests/{rick_request}/reject"),
    ] {
        assert_eq!(otto.post(&path, &[]).await.status, 404, "{path}");
    }
    assert!(
        !otto
            .get("/tenant/maps/requests")
            .await
            .body
            .contains("Rick Lim")
    );

    // Approve: Rick is emailed, both steps are audited under the tenant, and he gets in.
    let approved = tara
        .post(
            &format!("/tenant/docs/requests/{rick_request}/approve"),
            &[],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let after = tara.get(approved.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Approved"), "{}", after.body);
    mail_to(
        &w.sink,
        "rick@agency.example.com",
        "You can now use Docs wiki",
    )
    .await;
    let events = search(
        app,
        AuditReader::Platform(&cli),
        AuditQuery {
            action: Some("access.".into()),
            limit: 100,
            ..AuditQuery::default()
        },
    )
    .await
    .unwrap();
    let request_event = events
        .iter()
        .find(|r| {
            r.event.action == "access.request" && r.event.actor == format!("user:{}", rick.id)
        })
        .expect("access.request audited");
    assert_eq!(request_event.event.tenant, Some(w.docs));
    let approve_event = events
        .iter()
        .find(|r| r.event.action == "access.approve")
        .expect("access.approve audited");
    assert_eq!(approve_event.event.tenant, Some(w.docs));
    assert_eq!(
        approve_event.event.target,
        Some(format!("user:{}", rick.id))
    );
    assert_eq!(approve_event.event.actor, format!("user:{}", w.tara.id));
    assert!(code_of(&authorize(&mut rick_b, &wiki, "").await).is_some());

    // Deciding twice is refused clearly.
    let twice = tara
        .post(
            &format!("/tenant/docs/requests/{rick_request}/approve"),
            &[],
        )
        .await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("This request was decided already."));

    // Reject: Rhea is emailed, and is still refused (and may ask again).
    let rejected = tara
        .post(&format!("/tenant/docs/requests/{rhea_request}/reject"), &[])
        .await;
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    mail_to(
        &w.sink,
        rhea.email.as_str(),
        "Your request to use Docs wiki was not approved",
    )
    .await;
    let still = authorize(&mut rhea_b, &wiki, "").await;
    assert_eq!(still.status, 403, "{}", still.body);
    assert!(still.body.contains("Why do you need it?"));
    let review = tara.get("/tenant/docs/requests").await;
    assert!(
        review.body.contains("No requests are waiting."),
        "{}",
        review.body
    );
    assert!(review.body.contains("Approved") && review.body.contains("Rejected"));
    let rejections = search(
        app,
        AuditReader::Platform(&cli),
        AuditQuery {
            action: Some("access.reject".into()),
            tenant: Some(w.docs),
            limit: 10,
            ..AuditQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rejections.len(), 1);
    assert_eq!(
        rejections[0].event.target,
        Some(format!("user:{}", rhea.id))
    );
}

/// A server with a platform administrator (alice), two tenants (docs, maps) each with an
/// admin (tara, otto), and an SMTP sink.
pub struct TenantWorld {
    pub server: TestServer,
    pub sink: SmtpSink,
    pub alice: User,
    pub tara: User,
    pub docs: TenantId,
    pub maps: TenantId,
}

impl TenantWorld {
    pub async fn start(backend: Backend) -> Self {
        let sink = SmtpSink::start().await;
        let server = TestServer::start_with(
            backend,
            Options {
                smtp_url: Some(sink.url()),
                sms_webhook_url: None,
            },
        )
        .await;
        let app = &server.app;
        let cli = PlatformAdmin::operator_at_cli();
        let alice = bootstrap_admin(
            app,
            &AdminForm {
                username: "alice".into(),
                given_name: "Alice".into(),
                family_name: "Tan".into(),
                email: "alice@tech.gov.sg".into(),
                mobile: "+6591234567".into(),
                password: PASSWORD.into(),
                password_confirm: PASSWORD.into(),
            },
        )
        .await
        .unwrap();
        let docs = create_tenant(app, &cli, "docs", "Docs team").await.unwrap();
        let maps = create_tenant(app, &cli, "maps", "Maps team").await.unwrap();
        let tara = person(&server, "tara", "Tara", UserType::Officer, false).await;
        person(&server, "otto", "Otto", UserType::Officer, false).await;
        tenants::add_admin(app, &cli, "docs", "tara").await.unwrap();
        tenants::add_admin(app, &cli, "maps", "otto").await.unwrap();
        Self {
            server,
            sink,
            alice,
            tara,
            docs: docs.id,
            maps: maps.id,
        }
    }

    /// A confidential app of the docs tenant; returns its client_id.
    pub async fn app(&self, name: &str) -> String {
        create_app(
            &self.server.app,
            &PlatformAdmin::operator_at_cli(),
            NewApp {
                tenant: "docs".into(),
                name: name.into(),
                redirect_uris: vec![REDIRECT.into()],
                ..NewApp::default()
            },
        )
        .await
        .unwrap()
        .client
        .client_id
    }
}

/// An active account, straight into the store. Officers have a tech.gov.sg address,
/// vendors one at agency.example.com; `offshore` vendors work from abroad.
pub async fn person(
    server: &TestServer,
    username: &str,
    given: &str,
    user_type: UserType,
    offshore: bool,
) -> User {
    let app = &server.app;
    let now = app.clock.now();
    let domain = match user_type {
        UserType::Officer => "tech.gov.sg",
        _ => "agency.example.com",
    };
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse(username).unwrap(),
        given_name: given.into(),
        family_name: "Lim".into(),
        email: EmailAddress::parse(&format!("{username}@{domain}")).unwrap(),
        mobile: None,
        department: "Engineering".into(),
        user_type,
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
        offshore: offshore.then(|| OffshoreDetails {
            in_odc: true,
            ..OffshoreDetails::default()
        }),
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

/// A browser signed in as `username` (password and authenticator app).
pub async fn signed_in(server: &TestServer, username: &str) -> Browser {
    let mut b = Browser::new(&server.base_url);
    let r = b.sign_in(username, PASSWORD).await;
    assert_eq!(r.status, 303, "{username} signs in: {}", r.body);
    b
}

/// Opens an authorization request (code flow with PKCE) for `client_id`.
async fn authorize(b: &mut Browser, client_id: &str, extra: &str) -> Page {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let path = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=st&nonce=n&code_challenge={}&code_challenge_method=S256{extra}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    b.get(&path).await
}

fn pairs(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The code of a redirect back to the app, if that is what the page is.
fn code_of(page: &Page) -> Option<String> {
    let location = page.location.as_deref()?;
    if !location.starts_with(REDIRECT) {
        return None;
    }
    param(&pairs(location), "code").map(str::to_owned)
}

/// The id in the approve form of the pending request row naming `name`.
fn request_id(body: &str, name: &str) -> String {
    let row = body
        .split("<tr>")
        .find(|row| row.contains(name) && row.contains("/approve"))
        .unwrap_or_else(|| panic!("no pending request of {name}: {body}"));
    between(row, "/requests/", "/approve").unwrap()
}

/// Waits for the email to `to` whose subject is `subject`.
async fn mail_to(sink: &SmtpSink, to: &str, subject: &str) -> ReceivedMail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = sink.received().into_iter().find(|m| {
            m.to.iter().any(|t| t == to) && m.header("Subject").is_some_and(|s| s.contains(subject))
        });
        if let Some(m) = found {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no email to {to} about {subject:?}: {:?}",
            sink.received()
                .iter()
                .map(|m| (m.to.clone(), m.header("Subject")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
