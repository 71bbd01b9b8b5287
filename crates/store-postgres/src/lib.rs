//! The PostgreSQL store, for deployments with more than one node: a read-write pool for
//! transactions and a pool of read-only connections for lookups outside a transaction.

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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tessera_store::{Backend, Database, SchemaStatus, StoreError, Tx};
use tessera_store_sql::db_err;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections for write transactions: twice the cores plus two (HikariCP's rule of
/// thumb). More only adds backends that take turns on the same cores: on the benchmark's
/// two cores, 16 connections cost ~15% more CPU per refresh than 6 (bench/REPORT.md).
fn write_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores.saturating_mul(2).saturating_add(2))
        .unwrap_or(u32::MAX)
        .clamp(4, 64)
}
/// Connections for reads outside a transaction.
const READ_POOL_SIZE: u32 = 8;
/// How long to wait for a connection, from the pool or from the server.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct PostgresDatabase {
    writer: PgPool,
    readers: PgPool,
}

impl PostgresDatabase {
    /// Connects to a `postgres://` URL. Fails at once if the server cannot be reached; the
    /// error names the host, port and database, never the password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // The parse error never echoes the URL, so a password in it stays out of logs.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?;
        let target = describe(&options);
        // One direct connection first: it fails at once with the server's reason (refused,
        // unknown host, authentication), where a pool would retry until its timeout and
        // report only that it timed out.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|e| unavailable(&target, e))?;
        // Best effort: the server was reachable, which is all the probe is for.
        let _closed = probe.close().await;
        let writer = PgPoolOptions::new()
            .max_connections(write_pool_size())
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(&target, e))?;
        let readers = PgPoolOptions::new()
            .max_connections(READ_POOL_SIZE)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("SET default_transaction_read_only = on")
                        .execute(&mut *conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| unavailable(&target, e))?;
        Ok(Self { writer, readers })
    }
}

/// `host:port/database` (or the socket path) without credentials.
fn describe(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "{place}/{} as user {}",
        options.get_database().unwrap_or("(default database)"),
        options.get_username()
    )
}

fn unavailable(target: &str, e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot connect to PostgreSQL at {target}: {e}"))
}

/// A connection in a write transaction, or a plain read-only one.
pub(crate) enum Handle {
    Write(Transaction<'static, Postgres>),
    Read(PoolConnection<Postgres>),
}

impl Handle {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        match self {
            Self::Write(tx) => tx,
            Self::Read(c) => c,
        }
    }
}

pub(crate) struct PostgresTx {
    pub(crate) handle: Handle,
}

#[async_trait]
impl Tx for PostgresTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match self.handle {
            Handle::Write(tx) => tx.commit().await.map_err(db_err),
            Handle::Read(_) => Ok(()),
        }
    }
}

#[async_trait]
impl Database for PostgresDatabase {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        let tx = self.writer.begin().await.map_err(db_err)?;
        Ok(Box::new(PostgresTx {
            handle: Handle::Write(tx),
        }))
    }

    async fn read(&self) -> Result<Box<dyn Tx>, StoreError> {
        let conn = self.readers.acquire().await.map_err(db_err)?;
        Ok(Box::new(PostgresTx {
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
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.readers)
                .await
                .map_err(db_err)?;
        let database_version = if has_table {
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
        let idle = u32::try_from(self.writer.num_idle() + self.readers.num_idle()).unwrap_or(size);
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
