//! `tessera admin tenant|app|group …` through the real binary: the portal's tenant pages
//! for scripts, each with `--json`, and clear one-line errors.

use crate::support::{PASSWORD, run, sqlite_url, temp_dir, tessera};
use serde_json::Value;
use std::path::Path;

fn admin(dir: &Path, db: &str, args: &[&str]) -> crate::support::Output {
    let mut cmd = tessera(dir);
    cmd.env("TESSERA_DATABASE_URL", db).arg("admin").args(args);
    run(cmd, None)
}

fn json(dir: &Path, db: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = admin(dir, db, &all);
    assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
}

fn fails(dir: &Path, db: &str, args: &[&str], says: &str) {
    let out = admin(dir, db, args);
    assert_ne!(out.code, Some(0), "{args:?} succeeded: {}", out.stdout);
    assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn tenant_app_and_group_commands_for_scripts() {
    let dir = temp_dir();
    let d = dir.path();
    let db = sqlite_url(d);
    let mut cmd = tessera(d);
    cmd.env("TESSERA_DATABASE_URL", &db).arg("migrate");
    assert_eq!(run(cmd, None).code, Some(0));
    let mut cmd = tessera(d);
    cmd.env("TESSERA_DATABASE_URL", &db).args([
        "admin",
        "bootstrap",
        "--username",
        "root",
        "--email",
        "root@agency.gov.sg",
        "--password-stdin",
    ]);
    assert_eq!(run(cmd, Some(PASSWORD)).code, Some(0));

    json(
        d,
        &db,
        &["tenant", "create", "--slug", "docs", "--name", "Docs"],
    );
    json(
        d,
        &db,
        &["tenant", "create", "--slug", "other", "--name", "Other"],
    );
    let added = json(d, &db, &["tenant", "add-admin", "docs", "root"]);
    assert_eq!(added["admin"], "root");
    let admins = json(d, &db, &["tenant", "admins", "docs"]);
    assert_eq!(admins.as_array().unwrap().len(), 1);
    assert_eq!(admins[0]["username"], "root");
    fails(
        d,
        &db,
        &["tenant", "add-admin", "docs", "nobody"],
        "no such user",
    );
    fails(d, &db, &["tenant", "admins", "nope"], "tenant not found");

    // Apps: create in a tenant, list per tenant, show, secrets, access, delete.
    let created = json(
        d,
        &db,
        &[
            "app",
            "create",
            "--tenant",
            "docs",
            "--name",
            "Docs portal",
            "--redirect-uri",
            "https://docs.example/callback",
            "--description",
            "Our documentation",
        ],
    );
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert!(created["client_secret"].as_str().unwrap().len() >= 32);
    let listed = json(d, &db, &["app", "list", "--tenant", "docs"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["description"], "Our documentation");
    let other = json(d, &db, &["app", "list", "--tenant", "other"]);
    assert!(other.as_array().unwrap().is_empty());
    // Another tenant's handle does not reach the app.
    fails(
        d,
        &db,
        &["app", "show", "--tenant", "other", &client_id],
        "app not found",
    );

    let rotated = json(
        d,
        &db,
        &[
            "app",
            "rotate-secret",
            "--tenant",
            "docs",
            &client_id,
            "--overlap-seconds",
            "3600",
        ],
    );
    assert_ne!(rotated["client_secret"], created["client_secret"]);
    let shown = json(d, &db, &["app", "show", "--tenant", "docs", &client_id]);
    let secrets = shown["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2, "{shown}");
    assert!(
        secrets[0]["expires_at"].is_string(),
        "old secret expires: {shown}"
    );
    assert!(
        secrets[1]["expires_at"].is_null(),
        "new secret does not: {shown}"
    );
    assert!(
        !shown
            .to_string()
            .contains(rotated["client_secret"].as_str().unwrap())
    );
    fails(
        d,
        &db,
        &[
            "app",
            "rotate-secret",
            "--tenant",
            "docs",
            &client_id,
            "--overlap-seconds",
            "99999999",
        ],
        "--overlap",
    );
    let old_id = secrets[0]["id"].as_i64().unwrap().to_string();
    json(
        d,
        &db,
        &[
            "app",
            "revoke-secret",
            "--tenant",
            "docs",
            &client_id,
            &old_id,
        ],
    );
    fails(
        d,
        &db,
        &[
            "app",
            "revoke-secret",
            "--tenant",
            "docs",
            &client_id,
            &old_id,
        ],
        "secret not found",
    );

    // Groups, then access rules naming them.
    let group = json(
        d,
        &db,
        &["group", "create", "--tenant", "docs", "--name", "Writers"],
    );
    assert_eq!(group["name"], "Writers");
    fails(
        d,
        &db,
        &["group", "create", "--tenant", "docs", "--name", "writers"],
        "already",
    );
    json(
        d,
        &db,
        &["group", "add-member", "--tenant", "docs", "Writers", "root"],
    );
    let members = json(d, &db, &["group", "members", "--tenant", "docs", "Writers"]);
    assert_eq!(members[0]["username"], "root");
    fails(
        d,
        &db,
        &["group", "members", "--tenant", "other", "Writers"],
        "group not found",
    );

    let access = json(
        d,
        &db,
        &[
            "app",
            "access",
            "--tenant",
            "docs",
            &client_id,
            "--listed-only",
            "--group",
            "writers",
            "--user-type",
            "officer",
            "--no-offshore",
        ],
    );
    assert_eq!(access["access"]["audience"], "listed");
    assert_eq!(access["access"]["groups"][0], group["id"]);
    assert_eq!(access["access"]["user_types"][0], "officer");
    assert_eq!(access["access"]["offshore_allowed"], false);
    fails(
        d,
        &db,
        &[
            "app", "access", "--tenant", "docs", &client_id, "--group", "nope",
        ],
        "--groups",
    );
    fails(
        d,
        &db,
        &[
            "app",
            "access",
            "--tenant",
            "docs",
            &client_id,
            "--user-type",
            "alien",
        ],
        "--user-types",
    );

    let requests = json(d, &db, &["tenant", "requests", "docs"]);
    assert!(requests.as_array().unwrap().is_empty());
    fails(
        d,
        &db,
        &["tenant", "approve", "docs", "x"],
        "not an access request id",
    );

    json(
        d,
        &db,
        &[
            "group",
            "remove-member",
            "--tenant",
            "docs",
            "Writers",
            "root",
        ],
    );
    fails(
        d,
        &db,
        &[
            "group",
            "remove-member",
            "--tenant",
            "docs",
            "Writers",
            "root",
        ],
        "is not in",
    );
    json(d, &db, &["group", "delete", "--tenant", "docs", "Writers"]);
    json(d, &db, &["app", "delete", "--tenant", "docs", &client_id]);
    let listed = json(d, &db, &["app", "list", "--tenant", "docs"]);
    assert!(listed.as_array().unwrap().is_empty());

    // Every change is audited under its tenant and the chain holds.
    let out = admin(d, &db, &["audit", "verify"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    json(d, &db, &["tenant", "remove-admin", "docs", "root"]);
    let admins = json(d, &db, &["tenant", "admins", "docs"]);
    assert!(admins.as_array().unwrap().is_empty());
}
