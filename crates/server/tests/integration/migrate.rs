//! `tessera migrate`: idempotent, and refuses a database newer than the binary.

use crate::support::{run, sqlite_url, temp_dir, tessera};

#[tokio::test]
async fn migrate_is_idempotent_and_refuses_a_newer_schema() {
    let dir = temp_dir();
    let db = sqlite_url(dir.path());
    for _ in 0..2 {
        let mut cmd = tessera(dir.path());
        cmd.env("TESSERA_DATABASE_URL", &db).arg("migrate");
        let out = run(cmd, None);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stdout.contains(" (current)"), "{}", out.stdout);
    }
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20991231, 'from the future', 1, x'00', 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", &db).arg("migrate");
    let refused = run(cmd, None);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("20991231") && refused.stderr.contains("newer"),
        "{}",
        refused.stderr
    );

    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", &db)
        .args(["serve", "--no-migrate"]);
    cmd.env(
        "TESSERA_LISTEN",
        format!("127.0.0.1:{}", tessera_testkit::free_port()),
    );
    let serve = run(cmd, None);
    assert_ne!(serve.code, Some(0));
    assert!(
        serve.stderr.contains("newer than this binary"),
        "{}",
        serve.stderr
    );
}

#[test]
fn serve_without_migrate_refuses_an_empty_database() {
    let dir = temp_dir();
    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", sqlite_url(dir.path()))
        .env(
            "TESSERA_LISTEN",
            format!("127.0.0.1:{}", tessera_testkit::free_port()),
        )
        .args(["serve", "--no-migrate"]);
    let out = run(cmd, None);
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("run `tessera migrate` first"),
        "{}",
        out.stderr
    );
}
