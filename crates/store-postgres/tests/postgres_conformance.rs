//! The store conformance suite on PostgreSQL, plus PostgreSQL-only schema checks. Each
//! test gets a new database on a throwaway cluster (see `tessera-testpg`); the tests fail,
//! never skip, when PostgreSQL is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use tessera_store::Database;
use tessera_store::conformance::TestDatabase;
use tessera_store_postgres::PostgresDatabase;

async fn new_database_url() -> String {
    let cluster = tessera_testpg::shared_cluster()
        .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL cluster: {e}"));
    cluster
        .create_database()
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"))
}

async fn fresh() -> TestDatabase {
    let url = new_database_url().await;
    let db = PostgresDatabase::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    // The database lives until the throwaway cluster is removed.
    TestDatabase {
        db: Arc::new(db),
        guard: Box::new(()),
    }
}

tessera_store::conformance_tests!(fresh);

#[tokio::test]
async fn refuses_a_schema_newer_than_the_binary() {
    let url = new_database_url().await;
    let db = PostgresDatabase::connect(&url).await.expect("connect");
    let status = db.migrate().await.expect("migrate");
    // Simulate a newer Tessera having migrated this database. sqlx's PostgreSQL table:
    // version BIGINT, description TEXT, installed_on TIMESTAMPTZ DEFAULT now(),
    // success BOOLEAN, checksum BYTEA, execution_time BIGINT.
    let raw = sqlx::PgPool::connect(&url).await.expect("raw");
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'future', TRUE, '\\x00'::bytea, 0)")
        .execute(&raw)
        .await
        .expect("insert future migration");
    raw.close().await;
    let err = db
        .migrate()
        .await
        .expect_err("a newer schema must be refused");
    let msg = err.to_string();
    assert!(msg.contains("99999") && msg.contains("newer"), "{msg}");
    assert!(!db.schema_status().await.expect("status").is_current());
    assert!(status.is_current());
    db.close().await;
}

#[tokio::test]
async fn connection_failure_names_the_server_but_not_the_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let err = PostgresDatabase::connect("postgres://tessera:s3cret-pw@127.0.0.1:1/tessera_db")
        .await
        .expect_err("nothing listens on port 1");
    let msg = err.to_string();
    assert!(
        matches!(err, tessera_store::StoreError::Unavailable(_)),
        "{err:?}"
    );
    assert!(msg.contains("127.0.0.1:1/tessera_db"), "{msg}");
    assert!(!msg.contains("s3cret-pw"), "{msg}");
}
