//! Done-when 4: bad configuration exits non-zero with one clear line naming the setting.

use crate::support::{Output, run, sqlite_url, temp_dir, tessera};
use std::path::Path;

fn serve(dir: &Path, env: &[(&str, &str)], config: Option<&str>) -> Output {
    let mut cmd = tessera(dir);
    cmd.env("TESSERA_DATABASE_URL", sqlite_url(dir));
    cmd.env(
        "TESSERA_LISTEN",
        format!("127.0.0.1:{}", tessera_testkit::free_port()),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(text) = config {
        std::fs::write(dir.join("tessera.toml"), text).unwrap();
        cmd.args(["--config", "tessera.toml"]);
    }
    cmd.arg("serve");
    let out = run(cmd, None);
    assert_ne!(out.code, Some(0), "should have failed: {}", out.stderr);
    let lines: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let last = lines.last().copied().unwrap_or("");
    assert!(last.starts_with("tessera: error: "), "{}", out.stderr);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("tessera: error"))
            .count(),
        1
    );
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.to_lowercase().contains("backtrace"),
        "{}",
        out.stderr
    );
    out
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let dir = temp_dir();
    let out = serve(
        dir.path(),
        &[],
        Some("issuer = \"http://localhost:8080\"\nlisten_adress = \"0.0.0.0:80\"\n"),
    );
    assert!(
        out.stderr.contains("unknown setting `listen_adress`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("tessera.toml"), "{}", out.stderr);
}

#[test]
fn malformed_urls_are_named_by_where_they_came_from() {
    let dir = temp_dir();
    let out = serve(
        dir.path(),
        &[("TESSERA_SMTP_URL", "mail.example.com:25")],
        None,
    );
    assert!(out.stderr.contains("TESSERA_SMTP_URL"), "{}", out.stderr);
    let out = serve(
        dir.path(),
        &[("TESSERA_SMS_WEBHOOK_URL", "ftp://sms.example.com/")],
        None,
    );
    assert!(
        out.stderr.contains("TESSERA_SMS_WEBHOOK_URL"),
        "{}",
        out.stderr
    );
    let out = serve(dir.path(), &[], Some("issuer = \"localhost:8080\"\n"));
    assert!(
        out.stderr.contains("issuer in") && out.stderr.contains("tessera.toml"),
        "{}",
        out.stderr
    );
    let out = serve(
        dir.path(),
        &[("TESSERA_DATABASE_URL", "mysql://db/tessera")],
        None,
    );
    assert!(
        out.stderr.contains("TESSERA_DATABASE_URL"),
        "{}",
        out.stderr
    );
    let out = serve(dir.path(), &[("TESSERA_LISTEN", "localhost")], None);
    assert!(out.stderr.contains("TESSERA_LISTEN"), "{}", out.stderr);
    let out = serve(dir.path(), &[("TESSERA_LOG_FORMAT", "xml")], None);
    assert!(out.stderr.contains("TESSERA_LOG_FORMAT"), "{}", out.stderr);
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = temp_dir();
    let mut cmd = tessera(dir.path());
    cmd.args(["--config", "nowhere.toml", "serve"]);
    let out = run(cmd, None);
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("nowhere.toml does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let dir = temp_dir();
    let port = tessera_testkit::free_port();
    let url = format!("postgres://tessera:hunter2secret@127.0.0.1:{port}/tessera");
    let out = serve(dir.path(), &[("TESSERA_DATABASE_URL", &url)], None);
    assert!(
        out.stderr.contains("TESSERA_DATABASE_URL"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("hunter2secret"),
        "the password leaked: {}",
        out.stderr
    );
}

#[test]
fn a_port_in_use_is_named() {
    let dir = temp_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(dir.path(), &[("TESSERA_LISTEN", &addr)], None);
    assert!(
        out.stderr.contains("TESSERA_LISTEN") && out.stderr.contains(&addr),
        "{}",
        out.stderr
    );
    drop(taken);
}

#[test]
fn serve_help_documents_every_setting() {
    let dir = temp_dir();
    let mut cmd = tessera(dir.path());
    cmd.args(["serve", "--help"]);
    let out = run(cmd, None);
    assert_eq!(out.code, Some(0));
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tessera.example.toml"
    ))
    .unwrap();
    for var in [
        "TESSERA_ISSUER",
        "TESSERA_LISTEN",
        "TESSERA_DATABASE_URL",
        "TESSERA_SMTP_URL",
        "TESSERA_SMTP_FROM",
        "TESSERA_SMS_WEBHOOK_URL",
        "TESSERA_TEMPLATES_DIR",
        "TESSERA_LOG_FORMAT",
        "TESSERA_LOG_LEVEL",
        "TESSERA_OUTBOX_LEASE_SECONDS",
        "TESSERA_SECRET_KEY",
    ] {
        assert!(out.stdout.contains(var), "serve --help lacks {var}");
        let key = var.trim_start_matches("TESSERA_").to_lowercase();
        assert!(
            example.contains(&format!("{key} =")),
            "tessera.example.toml lacks {key}"
        );
    }
}

#[test]
fn the_example_config_is_valid() {
    let dir = temp_dir();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tessera.example.toml"
    ))
    .unwrap();
    std::fs::write(dir.path().join("example.toml"), example).unwrap();
    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", sqlite_url(dir.path()));
    cmd.args(["--config", "example.toml", "migrate"]);
    let out = run(cmd, None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}
