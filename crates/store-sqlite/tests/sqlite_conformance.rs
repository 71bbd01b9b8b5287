//! The store conformance suite on SQLite, plus SQLite-only schema checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use tessera_store::Database;
use tessera_store::conformance::TestDatabase;
use tessera_store_sqlite::SqliteDatabase;

async fn fresh() -> TestDatabase {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/tessera.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    TestDatabase {
        db: Arc::new(db),
        guard: Box::new(dir),
    }
}

tessera_store::conformance_tests!(fresh);

#[tokio::test]
async fn refuses_a_schema_newer_than_the_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.expect("connect");
    let status = db.migrate().await.expect("migrate");
    // Simulate a newer Tessera having migrated this database.
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'future', 1, x'00', 0)")
        .execute(&raw)
        .await
        .expect("insert future migration");
    let err = db
        .migrate()
        .await
        .expect_err("a newer schema must be refused");
    let msg = err.to_string();
    assert!(msg.contains("99999") && msg.contains("newer"), "{msg}");
    assert!(!db.schema_status().await.expect("status").is_current());
    assert!(status.is_current());
}
