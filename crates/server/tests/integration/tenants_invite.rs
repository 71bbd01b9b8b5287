//! A tenant admin invites someone straight into the tenant's groups: the account joins
//! them when the invitation registers; a group of another tenant cannot be named.

use crate::lifecycle::{admin_browser, latest_to, registration};
use crate::support::token_of;
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::tenants::{TenantAdmin, groups};
use tessera_domain::outbox::Channel;
use tessera_testkit::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_invites_into_groups() {
    let server = TestServer::start(Backend::Sqlite).await;
    let app = &server.app;
    let mut admin = admin_browser(&server).await;
    let root = PlatformAdmin::operator_at_cli();
    create_tenant(app, &root, "docs", "Docs").await.unwrap();
    create_tenant(app, &root, "other", "Other").await.unwrap();
    let docs = TenantAdmin::by_platform(app, &root, "docs").await.unwrap();
    let other = TenantAdmin::by_platform(app, &root, "other").await.unwrap();
    let writers = groups::create(app, &docs, "Writers", "").await.unwrap();
    let readers = groups::create(app, &other, "Readers", "").await.unwrap();

    let page = admin.get("/tenant/docs/invite").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Writers"));
    assert!(
        !page.body.contains("Readers"),
        "another tenant's group is offered"
    );

    let to = "grace@vendor.example.com";
    let foreign = readers.id.to_string();
    let refused = admin
        .post(
            "/tenant/docs/invite",
            &[("email", to), ("group", foreign.as_str())],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("This tenant has no group"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(to), "the address is kept");

    let ours = writers.id.to_string();
    let sent = admin
        .post(
            "/tenant/docs/invite",
            &[("email", to), ("group", ours.as_str())],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("Invitation sent to"), "{}", sent.body);

    let mail = latest_to(&server, to, Channel::Email).await;
    let start = mail.body.find("/register?token=").unwrap();
    let link = mail.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut guest = crate::support::Browser::new(&server.base_url);
    let done = guest
        .post(
            "/register",
            &registration(&token_of(&link), "grace", "91234567"),
        )
        .await;
    assert!(done.status < 400, "{} {}", done.status, done.body);

    let members = groups::members(app, &docs, "Writers").await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["grace"]
    );
    assert!(
        groups::members(app, &other, "Readers")
            .await
            .unwrap()
            .is_empty()
    );

    // The invitation is filed under the tenant, so its admins see it in their audit view.
    let mut r = app.db.read().await.unwrap();
    let filed = r
        .audit_query(&tessera_store::AuditQuery {
            tenant: Some(docs.tenant_id()),
            action: Some("invitation.sent".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(filed.len(), 1);
}
