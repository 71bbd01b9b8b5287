//! The store conformance suite on SQLite, plus SQLite-only schema checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use tessera_domain::secret::SecretHash;
use tessera_domain::session::Assurance;
use tessera_domain::user::Username;
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

/// Rows written before the lifecycle migration read back with its defaults.
#[tokio::test]
async fn existing_rows_get_lifecycle_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.expect("connect");
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    let migrations = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    sqlx::migrate::Migrator::new(migrations)
        .await
        .expect("read migrations")
        .run_to(6, &raw)
        .await
        .expect("migrate to 6");
    sqlx::query("INSERT INTO users (id, username, given_name, family_name, email, mobile, department, user_type, state, platform_admin, password_hash, created_at, updated_at) VALUES (X'0190A5B1C2D37000800000000000000A', 'olduser', 'Old', 'User', 'old@agency.gov.sg', NULL, 'Ops', 'officer', 'pending', 0, NULL, 1800000000, 1800000000)")
        .execute(&raw)
        .await
        .expect("old user");
    sqlx::query("INSERT INTO portal_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, source_ip) VALUES (X'0707070707070707070707070707070707070707070707070707070707070707', X'0190A5B1C2D37000800000000000000A', 1800000000, 1800000000, 1800086400, NULL)")
        .execute(&raw)
        .await
        .expect("old session");
    raw.close().await;
    assert_eq!(
        db.schema_status().await.expect("status").database_version,
        6
    );

    let status = db.migrate().await.expect("migrate");
    assert_eq!((status.database_version, status.binary_version), (11, 11));
    let mut r = db.read().await.expect("read");
    let user = r
        .user_by_username(&Username::parse("olduser").expect("name"))
        .await
        .expect("user")
        .expect("old user kept");
    assert_eq!(user.version, 1);
    assert!(!user.password_is_initial && !user.device_onboarding);
    assert_eq!(user.sponsor, None);
    assert_eq!(user.offshore, None);
    assert_eq!(user.activation_deadline, None);
    assert_eq!(user.reminders_sent, 0);
    assert_eq!(user.phone_verified_at, None);
    let session = r
        .session_by_token(&SecretHash([7; 32]))
        .await
        .expect("session")
        .expect("old session kept");
    assert_eq!(session.assurance, Assurance::Password);
    assert_eq!(session.amr, ["pwd"]);
    drop(r);
    let mut tx = db.begin().await.expect("begin");
    assert!(tx.update_user(&user).await.expect("update"));
    tx.commit().await.expect("commit");
    db.close().await;
}

/// Sessions from before the sign-in migration keep their assurance and get the methods
/// they used: a password, or nothing for an email-code session. The rebuilt table takes
/// the new 'mfa' assurance.
#[tokio::test]
async fn existing_sessions_get_sign_in_methods() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.expect("connect");
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    let migrations = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    sqlx::migrate::Migrator::new(migrations)
        .await
        .expect("read migrations")
        .run_to(7, &raw)
        .await
        .expect("migrate to 7");
    sqlx::query("INSERT INTO users (id, username, given_name, family_name, email, mobile, department, user_type, state, platform_admin, password_hash, created_at, updated_at) VALUES (X'0190A5B1C2D37000800000000000000A', 'olduser', 'Old', 'User', 'old@agency.gov.sg', NULL, 'Ops', 'officer', 'active', 0, NULL, 1800000000, 1800000000)")
        .execute(&raw)
        .await
        .expect("old user");
    sqlx::query("INSERT INTO portal_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, source_ip, assurance) VALUES (X'0707070707070707070707070707070707070707070707070707070707070707', X'0190A5B1C2D37000800000000000000A', 1800000000, 1800000100, 1800086400, '10.0.0.7', 'password'), (X'0808080808080808080808080808080808080808080808080808080808080808', X'0190A5B1C2D37000800000000000000A', 1800000050, 1800000050, 1800086450, NULL, 'email_code')")
        .execute(&raw)
        .await
        .expect("old sessions");
    raw.close().await;

    let status = db.migrate().await.expect("migrate");
    assert_eq!((status.database_version, status.binary_version), (11, 11));
    let mut r = db.read().await.expect("read");
    let user = r
        .user_by_username(&Username::parse("olduser").expect("name"))
        .await
        .expect("user")
        .expect("old user kept");
    let sessions = r.sessions_of_user(user.id).await.expect("sessions");
    let summary: Vec<_> = sessions
        .iter()
        .map(|s| {
            (
                s.token_hash.0[0],
                s.assurance,
                s.amr.clone(),
                s.source_ip.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (8, Assurance::EmailCode, vec![], None),
            (
                7,
                Assurance::Password,
                vec!["pwd".to_owned()],
                Some("10.0.0.7".to_owned())
            ),
        ]
    );
    assert_eq!(sessions[1].last_seen_at.unix_timestamp(), 1_800_000_100);
    drop(r);

    let mut tx = db.begin().await.expect("begin");
    let signed_in = tessera_domain::session::PortalSession::signed_in_with(
        SecretHash([9; 32]),
        user.id,
        sessions[0].created_at,
        None,
        vec!["pwd".into(), "otp".into()],
    );
    tx.insert_session(&signed_in).await.expect("an mfa session");
    tx.commit().await.expect("commit");
    db.close().await;
}

/// Commits copy nothing back themselves (`wal_autocheckpoint` is off on the writer): the
/// background checkpointer must, or the database file would stay empty and the WAL grow.
#[tokio::test]
async fn the_background_checkpointer_copies_commits_into_the_database_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("t.db");
    let db = SqliteDatabase::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("connect");
    let empty = std::fs::metadata(&file).expect("db file").len();
    db.migrate().await.expect("migrate");
    let mut size = empty;
    for _ in 0..50 {
        size = std::fs::metadata(&file).expect("db file").len();
        if size > 64 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        size > 64 * 1024,
        "the schema never reached the database file: {empty} → {size} bytes"
    );
    db.close().await;
}
