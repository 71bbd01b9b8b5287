//! `tessera admin …` through the real binary: bootstrap, tenants, users, outbox, audit.

use crate::support::{PASSWORD, run, sqlite_url, temp_dir, tessera};
use serde_json::Value;
use std::path::Path;

fn admin(dir: &Path, db: &str, args: &[&str], stdin: Option<&str>) -> crate::support::Output {
    let mut cmd = tessera(dir);
    cmd.env("TESSERA_DATABASE_URL", db).arg("admin").args(args);
    run(cmd, stdin)
}

fn json(out: &crate::support::Output) -> Value {
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
}

fn migrated(dir: &Path) -> String {
    let db = sqlite_url(dir);
    let mut cmd = tessera(dir);
    cmd.env("TESSERA_DATABASE_URL", &db).arg("migrate");
    let out = run(cmd, None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    db
}

#[test]
fn admin_commands_work_for_scripts() {
    let dir = temp_dir();
    let db = migrated(dir.path());

    let created = json(&admin(
        dir.path(),
        &db,
        &[
            "--json",
            "bootstrap",
            "--username",
            "root",
            "--email",
            "root@agency.gov.sg",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));
    assert_eq!(created["username"], "root");
    let again = admin(
        dir.path(),
        &db,
        &[
            "bootstrap",
            "--username",
            "root2",
            "--email",
            "r@agency.gov.sg",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert_ne!(again.code, Some(0));
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let weak = admin(
        dir.path(),
        &db,
        &[
            "bootstrap",
            "--username",
            "x",
            "--email",
            "bad",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert_ne!(weak.code, Some(0));
    assert!(
        weak.stderr.contains("--username") && weak.stderr.contains("--email"),
        "{}",
        weak.stderr
    );

    let tenant = json(&admin(
        dir.path(),
        &db,
        &[
            "tenant",
            "create",
            "--slug",
            "docs",
            "--name",
            "Docs portal",
            "--json",
        ],
        None,
    ));
    assert_eq!(tenant["slug"], "docs");
    let dup = admin(
        dir.path(),
        &db,
        &["tenant", "create", "--slug", "docs", "--name", "Again"],
        None,
    );
    assert_ne!(dup.code, Some(0));
    assert!(dup.stderr.contains("exists already"), "{}", dup.stderr);
    assert_eq!(dup.stderr.lines().count(), 1, "one line: {}", dup.stderr);
    let tenants = json(&admin(dir.path(), &db, &["--json", "tenant", "list"], None));
    assert_eq!(tenants.as_array().unwrap().len(), 1);

    let users = json(&admin(dir.path(), &db, &["user", "list", "--json"], None));
    assert_eq!(users[0]["username"], "root");
    assert!(
        users[0].get("password_hash").is_none(),
        "hashes never leave"
    );
    let shown = json(&admin(
        dir.path(),
        &db,
        &["user", "show", "root", "--json"],
        None,
    ));
    assert_eq!(shown["platform_admin"], true);
    let by_id = json(&admin(
        dir.path(),
        &db,
        &["user", "show", shown["id"].as_str().unwrap(), "--json"],
        None,
    ));
    assert_eq!(by_id["username"], "root");
    let missing = admin(dir.path(), &db, &["user", "show", "nobody"], None);
    assert!(
        missing.stderr.contains("user not found"),
        "{}",
        missing.stderr
    );

    let queued = json(&admin(
        dir.path(),
        &db,
        &["outbox", "test", "--to", "ops@agency.gov.sg", "--json"],
        None,
    ));
    let outbox = json(&admin(dir.path(), &db, &["outbox", "list", "--json"], None));
    let ids: Vec<_> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert!(ids.contains(&queued["id"]));

    let events = json(&admin(dir.path(), &db, &["audit", "list", "--json"], None));
    let actions: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["outbox.test_email", "tenant.create", "setup.admin_created"]
    );
    let text = admin(dir.path(), &db, &["audit", "list"], None);
    assert!(text.stdout.contains("tenant.create"));
}

/// Done-when 5: verify passes on a clean log and fails, naming the row, after an edit or a
/// deletion in the database.
#[tokio::test]
async fn audit_verify_names_the_edited_or_missing_row() {
    let dir = temp_dir();
    let db = migrated(dir.path());
    admin(
        dir.path(),
        &db,
        &[
            "bootstrap",
            "--username",
            "root",
            "--email",
            "root@agency.gov.sg",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    for slug in ["alpha", "bravo", "charlie"] {
        assert_eq!(
            admin(
                dir.path(),
                &db,
                &["tenant", "create", "--slug", slug, "--name", slug],
                None
            )
            .code,
            Some(0)
        );
    }
    let ok = admin(dir.path(), &db, &["audit", "verify"], None);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(ok.stdout.contains("4 events verified"), "{}", ok.stdout);

    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE audit_events SET target = 'tenant:forged' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let edited = admin(dir.path(), &db, &["audit", "verify"], None);
    assert_ne!(edited.code, Some(0));
    assert!(
        edited.stderr.contains("row 3 was altered"),
        "{}",
        edited.stderr
    );
    let as_json = admin(dir.path(), &db, &["audit", "verify", "--json"], None);
    assert_ne!(as_json.code, Some(0));
    let report: Value = serde_json::from_str(&as_json.stdout).unwrap();
    assert_eq!(
        (report["ok"].as_bool(), report["seq"].as_i64()),
        (Some(false), Some(3))
    );

    // Deleting a row breaks the chain at the row after it.
    sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    let deleted = admin(dir.path(), &db, &["audit", "verify"], None);
    assert_ne!(deleted.code, Some(0));
    assert!(
        deleted.stderr.contains("row 3 does not follow"),
        "{}",
        deleted.stderr
    );
    pool.close().await;
}
