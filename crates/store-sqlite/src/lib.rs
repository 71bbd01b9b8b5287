//! The embedded default store: SQLite in WAL mode, one writer connection and a pool of
//! read-only readers, so writes never fail on lock upgrades and reads never block them.

mod stores;
mod stores_flows;
mod stores_lifecycle;
mod stores_oauth;
mod stores_passkeys;
mod stores_push;
mod stores_signin;
mod stores_tenancy;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tessera_store::{Backend, Database, SchemaStatus, StoreError, Tx};
use tessera_store_sql::db_err;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database at a `sqlite://` URL. The parent folder of a
    /// file path is created too, so `sqlite://./tessera-data/tessera.db` works on a new machine.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let file = base.get_filename().to_path_buf();
        let file = file.as_path();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone())
            .await
            .map_err(|e| unavailable(file, e))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(|e| unavailable(file, e))?;
        Ok(Self { writer, readers })
    }
}

fn unavailable(file: &Path, e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot open SQLite database {}: {e}",
        file.display()
    ))
}

/// A connection in a write transaction, or a plain read-only one.
pub(crate) enum Handle {
    Write(Transaction<'static, Sqlite>),
    Read(PoolConnection<Sqlite>),
}

impl Handle {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        match self {
            Self::Write(tx) => tx,
            Self::Read(c) => c,
        }
    }
}

pub(crate) struct SqliteTx {
    pub(crate) handle: Handle,
}

#[async_trait]
impl Tx for SqliteTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match self.handle {
            Handle::Write(tx) => tx.commit().await.map_err(db_err),
            Handle::Read(_) => Ok(()),
        }
    }
}

#[async_trait]
impl Database for SqliteDatabase {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads and
        // then writes can fail with SQLITE_BUSY when another process wrote in between.
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(Box::new(SqliteTx {
            handle: Handle::Write(tx),
        }))
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let conn = self.readers.acquire().await.map_err(db_err)?;
        Ok(Box::new(SqliteTx {
            handle: Handle::Read(conn),
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    async fn migrate(&self) -> Result<SchemaStatus, StoreError> {
        let before = self.schema_status().await?;
        if before.database_version > before.binary_version {
            return Err(newer_schema(&before));
        }
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Schema(e.to_string()))?;
        self.schema_status().await
    }

    async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let binary_version = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let has_table: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.readers)
        .await
        .map_err(db_err)?;
        let database_version = if has_table.is_some() {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&self.readers)
            .await
            .map_err(db_err)?
            .unwrap_or(0)
        } else {
            0
        };
        Ok(SchemaStatus {
            database_version,
            binary_version,
        })
    }

    fn pool_usage(&self) -> Option<(u32, u32)> {
        let size = self.writer.size() + self.readers.size();
        let idle = (self.writer.num_idle() + self.readers.num_idle()) as u32;
        Some((size, idle))
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

pub(crate) fn newer_schema(s: &SchemaStatus) -> StoreError {
    StoreError::Schema(format!(
        "the database schema is at version {}, newer than this binary's {}: run a newer Tessera, or point it at another database",
        s.database_version, s.binary_version
    ))
}
