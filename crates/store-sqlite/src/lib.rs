//! The embedded default store: SQLite in WAL mode, one writer connection and a pool of
//! read-only readers, so writes never fail on lock upgrades and reads never block them.
//! A background checkpointer copies the WAL back into the database, so no write
//! transaction pays for a checkpoint (and its fsyncs) while others queue behind it.

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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_store::{Backend, Database, SchemaStatus, StoreError, Tx};
use tessera_store_sql::db_err;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How often the checkpointer looks for commits it has not copied back yet.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    writer: SqlitePool,
    readers: SqlitePool,
    checkpoints: Arc<Checkpointer>,
}

/// Commits since start, counted so the checkpointer sleeps while nothing is written; the
/// task stops when the last handle to the database is dropped or closed.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    commits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    fn start(conn: SqlitePool) -> Self {
        let commits = Arc::new(AtomicU64::new(0));
        let seen = commits.clone();
        let task = tokio::spawn(async move {
            let mut copied = 0;
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = seen.load(Ordering::Relaxed);
                if now == copied {
                    continue;
                }
                // PASSIVE never waits for readers or the writer: whatever it cannot copy
                // now, the next round does.
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&conn)
                    .await
                {
                    Ok(_) => copied = now,
                    Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying"),
                }
            }
        });
        Self { commits, task }
    }

    pub(crate) fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
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
            .connect_with(base.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(|e| unavailable(file, e))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(|e| unavailable(file, e))?;
        // A reader will do: `query_only` forbids statements that change the database,
        // not copying committed pages back into it.
        let checkpoints = Arc::new(Checkpointer::start(readers.clone()));
        Ok(Self {
            writer,
            readers,
            checkpoints,
        })
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
    pub(crate) checkpoints: Option<Arc<Checkpointer>>,
}

#[async_trait]
impl Tx for SqliteTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match self.handle {
            Handle::Write(tx) => {
                tx.commit().await.map_err(db_err)?;
                if let Some(c) = &self.checkpoints {
                    c.committed();
                }
                Ok(())
            }
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
            checkpoints: Some(self.checkpoints.clone()),
        }))
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let conn = self.readers.acquire().await.map_err(db_err)?;
        Ok(Box::new(SqliteTx {
            handle: Handle::Read(conn),
            checkpoints: None,
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
        self.checkpoints.committed();
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
        self.checkpoints.task.abort();
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
