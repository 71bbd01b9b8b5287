//! Issue 7: the audit views. A platform administrator filters the whole log (actor,
//! target, action or action prefix, time) page by page and exports it as CSV and JSON; a
//! tenant admin sees only the events filed under their tenant, in exports too; malformed
//! filters get a 400 page that says what is wrong. Also the platform admin's tenant pages,
//! whose changes the log records.

use crate::support::{Browser, Page};
use crate::tenants_access::{TenantWorld, signed_in};
use serde_json::Value;
use tessera_core::admin::PlatformAdmin;
use tessera_core::tenants::{TenantAdmin, groups};
use tessera_domain::tenancy::TenantGroup;
use tessera_testkit::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_manages_tenants_and_filters_and_exports_the_log() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let maps = TenantAdmin::by_platform(app, &cli, "maps").await.unwrap();
    let writers = groups::create(app, &docs, "writers", "").await.unwrap();
    let tricky_name = "Ops, \"core\" team";
    let tricky = groups::create(app, &docs, tricky_name, "").await.unwrap();
    let mut alice = signed_in(&w.server, "alice").await;

    // The tenant list and the create form: errors re-render, success goes to the tenant.
    let list = alice.get("/admin/tenants").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for text in [
        "Docs team",
        "Maps team",
        "tara",
        "otto",
        "Create tenant",
        "Handle",
    ] {
        assert!(list.body.contains(text), "{text:?}: {}", list.body);
    }
    let bad = alice
        .post(
            "/admin/tenants",
            &[("slug", "Bad Slug!"), ("name", "Parks team")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("A tenant handle has 2–63"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"Parks team\""),
        "what was typed stays"
    );
    let duplicate = alice
        .post(
            "/admin/tenants",
            &[("slug", "docs"), ("name", "Docs again")],
        )
        .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    assert!(duplicate.body.contains("exists already"));
    let created = alice
        .post(
            "/admin/tenants",
            &[("slug", "parks"), ("name", "Parks team")],
        )
        .await;
    assert_eq!(created.location.as_deref(), Some("/admin/tenants/parks"));
    let parks = alice.get("/admin/tenants/parks").await;
    assert_eq!(parks.status, 200);
    assert!(parks.body.contains("Parks team") && parks.body.contains("href=\"/tenant/parks\""));
    assert!(parks.body.contains("autocomplete=\"username\""));
    let unknown = alice
        .post("/admin/tenants/parks/admins", &[("username", "nobody")])
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(unknown.body.contains("There is no such user."));
    let added = alice
        .post("/admin/tenants/parks/admins", &[("username", "tara")])
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let remove = format!("/admin/tenants/parks/admins/{}/remove", w.tara.id);
    let parks = alice.get(added.location.as_deref().unwrap()).await;
    assert!(parks.body.contains("tara is now an admin of this tenant"));
    assert!(parks.body.contains(&remove), "{}", parks.body);
    let removed = alice.post(&remove, &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert!(
        !alice
            .get("/admin/tenants/parks")
            .await
            .body
            .contains(&remove)
    );
    assert_eq!(alice.get("/admin/tenants/nowhere").await.status, 404);

    // Two days on, more events (and enough of one kind for two pages).
    w.server.clock.advance(time::Duration::days(2));
    let mappers = groups::create(app, &maps, "mappers", "").await.unwrap();
    for i in 0..55 {
        groups::create(app, &maps, &format!("g{i:02}"), "")
            .await
            .unwrap();
    }
    // The session did not outlive two idle days.
    let mut alice = signed_in(&w.server, "alice").await;

    // By action, exact and by prefix.
    let made = json(&mut alice, "/admin/audit?action=tenant.create&format=json").await;
    assert_eq!(made.len(), 3, "{made:?}");
    assert!(made.iter().all(|r| r["action"] == "tenant.create"));
    let prefixed = json(&mut alice, "/admin/audit?action=tenant.&format=json").await;
    assert!(
        prefixed
            .iter()
            .any(|r| r["action"] == "tenant.admin_remove")
    );
    assert!(
        prefixed
            .iter()
            .all(|r| r["action"].as_str().unwrap().starts_with("tenant."))
    );

    // By actor: a username or the actor as logged.
    let by_alice = json(&mut alice, "/admin/audit?actor=alice&format=json").await;
    let alice_actor = format!("user:{}", w.alice.id);
    assert!(by_alice.iter().all(|r| r["actor"] == alice_actor.as_str()));
    for action in ["tenant.create", "tenant.admin_add", "tenant.admin_remove"] {
        assert!(by_alice.iter().any(|r| r["action"] == action), "{action}");
    }
    let by_id = json(
        &mut alice,
        &format!("/admin/audit?actor={alice_actor}&format=json"),
    )
    .await;
    assert_eq!(by_id, by_alice);
    let by_cli = json(
        &mut alice,
        "/admin/audit?actor=cli&action=tenant.create&format=json",
    )
    .await;
    assert_eq!(by_cli.len(), 2, "docs and maps");

    // By target.
    let about = json(
        &mut alice,
        &format!("/admin/audit?target=group:{}&format=json", writers.id),
    )
    .await;
    assert_eq!(about.len(), 1);
    assert_eq!(about[0]["action"], "group.create");
    assert_eq!(about[0]["tenant"], w.docs.to_string());

    // By time: a date means the whole day (UTC), or a date and time.
    let day_one = json(
        &mut alice,
        "/admin/audit?action=group.create&until=2026-11-23&format=json",
    )
    .await;
    assert_eq!(names(&day_one), ["Ops, \"core\" team", "writers"]);
    let later = json(
        &mut alice,
        "/admin/audit?action=group.create&since=2026-11-25T00:00&format=json",
    )
    .await;
    assert_eq!(later.len(), 56);
    assert!(!names(&later).contains(&"writers".to_owned()));
    assert!(names(&later).contains(&"mappers".to_owned()));

    // Pages of 50, newest first, with an "Older" link carrying the filters.
    let first = alice.get("/admin/audit?action=group.create").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body.matches("<code>group.create</code>").count(), 50);
    let older = older_link(&first).expect("an Older link");
    assert!(
        older.contains("action=group.create") && older.contains("before="),
        "{older}"
    );
    let second = alice.get(&older).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.matches("<code>group.create</code>").count(), 8);
    assert!(older_link(&second).is_none());
    assert!(second.body.contains("writers") && !first.body.contains("writers"));
    assert!(first.body.contains("format=csv") && first.body.contains("format=json"));

    // CSV: header row, quoting of commas and quotes.
    let csv = alice
        .get(&format!(
            "/admin/audit?target=group:{}&format=csv",
            tricky.id
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(header(&csv, "content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header(&csv, "content-disposition"),
        "attachment; filename=\"audit.csv\""
    );
    let mut lines = csv.body.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("seq,at,actor,action,target,outcome,source_ip,tenant,detail")
    );
    let row = lines.next().unwrap();
    let detail = serde_json::json!({ "name": tricky_name }).to_string();
    assert!(
        row.ends_with(&format!("\"{}\"", detail.replace('"', "\"\""))),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            ",cli,group.create,group:{},success,,{},",
            tricky.id, w.docs
        )),
        "{row}"
    );
    assert_eq!(lines.next(), Some(""));
    let json_export = alice
        .get(&format!(
            "/admin/audit?target=group:{}&format=json",
            tricky.id
        ))
        .await;
    assert_eq!(header(&json_export, "content-type"), "application/json");
    let records: Vec<Value> = serde_json::from_str(&json_export.body).unwrap();
    assert_eq!(records[0]["detail"], detail);

    // Malformed filters: a 400 page saying what is wrong.
    for (query, message) in [
        ("since=yesterday", "is not a date"),
        ("until=2026-13-01", "is not a date"),
        ("since=2026-11-25&until=2026-11-24", "before its start"),
        ("action=app.*", "is not an action"),
        ("actor=nobody", "There is no actor"),
        ("before=abc", "page cursor"),
        ("format=xml", "Export as csv or json"),
        ("since=tomorrow&format=csv", "is not a date"),
    ] {
        let page = alice.get(&format!("/admin/audit?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {}", page.body);
        assert!(page.body.contains(message), "{query}: {}", page.body);
    }
    let theirs = json(
        &mut alice,
        &format!("/admin/audit?target=group:{}&format=json", mappers.id),
    )
    .await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["tenant"], w.maps.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_sees_only_the_events_of_their_tenant() {
    let w = TenantWorld::start(Backend::Sqlite).await;
    let app = &w.server.app;
    let cli = PlatformAdmin::operator_at_cli();
    let docs = TenantAdmin::by_platform(app, &cli, "docs").await.unwrap();
    let maps = TenantAdmin::by_platform(app, &cli, "maps").await.unwrap();
    groups::create(app, &docs, "writers", "").await.unwrap();
    let mappers: TenantGroup = groups::create(app, &maps, "mappers", "").await.unwrap();
    groups::add_member(app, &maps, "mappers", "otto")
        .await
        .unwrap();

    let mut tara = signed_in(&w.server, "tara").await;
    let page = tara.get("/tenant/docs/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "writers",
        "group.create",
        "tenant.create",
        "tenant.admin_add",
    ] {
        assert!(page.body.contains(text), "{text:?}: {}", page.body);
    }
    for text in ["mappers", "group.member_add", &w.maps.to_string()] {
        assert!(!page.body.contains(text), "{text:?} leaks: {}", page.body);
    }

    // Exports hold the same, and only the same.
    let csv = tara.get("/tenant/docs/audit?format=csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(header(&csv, "content-type"), "text/csv; charset=utf-8");
    assert!(csv.body.contains("writers") && csv.body.contains(&w.docs.to_string()));
    assert!(!csv.body.contains("mappers") && !csv.body.contains(&w.maps.to_string()));
    let records = json(&mut tara, "/tenant/docs/audit?format=json").await;
    assert!(records.len() >= 3, "{records:?}");
    assert!(records.iter().all(|r| r["tenant"] == w.docs.to_string()));
    // Filters cannot reach another tenant's events.
    let theirs = json(
        &mut tara,
        &format!("/tenant/docs/audit?target=group:{}&format=json", mappers.id),
    )
    .await;
    assert!(theirs.is_empty());
    let filtered = json(&mut tara, "/tenant/docs/audit?action=group.&format=json").await;
    assert_eq!(filtered.len(), 1);

    // Not their tenant, not the platform log; bad input is a 400, not a 500.
    assert_eq!(tara.get("/tenant/maps/audit").await.status, 404);
    assert_eq!(tara.get("/tenant/maps/audit?format=csv").await.status, 404);
    assert_eq!(tara.get("/admin/audit").await.status, 403);
    let bad = tara.get("/tenant/docs/audit?since=last%20week").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("is not a date"));

    // A platform administrator reading a tenant's log sees that tenant only.
    let mut alice = signed_in(&w.server, "alice").await;
    let page = alice.get("/tenant/maps/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("mappers") && !page.body.contains("writers"));
    let all = json(&mut alice, "/admin/audit?action=group.create&format=json").await;
    assert_eq!(all.len(), 2, "the platform log has both");
}

async fn json(b: &mut Browser, path: &str) -> Vec<Value> {
    let page = b.get(path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", page.body))
}

fn header(page: &Page, name: &str) -> String {
    page.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The group names in group.create records, in order.
fn names(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let detail: Value = serde_json::from_str(r["detail"].as_str().unwrap()).unwrap();
            detail["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn older_link(page: &Page) -> Option<String> {
    let end = page.body.find("\">Older</a>")?;
    let start = page.body[..end].rfind("href=\"")? + "href=\"".len();
    Some(
        page.body[start..end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}
