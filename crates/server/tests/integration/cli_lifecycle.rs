//! `tessera admin` lifecycle commands through the real binary: settings, invite,
//! invitations, the jobs, and account actions, each with `--json`.

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

#[test]
fn lifecycle_commands_work_for_scripts() {
    let dir = temp_dir();
    let db = sqlite_url(dir.path());
    let mut m = tessera(dir.path());
    m.env("TESSERA_DATABASE_URL", &db).arg("migrate");
    assert_eq!(run(m, None).code, Some(0));
    json(&admin(
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
        Some(PASSWORD),
    ));

    let s = json(&admin(
        dir.path(),
        &db,
        &[
            "settings",
            "set",
            "--no-inbox",
            "*@litemail.gov.sg",
            "--reminder-days-before",
            "1,7",
        ],
        None,
    ));
    assert_eq!(s["no_inbox"][0], "*@litemail.gov.sg");
    assert_eq!(s["reminder_days_before"], serde_json::json!([7, 1]));
    let bad = admin(
        dir.path(),
        &db,
        &["settings", "set", "--invitation-validity-days", "0"],
        None,
    );
    assert_ne!(bad.code, Some(0));
    assert!(
        bad.stderr.contains("--invitation-validity-days"),
        "{}",
        bad.stderr
    );

    let inv = json(&admin(
        dir.path(),
        &db,
        &[
            "--json",
            "invite",
            "--email",
            "v@vendor.example.com",
            "--sponsor",
            "root",
            "--offshore",
        ],
        None,
    ));
    assert_eq!(inv["status"], "sent");
    assert_eq!(
        inv["terms"]["seed"], true,
        "offshore implies device onboarding"
    );
    let lite = admin(
        dir.path(),
        &db,
        &[
            "invite",
            "--email",
            "x@litemail.gov.sg",
            "--sponsor",
            "root",
        ],
        None,
    );
    assert_ne!(lite.code, Some(0));
    assert!(lite.stderr.contains("no mailbox"), "{}", lite.stderr);
    let nobody = admin(
        dir.path(),
        &db,
        &[
            "invite",
            "--email",
            "y@vendor.example.com",
            "--sponsor",
            "ghost",
        ],
        None,
    );
    assert_ne!(nobody.code, Some(0));
    assert!(nobody.stderr.contains("--sponsor"), "{}", nobody.stderr);

    let id = inv["id"].as_str().unwrap();
    let resent = json(&admin(
        dir.path(),
        &db,
        &["--json", "invitation", "resend", id],
        None,
    ));
    assert_eq!(resent["sends"], 2);
    let revoked = json(&admin(
        dir.path(),
        &db,
        &["--json", "invitation", "revoke", id],
        None,
    ));
    assert_eq!(revoked["status"], "revoked");
    let list = json(&admin(
        dir.path(),
        &db,
        &["--json", "invitation", "list", "--status", "revoked"],
        None,
    ));
    assert_eq!(list.as_array().unwrap().len(), 1);

    let jobs = json(&admin(dir.path(), &db, &["--json", "jobs", "run"], None));
    assert_eq!(jobs["accounts_terminated"], 0);

    // The bootstrapped administrator can be suspended and reactivated, not twice.
    let s = json(&admin(
        dir.path(),
        &db,
        &["--json", "user", "suspend", "root"],
        None,
    ));
    assert_eq!(s["state"], "suspended");
    let twice = admin(dir.path(), &db, &["user", "suspend", "root"], None);
    assert_ne!(twice.code, Some(0));
    assert!(
        twice.stderr.contains("only active accounts"),
        "{}",
        twice.stderr
    );
    let r = json(&admin(
        dir.path(),
        &db,
        &["--json", "user", "reactivate", "root"],
        None,
    ));
    assert_eq!(r["state"], "active");
    let found = json(&admin(
        dir.path(),
        &db,
        &["--json", "user", "search", "--state", "active"],
        None,
    ));
    assert_eq!(found.as_array().unwrap().len(), 1);

    let verify = admin(dir.path(), &db, &["audit", "verify"], None);
    assert_eq!(verify.code, Some(0), "{}", verify.stderr);
}
