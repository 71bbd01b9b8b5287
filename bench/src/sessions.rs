//! What 100k live portal sessions cost the server in memory. A real sign-in costs one
//! Argon2id hash (~30/s on two cores: an hour for 100k), so the sessions are written the
//! way a sign-in writes them (`SessionStore::insert_session`, through the same store crate
//! the server uses, into the same database while it runs), and then every one of them is
//! used once over HTTP: `GET /` with its cookie, which the server resolves (session and
//! user lookups) and answers with a redirect to /admin. RSS is read before the inserts and
//! after the sweep.

use crate::http::{Call, Conn};
use crate::server::{Server, Store};
use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use tessera_domain::secret::BearerSecret;
use tessera_domain::session::PortalSession;
use tessera_domain::{Clock, OsRandom, SystemClock, UserId};
use tessera_store::Database;
use tessera_store_postgres::PostgresDatabase;
use tessera_store_sqlite::SqliteDatabase;

#[derive(Clone, Debug, Default, Serialize)]
pub struct SessionMemory {
    pub sessions: usize,
    pub rss_before: u64,
    pub rss_after: u64,
    pub insert_seconds: f64,
    pub sweep_seconds: f64,
    pub sweep_per_s: f64,
    pub errors: u64,
}

impl SessionMemory {
    pub fn growth(&self) -> i64 {
        self.rss_after as i64 - self.rss_before as i64
    }
}

/// The server's database, through the same store crate it uses.
pub async fn open(store: Store, database_url: &str) -> Result<Arc<dyn Database>> {
    let db: Arc<dyn Database> = match store {
        Store::Sqlite => Arc::new(
            SqliteDatabase::connect(database_url)
                .await
                .map_err(|e| anyhow!("{e}"))?,
        ),
        Store::Postgres => Arc::new(
            PostgresDatabase::connect(database_url)
                .await
                .map_err(|e| anyhow!("{e}"))?,
        ),
    };
    Ok(db)
}

pub async fn measure(server: &Server, user_id: &str, n: usize) -> Result<SessionMemory> {
    let user: UserId = user_id
        .parse()
        .map_err(|_| anyhow!("bad user id {user_id}"))?;
    let rss_before = crate::procstat::rss_bytes(server.pid())?;

    let started = Instant::now();
    let db = open(server.store, &server.database_url).await?;
    let mut cookies = Vec::with_capacity(n);
    let now = SystemClock.now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut tx = db.begin().await.map_err(|e| anyhow!("{e}"))?;
        for _ in chunk {
            let secret = BearerSecret::generate(&OsRandom);
            // A complete sign-in (password and authenticator code), as the flow opens it.
            let s = PortalSession::signed_in_with(
                secret.hash(),
                user,
                now,
                Some("127.0.0.1".into()),
                vec!["pwd".into(), "otp".into()],
            );
            tx.insert_session(&s).await.map_err(|e| anyhow!("{e}"))?;
            cookies.push(secret.expose().to_owned());
        }
        tx.commit().await.map_err(|e| anyhow!("{e}"))?;
    }
    db.close().await;
    let insert_seconds = started.elapsed().as_secs_f64();

    // Use every session once, over a few connections.
    let started = Instant::now();
    let cookies = Arc::new(cookies);
    let workers = 8;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let cookies = cookies.clone();
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut errors = 0u64;
            let mut first: Option<String> = None;
            for c in cookies.iter().skip(w).step_by(workers) {
                let call = Call::get("/")
                    .header(hyper::header::COOKIE, &format!("tessera_session={c}"))?;
                let ok = match conn.send(call).await {
                    Ok(r) if r.status.is_redirection() && r.location().ok() == Some("/admin") => {
                        true
                    }
                    Ok(r) => {
                        first.get_or_insert(format!(
                            "GET / answered {} {:?} instead of a redirect to /admin",
                            r.status,
                            r.location().ok()
                        ));
                        false
                    }
                    Err(e) => {
                        first.get_or_insert(format!("{e:#}"));
                        conn = Conn::open(addr).await?;
                        false
                    }
                };
                if !ok {
                    errors += 1;
                    first.get_or_insert_with(|| "a session did not resolve".to_owned());
                }
            }
            Ok::<_, anyhow::Error>((errors, first))
        }));
    }
    let mut errors = 0;
    let mut first = None;
    for t in tasks {
        let (e, f) = t.await??;
        errors += e;
        first = first.or(f);
    }
    let sweep_seconds = started.elapsed().as_secs_f64();
    if let Some(f) = first {
        eprintln!("bench: sessions: {errors} errors; first: {f}");
    }
    // Let anything deferred settle before reading memory.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let rss_after = crate::procstat::rss_bytes(server.pid())?;
    if n == 0 {
        bail!("no sessions to measure");
    }
    Ok(SessionMemory {
        sessions: n,
        rss_before,
        rss_after,
        insert_seconds,
        sweep_seconds,
        sweep_per_s: n as f64 / sweep_seconds,
        errors,
    })
}
