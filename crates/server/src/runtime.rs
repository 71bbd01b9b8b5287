//! Shared wiring for the commands: logging, the database by URL, the core app.

use crate::config::{Settings, redact_url};
use std::sync::Arc;
use tessera_core::{App, CoreSettings, PasswordHasher};
use tessera_domain::{OsRandom, SystemClock};
use tessera_store::Database;
use tessera_store_postgres::PostgresDatabase;
use tessera_store_sqlite::SqliteDatabase;

pub fn init_logging(format: &str, level: &str, ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},sqlx=warn,hyper=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(ansi).try_init()
    };
}

/// Opens the configured database. The error names the setting and the URL without its
/// password.
pub async fn open_database(settings: &Settings) -> Result<Arc<dyn Database>, String> {
    let url = &settings.config.database_url;
    let opened: Result<Arc<dyn Database>, _> = if url.starts_with("sqlite:") {
        SqliteDatabase::connect(url)
            .await
            .map(|d| Arc::new(d) as Arc<dyn Database>)
    } else {
        PostgresDatabase::connect(url)
            .await
            .map(|d| Arc::new(d) as Arc<dyn Database>)
    };
    opened.map_err(|e| {
        format!(
            "{}: cannot open the database {}: {e}",
            settings.origin("database_url"),
            redact_url(url)
        )
    })
}

pub fn build_app(settings: &Settings, db: Arc<dyn Database>) -> Result<App, String> {
    let random = Arc::new(OsRandom);
    let passwords = PasswordHasher::new(random.as_ref()).map_err(|e| e.to_string())?;
    Ok(App {
        db,
        clock: Arc::new(SystemClock),
        random,
        passwords,
        settings: Arc::new(CoreSettings {
            issuer: settings.issuer.as_str().trim_end_matches('/').to_owned(),
        }),
    })
}

/// Refuses to run against a schema that is not exactly this binary's.
pub async fn require_current_schema(db: &dyn Database) -> Result<(), String> {
    let s = db.schema_status().await.map_err(|e| e.to_string())?;
    if s.database_version > s.binary_version {
        return Err(format!(
            "the database schema is at version {}, newer than this binary's {}: run a newer Tessera",
            s.database_version, s.binary_version
        ));
    }
    if !s.is_current() {
        return Err(format!(
            "the database schema is at version {}, this binary needs {}: run `tessera migrate` first",
            s.database_version, s.binary_version
        ));
    }
    Ok(())
}
