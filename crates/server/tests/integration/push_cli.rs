//! `tessera authenticator` (the real binary) against a real server over HTTP: enrol with
//! the wizard's link, the key file's mode, list, a wrong number, approval with the number
//! typed on standard input, and the refusals (used link, answered challenge, no
//! challenge), each one clear line.

use crate::lifecycle::admin_browser;
use crate::push::{number_on, pending_vendor, unescape};
use crate::support::{Browser, Output, between, run, temp_dir, tessera};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tessera_testkit::{Backend, TestServer};

/// `tessera authenticator <args>` with the key file in `TESSERA_AUTHENTICATOR_FILE`, run
/// off the async workers (the server under test runs on them).
async fn authenticator(dir: &Path, key: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tessera(dir);
    cmd.arg("authenticator")
        .args(args)
        .env("TESSERA_AUTHENTICATOR_FILE", key);
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || run(cmd, stdin.as_deref()))
        .await
        .unwrap()
}

/// Fails with one `tessera: error:` line containing `needle`.
fn assert_refused(out: &Output, needle: &str) {
    assert_ne!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
    assert!(
        lines[0].starts_with("tessera: error: ") && lines[0].contains(needle),
        "{needle:?} in {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_authenticator_enrols_and_approves_a_sign_in() {
    let server = TestServer::start(Backend::Sqlite).await;
    // The binary signs with the real time; the server must agree with it.
    server
        .clock
        .set(tessera_domain::Clock::now(&tessera_domain::SystemClock));
    let base = server.base_url.clone();
    let mut admin = admin_browser(&server).await;
    let initial = pending_vendor(&server, &mut admin, "cleo").await;
    let dir = temp_dir();
    let key: PathBuf = dir.path().join("phone.json");

    let out = authenticator(dir.path(), &key, &["list"], None).await;
    assert_refused(&out, "no authenticator key file");

    // The wizard shows the enrolment link; the CLI enrols with it.
    let mut b = Browser::new(&base);
    b.post("/signin", &[("username", "cleo"), ("password", &initial)])
        .await;
    let page = b.get("/signin/setup/push").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let uri = unescape(&between(&page.body, "id=\"push-uri\">", "</code>").unwrap());
    let out = authenticator(
        dir.path(),
        &key,
        &["enroll", &uri, "--alg", "EdDSA", "--name", "CLI phone"],
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("enrolled device ") && out.stdout.contains(" for cleo at "),
        "{}",
        out.stdout
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    assert_eq!(file["alg"], "EdDSA");
    assert_eq!(file["username"], "cleo");

    // The file is not replaced without --force (checked before the link is spent); the
    // link works once.
    let out = authenticator(dir.path(), &key, &["enroll", &uri], None).await;
    assert_refused(&out, "already holds device");
    let other = dir.path().join("other.json");
    let out = authenticator(dir.path(), &other, &["enroll", &uri], None).await;
    assert_refused(&out, "already used or has expired");
    assert!(!other.exists());

    // A key file others can read is refused, like ssh.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = authenticator(dir.path(), &key, &["list"], None).await;
    assert_refused(&out, "chmod 600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let out = authenticator(dir.path(), &key, &["approve", "--number", "42"], None).await;
    assert_refused(&out, "no pending sign-in challenge");

    // The wizard's confirmation challenge: listed (without its number), a wrong number,
    // then the right one typed at the prompt.
    let waiting = b.get("/signin/setup/push/confirm").await.location.unwrap();
    let id = waiting.split("c=").nth(1).unwrap().to_owned();
    let number = number_on(&b.get(&waiting).await.body);
    let out = authenticator(dir.path(), &key, &["list", "--json"], None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["challenges"][0]["id"], id.as_str(), "{listed}");
    assert!(!out.stdout.contains("number"));
    let out = authenticator(dir.path(), &key, &["list"], None).await;
    assert!(out.stdout.starts_with(&id), "{}", out.stdout);

    let wrong = if number == 99 { 98 } else { number + 1 };
    let out = authenticator(
        dir.path(),
        &key,
        &["approve", "--number", &wrong.to_string()],
        None,
    )
    .await;
    assert_refused(&out, "wrong number for challenge");
    assert!(out.stderr.contains("2 tries left"), "{}", out.stderr);

    let out = authenticator(
        dir.path(),
        &key,
        &["approve", "--wait", "5"],
        Some(&format!("{number}\n")),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Enter the number shown in your browser: "),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.starts_with(&format!("approved challenge {id}")),
        "{}",
        out.stdout
    );
    assert_eq!(
        b.get(&waiting).await.location.as_deref(),
        Some("/signin/setup/phone"),
        "the wizard goes on"
    );

    // An answered challenge is no longer open.
    let out = authenticator(
        dir.path(),
        &key,
        &["approve", "--deny", "--challenge", &id, "--json"],
        None,
    )
    .await;
    assert_refused(&out, "is no longer open");
    let out = authenticator(dir.path(), &key, &["list"], None).await;
    assert_eq!(out.stdout.trim(), "no pending sign-in challenges");
}
