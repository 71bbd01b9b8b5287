//! Shared wiring for the commands: logging, the database by URL, the core app.

use crate::config::{Settings, redact_url};
use std::sync::Arc;
use tessera_core::oidc::keys::Keyring;
use tessera_core::secrets::SecretKeys;
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
    let master = secret_key(settings, random.as_ref())?;
    let secrets = SecretKeys::from_master(&master).map_err(|e| e.to_string())?;
    Ok(App {
        db,
        clock: Arc::new(SystemClock),
        random,
        passwords,
        settings: Arc::new(CoreSettings {
            issuer: settings.issuer.as_str().trim_end_matches('/').to_owned(),
        }),
        secrets: Arc::new(secrets),
        keys: Arc::new(Keyring::default()),
    })
}

/// The master secret: the setting, or (for the embedded SQLite default only) a key file
/// beside the database, created on first use. Several PostgreSQL nodes must share one
/// key, so there it has to be configured.
fn secret_key(
    settings: &Settings,
    random: &dyn tessera_domain::Random,
) -> Result<[u8; 32], String> {
    if let Some(k) = &settings.config.secret_key {
        return SecretKeys::parse_master(k)
            .map_err(|m| format!("{}: {m}", settings.origin("secret_key")));
    }
    let url = &settings.config.database_url;
    let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(format!(
            "{}: required with PostgreSQL, and the same on every node; create one with `tessera secret-key`",
            settings.origin("secret_key")
        ));
    };
    let db_file = std::path::Path::new(path.split('?').next().unwrap_or(path));
    let file = db_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return SecretKeys::parse_master(&text).map_err(|m| format!("{}: {m}", file.display()));
    }
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let encoded = SecretKeys::generate_master(random);
    write_private(&file, &encoded)
        .map_err(|e| format!("cannot write the secret key file {}: {e}", file.display()))?;
    tracing::info!(file = %file.display(), "created the secret key file; back it up with the database");
    SecretKeys::parse_master(&encoded).map_err(|m| format!("{}: {m}", file.display()))
}

#[cfg(unix)]
fn write_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(file, text)
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
